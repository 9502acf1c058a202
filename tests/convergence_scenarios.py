"""Before/after schema pairs for the convergence tests: every kind of change the engine's
comparison corpus (``tests/autogenerate/test_compare_*.py``) covers.

A scenario builds its models per test run (SQLAlchemy objects can belong to one table
only), from an ``Env`` that says which backend it runs on and, for multi-schema
scenarios, the name of the extra schema the test created.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql

ALL: tuple[str, ...] = ("sqlite", "postgresql", "mariadb")
SERVERS: tuple[str, ...] = ("postgresql", "mariadb")
PG: tuple[str, ...] = ("postgresql",)
MARIADB: tuple[str, ...] = ("mariadb",)


@dataclass(frozen=True)
class Env:
    """Where a scenario runs: the backend, the database name and an extra schema if any."""

    backend: str
    database: str | None = None
    schema: str | None = None


Model = Callable[[Env], sa.MetaData]
Options = Callable[[Env], dict[str, Any]]


def _no_options(env: Env) -> dict[str, Any]:
    return {}


@dataclass(frozen=True)
class Scenario:
    """One before/after pair; ``opts`` are added to compare_type/compare_server_default."""

    name: str
    before: Model
    after: Model
    backends: tuple[str, ...] = ALL
    opts: Options = field(default=_no_options)
    needs_schema: bool = False


def tables(build: Callable[[sa.MetaData], object]) -> Model:
    """A model whose tables don't depend on the environment."""

    def model(env: Env) -> sa.MetaData:
        md = sa.MetaData()
        build(md)
        return md

    return model


def env_tables(build: Callable[[sa.MetaData, Env], object]) -> Model:
    """A model whose tables depend on the backend or the extra schema."""

    def model(env: Env) -> sa.MetaData:
        md = sa.MetaData()
        build(md, env)
        return md

    return model


Columns = Callable[[], list[Any]]


def _t(md: sa.MetaData, *extra: Any, name: str = "t", **kw: Any) -> sa.Table:
    return sa.Table(name, md, sa.Column("id", sa.Integer, primary_key=True), *extra, **kw)


def column_change(
    name: str,
    before: Columns,
    after: Columns,
    backends: tuple[str, ...] = ALL,
    **kw: Any,
) -> Scenario:
    """Table ``t`` with an ``id`` key and the given columns before and after."""
    return Scenario(
        name,
        tables(lambda md: _t(md, *before())),
        tables(lambda md: _t(md, *after())),
        backends,
        **kw,
    )


def _users(md: sa.MetaData, *extra: Any, **kw: Any) -> sa.Table:
    return sa.Table("users", md, sa.Column("id", sa.Integer, primary_key=True), *extra, **kw)


def _chain(md: sa.MetaData, names: list[str], schema: str | None = None) -> list[sa.Table]:
    """Tables where each references the previous one."""
    made: list[sa.Table] = []
    for name in names:
        cols: list[Any] = [sa.Column("id", sa.Integer, primary_key=True)]
        if made:
            prev = made[-1].name
            target = f"{schema}.{prev}" if schema else prev
            cols.append(sa.Column(f"{prev}_id", sa.Integer, sa.ForeignKey(f"{target}.id")))
        made.append(sa.Table(name, md, *cols, schema=schema))
    return made


def _base(md: sa.MetaData, *extra: Any, name: str = "t", **kw: Any) -> sa.Table:
    return sa.Table(
        name,
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.Integer, nullable=False),
        sa.Column("b", sa.Integer, nullable=False),
        sa.Column("s", sa.String(40)),
        *extra,
        **kw,
    )


def _parent(md: sa.MetaData, schema: str | None = None) -> sa.Table:
    return sa.Table(
        "parent",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("x", sa.Integer, nullable=False),
        sa.Column("y", sa.Integer, nullable=False),
        sa.UniqueConstraint("x", "y", name="uq_parent_xy"),
        schema=schema,
    )


