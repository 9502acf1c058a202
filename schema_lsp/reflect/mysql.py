"""MariaDB: every table's ``SHOW CREATE TABLE`` rebuilt from one catalog query.

SQLAlchemy reflects a MySQL/MariaDB table by parsing the text of ``SHOW CREATE TABLE``,
one statement per table: at a thousand tables, a thousand round trips. The same facts are
in ``information_schema``, whose views answer for every table of a schema at once. We read
them in one statement, print each table's ``CREATE TABLE`` text exactly as MariaDB prints
it, and hand it to SQLAlchemy's own parser (through a copy of the dialect whose
``_parsed_state_or_create`` answers from it), so the records are exactly SQLAlchemy's.

What cannot be printed faithfully from the catalog (partitions, system versioning, other
engines, engine-defined options, unknown column extras...) is not guessed: those tables are
read with the real ``SHOW CREATE TABLE``. One real ``SHOW CREATE TABLE`` of the richest
table checks the printer against the server; on a mismatch (a server version printing
differently) every table is read the slow, exact way. Tests compare the rebuilt text with
the server's for a corpus of every common construct.
"""

from __future__ import annotations

import copy
import gc
import json
import re
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, text
from sqlalchemy.dialects.mysql.reflection import ReflectedState
from sqlalchemy.engine import Connection
from sqlalchemy.exc import NoSuchTableError, UnreflectableTableError

from . import inspector
from .model import ReflectedSchema, ReflectedTable

#: Up to this many tables (of a schema with more), one ``SHOW CREATE TABLE`` each is as
#: few statements as the catalog query plus its check.
FEW_TABLES = 2

#: ``TABLES.CREATE_OPTIONS`` keys MariaDB prints upper-cased, in the same order, as
#: ``KEY=value`` table options (others, e.g. engine-defined ones, print differently).
_PLAIN_OPTIONS = frozenset(
    {
        "min_rows",
        "max_rows",
        "avg_row_length",
        "pack_keys",
        "stats_persistent",
        "stats_auto_recalc",
        "stats_sample_pages",
        "checksum",
        "delay_key_write",
        "row_format",
        "key_block_size",
    }
)
_ENGINES = frozenset({"InnoDB", "MyISAM", "MEMORY"})
_EXTRA = re.compile(
    r"^(?:(?P<autoincrement>auto_increment)|on update (?P<onupdate>\S+)"
    r"|(?P<generated>VIRTUAL|STORED) GENERATED)?(?: ?(?P<invisible>INVISIBLE))?$"
)
_ESCAPES = {"\0": "\\0", "\n": "\\n", "\r": "\\r", "\\": "\\\\", "'": "''"}
_NEEDS_ESCAPE = re.compile("[\0\n\r\\\\']")


class Unsupported(Exception):
    """The catalog rows hold something the printer does not reproduce exactly."""


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _string(value: str) -> str:
    """A string literal escaped the way MariaDB's ``SHOW CREATE TABLE`` escapes comments."""
    return "'" + _NEEDS_ESCAPE.sub(lambda m: _ESCAPES[m.group()], value) + "'"


@dataclass
class _Table:
    """The catalog rows of one table."""

    name: str
    engine: str = ""
    collation: str | None = None
    options: str = ""
    auto_increment: int | None = None
    comment: str = ""
    table_type: str = "BASE TABLE"
    columns: list[list[Any]] = field(default_factory=list)
    indexes: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    foreign_keys: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    column_checks: dict[str, str] = field(default_factory=dict)
    table_checks: list[tuple[str, str]] = field(default_factory=list)
    broken: bool = False
    #: Records of all columns but the last, parsed while the rest was still arriving.
    prepared: list[Any] | None = None


