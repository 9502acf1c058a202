"""Deterministic synthetic schemas for benchmarking schema comparison.

``make_metadata`` builds a realistic-looking schema (varied types, server
defaults, indexes, unique constraints, simple and composite foreign keys,
comments) that can be created with ``create_all`` on SQLite, PostgreSQL and
MariaDB.  ``make_drifted`` returns "models" that differ from that schema in a
known fraction of tables, so a comparison has real work to report.

The schema is first generated as a small immutable spec; the spec is kept in
``MetaData.info`` so drift can be applied to the spec and rebuilt, instead of
mutating SQLAlchemy objects through private APIs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.types import TypeEngine

DIALECTS: tuple[str, ...] = ("sqlite", "postgresql", "mariadb")
SPEC_KEY = "schema_gen.spec"
"""Key in ``MetaData.info`` holding the :class:`SchemaSpec` a metadata was built from."""


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    kind: str
    params: tuple[Any, ...] = ()
    nullable: bool = True
    default: str | None = None
    comment: str | None = None
    primary_key: bool = False


@dataclass(frozen=True)
class IndexSpec:
    name: str
    columns: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class UniqueSpec:
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class ForeignKeySpec:
    name: str
    columns: tuple[str, ...]
    ref_table: str
    ref_columns: tuple[str, ...]
    ondelete: str | None = None


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[ColumnSpec, ...]
    indexes: tuple[IndexSpec, ...] = ()
    uniques: tuple[UniqueSpec, ...] = ()
    foreign_keys: tuple[ForeignKeySpec, ...] = ()
    comment: str | None = None

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


@dataclass(frozen=True)
class SchemaSpec:
    dialect: str
    tables: tuple[TableSpec, ...]
    drift: tuple[str, ...] = field(default=())
    """Human-readable list of the drift applied (empty for a database schema)."""


# --------------------------------------------------------------------------- types

_ENUM_WORDS = (
    "new", "active", "pending", "paused", "closed", "archived", "draft", "shipped",
    "returned", "failed", "ok", "blocked", "review", "done",
)
_TABLE_WORDS = (
    "users", "accounts", "orders", "items", "products", "invoices", "payments", "events",
    "sessions", "tags", "notes", "teams", "projects", "tasks", "shipments", "addresses",
    "reviews", "coupons", "carts", "vendors", "stocks", "audits", "prices", "refunds",
)
_NAME_POOLS: dict[str, tuple[str, ...]] = {
    "string": ("name", "title", "code", "email", "slug", "city", "country", "label", "sku",
               "status", "phone", "currency", "locale", "reference"),
    "text": ("notes", "description", "body", "summary", "remarks"),
    "integer": ("quantity", "position", "attempts", "score", "level", "version_no"),
    "bigint": ("external_id", "views", "bytes_used", "counter"),
    "smallint": ("priority", "weight_class", "tier"),
    "boolean": ("is_active", "is_deleted", "verified", "archived", "is_public"),
    "numeric": ("amount", "price", "balance", "tax_rate", "discount"),
    "float": ("ratio", "latitude", "longitude", "confidence"),
    "date": ("birth_date", "due_date", "valid_from", "valid_until"),
    "datetime": ("created_at", "updated_at", "starts_at", "ends_at", "seen_at"),
    "time": ("opens_at", "closes_at", "reminder_at"),
    "binary": ("payload", "avatar", "signature"),
    "json": ("attributes", "settings", "metadata_json", "extra"),
    "enum": ("state", "kind", "phase"),
    "uuid": ("public_id", "token", "tracking_id"),
    "pg_jsonb": ("document", "props"),
    "pg_inet": ("client_ip", "last_ip"),
    "pg_array": ("tag_ids", "scores"),
    "pg_double": ("precise_value",),
    "my_tinyint": ("flags",),
    "my_mediumtext": ("long_notes",),
    "my_double": ("measurement",),
    "my_mediumint": ("mid_counter",),
}
_GENERIC_KINDS = (
    "string", "string", "string", "text", "integer", "integer", "bigint", "smallint",
    "boolean", "numeric", "float", "date", "datetime", "datetime", "time", "binary", "json",
    "enum", "uuid",
)
_DIALECT_KINDS: dict[str, tuple[str, ...]] = {
    "sqlite": (),
    "postgresql": ("pg_jsonb", "pg_inet", "pg_array", "pg_double"),
    "mariadb": ("my_tinyint", "my_mediumtext", "my_double", "my_mediumint"),
}
_INDEXABLE = {"string", "integer", "bigint", "smallint", "boolean", "numeric", "date",
              "datetime", "uuid", "my_tinyint", "my_mediumint"}

# Server defaults by kind: each key maps to a factory producing the server_default.
_DEFAULTS: dict[str, Callable[[], Any]] = {
    "str_active": lambda: "active",
    "str_empty": lambda: "",
    "str_quote": lambda: "n/a",
    "int_zero": lambda: "0",
    "int_42": lambda: "42",
    "num_zero": lambda: "0",
    "num_rate": lambda: "1.50",
    "bool_true": sa.true,
    "bool_false": sa.false,
    "ts_text": lambda: sa.text("CURRENT_TIMESTAMP"),
    "ts_now": sa.func.now,
}
_DEFAULTS_FOR_KIND: dict[str, tuple[str, ...]] = {
    "string": ("str_active", "str_empty", "str_quote"),
    "integer": ("int_zero", "int_42"),
    "bigint": ("int_zero",),
    "smallint": ("int_zero",),
    "numeric": ("num_zero", "num_rate"),
    "boolean": ("bool_true", "bool_false"),
    "datetime": ("ts_text", "ts_now"),
}


def build_type(kind: str, params: tuple[Any, ...], enum_name: str) -> TypeEngine[Any]:
    """The SQLAlchemy type for a column spec ``kind`` with ``params``."""
    if kind == "string":
        return sa.String(params[0])
    if kind == "text":
        return sa.Text()
    if kind == "integer":
        return sa.Integer()
    if kind == "bigint":
        return sa.BigInteger()
    if kind == "smallint":
        return sa.SmallInteger()
    if kind == "boolean":
        return sa.Boolean()
    if kind == "numeric":
        return sa.Numeric(params[0], params[1])
    if kind == "float":
        return sa.Float()
    if kind == "date":
        return sa.Date()
    if kind == "datetime":
        return sa.DateTime(timezone=bool(params[0]))
    if kind == "time":
        return sa.Time()
    if kind == "binary":
        return sa.LargeBinary()
    if kind == "json":
        return sa.JSON()
    if kind == "enum":
        return sa.Enum(*params, name=enum_name)
    if kind == "uuid":
        return sa.Uuid()
    if kind == "pg_jsonb":
        return postgresql.JSONB()
    if kind == "pg_inet":
        return postgresql.INET()
    if kind == "pg_array":
        return postgresql.ARRAY(sa.Integer())
    if kind == "pg_double":
        return postgresql.DOUBLE_PRECISION()
    if kind == "my_tinyint":
        return mysql.TINYINT()
    if kind == "my_mediumtext":
        return mysql.MEDIUMTEXT()
    if kind == "my_double":
        return mysql.DOUBLE()
    if kind == "my_mediumint":
        return mysql.MEDIUMINT()
    raise ValueError(f"unknown column kind {kind!r}")


def build_default(key: str | None) -> Any:
    """The ``server_default`` value for a default key (None for no default)."""
    return None if key is None else _DEFAULTS[key]()


# --------------------------------------------------------------------------- spec generation


def _normalise_dialect(dialect: str) -> str:
    name = "mariadb" if dialect == "mysql" else dialect
    if name not in DIALECTS:
        raise ValueError(f"unknown dialect {dialect!r}; expected one of {DIALECTS}")
    return name


def _params_for(kind: str, rng: random.Random) -> tuple[Any, ...]:
    if kind == "string":
        return (rng.choice((20, 50, 100, 255)),)
    if kind == "numeric":
        return (rng.choice((10, 12, 18)), rng.choice((2, 4)))
    if kind == "datetime":
        return (rng.random() < 0.5,)
    if kind == "enum":
        return tuple(sorted(rng.sample(_ENUM_WORDS, rng.randint(2, 5))))
    return ()


def _comment(rng: random.Random, what: str) -> str | None:
    roll = rng.random()
    if roll < 0.6:
        return None
    if roll < 0.8:
        return f"The {what}"
    return f"{what.capitalize()}'s value, in the customer's terms"


def _is_keyed(index: int) -> bool:
    """Tables that carry a composite natural key (k1, k2) others can reference."""
    return index % 5 == 0


def _make_table(index: int, dialect: str, rng: random.Random, earlier: Sequence[TableSpec]
                ) -> TableSpec:
    tname = f"t{index:04d}_{rng.choice(_TABLE_WORDS)}"
    tag = f"t{index:04d}"
    columns: list[ColumnSpec] = [ColumnSpec("id", "integer", primary_key=True, nullable=False)]
    indexes: list[IndexSpec] = []
    uniques: list[UniqueSpec] = []
    fks: list[ForeignKeySpec] = []
    used = {"id"}

    if _is_keyed(index):
        columns.append(ColumnSpec("k1", "integer", nullable=False, comment="Natural key part 1"))
        columns.append(ColumnSpec("k2", "string", (20,), nullable=False))
        uniques.append(UniqueSpec(f"uq_{tag}_k", ("k1", "k2")))
        used.update(("k1", "k2"))

    kinds = _GENERIC_KINDS + _DIALECT_KINDS[dialect]
    for _ in range(rng.randint(3, 10)):
        kind = rng.choice(kinds)
        base = rng.choice(_NAME_POOLS[kind])
        name = base
        suffix = 2
        while name in used:
            name = f"{base}_{suffix}"
            suffix += 1
        used.add(name)
        default_keys = _DEFAULTS_FOR_KIND.get(kind, ())
        default = rng.choice(default_keys) if default_keys and rng.random() < 0.35 else None
        columns.append(
            ColumnSpec(
                name,
                kind,
                _params_for(kind, rng),
                nullable=rng.random() < 0.6,
                default=default,
                comment=_comment(rng, name.replace("_", " ")),
            )
        )

    # Foreign keys to earlier tables: single-column to "id", composite to (k1, k2).
    if earlier:
        for n in range(rng.choice((0, 1, 1, 2))):
            target = rng.choice(earlier)
            cname = f"{target.name[:5]}_id"
            if cname in used:
                continue
            used.add(cname)
            columns.append(ColumnSpec(cname, "integer", nullable=rng.random() < 0.5))
            fks.append(ForeignKeySpec(f"fk_{tag}_{n}", (cname,), target.name, ("id",),
                                      ondelete=rng.choice((None, None, "CASCADE"))))
        keyed = [t for t in earlier if any(u.columns == ("k1", "k2") for u in t.uniques)]
        if keyed and rng.random() < 0.3:
            target = rng.choice(keyed)
            prefix = target.name[:5]
            pair = (f"{prefix}_k1", f"{prefix}_k2")
            if not used.intersection(pair):
                used.update(pair)
                columns.append(ColumnSpec(pair[0], "integer", nullable=True))
                columns.append(ColumnSpec(pair[1], "string", (20,), nullable=True))
                fks.append(ForeignKeySpec(f"fk_{tag}_c", pair, target.name, ("k1", "k2"),
                                          ondelete="CASCADE"))

    # Indexes and unique constraints on indexable columns (MariaDB key length safe:
    # multi-column indexes use at most one VARCHAR longer than 50).
    indexable = [c for c in columns[1:] if c.kind in _INDEXABLE and not c.name.endswith("_k2")]
    rng.shuffle(indexable)
    n_idx = 0
    if indexable and rng.random() < 0.7:
        col = indexable[0]
        indexes.append(IndexSpec(f"ix_{tag}_{n_idx}", (col.name,), unique=rng.random() < 0.2))
        n_idx += 1
    if len(indexable) >= 2 and rng.random() < 0.4:
        pair_cols = indexable[:2] if rng.random() < 0.5 else indexable[1:3]
        wide = [c for c in pair_cols if c.kind == "string" and c.params[0] > 50]
        if len(pair_cols) == 2 and len(wide) <= 1:
            indexes.append(IndexSpec(f"ix_{tag}_{n_idx}", tuple(c.name for c in pair_cols),
                                     unique=rng.random() < 0.3))
            n_idx += 1
    strings = [c for c in indexable if c.kind == "string" and c.name not in ("k2",)]
    if strings and rng.random() < 0.3:
        uniques.append(UniqueSpec(f"uq_{tag}_{len(uniques)}", (strings[-1].name,)))

    return TableSpec(
        tname,
        tuple(columns),
        tuple(indexes),
        tuple(uniques),
        tuple(fks),
        comment=_comment(rng, tname.split("_", 1)[1]),
    )


def make_spec(n_tables: int, dialect: str, seed: int = 0) -> SchemaSpec:
    """The deterministic spec behind :func:`make_metadata`."""
    if n_tables < 1:
        raise ValueError("n_tables must be at least 1")
    name = _normalise_dialect(dialect)
    rng = random.Random(f"schema_gen:{name}:{n_tables}:{seed}")
    tables: list[TableSpec] = []
    for index in range(n_tables):
        tables.append(_make_table(index, name, rng, tables))
    return SchemaSpec(name, tuple(tables))


# --------------------------------------------------------------------------- building


def build_metadata(spec: SchemaSpec) -> sa.MetaData:
    """SQLAlchemy ``MetaData`` for ``spec``; the spec is kept in ``metadata.info``."""
    metadata = sa.MetaData()
    metadata.info[SPEC_KEY] = spec
    for table in spec.tables:
        items: list[sa.schema.SchemaItem] = []
        for col in table.columns:
            items.append(
                sa.Column(
                    col.name,
                    build_type(col.kind, col.params, f"{table.name}_{col.name}_enum"),
                    primary_key=col.primary_key,
                    nullable=col.nullable,
                    server_default=build_default(col.default),
                    comment=col.comment,
                )
            )
        for fk in table.foreign_keys:
            items.append(
                sa.ForeignKeyConstraint(
                    list(fk.columns),
                    [f"{fk.ref_table}.{c}" for c in fk.ref_columns],
                    name=fk.name,
                    ondelete=fk.ondelete,
                )
            )
        items.extend(sa.UniqueConstraint(*u.columns, name=u.name) for u in table.uniques)
        items.extend(sa.Index(i.name, *i.columns, unique=i.unique) for i in table.indexes)
        sa.Table(table.name, metadata, *items, comment=table.comment)
    return metadata


def make_metadata(n_tables: int, dialect: str, seed: int = 0) -> sa.MetaData:
    """A deterministic schema of ``n_tables`` tables creatable on ``dialect``.

    ``dialect`` is "sqlite", "postgresql" or "mariadb" ("mysql" is accepted);
    it adds a few dialect-specific column types on top of the generic ones.
    The same arguments always give the same schema.
    """
    return build_metadata(make_spec(n_tables, dialect, seed))


def spec_of(metadata: sa.MetaData) -> SchemaSpec:
    """The spec a metadata from :func:`make_metadata` was built from."""
    spec = metadata.info.get(SPEC_KEY)
    if not isinstance(spec, SchemaSpec):
        raise ValueError("metadata was not produced by make_metadata()/make_drifted()")
    return spec


# --------------------------------------------------------------------------- drift

DRIFT_KINDS: tuple[str, ...] = (
    "add_column", "remove_column", "change_type", "change_nullable", "change_default",
    "change_comment", "add_index", "remove_index", "add_table", "remove_table",
    "add_unique", "add_fk",
)


def _constrained(table: TableSpec) -> set[str]:
    names = {c.name for c in table.columns if c.primary_key}
    for group in (table.indexes, table.uniques, table.foreign_keys):
        for item in group:
            names.update(item.columns)
    return names


def _free_columns(table: TableSpec) -> list[ColumnSpec]:
    taken = _constrained(table)
    return [c for c in table.columns if c.name not in taken]


def _replace_column(table: TableSpec, new: ColumnSpec) -> TableSpec:
    return replace(table, columns=tuple(new if c.name == new.name else c for c in table.columns))


def _apply(kind: str, table: TableSpec, tables: list[TableSpec], rng: random.Random,
           dialect: str, serial: int) -> TableSpec | None:
    """Apply one drift of ``kind`` to ``table``; None if it does not fit this table.

    ``add_table``/``remove_table`` edit ``tables`` directly and return ``table``.
    """
    tag = table.name[:5]
    free = _free_columns(table)
    if kind == "add_column":
        col = ColumnSpec(f"drift_added_{serial}", "string", (40,), nullable=True,
                         comment="Added in the models only")
        return replace(table, columns=(*table.columns, col))
    if kind == "remove_column":
        if not free:
            return None
        victim = rng.choice(free)
        return replace(table, columns=tuple(c for c in table.columns if c is not victim))
    if kind == "change_type":
        for col in free:
            if col.kind == "string":
                return _replace_column(table, replace(col, params=(col.params[0] * 2,)))
            if col.kind == "integer":
                return _replace_column(table, replace(col, kind="bigint"))
            if col.kind == "text":
                return _replace_column(table, replace(col, kind="string", params=(200,)))
        return None
    if kind == "change_nullable":
        if not free:
            return None
        col = rng.choice(free)
        return _replace_column(table, replace(col, nullable=not col.nullable))
    if kind == "change_default":
        for col in free:
            if col.kind == "string":
                new = "str_quote" if col.default == "str_active" else "str_active"
                return _replace_column(table, replace(col, default=new))
            if col.kind in ("integer", "bigint", "smallint"):
                new = "int_42" if col.default != "int_42" else "int_zero"
                return _replace_column(table, replace(col, default=new))
        return None
    if kind == "change_comment":
        if free and rng.random() < 0.5:
            col = rng.choice(free)
            return _replace_column(table, replace(col, comment=f"Changed comment {serial}"))
        return replace(table, comment=f"Changed table comment {serial}")
    if kind == "add_index":
        candidates = [c for c in table.columns[1:] if c.kind in _INDEXABLE
                      and (c.name,) not in {i.columns for i in table.indexes}]
        if not candidates:
            return None
        col = rng.choice(candidates)
        idx = IndexSpec(f"ix_{tag}_drift{serial}", (col.name,))
        return replace(table, indexes=(*table.indexes, idx))
    if kind == "remove_index":
        if not table.indexes:
            return None
        return replace(table, indexes=table.indexes[1:])
    if kind == "add_unique":
        candidates = [c for c in free if c.kind in ("string", "integer", "uuid")]
        if not candidates:
            return None
        uq = UniqueSpec(f"uq_{tag}_drift{serial}", (candidates[0].name,))
        return replace(table, uniques=(*table.uniques, uq))
    if kind == "add_fk":
        position = tables.index(table)
        ints = [c for c in free if c.kind == "integer"]
        if position == 0 or not ints:
            return None
        target = tables[rng.randrange(position)]
        fk = ForeignKeySpec(f"fk_{tag}_drift{serial}", (ints[0].name,), target.name, ("id",))
        return replace(table, foreign_keys=(*table.foreign_keys, fk))
    if kind == "add_table":
        name = f"zz_drift_new_{serial}"
        added = TableSpec(
            name,
            (
                ColumnSpec("id", "integer", primary_key=True, nullable=False),
                ColumnSpec("label", "string", (50,), nullable=False, default="str_empty"),
                ColumnSpec(f"{tag}_id", "integer"),
            ),
            indexes=(IndexSpec(f"ix_zz_{serial}_label", ("label",)),),
            foreign_keys=(ForeignKeySpec(f"fk_zz_{serial}", (f"{tag}_id",), table.name, ("id",)),),
            comment="A table only the models have",
        )
        tables.append(added)
        return table
    if kind == "remove_table":
        referenced = {fk.ref_table for t in tables for fk in t.foreign_keys}
        if table.name in referenced:
            return None
        tables.remove(table)
        return table
    raise ValueError(f"unknown drift kind {kind!r}")


def make_drifted(metadata_db: sa.MetaData, ratio: float = 0.05, seed: int = 0) -> sa.MetaData:
    """Models that differ from the database schema ``metadata_db`` in ~``ratio`` of tables.

    ``metadata_db`` must come from :func:`make_metadata`.  Each drifted table
    gets one change; the kinds rotate through :data:`DRIFT_KINDS` so every kind
    appears once enough tables drift.  The applied changes are listed in
    ``spec_of(result).drift``.
    """
    if not 0.0 <= ratio <= 1.0:
        raise ValueError("ratio must be between 0 and 1")
    spec = spec_of(metadata_db)
    rng = random.Random(f"schema_gen.drift:{len(spec.tables)}:{ratio}:{seed}")
    tables = list(spec.tables)
    wanted = max(1, round(ratio * len(tables))) if ratio > 0 else 0
    order = list(range(len(tables)))
    rng.shuffle(order)
    kinds = list(DRIFT_KINDS)
    rng.shuffle(kinds)
    applied: list[str] = []
    chosen = [spec.tables[i] for i in order]
    k = 0
    for serial, original in enumerate(chosen):
        if len(applied) >= wanted:
            break
        if original not in tables:
            continue
        # Try kinds in rotation until one fits this table.
        for attempt in range(len(kinds)):
            kind = kinds[(k + attempt) % len(kinds)]
            result = _apply(kind, original, tables, rng, spec.dialect, serial)
            if result is None:
                continue
            if kind not in ("add_table", "remove_table"):
                tables[tables.index(original)] = result
            applied.append(f"{kind}:{original.name}")
            k = (k + attempt + 1) % len(kinds)
            break
    return build_metadata(SchemaSpec(spec.dialect, tuple(tables), tuple(applied)))