def _child(md: sa.MetaData, *extra: Any, **kw: Any) -> sa.Table:
    return sa.Table(
        "child",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pid", sa.Integer),
        sa.Column("px", sa.Integer),
        sa.Column("py", sa.Integer),
        sa.Column("up", sa.Integer),
        *extra,
        **kw,
    )


def _family(*child_extra: Callable[[], list[Any]]) -> Model:
    """``parent`` and a ``child`` with the constraints built by ``child_extra``."""
    return tables(
        lambda md: (_parent(md), _child(md, *[c for build in child_extra for c in build()]))
    )


def _only_schemas(env: Env) -> dict[str, Any]:
    """include_schemas, restricted to this test's schemas (others come and go)."""
    keep = (None, env.schema, env.database)
    return {
        "include_schemas": True,
        "include_name": lambda name, type_, parent: type_ != "schema" or name in keep,
    }


# ------------------------------------------------------------------------------ tables

TABLES = [
    Scenario(
        "add-table-with-fk",
        tables(lambda md: _users(md)),
        tables(
            lambda md: (
                _users(md),
                sa.Table(
                    "orders",
                    md,
                    sa.Column("id", sa.Integer, primary_key=True),
                    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), index=True),
                ),
            )
        ),
    ),
    Scenario(
        "add-tables-in-fk-order",
        tables(lambda md: _users(md)),
        tables(lambda md: (_users(md), _chain(md, ["zeta", "alpha", "mid"]))),
    ),
    Scenario(
        "remove-table",
        tables(lambda md: (_users(md), _t(md, name="legacy"))),
        tables(lambda md: _users(md)),
    ),
    Scenario(
        "remove-tables-in-reverse-fk-order",
        tables(lambda md: (_users(md), _chain(md, ["root", "child", "grandchild"]))),
        tables(lambda md: _users(md)),
    ),
    Scenario(
        "table-comment-added-changed-removed",
        tables(
            lambda md: (_t(md, name="a", comment="old"), _t(md, name="b", comment="gone"), _t(md))
        ),
        tables(lambda md: (_t(md, name="a", comment="new"), _t(md, name="b"), _t(md, comment="x"))),
        SERVERS,
    ),
    Scenario(
        "include-schemas-add-and-remove-tables",
        env_tables(
            lambda md, env: (_t(md, name="home"), _chain(md, ["s_root", "s_gone"], env.schema))
        ),
        env_tables(
            lambda md, env: (_t(md, name="home"), _chain(md, ["s_root", "s_new"], env.schema))
        ),
        SERVERS,
        opts=_only_schemas,
        needs_schema=True,
    ),
]

# ----------------------------------------------------------------------------- columns