#: One statement reading six catalog views; every row is (view, table, JSON array). The
#: columns come one row per table (``JSON_ARRAYAGG``): fewer, cheaper rows to decode. Index
#: rows stay one per row, because grouping would lose their order (MariaDB's key order).
#: The server sends each view's rows as soon as it has them, in this order: a table's
#: columns can be parsed (they need the table and its checks) while the server still
#: reads the indexes and foreign keys.
_CATALOG_SQL = " UNION ALL ".join(
    [
        "SELECT 'T', TABLE_NAME, JSON_ARRAY(TABLE_TYPE, ENGINE, TABLE_COLLATION, "
        "CREATE_OPTIONS, AUTO_INCREMENT, TABLE_COMMENT) "
        "FROM information_schema.TABLES WHERE TABLE_SCHEMA {schema}",
        "SELECT 'X', TABLE_NAME, JSON_ARRAY(CONSTRAINT_NAME, LEVEL, CHECK_CLAUSE) "
        "FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA {schema}",
        "SELECT 'C', MIN(TABLE_NAME), JSON_ARRAYAGG(JSON_ARRAY(ORDINAL_POSITION, COLUMN_NAME, "
        "COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, IS_NULLABLE, COLUMN_DEFAULT, EXTRA, "
        "GENERATION_EXPRESSION, COLUMN_COMMENT) ORDER BY ORDINAL_POSITION) "
        "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA {schema} "
        "GROUP BY CAST(TABLE_NAME AS BINARY)",
        "SELECT 'S', TABLE_NAME, JSON_ARRAY(INDEX_NAME, SEQ_IN_INDEX, NON_UNIQUE, COLUMN_NAME, "
        "COLLATION, SUB_PART, INDEX_TYPE, INDEX_COMMENT, IGNORED) "
        "FROM information_schema.STATISTICS WHERE TABLE_SCHEMA {schema}",
        "SELECT 'R', TABLE_NAME, JSON_ARRAY(CONSTRAINT_NAME, UPDATE_RULE, DELETE_RULE, "
        "MATCH_OPTION) FROM information_schema.REFERENTIAL_CONSTRAINTS "
        "WHERE CONSTRAINT_SCHEMA {schema}",
        "SELECT 'K', TABLE_NAME, JSON_ARRAY(CONSTRAINT_NAME, ORDINAL_POSITION, COLUMN_NAME, "
        "TABLE_SCHEMA, REFERENCED_TABLE_SCHEMA, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME) "
        "FROM information_schema.KEY_COLUMN_USAGE "
        "WHERE TABLE_SCHEMA {schema} AND REFERENCED_TABLE_NAME IS NOT NULL",
    ]
)

_ONLY_NAMES = " AND TABLE_NAME IN :names"


