"""SQL text as backends print it back, reduced to comparable forms.

PostgreSQL re-prints index expressions, partial-index predicates and CHECK constraints with
casts and parentheses, MariaDB with backticks and its own spellings, SQLite keeps the text:
these functions reduce both the database's text and the model's compiled SQL to one form.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql.elements import TextClause

from .caches import register_cache

_PG_TYPE = r"""
    (?:"[^"]+"|[a-z_][\w$]*)(?:\.(?:"[^"]+"|[a-z_][\w$]*))?  # name, "char", schema.name
    (?:\s+(?:varying|precision))?                           # character varying
    (?:\s*\(\s*\d+(?:\s*,\s*\d+)?\s*\))?                    # (10), (10, 2)
    (?:\s+with(?:out)?\s+time\s+zone)?                      # timestamp with time zone
    (?:\s*\[\s*\d*\s*\])*                                   # text[]
"""
#: ``expr::type``, the way PostgreSQL prints casts.
PG_CAST = re.compile(r"::\s*" + _PG_TYPE, re.I | re.X)
#: ``CAST(expr AS type)``, the way SQLAlchemy renders ``cast()``.
_CAST_CALL = re.compile(r"\bcast\s*\((.*?)\s+as\s+" + _PG_TYPE + r"\s*\)", re.I | re.X)
#: Sort modifiers PostgreSQL leaves out when printing an index because they are the default.
_DEFAULT_SORT = (
    (re.compile(r" asc nulls last$"), ""),
    (re.compile(r"(?<! desc) nulls last$"), ""),
    (re.compile(r" asc$"), ""),
    (re.compile(r" asc (nulls first)$"), r" \1"),
    (re.compile(r" desc nulls first$"), " desc"),
)


def _strip_outer_parens(s: str) -> str:
    """``((a + b))`` -> ``a + b``; ``(a) + (b)`` is left alone."""
    while s.startswith("(") and s.endswith(")"):
        depth = 0
        for i, ch in enumerate(s):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and i < len(s) - 1:
                return s
        s = s[1:-1].strip()
    return s


def pg_index_expr(expr: str, table_name: str) -> str:
    """An index element as PostgreSQL or SQLAlchemy print it, reduced to a canonical form:
    lower case, no quotes, casts, default sort modifiers, table prefixes or spaces."""
    s = expr.lower().replace('"', "").replace("'", "")
    s = s.replace(f"{table_name.lower()}.", "")
    s = PG_CAST.sub("", s)
    s = _strip_outer_parens(s.strip())
    for pattern, repl in _DEFAULT_SORT:
        s, n = pattern.subn(repl, s)
        if n:
            break
    s = _strip_outer_parens(s.strip())
    n = 1
    while n:
        s, n = _CAST_CALL.subn(r"\1", s)
    return s.replace(" ", "")


def compile_sql(element: Any, dialect: Dialect) -> str:
    """A model expression as the DDL renders it (literal values, no table prefixes)."""
    if isinstance(element, str):
        return element
    if isinstance(element, TextClause) and not element._bindparams:
        return element.text  # fast path: the text is what the DDL got
    return str(
        element.compile(
            dialect=dialect, compile_kwargs={"literal_binds": True, "include_table": False}
        )
    )


_CAST_ANY = re.compile(r"\bcast\s*\(\s*(.*?)\s+as\s+[\w\s(),\[\]]+?\)", re.I)
_QUOTED_NUMBER = re.compile(r"'(-?\d+(?:\.\d+)?)'")
_CHARSET_INTRODUCER = re.compile(r"\b_[a-z0-9]+'")
_OPERAND = r"([\w.]+(?:\([^()]*\))?|'(?:[^']|'')*')"
_BETWEEN = re.compile(_OPERAND + r"\s+between\s+" + _OPERAND + r"\s+and\s+" + _OPERAND)
#: ``NOT (a = b)`` (PostgreSQL: ``NOT a = b``; MariaDB: ``a <> b``)
_NOT_EQUAL = re.compile(r"\bnot\s*\(\s*" + _OPERAND + r"\s*=\s*" + _OPERAND + r"\s*\)")
_NOT_EQUAL_BARE = re.compile(r"\bnot\s+" + _OPERAND + r"\s*=\s*" + _OPERAND)
#: ``interval '1 day'``: PostgreSQL prints typed literals as ``'1 day'::interval``
_TYPED_LITERAL = re.compile(r"\b(?:interval|date|time|timestamp)\s+'")
_ELEMENT = r"('(?:[^']|'')*'|[\w.+-]+)"
_SINGLE_NOT_IN = re.compile(r"\s+not\s+in\s*\(\s*" + _ELEMENT + r"\s*\)")
_SINGLE_IN = re.compile(r"\s+in\s*\(\s*" + _ELEMENT + r"\s*\)")
_SINGLE_ANY = re.compile(r"=\s*any\s*\(+\s*array\[\s*" + _ELEMENT + r"\s*\]\s*\)+")
_SINGLE_ALL = re.compile(r"<>\s*all\s*\(+\s*array\[\s*" + _ELEMENT + r"\s*\]\s*\)+")
#: functions MariaDB stores under another name
_SYNONYM_MAP = {
    "octet_length(": "length(",
    "character_length(": "char_length(",
    "ucase(": "upper(",
    "lcase(": "lower(",
}
_SYNONYMS = re.compile(r"\b(?:octet_length|character_length|ucase|lcase)\(")
_MOD = re.compile(r"\s+mod\s+")
_BOOL = re.compile(r"\b(true|false)\b")
_PG_OPERATORS = (
    ("!~~*", " not ilike "),
    ("~~*", " ilike "),
    ("!~~", " not like "),
    ("~~", " like "),
    ("!=", "<>"),
)


@functools.lru_cache(maxsize=4096)
def normalize_sql(sql: str, dialect_name: str) -> str:
    """A boolean SQL expression reduced to what survives every backend's rewriting.

    PostgreSQL re-prints checks and index predicates with parentheses, ``::`` casts,
    ``= ANY (ARRAY[...])`` for ``IN``, ``~~`` for ``LIKE`` and ``BETWEEN`` expanded; MariaDB
    quotes identifiers in backticks and lower-cases keywords; SQLite keeps the text. The
    result drops case, quoting, casts, parentheses and spaces, so some real changes (only
    in grouping or letter case) go unnoticed rather than unchanged checks being reported.
    """
    # ``%%``: a ``%`` as compiled for a driver with a format paramstyle
    s = sql.lower().replace("`", "").replace('"', "").replace("%%", "%").replace("\\'", "''")
    s = _CHARSET_INTRODUCER.sub("'", s)
    s = PG_CAST.sub("", s)
    s = _TYPED_LITERAL.sub("'", s)
    n = 1
    while n:
        s, n = _CAST_ANY.subn(r"\1", s)
    s = _QUOTED_NUMBER.sub(r"\1", s)
    for op, repl in _PG_OPERATORS:
        s = s.replace(op, repl)
    s = _BETWEEN.sub(r"\1 >= \2 and \1 <= \3", s)
    # a one-element IN list is an equality to PostgreSQL and MariaDB
    s = _SINGLE_ANY.sub(r"= \1", s)
    s = _SINGLE_ALL.sub(r"<> \1", s)
    s = _SINGLE_NOT_IN.sub(r" <> \1", s)
    s = _SINGLE_IN.sub(r" = \1", s)
    s = _SYNONYMS.sub(lambda m: _SYNONYM_MAP[m.group(0)], s)
    # MariaDB: MOD for %, 1/0 for true/false, NOT (a = b) as a <> b
    s = _MOD.sub(" % ", s)
    s = _BOOL.sub(lambda m: "1" if m.group(1) == "true" else "0", s)
    s = _NOT_EQUAL.sub(r"\1 <> \2", s)
    s = _NOT_EQUAL_BARE.sub(r"\1 <> \2", s)
    s = re.sub(r"[\s()\[\]]+", "", s)
    return s.replace("=anyarray", "in").replace("<>allarray", "notin")


register_cache(normalize_sql.cache_clear)
