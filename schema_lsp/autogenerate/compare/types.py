"""Column types, compared the way the database will spell them.

Both sides are compiled with the dialect's own type compiler and reduced to a canonical
signature (base name, arguments, modifiers) before comparing; dialect-specific spellings
that mean the same type (``BOOL``/``TINYINT(1)`` on MySQL, ``FLOAT``/``DOUBLE PRECISION``
and ``FLOAT(24)``/``REAL`` on PostgreSQL, ``REAL``/``DOUBLE`` and ``BLOB(100)``/``TINYBLOB``
on MariaDB, names SQLite only knows by affinity) are folded together. Arguments are only
compared when both sides state them, as Alembic does, so a model that says ``Integer`` is
never reported against ``INT(11)``.

Compiling a type is the expensive step; signatures are cached per compiled text (shared by
every ``VARCHAR(50)`` of a schema) and per model type object within one comparison.
"""

from __future__ import annotations

import contextlib
import re
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Column
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import CompileError, UnsupportedCompilationError

from ...operations import ops
from ..dispatch import DispatchPriority, PriorityDispatchResult, builtin
from .caches import register_cache
from .columns import record_of
from .registry import builtin_comparators

if TYPE_CHECKING:
    from ..api import AutogenContext


@dataclass(frozen=True)
class TypeSignature:
    """A compiled type reduced to what decides equality."""

    name: str
    args: tuple[str, ...]
    modifiers: tuple[str, ...]


_MYSQL_SYNONYMS = {
    "bool": "tinyint",
    "boolean": "tinyint",
    "json": "longtext",
    "real": "double",
    "double precision": "double",
    "national varchar": "varchar",
    "national char": "char",
    "nvarchar": "varchar",
    "nchar": "char",
    "numeric": "decimal",
    "integer": "int",
    "dec": "decimal",
    "fixed": "decimal",
}

#: Spellings folded to one name, per dialect (applied to the full head, then the first word).
_SYNONYMS: dict[str, dict[str, str]] = {
    "default": {"decimal": "numeric"},
    "postgresql": {
        "decimal": "numeric",
        "double precision": "float",
        "float8": "float",
        "float4": "real",
        "timestamp without time zone": "timestamp",
        "timestamptz": "timestamp with time zone",
        "time without time zone": "time",
        "timetz": "time with time zone",
        "character varying": "varchar",
        "character": "char",
        "nchar": "char",
        "national character": "char",
        "int": "integer",
        "int4": "integer",
        "int8": "bigint",
        "int2": "smallint",
        "bool": "boolean",
        "bit varying": "varbit",
    },
    "mysql": _MYSQL_SYNONYMS,
    "mariadb": _MYSQL_SYNONYMS,
    "sqlite": {"decimal": "numeric"},
}

_TOKEN = re.compile(r"[\w\-]+|\(.*?\)")
_ARRAY = re.compile(r"(\[\d*\])+$")
_MODIFIER_ARGS = re.compile(r"(character set|collate) ([\w\-]+)")

#: MySQL picks the smallest BLOB/TEXT type that holds the requested length.
_MYSQL_SIZED = {
    "blob": ((255, "tinyblob"), (65535, "blob"), (16777215, "mediumblob")),
}


def _parse(text: str, dialect_name: str) -> TypeSignature | None:
    array = ""
    if dialect_name == "postgresql" and text.endswith("]"):
        # PostgreSQL doesn't keep an array's dimensions: TEXT[][] is TEXT[].
        text, array = _ARRAY.sub("", text), "[]"
    modifiers = tuple(" ".join(m) for m in _MODIFIER_ARGS.findall(text))
    text = _MODIFIER_ARGS.sub("", text)
    words: list[str] = []
    args: tuple[str, ...] = ()
    for token in _TOKEN.findall(text):
        if token.startswith("("):
            args = tuple(a.strip() for a in token[1:-1].split(",") if a.strip())
        else:
            words.append(token)
    if not words:
        return None
    head = " ".join(words)
    synonyms = _SYNONYMS.get(dialect_name, _SYNONYMS["default"])
    name = synonyms.get(head)
    if name is None:
        # Fold the base word only; qualifiers (UNSIGNED, WITH TIME ZONE) stay.
        name = " ".join([synonyms.get(words[0], words[0]), *words[1:]])
    if dialect_name == "postgresql" and name == "float" and args:
        # FLOAT(p) is REAL up to 24 bits of precision, DOUBLE PRECISION above.
        name = "real" if args[0].isdigit() and int(args[0]) <= 24 else "float"
        args = ()
    elif dialect_name in ("mysql", "mariadb") and name in _MYSQL_SIZED and args:
        size = int(args[0]) if args[0].isdigit() else 0
        name = next((n for limit, n in _MYSQL_SIZED[name] if size <= limit), "long" + name)
        args = ()
    elif dialect_name in ("mysql", "mariadb") and name == "text" and args:
        name, args = "text(n)", ()
    return TypeSignature(name + array, args, modifiers)