COLUMNS = [
    column_change(
        "add-and-drop-columns",
        lambda: [sa.Column("old", sa.String(20)), sa.Column("keep", sa.Integer)],
        lambda: [
            sa.Column("keep", sa.Integer),
            sa.Column("new", sa.String(30), nullable=False),
            sa.Column("email", sa.String(100), nullable=True),
        ],
    ),
    column_change(
        "add-not-null-column-with-default",
        lambda: [],
        lambda: [sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true())],
    ),
    column_change(
        "string-length",
        lambda: [sa.Column("c", sa.String(20))],
        lambda: [sa.Column("c", sa.String(40))],
    ),
    column_change(
        "numeric-precision-and-scale",
        lambda: [sa.Column("a", sa.Numeric(10, 2)), sa.Column("b", sa.Numeric(10, 2))],
        lambda: [sa.Column("a", sa.Numeric(10, 4)), sa.Column("b", sa.Numeric(12, 2))],
    ),
    column_change(
        "integer-to-bigint",
        lambda: [sa.Column("c", sa.Integer)],
        lambda: [sa.Column("c", sa.BigInteger)],
    ),
    column_change(
        "string-to-text",
        lambda: [sa.Column("c", sa.String(50))],
        lambda: [sa.Column("c", sa.Text)],
    ),
    column_change(
        "timezone-on-and-off",
        lambda: [sa.Column("a", sa.DateTime()), sa.Column("b", sa.DateTime(timezone=True))],
        lambda: [sa.Column("a", sa.DateTime(timezone=True)), sa.Column("b", sa.DateTime())],
        PG,
    ),
    column_change(
        "pg-timestamp-precision",
        lambda: [sa.Column("a", postgresql.TIMESTAMP(precision=3))],
        lambda: [sa.Column("a", postgresql.TIMESTAMP(precision=6))],
        PG,
    ),
    column_change(
        "pg-enum-value-added",
        lambda: [sa.Column("a", sa.Enum("x", "y", name="e1"))],
        lambda: [sa.Column("a", sa.Enum("x", "y", "z", name="e1"))],
        PG,
    ),
    column_change(
        "pg-enum-value-removed",
        lambda: [sa.Column("b", sa.Enum("p", "q", name="e2"))],
        lambda: [sa.Column("b", sa.Enum("p", name="e2"))],
        PG,
    ),
    column_change(
        "mysql-enum-value-added",
        lambda: [sa.Column("a", sa.Enum("x", "y"))],
        lambda: [sa.Column("a", sa.Enum("x", "y", "z"))],
        MARIADB,
    ),
    column_change(
        "mysql-enum-reordered",
        lambda: [sa.Column("a", sa.Enum("x", "y"))],
        lambda: [sa.Column("a", sa.Enum("y", "x"))],
        MARIADB,
    ),
    column_change(
        "mysql-boolean-to-integer",
        lambda: [sa.Column("a", sa.Boolean), sa.Column("c", sa.Boolean)],
        lambda: [sa.Column("a", mysql.TINYINT(1)), sa.Column("c", sa.Integer)],
        MARIADB,
    ),
    column_change(
        "mysql-unsigned-charset-fsp",
        lambda: [
            sa.Column("a", mysql.INTEGER()),
            sa.Column("b", mysql.VARCHAR(20, charset="latin1")),
            sa.Column("c", mysql.DATETIME(fsp=3)),
        ],
        lambda: [
            sa.Column("a", mysql.INTEGER(unsigned=True)),
            sa.Column("b", mysql.VARCHAR(20, charset="utf8mb4")),
            sa.Column("c", mysql.DATETIME(fsp=6)),
        ],
        MARIADB,
    ),
    column_change(
        "json-to-text",
        lambda: [sa.Column("a", sa.JSON)],
        lambda: [sa.Column("a", sa.Text)],
        SERVERS,
    ),
    column_change(
        "nullable-on-and-off",
        lambda: [
            sa.Column("a", sa.Integer, nullable=True),
            sa.Column("b", sa.Integer, nullable=False),
        ],
        lambda: [
            sa.Column("a", sa.Integer, nullable=False),
            sa.Column("b", sa.Integer, nullable=True),
        ],
    ),
    column_change(
        "server-default-added-removed-changed",
        lambda: [
            sa.Column("a", sa.String(10)),
            sa.Column("b", sa.String(10), server_default="x"),
            sa.Column("c", sa.Integer, server_default=sa.text("1")),
            sa.Column("d", sa.String(10), server_default=""),
        ],
        lambda: [
            sa.Column("a", sa.String(10), server_default="new"),
            sa.Column("b", sa.String(10)),
            sa.Column("c", sa.Integer, server_default=sa.text("2")),
            sa.Column("d", sa.String(10), server_default="y"),
        ],
    ),
    column_change(
        "pg-cast-and-expression-defaults",
        lambda: [
            sa.Column("a", postgresql.JSONB, server_default=sa.text("'{}'::jsonb")),
            sa.Column("c", sa.DateTime, server_default=sa.text("(now() at time zone 'utc')")),
        ],
        lambda: [
            sa.Column("a", postgresql.JSONB, server_default=sa.text("'[]'::jsonb")),
            sa.Column("c", sa.DateTime, server_default=sa.text("(now() at time zone 'cet')")),
        ],
        PG,
    ),
    column_change(
        "mysql-function-default-removed",
        lambda: [
            sa.Column("b", sa.DateTime, server_default=sa.func.now()),
            sa.Column("c", sa.Integer, server_default="1"),
        ],
        lambda: [sa.Column("b", sa.DateTime), sa.Column("c", sa.Integer, server_default="2")],
        MARIADB,
    ),
    column_change(
        "column-comment-added-changed-removed",
        lambda: [
            sa.Column("a", sa.Integer),
            sa.Column("b", sa.Integer, comment="old"),
            sa.Column("c", sa.Integer, comment="gone"),
        ],
        lambda: [
            sa.Column("a", sa.Integer, comment="new"),
            sa.Column("b", sa.Integer, comment="changed"),
            sa.Column("c", sa.Integer),
        ],
        SERVERS,
    ),
    column_change(
        "type-nullable-default-comment-at-once",
        lambda: [
            sa.Column("a", sa.String(10), server_default="x", comment="c1"),
            sa.Column("b", sa.Integer, nullable=False),
            sa.Column("c", sa.Boolean, server_default=sa.true()),
            sa.Column("d", sa.DateTime, server_default=sa.func.now(), comment="dd"),
        ],
        lambda: [
            sa.Column("a", sa.String(20), server_default="y", comment="c2", nullable=False),
            sa.Column("b", sa.BigInteger, nullable=True, server_default="5"),
            sa.Column("c", sa.Boolean, server_default=sa.false(), comment="new"),
            sa.Column("d", sa.Date, server_default=sa.func.now(), comment="dd"),
        ],
        SERVERS,
    ),
    column_change(
        "identity-added",
        lambda: [sa.Column("b", sa.Integer)],
        lambda: [sa.Column("b", sa.Integer, sa.Identity())],
        PG,
    ),
    column_change(
        "identity-removed",
        lambda: [sa.Column("c", sa.Integer, sa.Identity())],
        lambda: [sa.Column("c", sa.Integer)],
        PG,
    ),
    column_change(
        "identity-start-changed",
        lambda: [sa.Column("a", sa.Integer, sa.Identity(start=1))],
        lambda: [sa.Column("a", sa.Integer, sa.Identity(start=5))],
        PG,
    ),
    column_change(
        "computed-column-added",
        lambda: [sa.Column("a", sa.Integer)],
        lambda: [sa.Column("a", sa.Integer), sa.Column("b", sa.Integer, sa.Computed("a * 2"))],
    ),
    column_change(
        "computed-column-nullability",
        lambda: [
            sa.Column("a", sa.Integer),
            sa.Column("c", sa.Integer, sa.Computed("a * 3", True), nullable=False),
        ],
        lambda: [
            sa.Column("a", sa.Integer),
            sa.Column("c", sa.Integer, sa.Computed("a * 3", True), nullable=True),
        ],
        ("sqlite", "postgresql"),  # MariaDB: generated columns are always nullable
    ),
]

