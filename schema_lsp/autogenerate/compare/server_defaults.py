"""Server defaults, identity and computed columns.

Defaults are compared as normalised token lists, never by asking the database, so a check
costs no statement per column. Normalisation removes what backends add or rewrite when they
store a default, so an unchanged default is never reported:

* outer and grouping parentheses (MariaDB's ``(uuid())``, SQLite's ``(datetime('now'))``,
  PostgreSQL's ``(a || b)``), whitespace and keyword case;
* PostgreSQL casts (``'x'::character varying``, ``'{}'::text[]``, ``'-3'::integer``);
* ``now()``/``CURRENT_TIMESTAMP``/``current_timestamp()`` (and MySQL's ``now(6)`` for
  ``current_timestamp(6)``);
* for numeric columns, quoting and spelling of numbers (``'2.5'`` and ``2.50``); for boolean
  columns, ``true``/``1``/``b'1'``.

What the normalisation throws away (grouping, casts) could hide a real change in a complex
expression; that trade is deliberate: a false report on every check is worse.
"""

from __future__ import annotations

import re
import weakref
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import Column, Computed, DefaultClause, Identity
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import False_, Null, TextClause, True_
from sqlalchemy.sql.functions import FunctionElement

from ...operations import ops
from ...reflect.objects import server_default_of
from ..dispatch import DispatchPriority, PriorityDispatchResult, builtin
from .caches import register_cache
from .columns import record_of
from .registry import builtin_comparators

if TYPE_CHECKING:
    from ..api import AutogenContext

Kind = Literal["boolean", "number", "string"] | None

_COMPILERS: weakref.WeakKeyDictionary[Dialect, SQLCompiler] = weakref.WeakKeyDictionary()


def _compiler(dialect: Dialect) -> SQLCompiler:
    """One statement compiler per dialect, reused to render literals (building one per
    column would dominate the cost of a comparison)."""
    compiler = _COMPILERS.get(dialect)
    if compiler is None:
        compiler = dialect.statement_compiler(dialect, None)
        _COMPILERS[dialect] = compiler
    return compiler


def render_metadata_default(default: Any, dialect: Dialect) -> str | None:
    """The SQL a model's ``server_default`` puts in DDL (None when it is not a plain default).

    Rendered the way ``CREATE TABLE`` renders it, with the dialect's own literal escaping
    (MySQL doubles backslashes), so it can be compared with what the database reports.
    """
    if not isinstance(default, DefaultClause):
        return None
    arg = default.arg
    if isinstance(arg, TextClause):
        return arg.text
    if isinstance(arg, str):
        return quote_literal(arg, dialect)
    key = _render_key(arg)
    rendered = _RENDERED.get(dialect)
    if rendered is None:
        rendered = _RENDERED[dialect] = {}
    if key is not None and key in rendered:
        return rendered[key]
    # As DDLCompiler does for every default of a table: one compiler, literal binds. Percent
    # signs come out doubled for "format" paramstyles; the database stores them single.
    text = str(_compiler(dialect).process(arg, literal_binds=True))
    if getattr(dialect.identifier_preparer, "_double_percents", False):
        text = text.replace("%%", "%")
    if key is not None:
        rendered[key] = text
    return text


_RENDERED: weakref.WeakKeyDictionary[Dialect, dict[Any, str]] = weakref.WeakKeyDictionary()


def _render_key(arg: Any) -> Any:
    """A key for defaults whose SQL depends only on their class and name (``sa.true()``,
    ``func.now()``): the most common ones, rendered once per dialect, not once per column."""
    if isinstance(arg, True_ | False_ | Null):
        return type(arg)
    if isinstance(arg, FunctionElement) and not len(arg.clauses):
        return (type(arg), getattr(arg, "name", None), tuple(getattr(arg, "packagenames", ())))
    return None


def quote_literal(value: str, dialect: Dialect) -> str:
    """``value`` as a SQL string literal the way ``CREATE TABLE`` writes it (quotes doubled;
    backslashes doubled where the dialect treats them as escapes, as MySQL does)."""
    text = value.replace("'", "''")
    if getattr(dialect, "_backslash_escapes", False):
        text = text.replace("\\", "\\\\")
    return "'" + text + "'"


def raw_metadata_default(default: Any, dialect: Dialect) -> str | None:
    """What Alembic hands ``compare_server_default`` callables: a str arg unquoted."""
    if isinstance(default, DefaultClause) and isinstance(default.arg, str):
        return default.arg
    return render_metadata_default(default, dialect)


