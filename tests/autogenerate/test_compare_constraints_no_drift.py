"""No false drift for keys, indexes and checks: ``create_all()`` then compare back is empty.

One corpus per backend with every kind of index and constraint the comparators handle;
Alembic's answer on the same database is checked too, so where it reports false drift the
test says which divergence explains it.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Engine

from schema_lsp.autogenerate import compare_metadata
from schema_lsp.runtime.migration import MigrationContext

from .differential import assert_same, build_database, run_both


def corpus(backend: str, convention: bool = False) -> sa.MetaData:
    m = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
        if convention
        else sa.MetaData().naming_convention
    )
    sa.Table(
        "parent",
        m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("x", sa.Integer, nullable=False),
        sa.Column("y", sa.Integer, nullable=False),
        sa.Column("code", sa.String(20), unique=True),
        sa.Column("code2", sa.String(20)),
        sa.Column("name", sa.String(40), index=True),
        sa.Column("MixedCase", sa.Integer),
        sa.UniqueConstraint("x", "y", name="uq_parent_xy"),
        sa.UniqueConstraint("code2"),
        sa.Index("ix_parent_name_code", "name", "code", unique=True),
        sa.Index("ix_parent_desc", sa.desc("y")),
        sa.Index("ix_parent_mixed", "MixedCase"),
    )
    child = sa.Table(
        "child",
        m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pid", sa.ForeignKey("parent.id", ondelete="CASCADE")),
        sa.Column("pid2", sa.ForeignKey("parent.id", ondelete="SET NULL", onupdate="NO ACTION")),
        sa.Column("pid3", sa.ForeignKey("parent.id", ondelete="RESTRICT", onupdate="RESTRICT")),
        sa.Column("px", sa.Integer),
        sa.Column("py", sa.Integer),
        sa.Column("up", sa.ForeignKey("child.id")),
        sa.Column("indexed_fk", sa.ForeignKey("parent.id", name="fk_indexed"), index=True),
        sa.Column("s", sa.String(40)),
        sa.Column("n", sa.Numeric(10, 2)),
        sa.Column("flag", sa.Boolean(create_constraint=True)),
        sa.Column("flag_named", sa.Boolean(create_constraint=True, name="flagcheck")),
        sa.Column("kind", sa.Enum("a", "b", native_enum=False, create_constraint=True)),
        sa.Column(
            "kind2", sa.Enum("c", "d", name="kind2_enum", native_enum=False, create_constraint=True)
        ),
        sa.Column("j", sa.JSON),
        sa.ForeignKeyConstraint(["px", "py"], ["parent.x", "parent.y"], name="fk_child_xy"),
        sa.Index("fk_child_xy", "px", "py"),
        sa.Index("ix_child_s_px", "s", "px", unique=True),
        sa.CheckConstraint("px > 0", name="positive"),
        sa.CheckConstraint("px > -5 AND py < 100", name="range"),
        sa.CheckConstraint("s IN ('a', 'b''c')", name="s_in"),
        sa.CheckConstraint("s NOT IN ('z')", name="s_not_in"),
        sa.CheckConstraint("py BETWEEN 1 AND 9", name="between"),
        sa.CheckConstraint("s LIKE 'x%' OR s IS NULL", name="like"),
        sa.CheckConstraint("n >= 0.5", name="numeric"),
        sa.CheckConstraint("length(s) < 30", name="fn"),
        sa.CheckConstraint("px <> py"),
        sa.CheckConstraint("py != 3"),
    )
    sa.Table(
        "composite",
        m,
        sa.Column("a", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("b", sa.String(10), primary_key=True),
        sa.Column("c", sa.Integer, sa.CheckConstraint("c > 0")),
    )
    if backend == "postgresql":
        sa.Index("ix_child_lower", sa.func.lower(child.c.s))
        sa.Index("ix_child_cast", sa.cast(child.c.s, sa.Text))
        sa.Index("ix_child_expr_mix", child.c.px, (child.c.px + child.c.py).self_group().desc())
        sa.Index("ix_child_part", child.c.py, postgresql_where=child.c.s.in_(["a", "b"]))
        sa.Index(
            "ix_child_part2",
            child.c.px,
            postgresql_where=sa.and_(child.c.px > 5, child.c.s.is_not(None)),
            unique=True,
        )
        sa.Index("ix_child_nulls", child.c.py.desc().nulls_last(), child.c.px.nulls_first())
        sa.Index("ix_child_incl", child.c.px, postgresql_include=["py"])
        sa.Index("ix_child_gin", child.c.s, postgresql_using="hash")
        sa.UniqueConstraint(child.c.s, child.c.py, postgresql_nulls_not_distinct=True)
        sa.Table(
            "deferred",
            m,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("pid", sa.Integer),
            sa.Column("pid2", sa.Integer),
            sa.Column("tags", postgresql.ARRAY(sa.Text)),
            sa.ForeignKeyConstraint(["pid"], ["parent.id"], deferrable=True, initially="DEFERRED"),
            sa.ForeignKeyConstraint(["pid2"], ["parent.id"], deferrable=True),
            sa.CheckConstraint("cardinality(tags) < 5", name="few_tags"),
        )
    if backend == "sqlite":
        sa.Index("ix_child_part", child.c.py, sqlite_where=child.c.px > 5)
    return m


def _check(engine: Engine, backend: str, metadata: sa.MetaData) -> None:
    build_database(engine, metadata)
    with engine.connect() as conn:
        result = run_both(conn, metadata)
    assert result.ours == [], result.ours
    if backend in ("sqlite", "mariadb"):
        assert result.alembic == [
            ("remove_index", None, "parent", "ix_parent_desc", ("y",), False),
            ("add_index", None, "parent", "ix_parent_desc", ("y DESC",), False),
        ]
        assert_same(result, ["alembic-false-index-desc-name"])
    else:
        assert_same(result)


def test_no_false_drift(engine: Engine, backend: str) -> None:
    _check(engine, backend, corpus(backend))


def test_no_false_drift_naming_convention(engine: Engine, backend: str) -> None:
    _check(engine, backend, corpus(backend, convention=True))


@pytest.mark.backends("sqlite")
def test_speed_many_tables(engine: Engine) -> None:
    """A thousand unchanged tables with indexes, keys and checks compare in well under a
    second once read."""
    m = sa.MetaData()
    for i in range(1000):
        sa.Table(
            f"t{i}",
            m,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("ref", sa.ForeignKey(f"t{i - 1}.id" if i else "t0.id")),
            sa.Column("a", sa.Integer, index=True),
            sa.Column("b", sa.String(20), unique=True),
            sa.CheckConstraint("a > 0", name=f"ck_t{i}_a"),
            sa.Index(f"ix_t{i}_ab", "a", "b"),
        )
    build_database(engine, m)
    with engine.connect() as conn:
        from schema_lsp.autogenerate.api import AutogenContext
        from schema_lsp.reflect import reflect_schema

        reflected = reflect_schema(conn)
        ctx = MigrationContext.configure(conn, opts={})
        ac = AutogenContext(ctx, metadata=m)
        ac.reflected = reflected
        from schema_lsp.autogenerate.api import produce_net_changes
        from schema_lsp.operations import ops

        produce_net_changes(ac, ops.UpgradeOps([]))  # warm SQLAlchemy's caches
        timings = []
        for _ in range(3):  # best of three: the machine may be busy with other work
            ac = AutogenContext(ctx, metadata=m)
            ac.reflected = reflected
            start = time.perf_counter()
            upgrade = ops.UpgradeOps([])
            produce_net_changes(ac, upgrade)
            timings.append(time.perf_counter() - start)
            assert upgrade.as_diffs() == []
        assert compare_metadata(ctx, m) == []
    # ~0.4 s on an idle machine for every comparator together; the bound guards regressions
    assert min(timings) < 1.5, timings


CHECK_EXPRESSIONS = [
    "a >= 0 AND a <= 100",
    "s IS NOT NULL OR a > 0",
    "lower(s) = s",
    "a % 2 = 0",
    "a IN (1, 2, 3)",
    "NOT (a = 5)",
    "s <> ''",
    "coalesce(a, 0) >= 0",
    "d > '2020-01-01'",
    "n > 0.5",
    "n >= -1.25",
    "a BETWEEN 1 AND 5",
    "upper(s) IN ('A', 'B')",
    "a > b * 2",
    "(a > 0) = (b > 0)",
    "CASE WHEN a > 0 THEN b > 0 ELSE b < 0 END",
    "a + b <= 10 AND (a > 1 OR b > 1)",
    "s NOT IN ('x', 'y')",
    "s NOT LIKE 'z%'",
    "a <> -1",
    "length(s) BETWEEN 1 AND 10",
    "a IS NULL OR b IS NULL",
    "s = 'it''s'",
    "abs(a) < 100",
    "flag = true",
    "a * 2 + 1 > b",
    "a != 4",
    "s IN ('only')",
]


def test_check_expressions_survive_backend_rewriting(engine: Engine, backend: str) -> None:
    """Named checks as PostgreSQL, MariaDB and SQLite print them back compare equal to the
    model's text or SQL expression."""
    exprs = list(CHECK_EXPRESSIONS)
    exprs.append("char_length(s) > 2" if backend != "sqlite" else "length(s) > 2")
    if backend == "postgresql":
        exprs += [
            "s ~ '^[a-z]+$'",
            "a::text <> ''",
            "s ILIKE 'a%'",
            "ts > now() - interval '1 day'",
        ]
    m = sa.MetaData()
    sa.Table(
        "t",
        m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.Integer),
        sa.Column("b", sa.Integer),
        sa.Column("s", sa.String(20)),
        sa.Column("d", sa.Date),
        sa.Column("n", sa.Numeric(8, 2)),
        sa.Column("ts", sa.DateTime),
        sa.Column("flag", sa.Boolean),
        *[sa.CheckConstraint(e, name=f"ck{i}") for i, e in enumerate(exprs)],
        sa.CheckConstraint(sa.column("a") > 5, name="ck_expr1"),
        sa.CheckConstraint(
            sa.and_(sa.column("a") > 1, sa.column("s").in_(["p", "q"])), name="ck_expr2"
        ),
        sa.CheckConstraint(sa.column("s").like("x%"), name="ck_expr3"),
    )
    _check_plain(engine, m)