class Catalog:
    """Every table of one MariaDB schema as the ``information_schema`` views report it."""

    def __init__(
        self,
        connection: Connection,
        schema: str | None,
        names: Sequence[str] | None = None,
        prepare: Callable[[_Table], None] | None = None,
    ) -> None:
        """Read the catalog of ``schema`` (``None``: the current database), of the tables
        ``names`` only if given (the server then skips the others before opening them).
        ``prepare(table)`` is called as soon as a table's columns have arrived."""
        where = "= DATABASE()" if schema is None else "= :schema"
        params: dict[str, Any] = {} if schema is None else {"schema": schema}
        statement = text(_CATALOG_SQL.format(schema=where + (names is not None) * _ONLY_NAMES))
        if names is not None:
            statement = statement.bindparams(bindparam("names", expanding=True))
            params["names"] = list(names)
        self.tables: dict[str, _Table] = {}
        self._rules: dict[tuple[str, str], list[Any]] = {}
        self._prepare = prepare
        handlers = {
            "T": self._table,
            "X": self._check,
            "C": self._columns,
            "S": self._index,
            "R": self._rule,
            "K": self._foreign_key,
        }
        rows = connection.execution_options(stream_results=True).execute(statement, params)
        for kind, tname, data in rows:
            handlers[kind](tname, data)

    def _table(self, tname: str, data: str) -> None:
        ttype, engine, collation, options, auto_inc, comment = json.loads(data)
        self.tables[tname] = _Table(
            tname, engine or "", collation, options or "", auto_inc, comment or "", ttype
        )

    def _check(self, tname: str, data: str) -> None:
        t = self.tables.get(tname)
        if t is not None:
            cname, level, clause = json.loads(data)
            if level == "Column":
                t.column_checks[cname] = clause
            else:
                t.table_checks.append((cname, clause))

    def _columns(self, tname: str, data: str) -> None:
        t = self.tables.get(tname)
        if t is None:
            return
        try:
            t.columns = json.loads(data)
        except ValueError:  # longer than group_concat_max_len: cut short
            t.broken = True
            return
        if not all(isinstance(c, list) and len(c) == 10 for c in t.columns):
            t.broken = True  # not the shape asked for: trust nothing of it
        elif self._prepare is not None:
            self._prepare(t)

    def _index(self, tname: str, data: str) -> None:
        t = self.tables.get(tname)
        if t is not None:
            row = json.loads(data)
            t.indexes.setdefault(row[0], []).append(row[1:])

    def _rule(self, tname: str, data: str) -> None:
        cname, *rule = json.loads(data)
        self._rules[(tname, cname)] = rule

    def _foreign_key(self, tname: str, data: str) -> None:
        t = self.tables.get(tname)
        if t is not None:
            cname, *part = json.loads(data)
            rule = self._rules.get((tname, cname), [None, None, None])
            t.foreign_keys.setdefault(cname, []).append((*part, *rule))

    def create_table(self, name: str) -> str:
        """``SHOW CREATE TABLE`` of ``name`` as MariaDB prints it; raises ``Unsupported``
        (or ``KeyError`` for an unknown table) when it cannot be printed exactly."""
        t, rows, others = self.definition(name)
        lines = [_column(t, row) for row in rows] + others
        return f"CREATE TABLE {_ident(name)} (\n" + ",\n".join(lines) + "\n) " + _options(t)

    def definition(self, name: str) -> tuple[_Table, list[list[Any]], list[str]]:
        """The table, its column rows in order and its printed key and constraint lines."""
        t = self.tables[name]
        if t.broken or not t.columns:
            raise Unsupported("catalog rows cut short")
        if t.table_type != "BASE TABLE" or t.engine not in _ENGINES or not t.collation:
            raise Unsupported(f"{t.table_type} {t.engine}")
        others = [_index(t, iname, parts) for iname, parts in t.indexes.items()]
        for fname in sorted(t.foreign_keys, key=lambda n: n.encode()):
            others.append(_foreign_key(fname, t.foreign_keys[fname]))
        for cname, clause in t.table_checks:
            others.append(f"  CONSTRAINT {_ident(cname)} CHECK ({clause})")
        return t, sorted(t.columns, key=lambda r: r[0]), others


def _column(t: _Table, row: list[Any]) -> str:
    _, name, ctype, charset, collation, nullable, default, extra, expr, comment = row
    m = _EXTRA.match(extra or "")
    if m is None:
        raise Unsupported(f"column extra {extra!r}")
    out = [f"  {_ident(name)} {ctype}"]
    if collation and collation != t.collation:
        out.append(f" CHARACTER SET {charset} COLLATE {collation}")
    if m["generated"]:
        if nullable == "NO" or m["invisible"] or expr is None:
            raise Unsupported("generated column")
        out.append(f" GENERATED ALWAYS AS ({expr}) {m['generated']}")
    else:
        if nullable == "NO":
            out.append(" NOT NULL")
        elif ctype.startswith("timestamp"):
            out.append(" NULL")
        if m["invisible"]:
            out.append(" INVISIBLE")
        if default is not None:
            out.append(f" DEFAULT {default}")
        if m["onupdate"]:
            out.append(f" ON UPDATE {m['onupdate']}")
        if m["autoincrement"]:
            out.append(" AUTO_INCREMENT")
    if comment:
        out.append(f" COMMENT {_string(comment)}")
    check = t.column_checks.get(name)
    if check is not None:
        out.append(f" CHECK ({check})")
    return "".join(out)