# ----------------------------------------------------------------------------- indexes


def _expression_indexes(upper: bool, desc: bool) -> Model:
    def build(md: sa.MetaData) -> None:
        t = _base(md)
        fn = sa.func.upper if upper else sa.func.lower
        sa.Index("ix_expr", fn(t.c.s))
        sa.Index("ix_sorted", t.c.a.desc() if desc else t.c.a, t.c.b.desc().nulls_last())
        sa.Index("ix_arith", (t.c.a + t.c.b), t.c.s)

    return tables(build)


def _partial_index(backend: str, where: int | None) -> Model:
    def build(md: sa.MetaData) -> None:
        t = _base(md)
        kw: dict[str, Any] = (
            {}
            if where is None
            else {f"{backend}_where": sa.and_(t.c.a > where, t.c.s.is_not(None))}
        )
        sa.Index("ix_part", t.c.b, **kw)

    return tables(build)


def _naming_convention(with_index: bool) -> Model:
    convention = {
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    }

    def model(env: Env) -> sa.MetaData:
        md = sa.MetaData(naming_convention=convention)
        sa.Table(
            "t",
            md,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("a", sa.Integer, index=True),
            sa.Column("b", sa.Integer, unique=True),
            sa.Column("c", sa.Integer, index=with_index),
            sa.Column("d", sa.Integer),
            sa.Column("e", sa.Integer),
            sa.UniqueConstraint("d", "e"),
        )
        return md

    return model