_PARSED: dict[tuple[str, str], TypeSignature | None] = {}


def compile_type(dialect: Dialect, type_: sqltypes.TypeEngine[Any]) -> str | None:
    """The DDL spelling of ``type_`` on ``dialect``; None when it can't be compiled there."""
    try:
        return str(dialect.type_compiler_instance.process(type_)).lower()
    except (CompileError, UnsupportedCompilationError, NotImplementedError, AttributeError):
        return None


def type_signature(dialect: Dialect, type_: sqltypes.TypeEngine[Any]) -> TypeSignature | None:
    """Compile ``type_`` for ``dialect``; None when it cannot be compiled there."""
    text = compile_type(dialect, type_)
    if text is None:
        return None
    key = (dialect.name, text)
    try:
        return _PARSED[key]
    except KeyError:
        pass
    sig = _parse(text, dialect.name)
    if len(_PARSED) < 100_000:
        _PARSED[key] = sig
    return sig


def _sqlite_affinity(name: str) -> str:
    """SQLite's column affinity of a declared type name (sqlite.org/datatype3, 3.1)."""
    name = name.upper()
    if "INT" in name:
        return "INTEGER"
    if "CHAR" in name or "CLOB" in name or "TEXT" in name:
        return "TEXT"
    if "BLOB" in name or not name:
        return "BLOB"
    if "REAL" in name or "FLOA" in name or "DOUB" in name:
        return "REAL"
    return "NUMERIC"


def _sqlite_unknown(dialect: Dialect, sig: TypeSignature) -> bool:
    """True when SQLite reflection can't give this name back (it resolves it by affinity)."""
    names: dict[str, Any] = getattr(dialect, "ischema_names", {})
    return sig.name.upper() not in names


def signatures_differ(dialect: Dialect, conn: TypeSignature, meta: TypeSignature) -> bool:
    """True when two compiled signatures are different types on ``dialect``."""
    if conn == meta:
        return False
    if conn.name != meta.name:
        if dialect.name == "sqlite" and _sqlite_unknown(dialect, meta):
            return _sqlite_affinity(conn.name) != _sqlite_affinity(meta.name)
        return not (meta.name == "text(n)" and conn.name.endswith("text"))
    if conn.args and meta.args and len(conn.args) == len(meta.args) and conn.args != meta.args:
        return True
    for mod in ("character set", "collate"):
        c = [_charset(m) for m in conn.modifiers if m.startswith(mod)]
        m_ = [_charset(m) for m in meta.modifiers if m.startswith(mod)]
        if c and m_ and c != m_:
            return True
    return False


def _charset(modifier: str) -> str:
    """``utf8`` is an alias of ``utf8mb3`` on MariaDB and MySQL."""
    return re.sub(r"\butf8(?!mb)", "utf8mb3", modifier)


def _enums_differ(dialect: Dialect, conn_type: sqltypes.Enum, meta_type: sqltypes.Enum) -> bool:
    """MySQL stores an ENUM by position, so order counts there (as in Alembic). PostgreSQL
    values are compared as a set (a new order can't be migrated with ALTER TYPE; Alembic
    compares nothing), plus the type's name."""
    if dialect.name in ("mysql", "mariadb"):
        return list(meta_type.enums) != list(conn_type.enums)
    if set(meta_type.enums) != set(conn_type.enums):
        return True
    if dialect.name == "postgresql" and meta_type.native_enum:
        return bool(meta_type.name and conn_type.name and meta_type.name != conn_type.name)
    return False


#: Signatures of reflected types. A reflected schema is reused across comparisons (the
#: language server re-checks after each edit without reading the database again), and its
#: type objects are never mutated, so their signatures are kept as long as they live.
_REFLECTED: weakref.WeakKeyDictionary[Any, tuple[Dialect, TypeSignature | None]] = (
    weakref.WeakKeyDictionary()
)


_SIMPLE = (str, int, float, bool, type(None))

#: Signatures of plain model types by value (``String(50)`` is ``String(50)``), per dialect:
#: a language server reloads the models on every edit, so identity alone never hits twice.
_BY_VALUE: weakref.WeakKeyDictionary[Dialect, dict[Any, TypeSignature | None]] = (
    weakref.WeakKeyDictionary()
)


def _structural_key(type_: Any) -> Any:
    """(class, attributes) when every attribute is a plain value, else None (enums, arrays,
    decorators and anything holding objects are compiled each time)."""
    items = tuple(vars(type_).items())
    for _, value in items:
        if not isinstance(value, _SIMPLE):
            return None
    return (type(type_), items)