def _index(t: _Table, name: str, parts: list[tuple[Any, ...]]) -> str:
    parts = sorted(parts, key=lambda p: p[0])
    _, non_unique, _, _, _, itype, icomment, ignored = parts[0]
    if name == "PRIMARY":
        head = "  PRIMARY KEY"
    elif itype in ("FULLTEXT", "SPATIAL"):
        head = f"  {itype} KEY {_ident(name)}"
    elif not non_unique:
        head = f"  UNIQUE KEY {_ident(name)}"
    else:
        head = f"  KEY {_ident(name)}"
    cols = []
    for _, _, column, order, sub_part, *_ in parts:
        if column is None:
            raise Unsupported("index on an expression")
        col = _ident(column)
        if sub_part is not None and itype != "SPATIAL":
            col += f"({sub_part})"
        if order == "D":
            col += " DESC"
        cols.append(col)
    out = [f"{head} ({','.join(cols)})"]
    # MariaDB prints the algorithm when it differs from the engine's own choice.
    if (t.engine == "MEMORY") == (itype == "BTREE") and itype in ("BTREE", "HASH"):
        out.append(f" USING {itype}")
    if icomment:
        out.append(f" COMMENT {_string(icomment)}")
    if ignored == "YES":
        out.append(" IGNORED")
    return "".join(out)


def _foreign_key(name: str, parts: list[tuple[Any, ...]]) -> str:
    parts = sorted(parts, key=lambda p: p[0])
    _, _, schema, ref_schema, ref_table, _, update, delete, match = parts[0]
    if update is None or match not in (None, "NONE"):
        raise Unsupported("foreign key rules")
    target = _ident(ref_table)
    if ref_schema != schema:
        target = f"{_ident(ref_schema)}.{target}"
    local = ", ".join(_ident(p[1]) for p in parts)
    remote = ", ".join(_ident(p[5]) for p in parts)
    out = [f"  CONSTRAINT {_ident(name)} FOREIGN KEY ({local}) REFERENCES {target} ({remote})"]
    if delete != "RESTRICT":
        out.append(f" ON DELETE {delete}")
    if update != "RESTRICT":
        out.append(f" ON UPDATE {update}")
    return "".join(out)


def _options(t: _Table) -> str:
    assert t.collation is not None
    out = [f"ENGINE={t.engine}"]
    if t.auto_increment is not None and t.auto_increment > 1:
        out.append(f"AUTO_INCREMENT={t.auto_increment}")
    out.append(f"DEFAULT CHARSET={t.collation.split('_', 1)[0]} COLLATE={t.collation}")
    for option in t.options.split():
        key, sep, value = option.partition("=")
        if not sep or key not in _PLAIN_OPTIONS:
            raise Unsupported(f"table option {option!r}")
        out.append(f"{key.upper()}={value}")
    if t.comment:
        out.append(f"COMMENT={_string(t.comment)}")
    return " ".join(out)


def _supported(dialect: Any) -> bool:
    """Whether the printer knows how this server prints ``SHOW CREATE TABLE``."""
    mode = (getattr(dialect, "_sql_mode", "") or "").upper()
    odd_modes = (
        "ANSI_QUOTES",
        "NO_FIELD_OPTIONS",
        "NO_KEY_OPTIONS",
        "NO_TABLE_OPTIONS",
        "ORACLE",
        "MSSQL",
        "DB2",
        "MAXDB",
        "POSTGRESQL",
    )
    return (
        bool(getattr(dialect, "is_mariadb", False))
        and dialect.server_version_info >= (10, 6)
        and not any(m in mode for m in odd_modes)
    )


def create_tables(connection: Connection, schema: str | None) -> dict[str, str | None]:
    """The rebuilt ``SHOW CREATE TABLE`` text of every base table of ``schema`` (what
    SQLAlchemy lists as tables), ``None`` for those to read with the real statement."""
    catalog = Catalog(connection, schema)
    texts: dict[str, str | None] = {}
    for name, table in catalog.tables.items():
        if table.table_type not in ("BASE TABLE", "SYSTEM VERSIONED"):
            continue
        try:
            texts[name] = catalog.create_table(name)
        except Unsupported:
            texts[name] = None
    return texts