def _created_expression_index(md: sa.MetaData) -> None:
    t = _base(md)
    sa.Index("ix_t_lower", sa.func.lower(t.c.s))


def _gone_table(md: sa.MetaData, env_backend: str) -> None:
    t = _base(
        md,
        sa.Index("ix_gone_a", "a"),
        sa.Index("ix_gone_bs", "b", "s", unique=True),
        sa.UniqueConstraint("s", "a", name="uq_gone_sa"),
        name="gone",
    )
    if env_backend == "postgresql":
        sa.Index("ix_gone_expr", sa.func.lower(t.c.s), t.c.a.desc())


INDEXES = [
    Scenario(
        "add-and-remove-indexes",
        tables(lambda md: _base(md, sa.Index("ix_old", "b"))),
        tables(
            lambda md: _base(md, sa.Index("ix_new", "a", "s"), sa.Index("ix_uq", "b", unique=True))
        ),
    ),
    Scenario(
        "index-columns-and-uniqueness-changed",
        tables(lambda md: _base(md, sa.Index("ix_ab", "a", "b"), sa.Index("ix_s", "s"))),
        tables(
            lambda md: _base(md, sa.Index("ix_ab", "b", "a"), sa.Index("ix_s", "s", unique=True))
        ),
    ),
    Scenario(
        "column-index-flag-naming-convention", _naming_convention(False), _naming_convention(True)
    ),
    Scenario(
        "pg-expression-and-sorted-indexes",
        _expression_indexes(False, False),
        _expression_indexes(True, True),
        PG,
    ),
    Scenario(
        "pg-partial-index-predicate",
        _partial_index("postgresql", 5),
        _partial_index("postgresql", 7),
        PG,
    ),
    Scenario(
        "pg-partial-index-becomes-full",
        _partial_index("postgresql", 5),
        _partial_index("postgresql", None),
        PG,
    ),
    Scenario(
        "sqlite-partial-index-predicate",
        _partial_index("sqlite", 5),
        _partial_index("sqlite", 7),
        ("sqlite",),
    ),
    Scenario(
        "created-table-expression-index",
        tables(lambda md: None),
        tables(_created_expression_index),
        ("sqlite", "postgresql"),  # MariaDB has no expression indexes at all
    ),
    Scenario(
        "indexes-of-created-and-dropped-tables",
        tables(
            lambda md: (
                _base(md),
                _base(
                    md,
                    sa.Index("ix_gone_a", "a"),
                    sa.Index("ix_gone_b", "b", unique=True),
                    sa.UniqueConstraint("s", name="uq_gone_s"),
                    name="gone",
                ),
            )
        ),
        tables(
            lambda md: (
                _base(md),
                _base(
                    md,
                    sa.Index("ix_new_a", "a"),
                    sa.UniqueConstraint("s", name="uq_new_s"),
                    sa.Column("c", sa.Integer, index=True),
                    name="new",
                ),
            )
        ),
    ),
    Scenario(
        "dropped-table-with-index-kinds",
        env_tables(lambda md, env: _gone_table(md, env.backend)),
        tables(lambda md: None),
    ),
]

# -------------------------------------------------------------------------- uniques