def _check_plain(engine: Engine, metadata: sa.MetaData) -> None:
    build_database(engine, metadata)
    with engine.connect() as conn:
        result = run_both(conn, metadata)
    assert result.ours == [], result.ours
    assert_same(result)


def test_normalised_checks_still_see_changes() -> None:
    from schema_lsp.autogenerate.compare.sqltext import normalize_sql

    same = [
        ("(a > 0)", "a > 0"),
        ("((s)::text = ANY ((ARRAY['x'::character varying])::text[]))", "s IN ('x')"),
        ("`a` MOD 2 = 0", "a % 2 = 0"),
        ("a BETWEEN 1 AND 5", "((a >= 1) AND (a <= 5))"),
    ]
    for db, model in same:
        assert normalize_sql(db, "x") == normalize_sql(model, "x"), (db, model)
    different = [
        ("a > 0", "a > 1"),
        ("a > 0", "a >= 0"),
        ("s IN ('x', 'y')", "s IN ('x', 'z')"),
        ("s IN ('x', 'y')", "s NOT IN ('x', 'y')"),
        ("a + b < 100", "a - b < 100"),
        ("s LIKE 'a%'", "s NOT LIKE 'a%'"),
        ("lower(s) = s", "upper(s) = s"),
    ]
    for old, new in different:
        assert normalize_sql(old, "x") != normalize_sql(new, "x"), (old, new)