def normalised(sql: str) -> str:
    """``sql`` without index algorithms: the catalog does not say whether one was named
    explicitly (which MariaDB then prints), and SQLAlchemy's parser ignores them."""
    return sql.replace(" USING BTREE", "").replace(" USING HASH", "")


def _fresh_type(type_: Any) -> Any:
    """A copy of a reflected type, so no two columns share one (``copy.copy``, faster)."""
    fresh = object.__new__(type_.__class__)
    fresh.__dict__.update(type_.__dict__)
    return fresh


class _RememberingParser:
    """SQLAlchemy's ``SHOW CREATE TABLE`` parser, parsing each distinct column definition
    and table-options line once.

    Across a large schema most column definitions repeat (``int(11) NOT NULL
    AUTO_INCREMENT``): printing and parsing each of them dominated the reading time. The
    parser reads a table line by line, each line on its own, and what it makes of a column
    line depends only on the text after the name: one parse per definition, renamed and
    copied for every column of that definition, gives each table exactly the records
    SQLAlchemy produces, as its own objects.
    """

    def __init__(self, parser: Any) -> None:
        self.parser = copy.copy(parser)
        self.definitions: dict[tuple[Any, ...], list[Any]] = {}
        self.option_lines: dict[str, dict[str, str]] = {}
        self.parse_column = parser._parse_column
        self.parse_options = parser._parse_table_options
        self.parser._parse_table_options = self._options

    def parse_table(self, catalog: Catalog, name: str, charset: str | None) -> Any:
        """What SQLAlchemy's parser makes of the rebuilt ``SHOW CREATE TABLE`` of ``name``."""
        t, rows, others = catalog.definition(name)
        state = self.parser.parse(
            f"CREATE TABLE {_ident(name)} (\n" + ",\n".join(others) + "\n) " + _options(t),
            charset,
        )
        columns = t.prepared if t.prepared is not None else self._leading_columns(t, rows)
        # The last column line ends without a comma when no key or constraint follows.
        state.columns = columns + self._column(t, rows[-1], bool(others))
        return state

    def prepare(self, t: _Table) -> None:
        """Parse the columns of ``t`` but the last (whose line may end without a comma)."""
        try:
            t.prepared = self._leading_columns(t, sorted(t.columns, key=lambda r: r[0]))
        except Exception:  # raised again by parse_table, once the rows are all read
            t.prepared = None

    def _leading_columns(self, t: _Table, rows: list[list[Any]]) -> list[Any]:
        return [col for row in rows[:-1] for col in self._column(t, row, True)]

    def _column(self, t: _Table, row: list[Any], comma: bool) -> list[Any]:
        name = row[1]
        key = (*_definition_key(t, row), comma)
        known = None if "`" in name else self.definitions.get(key)
        if known is None:
            scratch = ReflectedState()
            self.parse_column(_column(t, row) + ("," if comma else ""), scratch)
            if "`" in name or any(c["name"] != name for c in scratch.columns):
                return list(scratch.columns)  # a name the parser does not take verbatim
            known = self.definitions[key] = list(scratch.columns)
        fresh_columns = []
        for col in known:
            fresh = dict(col, name=name, type=_fresh_type(col["type"]))
            if "computed" in col:
                fresh["computed"] = dict(col["computed"])
            fresh_columns.append(fresh)
        return fresh_columns

    def _options(self, line: str, state: Any) -> None:
        options = self.option_lines.get(line)
        if options is None:
            scratch = ReflectedState()
            self.parse_options(line, scratch)
            options = self.option_lines[line] = scratch.table_options
        state.table_options.update(options)


def _definition_key(t: _Table, row: list[Any]) -> tuple[Any, ...]:
    """Everything ``_column`` prints after the column name."""
    _, name, ctype, charset, collation, nullable, default, extra, expr, comment = row
    own = bool(collation) and collation != t.collation
    check = t.column_checks.get(name)
    return (
        ctype,
        own and charset,
        own and collation,
        nullable,
        default,
        extra,
        expr,
        comment,
        check,
    )