UNIQUES = [
    Scenario(
        "named-unique-constraints",
        tables(
            lambda md: _base(
                md, sa.UniqueConstraint("a", name="uq_a"), sa.UniqueConstraint("s", name="uq_s")
            )
        ),
        tables(
            lambda md: _base(
                md,
                sa.UniqueConstraint("a", "b", name="uq_a"),
                sa.UniqueConstraint("b", name="uq_b"),
            )
        ),
    ),
    Scenario(
        "unnamed-unique-constraints",
        tables(lambda md: _base(md, sa.UniqueConstraint("a"), sa.UniqueConstraint("s", "b"))),
        tables(lambda md: _base(md, sa.UniqueConstraint("a"), sa.UniqueConstraint("b"))),
    ),
    Scenario(
        "unique-constraint-becomes-unique-index",
        tables(lambda md: _base(md, sa.UniqueConstraint("a", "b", name="uq_ab"))),
        tables(lambda md: _base(md, sa.Index("uq_ab", "a", "b", unique=True))),
        ("sqlite", "postgresql"),  # the same thing on MySQL: nothing to migrate
    ),
]

# ------------------------------------------------------------------------ foreign keys


def _cross_schema(with_fk: bool) -> Model:
    def build(md: sa.MetaData, env: Env) -> None:
        _parent(md, schema=env.schema)
        fks = (
            [sa.ForeignKeyConstraint(["pid"], [f"{env.schema}.parent.id"], name="fk_remote")]
            if with_fk
            else []
        )
        _child(md, *fks)
        if env.backend == "postgresql":
            # (MySQL resolves an unqualified reference in the referring table's schema)
            sa.Table(
                "local_child",
                md,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("cid", sa.ForeignKey("child.id", name="fk_local")),
                schema=env.schema,
            )

    return env_tables(build)


def _fk_actions(ondelete: str | None, onupdate: str | None) -> Model:
    return _family(
        lambda: [
            sa.ForeignKeyConstraint(
                ["pid"], ["parent.id"], name="fk_pid", ondelete=ondelete, onupdate=onupdate
            ),
            sa.ForeignKeyConstraint(
                ["up"], ["parent.id"], name="fk_up", ondelete="RESTRICT", onupdate="NO ACTION"
            ),
        ]
    )


def _outside_comparison(table: str) -> dict[str, Any]:
    """Filters that leave ``table`` out of the comparison, on both sides: include_name only
    sees reflected names, so a model table needs include_object as well."""
    return {
        "include_name": lambda name, type_, parent: not (type_ == "table" and name == table),
        "include_object": lambda obj, name, type_, reflected, other: (
            not (type_ == "table" and name == table)
        ),
    }