@pytest.mark.backends("postgresql", "mariadb")  # SQLite has no named default schema
def test_default_schema_named_explicitly(engine: Engine, backend: str) -> None:
    """Tables declared with ``schema=<the default schema>``: their keys and indexes are the
    ones of the unqualified tables."""
    with engine.connect() as conn:
        default = conn.dialect.default_schema_name
    m = sa.MetaData()
    sa.Table(
        "parent",
        m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(10), unique=True),
        schema=default,
    )
    sa.Table(
        "child",
        m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pid", sa.ForeignKey(f"{default}.parent.id", ondelete="CASCADE"), index=True),
        sa.UniqueConstraint("pid", name="uq_child_pid"),
        schema=default,
    )
    build_database(engine, m)
    with engine.connect() as conn:
        result = run_both(conn, m)
    assert result.ours == [], result.ours
    assert [d[0] for d in result.alembic] == ["remove_fk", "add_fk"]
    assert_same(result, ["alembic-false-fk-default-schema"])


def test_long_convention_names_are_truncated_alike(engine: Engine, backend: str) -> None:
    """Naming-convention names longer than the backend allows are truncated by SQLAlchemy
    when created; the comparison truncates the model's names the same way."""
    m = sa.MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
        }
    )
    long = "a_rather_long_table_name_for_truncation"
    sa.Table(
        long,
        m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("first_long_column_name", sa.Integer, index=True),
        sa.Column("second_long_column_name", sa.Integer),
        sa.Column("parent_identifier_column", sa.ForeignKey(f"{long}.id")),
        sa.UniqueConstraint("first_long_column_name", "second_long_column_name"),
        sa.Index(None, "second_long_column_name", "first_long_column_name"),
    )
    _check_plain(engine, m)


@pytest.mark.backends("postgresql")
def test_nulls_not_distinct_change_postgresql(engine: Engine) -> None:
    def model(nnd: bool) -> sa.MetaData:
        m = sa.MetaData()
        sa.Table(
            "t",
            m,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("a", sa.Integer),
            sa.UniqueConstraint("a", name="uq_t_a", postgresql_nulls_not_distinct=nnd),
        )
        return m

    build_database(engine, model(False))
    with engine.connect() as conn:
        result = run_both(conn, model(True))
    assert result.ours == [
        ("remove_constraint", "UniqueConstraint", None, "t", "uq_t_a", ("a",)),
        ("add_constraint", "UniqueConstraint", None, "t", "uq_t_a", ("a",)),
    ]
    assert_same(result)