def _checked(
    connection: Connection, catalog: Catalog, names: list[str], schema: str | None
) -> bool:
    """Whether the printer prints what this server prints, compared on the table with the
    most constructs. ``False`` means: read every table with the real statement."""
    tables = [catalog.tables[n] for n in names if n in catalog.tables]
    tables.sort(
        key=lambda t: len(t.columns) + len(t.indexes) + len(t.foreign_keys) + len(t.table_checks),
        reverse=True,
    )
    for t in tables:
        try:
            rebuilt = catalog.create_table(t.name)
        except Unsupported:
            continue
        dialect: Any = connection.dialect
        full_name = ".".join(dialect.identifier_preparer._quote_free_identifiers(schema, t.name))
        real = dialect._show_create_table(
            connection, None, dialect._connection_charset, full_name=full_name
        )
        if normalised(real) == normalised(rebuilt):
            return True
        warnings.warn(
            "schema_lsp: this MariaDB prints SHOW CREATE TABLE differently from the catalog "
            "rebuild; reading each table with SHOW CREATE TABLE instead",
            stacklevel=4,
        )
        return False
    return True


def read_tables(
    connection: Connection,
    reflected: ReflectedSchema,
    schema: str | None,
    names: Iterable[str],
    *,
    all_tables: bool = False,
) -> None:
    """Fill ``reflected.tables`` for ``names`` of one MySQL/MariaDB schema: on MariaDB in
    one catalog query plus one check, elsewhere (or for a few tables) with the inspector."""
    names = list(names)
    if not names:
        return
    dialect: Any = connection.dialect
    if not _supported(dialect) or (not all_tables and len(names) <= FEW_TABLES):
        inspector.read_tables(connection, reflected, schema, names, all_tables=all_tables)
        return
    with _gc_paused():
        _read(connection, reflected, schema, names, all_tables)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while tens of thousands of records are built: the
    collector would scan them again and again (a third of the reading time), to find none."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read(
    connection: Connection,
    reflected: ReflectedSchema,
    schema: str | None,
    names: list[str],
    all_tables: bool,
) -> None:
    """``read_tables`` on MariaDB: parse rebuilt text, real text where it cannot be rebuilt."""
    dialect: Any = connection.dialect
    parser = _RememberingParser(dialect._tabledef_parser)
    catalog = Catalog(connection, schema, None if all_tables else names, parser.prepare)
    rebuilt = _checked(connection, catalog, names, schema)
    charset = dialect._connection_charset
    states: dict[str, Any] = {}
    for name in names:
        try:
            if rebuilt:
                try:
                    states[name] = parser.parse_table(catalog, name, charset)
                    continue
                except (Unsupported, KeyError):
                    pass
            states[name] = dialect._setup_parser(connection, name, schema)
        except (NoSuchTableError, UnreflectableTableError):
            continue  # dropped meanwhile, or a broken view: skipped, as the inspector does

    def parsed_state(connection: Any, table_name: str, schema: Any = None, **kw: Any) -> Any:
        return states[table_name]

    local = copy.copy(dialect)
    local._parsed_state_or_create = parsed_state
    for name in states:
        table = ReflectedTable(schema=schema, name=name)
        table.columns = local.get_columns(connection, name, schema)
        table.primary_key = local.get_pk_constraint(connection, name, schema)
        table.foreign_keys = local.get_foreign_keys(connection, name, schema)
        table.indexes = local.get_indexes(connection, name, schema)
        table.unique_constraints = local.get_unique_constraints(connection, name, schema)
        table.check_constraints = local.get_check_constraints(connection, name, schema)
        table.comment = local.get_table_comment(connection, name, schema).get("text")
        table.options = local.get_table_options(connection, name, schema)
        reflected.tables[(schema, name)] = table


__all__ = ["Catalog", "Unsupported", "create_tables", "normalised", "read_tables"]