FOREIGN_KEYS = [
    Scenario(
        "add-foreign-key-with-ondelete",
        tables(lambda md: (_users(md), _t(md, sa.Column("user_id", sa.Integer), name="posts"))),
        tables(
            lambda md: (
                _users(md),
                _t(
                    md,
                    sa.Column(
                        "user_id",
                        sa.Integer,
                        sa.ForeignKey("users.id", name="fk_posts_user", ondelete="CASCADE"),
                    ),
                    name="posts",
                ),
            )
        ),
    ),
    # MySQL's foreign-key indexes: a key over an indexed column reuses that index (the
    # downgrade must keep it), one over a bare column gets an index of its own.
    Scenario(
        "add-foreign-key-over-existing-index",
        tables(
            lambda md: (
                _users(md),
                _t(
                    md,
                    sa.Column("user_id", sa.Integer),
                    sa.Index("ix_posts_user_id", "user_id"),
                    name="posts",
                ),
            )
        ),
        tables(
            lambda md: (
                _users(md),
                _t(
                    md,
                    sa.Column("user_id", sa.Integer),
                    sa.Index("ix_posts_user_id", "user_id"),
                    sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_posts_user"),
                    name="posts",
                ),
            )
        ),
        SERVERS,
    ),
    Scenario(
        "foreign-keys-composite-and-self-referential",
        _family(lambda: [sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_child_pid")]),
        _family(
            lambda: [
                sa.ForeignKeyConstraint(["px", "py"], ["parent.x", "parent.y"], name="fk_child_xy"),
                sa.ForeignKeyConstraint(["up"], ["child.id"], name="fk_child_up"),
            ]
        ),
    ),
    Scenario(
        "foreign-key-actions", _fk_actions("CASCADE", None), _fk_actions("SET NULL", "CASCADE")
    ),
    Scenario(
        "pg-foreign-key-deferrable",
        _family(
            lambda: [
                sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_pid", deferrable=True)
            ]
        ),
        _family(
            lambda: [
                sa.ForeignKeyConstraint(
                    ["pid"], ["parent.id"], name="fk_pid", deferrable=True, initially="DEFERRED"
                )
            ]
        ),
        PG,
    ),
    Scenario(
        "cross-schema-foreign-key-added",
        _cross_schema(False),
        _cross_schema(True),
        SERVERS,
        opts=_only_schemas,
        needs_schema=True,
    ),
    Scenario(
        "cross-schema-foreign-key-removed",
        _cross_schema(True),
        _cross_schema(False),
        SERVERS,
        opts=_only_schemas,
        needs_schema=True,
    ),
    Scenario(
        "mysql-unnamed-foreign-key-and-its-index-removed",
        _family(
            lambda: [
                sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_pid"),
                sa.ForeignKeyConstraint(["up"], ["parent.id"]),
            ]
        ),
        _family(lambda: []),
        MARIADB,
    ),
    Scenario(
        "foreign-key-to-filtered-table-removed",
        _family(
            lambda: [sa.ForeignKeyConstraint(["px", "py"], ["parent.x", "parent.y"], name="fk_xy")]
        ),
        tables(lambda md: _child(md)),
        opts=lambda env: _outside_comparison("parent"),
    ),
    Scenario(
        "foreign-key-to-table-not-in-model-changed",
        tables(
            lambda md: (
                _t(md, name="ext"),
                _t(md, sa.Column("eid", sa.ForeignKey("ext.id", name="fk_ext"))),
            )
        ),
        tables(
            lambda md: _t(
                md, sa.Column("eid", sa.ForeignKey("ext.id", name="fk_ext", ondelete="CASCADE"))
            )
        ),
        opts=lambda env: _outside_comparison("ext"),
    ),
]


# ------------------------------------------------------------------------ primary keys


def _pk(*cols: str, name: str | None) -> Model:
    return tables(
        lambda md: sa.Table(
            "t",
            md,
            sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
            sa.Column("a", sa.Integer, nullable=False),
            sa.PrimaryKeyConstraint(*cols, name=name),
        )
    )


PRIMARY_KEYS = [
    Scenario("named-primary-key-change", _pk("id", name="pk_t"), _pk("id", "a", name="pk_t")),
    Scenario("unnamed-primary-key-change", _pk("id", name=None), _pk("id", "a", name=None)),
    Scenario(
        "primary-key-added-and-removed",
        tables(
            lambda md: (
                sa.Table("nopk", md, sa.Column("id", sa.Integer, nullable=False)),
                sa.Table(
                    "haspk",
                    md,
                    sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
                    sa.PrimaryKeyConstraint("id", name="pk_haspk"),
                ),
            )
        ),
        tables(
            lambda md: (
                sa.Table(
                    "nopk",
                    md,
                    sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
                    sa.PrimaryKeyConstraint("id", name="pk_nopk"),
                ),
                sa.Table("haspk", md, sa.Column("id", sa.Integer, nullable=False)),
            )
        ),
    ),
]

# ------------------------------------------------------------------------------ checks


def _checks(after: bool) -> Model:
    def build(md: sa.MetaData, env: Env) -> None:
        checks = [
            sa.CheckConstraint("a > 0", name="ck_a_pos"),
            sa.CheckConstraint("b < 10" if after else "b < 5", name="ck_b"),
            sa.CheckConstraint("a > -1"),
            sa.CheckConstraint("s IN ('x', 'y')", name="ck_s"),
            sa.CheckConstraint("a BETWEEN 1 AND 10", name="ck_between"),
            sa.CheckConstraint("s LIKE 'a%' OR s IS NULL", name="ck_like"),
            sa.CheckConstraint("a <> b", name="ck_new")
            if after
            else sa.CheckConstraint("a + b < 100", name="ck_old"),
        ]
        _base(
            md,
            sa.Column("flag", sa.Boolean(create_constraint=True)),
            sa.Column("flag2", sa.Boolean(create_constraint=True, name="ck_flag2")),
            sa.Column("e", sa.Enum("p", "q", native_enum=False, create_constraint=True)),
            sa.Column("j", sa.JSON),
            # MariaDB has no syntax for a named column-level check
            sa.Column(
                "c",
                sa.Integer,
                sa.CheckConstraint("c >= 0", name=None if env.backend == "mariadb" else "ck_col_c"),
            ),
            *checks,
        )

    return env_tables(build)


CHECKS = [Scenario("check-constraints-added-changed-removed", _checks(False), _checks(True))]

# ------------------------------------------------------------------ mixed, filters, render


def _filtered(after: bool) -> Model:
    if after:
        extra = lambda: [  # noqa: E731
            sa.ForeignKeyConstraint(["up"], ["parent.id"], name="fk_up"),
            sa.Index("ix_child_px", "px", "py"),
            sa.Index("ix_child_new", "py"),
            sa.UniqueConstraint("pid", name="uq_child_pid"),
        ]
    else:
        extra = lambda: [  # noqa: E731
            sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_pid"),
            sa.Index("ix_child_px", "px"),
            sa.Index("ix_child_keep", "py"),
            sa.UniqueConstraint("up", name="uq_child_up"),
        ]
    return _family(extra)


def _filters(env: Env) -> dict[str, Any]:
    """include_name leaves a reflected index out; include_object, the model's side of it and
    a model-only unique constraint."""
    return {
        "include_name": lambda name, type_, parent: name != "ix_child_keep",
        "include_object": lambda obj, name, type_, reflected, other: (
            name not in ("ix_child_keep", "uq_child_pid")
        ),
    }


def _mixed(after: bool) -> Model:
    def build(md: sa.MetaData, env: Env) -> None:
        _parent(md)
        if not after:
            _child(
                md,
                sa.Index("ix_c_a", "px"),
                sa.Index("ix_c_b", "py"),
                sa.Index("ix_c_z", "up"),
                sa.UniqueConstraint("pid", name="uq_c_m"),
                sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_c_pid"),
            )
            return
        _child(
            md,
            sa.Index("ix_c_a", "px", "py"),
            sa.Index("ix_c_c", "py"),
            sa.Index("ix_c_z", "up", unique=True),
            sa.UniqueConstraint("up", name="uq_c_n"),
            sa.UniqueConstraint("px", "py", name="uq_c_pxpy"),
            sa.ForeignKeyConstraint(["up"], ["parent.id"], name="fk_c_up"),
            comment="children" if env.backend != "sqlite" else None,
        )

    return env_tables(build)


def _dropped_keys(md: sa.MetaData, env: Env) -> None:
    parent = _parent(md)
    _child(
        md,
        sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_pid", ondelete="CASCADE"),
        sa.Index("ix_child_pxpy", "px", sa.desc("py") if env.backend != "postgresql" else "py"),
        sa.UniqueConstraint("up", name="uq_child_up"),
    )
    if env.backend == "postgresql":
        sa.Index("ix_parent_sorted", parent.c.x.desc(), parent.c.y, postgresql_include=["id"])


MIXED = [
    Scenario("filtered-indexes-uniques-fks", _filtered(False), _filtered(True), opts=_filters),
    Scenario("indexes-uniques-fks-comment-in-one-table", _mixed(False), _mixed(True)),
    Scenario("drop-keys-with-options", env_tables(_dropped_keys), _family(lambda: [])),
]

SCENARIOS: list[Scenario] = [
    *TABLES,
    *COLUMNS,
    *INDEXES,
    *UNIQUES,
    *FOREIGN_KEYS,
    *PRIMARY_KEYS,
    *CHECKS,
    *MIXED,
]