class SignatureCache:
    """Signatures of the model's type objects for one comparison (keyed by identity, the
    object kept so the id can't be reused; a model may mutate its types between checks)."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect
        self._by_id: dict[int, tuple[Any, TypeSignature | None]] = {}

    def meta(self, type_: sqltypes.TypeEngine[Any]) -> TypeSignature | None:
        hit = self._by_id.get(id(type_))
        if hit is not None and hit[0] is type_:
            return hit[1]
        key = _structural_key(type_)
        by_value = _BY_VALUE.get(self.dialect)
        if by_value is None:
            by_value = _BY_VALUE[self.dialect] = {}
        if key is not None and key in by_value:
            sig = by_value[key]
        else:
            sig = type_signature(self.dialect, type_)
            if key is not None and len(by_value) < 10_000:
                by_value[key] = sig
        self._by_id[id(type_)] = (type_, sig)
        return sig

    def conn(self, type_: sqltypes.TypeEngine[Any]) -> TypeSignature | None:
        try:
            hit = _REFLECTED.get(type_)
        except TypeError:  # an unhashable or non-weakrefable custom type
            return type_signature(self.dialect, type_)
        if hit is not None and hit[0] is self.dialect:
            return hit[1]
        sig = type_signature(self.dialect, type_)
        with contextlib.suppress(TypeError):
            _REFLECTED[type_] = (self.dialect, sig)
        return sig


_CACHES: weakref.WeakKeyDictionary[Any, SignatureCache] = weakref.WeakKeyDictionary()


#: The context of the running comparison (weakly) and its cache: skips the dict lookup.
_last: list[Any] = [lambda: None, None]


def _cache_for(autogen_context: AutogenContext) -> SignatureCache:
    if _last[0]() is autogen_context:
        cached: SignatureCache = _last[1]
        return cached
    cache = _CACHES.get(autogen_context)
    if cache is None:
        cache = SignatureCache(autogen_context.dialect)
        _CACHES[autogen_context] = cache
    _last[:] = [weakref.ref(autogen_context), cache]
    return cache


def _forget_signatures() -> None:
    for cache in (_PARSED, _REFLECTED, _BY_VALUE, _CACHES):
        cache.clear()
    _last[:] = [lambda: None, None]


register_cache(_forget_signatures)


def types_differ(
    dialect: Dialect,
    conn_type: sqltypes.TypeEngine[Any],
    meta_type: sqltypes.TypeEngine[Any],
    cache: SignatureCache | None = None,
) -> bool:
    """True when the model's type would change the column's type in the database."""
    if isinstance(meta_type, sqltypes.Enum) and isinstance(conn_type, sqltypes.Enum):
        return _enums_differ(dialect, conn_type, meta_type)
    if cache is None:
        conn, meta = type_signature(dialect, conn_type), type_signature(dialect, meta_type)
    else:
        conn, meta = cache.conn(conn_type), cache.meta(meta_type)
    if conn is None or meta is None:
        return False
    return signatures_differ(dialect, conn, meta)


def _null(type_: Any) -> bool:
    """An unknown type (NullType, or a decorator over one): nothing to compare."""
    if isinstance(type_, sqltypes.NullType):
        return True
    return isinstance(type_, sqltypes.TypeDecorator) and type_._type_affinity is sqltypes.NullType


def _usable(conn_type: Any, meta_type: Any) -> bool:
    return not (_null(conn_type) or _null(meta_type))


@builtin_comparators.dispatch_for("column", priority=DispatchPriority.FIRST, subgroup="types")
@builtin
def user_compare_type(
    autogen_context: AutogenContext,
    alter_column_op: ops.AlterColumnOp,
    schema: str | None,
    tname: str,
    cname: str,
    conn_col: Any,
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    """``compare_type=False`` turns type comparison off; a callable decides first."""
    mc = autogen_context.migration_context
    if mc._user_compare_type is False:
        return PriorityDispatchResult.STOP
    conn_type = record_of(conn_col)["type"]
    alter_column_op.existing_type = conn_type
    if not callable(mc._user_compare_type) or not _usable(conn_type, metadata_col.type):
        return PriorityDispatchResult.CONTINUE
    inspected = conn_col.value
    is_diff = mc._user_compare_type(mc, inspected, metadata_col, conn_type, metadata_col.type)
    if is_diff:
        alter_column_op.modify_type = metadata_col.type
        return PriorityDispatchResult.STOP
    if is_diff is False:
        return PriorityDispatchResult.STOP
    return PriorityDispatchResult.CONTINUE


@builtin_comparators.dispatch_for("column", priority=DispatchPriority.LAST, subgroup="types")
@builtin
def dialect_compare_type(
    autogen_context: AutogenContext,
    alter_column_op: ops.AlterColumnOp,
    schema: str | None,
    tname: str,
    cname: str,
    conn_col: Any,
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    conn_type = record_of(conn_col)["type"]
    alter_column_op.existing_type = conn_type
    if not _usable(conn_type, metadata_col.type):
        return PriorityDispatchResult.CONTINUE
    dialect = autogen_context.dialect
    if types_differ(dialect, conn_type, metadata_col.type, _cache_for(autogen_context)):
        alter_column_op.modify_type = metadata_col.type
        return PriorityDispatchResult.STOP
    return PriorityDispatchResult.CONTINUE