_TOKEN = re.compile(
    r"""
    (?P<str>[A-Za-z]?'(?:[^']|'')*')          # 'text', E'..', x'00ff', b'1', N'..'
    |(?P<qid>"(?:[^"]|"")*"|`(?:[^`]|``)*`)   # quoted identifiers
    |(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    |(?P<word>[A-Za-z_][\w$]*)
    |(?P<op>::|\|\||<=|>=|<>|!=|->>|->|[^\s\w])
    """,
    re.VERBOSE,
)
#: Words that end a multi-word type name after ``::`` (``'x'::text COLLATE ...``).
_NOT_TYPE_WORDS = frozenset(
    {"and", "or", "at", "collate", "is", "not", "in", "like", "ilike", "between", "then"}
    | {"else", "end", "when", "from", "as", "asc", "desc", "nulls", "similar", "escape"}
)
_NOW_FUNCS: dict[str, frozenset[str]] = {
    "postgresql": frozenset({"now", "current_timestamp", "transaction_timestamp"}),
    "mysql": frozenset({"now", "current_timestamp", "localtimestamp", "localtime"}),
    "mariadb": frozenset({"now", "current_timestamp", "localtimestamp", "localtime"}),
}
_TRUE = frozenset({"true", "'true'", "'t'", "1", "'1'", "b'1'", "'y'", "'yes'", "'on'"})
_FALSE = frozenset({"false", "'false'", "'f'", "0", "'0'", "b'0'", "'n'", "'no'", "'off'"})


_MYSQL_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "b": "\b", "Z": "\x1a"}
_MYSQL_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _mysql_string(tok: str) -> str:
    """A MySQL string literal with its backslash escapes decoded (MariaDB reports a newline
    in a default as ``\\n``, the model renders it raw), re-quoted canonically."""
    value = tok[1:-1].replace("''", "'")
    value = _MYSQL_ESCAPE.sub(lambda m: _MYSQL_ESCAPES.get(m.group(1), m.group(1)), value)
    return "'" + value.replace("'", "''") + "'"


def _tokens(sql: str, dialect_name: str = "") -> list[str]:
    """Tokens with keyword/identifier case folded; string literals kept verbatim (MySQL's
    with their escapes decoded)."""
    mysql = dialect_name in ("mysql", "mariadb")
    out: list[str] = []
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup
        tok = m.group(0)
        if kind == "str":
            if tok[0] != "'":
                tok = tok[0].lower() + tok[1:]
            elif mysql and "\\" in tok:
                tok = _mysql_string(tok)
        elif kind == "qid":
            inner = tok[1:-1].replace(tok[0] * 2, tok[0])
            tok = inner if inner == inner.lower() else '"' + inner + '"'
        else:
            tok = tok.lower()
        out.append(tok)
    return out


def _is_word(tok: str) -> bool:
    return bool(tok) and (tok[0].isalpha() or tok[0] == "_" or tok[0] == '"')


def _strip_casts(toks: list[str]) -> list[str]:
    """Drop PostgreSQL ``::type`` casts, multi-word, sized and array types included."""
    out: list[str] = []
    i, n = 0, len(toks)
    while i < n:
        if toks[i] != "::":
            out.append(toks[i])
            i += 1
            continue
        i += 1
        first = True
        while i < n and _is_word(toks[i]) and (first or toks[i] not in _NOT_TYPE_WORDS):
            first = False
            i += 1
            if i + 1 < n and toks[i] == "." and _is_word(toks[i + 1]):
                i += 1
        if i < n and toks[i] == "(":
            depth = 0
            while i < n:
                depth += toks[i] == "("
                depth -= toks[i] == ")"
                i += 1
                if depth == 0:
                    break
        while i + 1 < n and toks[i] == "[" and toks[i + 1] == "]":
            i += 2
    return out


def _strip_grouping(toks: list[str]) -> list[str]:
    """Drop parentheses that only group (not those of a call or ``IN (...)`` list)."""
    keep = [True] * len(toks)
    stack: list[tuple[int, bool]] = []
    for i, tok in enumerate(toks):
        if tok == "(":
            call = i > 0 and (_is_word(toks[i - 1]) or toks[i - 1] in (")", "]"))
            stack.append((i, call))
        elif tok == ")" and stack:
            start, call = stack.pop()
            if not call:
                keep[start] = keep[i] = False
    return [t for t, k in zip(toks, keep, strict=True) if k]


def _fold_now(toks: list[str], dialect_name: str) -> list[str]:
    """``now()``, ``current_timestamp()`` and friends to one spelling."""
    names = _NOW_FUNCS.get(dialect_name, frozenset({"current_timestamp"}))
    out: list[str] = []
    i, n = 0, len(toks)
    while i < n:
        tok = toks[i]
        if tok in names and (i == 0 or toks[i - 1] != "."):
            out.append("current_timestamp")
            if i + 2 < n and toks[i + 1] == "(" and toks[i + 2] == ")":
                i += 3
                continue
            i += 1
            continue
        out.append(tok)
        i += 1
    return out


def _number(toks: list[str]) -> str | None:
    """The canonical text of a lone (possibly quoted, signed) number, else None."""
    sign = ""
    if len(toks) == 2 and toks[0] in ("-", "+"):
        sign, toks = ("-" if toks[0] == "-" else ""), toks[1:]
    if len(toks) != 1:
        return None
    tok = toks[0]
    if tok.startswith("b'") and set(tok[2:-1]) <= {"0", "1"} and len(tok) > 3:
        return sign + str(int(tok[2:-1], 2))
    if tok.startswith("'") and tok.endswith("'"):
        tok = tok[1:-1].strip()
        if tok[:1] in ("-", "+"):
            sign = "-" if (tok[0] == "-") != (sign == "-") else ""
            tok = tok[1:]
    try:
        value = Decimal(tok)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite():
        return None
    text = format(value.normalize(), "f")
    return "0" if text in ("0", "-0") else sign + text


@lru_cache(maxsize=65536)
def normalize_default(sql: str | None, dialect_name: str, kind: Kind = None) -> str | None:
    """Canonical text of a default expression, for equality only (None: no default).

    ``kind`` is what the column holds: numbers and booleans fold their literal spellings,
    strings keep their quotes (so ``'1'`` and ``'1.0'`` stay different on a VARCHAR).
    """
    if sql is None:
        return None
    toks = _tokens(sql, dialect_name)
    if dialect_name == "postgresql":
        toks = _strip_casts(toks)
    toks = _strip_grouping(toks)
    toks = _fold_now(toks, dialect_name)
    if not toks or toks == ["null"]:
        return None
    if kind == "boolean" and len(toks) == 1:
        if toks[0] in _TRUE:
            return "true"
        if toks[0] in _FALSE:
            return "false"
    if kind in ("number", "boolean"):
        number = _number(toks)
        if number is not None:
            return number
    return " ".join(toks)


def kind_of(type_: Any) -> Kind:
    """What a column's values are, for default normalisation."""
    if isinstance(type_, sqltypes.Boolean):
        return "boolean"
    affinity = getattr(type_, "_type_affinity", None)
    if affinity is not None and issubclass(
        affinity, sqltypes.Numeric | sqltypes.Integer | sqltypes.Float
    ):
        return "number"
    if type(type_).__name__ in ("BIT", "YEAR"):
        return "number"
    if affinity is not None and issubclass(affinity, sqltypes.String):
        return "string"
    return None


#: What SQLAlchemy's MySQL reflection can read back from ``SHOW CREATE TABLE``; other
#: defaults (``concat('a','b')``, ``b'1'``) come back as None even when present.
_MYSQL_READABLE = re.compile(
    r"(?:NULL|'(?:''|[^'])*'|\(.+?\)|[\-\w\.\(\)]+(?: +ON UPDATE [\-\w\.\(\)]+)?)\Z",
    re.IGNORECASE,
)


def _mysql_unreadable(meta_sql: str) -> bool:
    """True when MySQL/MariaDB reflection could not report this default even if present.

    MariaDB prints expression defaults without their outer parentheses and without spaces
    after commas; what SQLAlchemy's ``SHOW CREATE TABLE`` parser cannot match it drops.
    """
    text = meta_sql.strip()
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    text = re.sub(r",\s+", ",", text)
    return _MYSQL_READABLE.match(text) is None


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if depth < 0:
            return False
    return depth == 0


def defaults_differ(
    dialect: Dialect, conn_sql: str | None, meta_sql: str | None, metadata_col: Column[Any]
) -> bool:
    """True when the model's server default is not what the database has."""
    kind = kind_of(metadata_col.type)
    conn = normalize_default(conn_sql, dialect.name, kind)
    meta = normalize_default(meta_sql, dialect.name, kind)
    if conn == meta:
        return False
    if (
        meta is None
        and conn is not None
        and dialect.name == "postgresql"
        and conn.startswith("nextval (")
        and metadata_col.table is not None
        and metadata_col.table._autoincrement_column is metadata_col
    ):
        return False  # the sequence of a SERIAL column
    # MySQL reflection drops defaults it can't parse: when it reports none for a default it
    # could not have read, reporting would be a guess.
    return not (
        conn is None
        and meta_sql is not None
        and dialect.name in ("mysql", "mariadb")
        and _mysql_unreadable(meta_sql)
    )


@builtin_comparators.dispatch_for(
    "column", priority=DispatchPriority.FIRST, subgroup="server_default"
)
@builtin
def user_compare_server_default(
    autogen_context: AutogenContext,
    alter_column_op: ops.AlterColumnOp,
    schema: str | None,
    tname: str,
    cname: str,
    conn_col: Any,
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    record = record_of(conn_col)
    has_conn = record.get("default") is not None or record.get("computed") or record.get("identity")
    if not has_conn and metadata_col.server_default is None:
        return PriorityDispatchResult.CONTINUE
    mc = autogen_context.migration_context
    if mc._user_compare_server_default is False:
        return PriorityDispatchResult.STOP
    if not callable(mc._user_compare_server_default):
        return PriorityDispatchResult.CONTINUE
    is_diff = mc._user_compare_server_default(
        mc,
        conn_col.value,
        metadata_col,
        record.get("default"),
        metadata_col.server_default,
        raw_metadata_default(metadata_col.server_default, autogen_context.dialect),
    )
    if is_diff:
        alter_column_op.modify_server_default = metadata_col.server_default
        return PriorityDispatchResult.STOP
    if is_diff is False:
        return PriorityDispatchResult.STOP
    return PriorityDispatchResult.CONTINUE


@builtin_comparators.dispatch_for("column", subgroup="server_default")
@builtin
def compare_computed_default(
    autogen_context: AutogenContext,
    alter_column_op: ops.AlterColumnOp,
    schema: str | None,
    tname: str,
    cname: str,
    conn_col: Any,
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    """Computed columns can't be altered in place: never reported as a default change."""
    if isinstance(metadata_col.server_default, Computed) or record_of(conn_col).get("computed"):
        return PriorityDispatchResult.STOP
    return PriorityDispatchResult.CONTINUE


_IDENTITY_SKIP = frozenset({"order", "on_null", "oracle_order", "oracle_on_null"})


@builtin_comparators.dispatch_for("column", subgroup="server_default")
@builtin
def compare_identity(
    autogen_context: AutogenContext,
    alter_column_op: ops.AlterColumnOp,
    schema: str | None,
    tname: str,
    cname: str,
    conn_col: Any,
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    meta = metadata_col.server_default
    conn = record_of(conn_col).get("identity")
    if not isinstance(meta, Identity) and conn is None:
        return PriorityDispatchResult.CONTINUE
    if not isinstance(meta, Identity) or conn is None:
        alter_column_op.modify_server_default = meta
        return PriorityDispatchResult.STOP
    defaults = Identity()
    diff = []
    for key in ("always", "start", "increment", "minvalue", "maxvalue", "cycle", "cache"):
        if key in _IDENTITY_SKIP:
            continue
        m = getattr(meta, key, None)
        c = conn.get(key)
        if m is None:
            m = getattr(defaults, key, None)
        if m is None or c is None:
            continue
        if m != c:
            diff.append(key)
    if diff:
        alter_column_op.modify_server_default = meta
    return PriorityDispatchResult.STOP


@builtin_comparators.dispatch_for("column", subgroup="server_default")
@builtin
def setup_autoincrement(
    autogen_context: AutogenContext,
    alter_column_op: ops.AlterColumnOp,
    schema: str | None,
    tname: str,
    cname: str,
    conn_col: Any,
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    table = metadata_col.table
    if (
        table is not None and table._autoincrement_column is metadata_col
    ) or metadata_col.autoincrement is True:
        alter_column_op.kw["autoincrement"] = True
    elif metadata_col.autoincrement is False:
        alter_column_op.kw["autoincrement"] = False
    return PriorityDispatchResult.CONTINUE


@builtin_comparators.dispatch_for(
    "column", priority=DispatchPriority.LAST, subgroup="server_default"
)
@builtin
def compare_server_default(
    autogen_context: AutogenContext,
    alter_column_op: ops.AlterColumnOp,
    schema: str | None,
    tname: str,
    cname: str,
    conn_col: Any,
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    record = record_of(conn_col)
    meta = metadata_col.server_default
    conn_sql = record.get("default")
    if conn_sql is None and meta is None:
        return PriorityDispatchResult.CONTINUE
    if meta is not None and not isinstance(meta, DefaultClause):
        return PriorityDispatchResult.CONTINUE
    dialect = autogen_context.dialect
    if defaults_differ(dialect, conn_sql, render_metadata_default(meta, dialect), metadata_col):
        alter_column_op.modify_server_default = meta
        return PriorityDispatchResult.STOP
    return PriorityDispatchResult.CONTINUE


def existing_server_default(record: Any, metadata_col: Column[Any]) -> Any:
    """Alembic's ``existing_server_default``: the database's default when either side has
    one, else ``False`` (unset)."""
    default = server_default_of(record)
    if default is None and metadata_col.server_default is None:
        return False
    return default


def _forget_defaults() -> None:
    _COMPILERS.clear()
    _RENDERED.clear()
    normalize_default.cache_clear()


register_cache(_forget_defaults)
