"""Indexes, unique constraints, foreign keys, primary keys and CHECK constraints.

Each scenario creates the "before" model with ``create_all``, then compares the "after" model
with both engines: the diffs must agree with Alembic (or name a divergence) and equal the
tuples written here, in order, so a shared mistake still fails. Each scenario's no-op twin
compares "before" with itself: nothing may be reported.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .differential import Result, assert_same, build_database, run_both

Model = Callable[[str], sa.MetaData]


def _base(m: sa.MetaData, *extra: Any, name: str = "t") -> sa.Table:
    return sa.Table(
        name,
        m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a", sa.Integer, nullable=False),
        sa.Column("b", sa.Integer, nullable=False),
        sa.Column("s", sa.String(40)),
        *extra,
    )


def check(
    engine: Engine,
    before: sa.MetaData,
    after: sa.MetaData,
    expected: Sequence[tuple[Any, ...]],
    divergences: Sequence[str] = (),
    opts: dict[str, Any] | None = None,
    twin_divergences: Sequence[str] = (),
) -> Result:
    build_database(engine, before)
    with engine.connect() as conn:
        result = run_both(conn, after, opts)
        twin = run_both(conn, before, opts)
    assert result.ours == list(expected), f"ours: {result.ours}\nalembic: {result.alembic}"
    assert_same(result, divergences)
    assert twin.ours == [], twin.ours
    assert_same(twin, twin_divergences)
    return result


MYSQL_FK_INDEX = "mysql-fk-index-dropped-with-key"


def _on_mysql(engine: Engine) -> bool:
    return engine.dialect.name in ("mysql", "mariadb")


def _fk_index(engine: Engine, table: str, name: str, cols: tuple[str, ...]) -> list[Any]:
    """The index MySQL made for a dropped key, which we drop with it (MYSQL_FK_INDEX)."""
    return [("remove_index", None, table, name, cols, False)] if _on_mysql(engine) else []


def _mysql_divergences(engine: Engine, *names: str) -> list[str]:
    return list(names) if _on_mysql(engine) else []


# ------------------------------------------------------------------------------- indexes


def test_add_and_remove_index(engine: Engine, backend: str) -> None:
    before = sa.MetaData()
    _base(before, sa.Index("ix_old", "b"))
    after = sa.MetaData()
    _base(after, sa.Index("ix_new", "a", "s"), sa.Index("ix_uq", "b", unique=True))
    check(
        engine,
        before,
        after,
        [
            ("remove_index", None, "t", "ix_old", ("b",), False),
            ("add_index", None, "t", "ix_new", ("a", "s"), False),
            ("add_index", None, "t", "ix_uq", ("b",), True),
        ],
    )


def test_changed_index_columns_and_uniqueness(engine: Engine, backend: str) -> None:
    before = sa.MetaData()
    _base(before, sa.Index("ix_ab", "a", "b"), sa.Index("ix_s", "s"))
    after = sa.MetaData()
    _base(after, sa.Index("ix_ab", "b", "a"), sa.Index("ix_s", "s", unique=True))
    check(
        engine,
        before,
        after,
        [
            ("remove_index", None, "t", "ix_ab", ("a", "b"), False),
            ("add_index", None, "t", "ix_ab", ("b", "a"), False),
            ("remove_index", None, "t", "ix_s", ("s",), False),
            ("add_index", None, "t", "ix_s", ("s",), True),
        ],
    )


def test_column_index_flags_and_naming_convention(engine: Engine, backend: str) -> None:
    convention = {
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    }

    def model(with_index: bool) -> sa.MetaData:
        m = sa.MetaData(naming_convention=convention)
        sa.Table(
            "t",
            m,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("a", sa.Integer, index=True),
            sa.Column("b", sa.Integer, unique=True),
            sa.Column("c", sa.Integer, index=with_index),
            sa.Column("d", sa.Integer),
            sa.Column("e", sa.Integer),
            sa.UniqueConstraint("d", "e"),
        )
        return m

    check(
        engine,
        model(False),
        model(True),
        [("add_index", None, "t", "ix_t_c", ("c",), False)],
    )


@pytest.mark.backends("postgresql")
def test_expression_and_sorted_indexes_postgresql(engine: Engine) -> None:
    def model(upper: bool, desc: bool) -> sa.MetaData:
        m = sa.MetaData()
        t = _base(m)
        fn = sa.func.upper if upper else sa.func.lower
        sa.Index("ix_expr", fn(t.c.s))
        sa.Index("ix_sorted", t.c.a.desc() if desc else t.c.a, t.c.b.desc().nulls_last())
        sa.Index("ix_arith", (t.c.a + t.c.b), t.c.s)
        return m

    build_database(engine, model(False, False))
    with engine.connect() as conn:
        changed = run_both(conn, model(True, True))
        same = run_both(conn, model(False, False))
    assert [d[:4] for d in changed.ours] == [
        ("remove_index", None, "t", "ix_expr"),
        ("add_index", None, "t", "ix_expr"),
        ("remove_index", None, "t", "ix_sorted"),
        ("add_index", None, "t", "ix_sorted"),
    ]
    assert_same(changed)
    assert same.ours == []
    assert_same(same)


@pytest.mark.backends("postgresql")
def test_partial_index_predicate_postgresql(engine: Engine) -> None:
    def model(where: int | None, name: str = "ix_part") -> sa.MetaData:
        m = sa.MetaData()
        t = _base(m)
        kw = {} if where is None else {"postgresql_where": t.c.a > where}
        sa.Index(name, t.c.b, **kw)
        sa.Index("ix_in", t.c.s, postgresql_where=t.c.s.in_(["x", "y"]))
        return m

    # a changed predicate: Alembic sees nothing
    check(
        engine,
        model(5),
        model(7),
        [
            ("remove_index", None, "t", "ix_part", ("b",), False),
            ("add_index", None, "t", "ix_part", ("b",), False),
        ],
        divergences=["partial-index-predicate"],
    )


@pytest.mark.backends("sqlite")
def test_partial_index_predicate_sqlite(engine: Engine) -> None:
    def model(where: int) -> sa.MetaData:
        m = sa.MetaData()
        t = _base(m)
        sa.Index("ix_part", t.c.b, sqlite_where=sa.and_(t.c.a > where, t.c.s.in_(["x", "y"])))
        sa.Index("ix_same", t.c.a, sqlite_where=t.c.s.is_not(None))
        return m

    check(
        engine,
        model(5),
        model(7),
        [
            ("remove_index", None, "t", "ix_part", ("b",), False),
            ("add_index", None, "t", "ix_part", ("b",), False),
        ],
        divergences=["partial-index-predicate"],
    )


@pytest.mark.backends("postgresql")
def test_partial_index_becomes_full_postgresql(engine: Engine) -> None:
    m1 = sa.MetaData()
    t1 = _base(m1)
    sa.Index("ix_part", t1.c.b, postgresql_where=sa.and_(t1.c.a > 5, t1.c.s.is_not(None)))
    m2 = sa.MetaData()
    t2 = _base(m2)
    sa.Index("ix_part", t2.c.b)
    check(
        engine,
        m1,
        m2,
        [
            ("remove_index", None, "t", "ix_part", ("b",), False),
            ("add_index", None, "t", "ix_part", ("b",), False),
        ],
        divergences=["partial-index-predicate"],
    )


@pytest.mark.backends("sqlite")
def test_sqlite_expression_index_is_not_compared(engine: Engine) -> None:
    """SQLAlchemy can't reflect SQLite expression indexes: neither engine reports them."""
    m1 = sa.MetaData()
    t1 = _base(m1)
    sa.Index("ix_lower", sa.func.lower(t1.c.s))
    m2 = sa.MetaData()
    t2 = _base(m2)
    sa.Index("ix_lower", sa.func.upper(t2.c.s))
    sa.Index("ix_new", sa.func.lower(t2.c.s))
    with pytest.warns(sa.exc.SAWarning):
        check(engine, m1, m2, [])


# --------------------------------------------------------------------- unique constraints


def test_named_unique_constraints(engine: Engine, backend: str) -> None:
    before = sa.MetaData()
    _base(before, sa.UniqueConstraint("a", name="uq_a"), sa.UniqueConstraint("s", name="uq_s"))
    after = sa.MetaData()
    _base(
        after,
        sa.UniqueConstraint("a", "b", name="uq_a"),
        sa.UniqueConstraint("b", name="uq_b"),
    )
    if backend == "mariadb":
        # MySQL has unique indexes only: a removed/changed constraint is its index
        expected = [
            ("remove_index", None, "t", "uq_s", ("s",), True),
            ("remove_constraint", "UniqueConstraint", None, "t", "uq_a", ("a",)),
            ("add_constraint", "UniqueConstraint", None, "t", "uq_a", ("a", "b")),
            ("add_constraint", "UniqueConstraint", None, "t", "uq_b", ("b",)),
        ]
    else:
        expected = [
            ("remove_constraint", "UniqueConstraint", None, "t", "uq_s", ("s",)),
            ("remove_constraint", "UniqueConstraint", None, "t", "uq_a", ("a",)),
            ("add_constraint", "UniqueConstraint", None, "t", "uq_a", ("a", "b")),
            ("add_constraint", "UniqueConstraint", None, "t", "uq_b", ("b",)),
        ]
    check(engine, before, after, expected)


def test_unnamed_unique_constraints(engine: Engine, backend: str) -> None:
    before = sa.MetaData()
    _base(before, sa.UniqueConstraint("a"), sa.UniqueConstraint("s", "b"))
    after = sa.MetaData()
    _base(after, sa.UniqueConstraint("a"), sa.UniqueConstraint("b"))
    expected: list[tuple[Any, ...]] = []
    if backend == "postgresql":
        expected.append(
            ("remove_constraint", "UniqueConstraint", None, "t", "t_s_b_key", ("s", "b"))
        )
    elif backend == "mariadb":
        expected.append(("remove_index", None, "t", "s", ("s", "b"), True))
    # SQLite doesn't name them: the removal can't be seen
    expected.append(("add_constraint", "UniqueConstraint", None, "t", None, ("b",)))
    check(engine, before, after, expected)


def test_unique_constraint_becomes_unique_index(engine: Engine, backend: str) -> None:
    before = sa.MetaData()
    _base(before, sa.UniqueConstraint("a", "b", name="uq_ab"))
    after = sa.MetaData()
    _base(after, sa.Index("uq_ab", "a", "b", unique=True))
    if backend == "mariadb":
        expected: list[tuple[Any, ...]] = []  # the same thing on MySQL
    else:
        expected = [
            ("remove_constraint", "UniqueConstraint", None, "t", "uq_ab", ("a", "b")),
            ("add_index", None, "t", "uq_ab", ("a", "b"), True),
        ]
    check(engine, before, after, expected)


# ---------------------------------------------------------------- created/dropped tables


def test_indexes_of_created_and_dropped_tables(engine: Engine, backend: str) -> None:
    before = sa.MetaData()
    _base(before)
    _base(
        before,
        sa.Index("ix_gone_a", "a"),
        sa.Index("ix_gone_b", "b", unique=True),
        sa.UniqueConstraint("s", name="uq_gone_s"),
        name="gone",
    )
    after = sa.MetaData()
    _base(after)
    _base(
        after,
        sa.Index("ix_new_a", "a"),
        sa.UniqueConstraint("s", name="uq_new_s"),
        sa.Column("c", sa.Integer, index=True),
        name="new",
    )
    expected: list[tuple[Any, ...]] = [
        ("add_table", None, "new"),
        ("add_index", None, "new", "ix_new_a", ("a",), False),
        ("add_index", None, "new", "ix_new_c", ("c",), False),
        ("remove_index", None, "gone", "ix_gone_a", ("a",), False),
        ("remove_index", None, "gone", "ix_gone_b", ("b",), True),
    ]
    if backend == "mariadb":
        expected.append(("remove_index", None, "gone", "uq_gone_s", ("s",), True))
    expected.append(("remove_table", None, "gone"))
    check(engine, before, after, expected)


# ---------------------------------------------------------------------------- foreign keys


def _parent(m: sa.MetaData, schema: str | None = None) -> sa.Table:
    return sa.Table(
        "parent",
        m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("x", sa.Integer, nullable=False),
        sa.Column("y", sa.Integer, nullable=False),
        sa.UniqueConstraint("x", "y", name="uq_parent_xy"),
        schema=schema,
    )


def _child(m: sa.MetaData, *fks: Any, **kw: Any) -> sa.Table:
    return sa.Table(
        "child",
        m,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("pid", sa.Integer),
        sa.Column("px", sa.Integer),
        sa.Column("py", sa.Integer),
        sa.Column("up", sa.Integer),
        *fks,
        **kw,
    )


def test_foreign_keys_added_removed_composite_self(engine: Engine, backend: str) -> None:
    before = sa.MetaData()
    _parent(before)
    _child(before, sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_child_pid"))
    after = sa.MetaData()
    _parent(after)
    _child(
        after,
        sa.ForeignKeyConstraint(["px", "py"], ["parent.x", "parent.y"], name="fk_child_xy"),
        sa.ForeignKeyConstraint(["up"], ["child.id"], name="fk_child_up"),
    )
    check(
        engine,
        before,
        after,
        [
            ("remove_fk", None, "child", "fk_child_pid", ("pid",), "parent", ("id",)),
            *_fk_index(engine, "child", "fk_child_pid", ("pid",)),
            ("add_fk", None, "child", "fk_child_up", ("up",), "child", ("id",)),
            ("add_fk", None, "child", "fk_child_xy", ("px", "py"), "parent", ("x", "y")),
        ],
        divergences=_mysql_divergences(engine, MYSQL_FK_INDEX),
    )


def test_foreign_key_actions(engine: Engine, backend: str) -> None:
    def model(ondelete: str | None, onupdate: str | None) -> sa.MetaData:
        m = sa.MetaData()
        _parent(m)
        _child(
            m,
            sa.ForeignKeyConstraint(
                ["pid"], ["parent.id"], name="fk_pid", ondelete=ondelete, onupdate=onupdate
            ),
            sa.ForeignKeyConstraint(
                ["up"], ["parent.id"], name="fk_up", ondelete="RESTRICT", onupdate="NO ACTION"
            ),
        )
        return m

    check(
        engine,
        model("CASCADE", None),
        model("SET NULL", "CASCADE"),
        [
            ("remove_fk", None, "child", "fk_pid", ("pid",), "parent", ("id",)),
            ("add_fk", None, "child", "fk_pid", ("pid",), "parent", ("id",)),
        ],
    )


@pytest.mark.backends("postgresql")
def test_foreign_key_deferrable_postgresql(engine: Engine) -> None:
    def model(**kw: Any) -> sa.MetaData:
        m = sa.MetaData()
        _parent(m)
        _child(m, sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_pid", **kw))
        return m

    check(
        engine,
        model(deferrable=True),
        model(deferrable=True, initially="DEFERRED"),
        [
            ("remove_fk", None, "child", "fk_pid", ("pid",), "parent", ("id",)),
            ("add_fk", None, "child", "fk_pid", ("pid",), "parent", ("id",)),
        ],
    )


@pytest.mark.backends("postgresql", "mariadb")
def test_cross_schema_foreign_keys(engine: Engine, schema_name: str) -> None:
    def model(with_fk: bool) -> sa.MetaData:
        m = sa.MetaData()
        _parent(m, schema=schema_name)
        fks = (
            [sa.ForeignKeyConstraint(["pid"], [f"{schema_name}.parent.id"], name="fk_remote")]
            if with_fk
            else []
        )
        _child(m, *fks)
        if engine.dialect.name == "postgresql":
            # (MySQL resolves an unqualified reference in the referring table's schema)
            sa.Table(
                "local_child",
                m,
                sa.Column("id", sa.Integer, primary_key=True),
                sa.Column("cid", sa.ForeignKey("child.id", name="fk_local")),
                schema=schema_name,
            )
        return m

    opts = {
        "include_schemas": True,
        # only this test's schemas: others come and go on a shared server
        "include_name": lambda name, type_, parent: (
            type_ != "schema" or name in (None, schema_name, engine.url.database)
        ),
    }
    result = check(
        engine,
        model(False),
        model(True),
        [("add_fk", None, "child", "fk_remote", ("pid",), "parent", ("id",))],
        opts=opts,
    )
    assert result.raw_ours[0][1].referred_table.schema == schema_name
    with engine.begin() as conn:
        model(False).drop_all(conn)
    result = check(
        engine,
        model(True),
        model(False),
        [
            ("remove_fk", None, "child", "fk_remote", ("pid",), "parent", ("id",)),
            *_fk_index(engine, "child", "fk_remote", ("pid",)),
        ],
        divergences=_mysql_divergences(engine, MYSQL_FK_INDEX),
        opts=opts,
    )
    assert result.raw_ours[0][1].referred_table.schema == schema_name
    with engine.begin() as conn:  # the schema can't be dropped while referenced
        model(True).drop_all(conn)


@pytest.mark.backends("mariadb")
def test_mysql_implicit_fk_index_on_fk_removal(engine: Engine) -> None:
    before = sa.MetaData()
    _parent(before)
    _child(
        before,
        sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_pid"),
        sa.ForeignKeyConstraint(["up"], ["parent.id"]),
    )
    after = sa.MetaData()
    _parent(after)
    _child(after)
    result = check(
        engine,
        before,
        after,
        [
            ("remove_fk", None, "child", "child_ibfk_1", ("up",), "parent", ("id",)),
            ("remove_index", None, "child", "up", ("up",), False),
            ("remove_fk", None, "child", "fk_pid", ("pid",), "parent", ("id",)),
            ("remove_index", None, "child", "fk_pid", ("pid",), False),
        ],
        divergences=[MYSQL_FK_INDEX],
    )
    # the key's own index goes with it (named after the key, or after its first column
    # when the key has no name of its own); Alembic leaves both behind
    assert [d for d in result.alembic if d[0] == "remove_index"] == []


# ---------------------------------------------------------------------------- primary keys


def test_primary_key_change(engine: Engine, backend: str) -> None:
    def model(*pk: str) -> sa.MetaData:
        m = sa.MetaData()
        sa.Table(
            "t",
            m,
            sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
            sa.Column("a", sa.Integer, nullable=False),
            sa.PrimaryKeyConstraint(*pk, name="pk_t"),
        )
        return m

    name = {"postgresql": "pk_t", "mariadb": None, "sqlite": "pk_t"}[backend]
    check(
        engine,
        model("id"),
        model("id", "a"),
        [
            ("remove_constraint", "PrimaryKeyConstraint", None, "t", name, ("id",)),
            ("add_constraint", "PrimaryKeyConstraint", None, "t", "pk_t", ("id", "a")),
        ],
        divergences=["pk-change"],
    )


# -------------------------------------------------------------------------------- checks


def test_check_constraints(engine: Engine, backend: str) -> None:
    def model(after: bool) -> sa.MetaData:
        m = sa.MetaData()
        checks = [
            sa.CheckConstraint("a > 0", name="ck_a_pos"),
            sa.CheckConstraint("b < 10" if after else "b < 5", name="ck_b"),
            sa.CheckConstraint("a > -1"),
            sa.CheckConstraint("s IN ('x', 'y')", name="ck_s"),
            sa.CheckConstraint("a BETWEEN 1 AND 10", name="ck_between"),
            sa.CheckConstraint("s LIKE 'a%' OR s IS NULL", name="ck_like"),
        ]
        if after:
            checks.append(sa.CheckConstraint("a <> b", name="ck_new"))
        else:
            checks.append(sa.CheckConstraint("a + b < 100", name="ck_old"))
        _base(
            m,
            sa.Column("flag", sa.Boolean(create_constraint=True)),
            sa.Column("flag2", sa.Boolean(create_constraint=True, name="ck_flag2")),
            sa.Column("e", sa.Enum("p", "q", native_enum=False, create_constraint=True)),
            sa.Column("j", sa.JSON),
            # MariaDB has no syntax for a named column-level check
            sa.Column(
                "c",
                sa.Integer,
                sa.CheckConstraint("c >= 0", name=None if backend == "mariadb" else "ck_col_c"),
            ),
            *checks,
        )
        return m

    # removed checks come back as the database prints them
    old, b = {
        "sqlite": ("a + b < 100", "b < 5"),
        "postgresql": ("(a + b) < 100", "b < 5"),
        "mariadb": ("`a` + `b` < 100", "`b` < 5"),
    }[backend]
    result = check(
        engine,
        model(False),
        model(True),
        [
            ("remove_constraint", "CheckConstraint", None, "t", "ck_old", (old,)),
            ("remove_constraint", "CheckConstraint", None, "t", "ck_b", (b,)),
            ("add_constraint", "CheckConstraint", None, "t", "ck_b", ("b < 10",)),
            ("add_constraint", "CheckConstraint", None, "t", "ck_new", ("a <> b",)),
        ],
        divergences=["check-constraints"],
    )
    assert result.alembic == []


# ----------------------------------------------------------------------------- filters


def test_filters_called_like_alembic(engine: Engine, backend: str) -> None:
    before = sa.MetaData()
    _parent(before)
    _child(
        before,
        sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_pid"),
        sa.Index("ix_child_px", "px"),
        sa.Index("ix_child_keep", "py"),
        sa.UniqueConstraint("up", name="uq_child_up"),
    )
    after = sa.MetaData()
    _parent(after)
    _child(
        after,
        sa.ForeignKeyConstraint(["up"], ["parent.id"], name="fk_up"),
        sa.Index("ix_child_px", "px", "py"),
        sa.Index("ix_child_new", "py"),
        sa.UniqueConstraint("pid", name="uq_child_pid"),
    )
    build_database(engine, before)
    kinds = {"index", "unique_constraint", "foreign_key_constraint"}

    def recorder() -> tuple[list[Any], dict[str, Any]]:
        calls: list[Any] = []

        def include_name(name: Any, type_: str, parent: dict[str, Any]) -> bool:
            if type_ in kinds:
                calls.append(("name", type_, name, parent.get("table_name")))
            return name != "ix_child_keep"

        def include_object(obj: Any, name: Any, type_: str, reflected: bool, other: Any) -> bool:
            if type_ in kinds:
                calls.append(("object", type_, name, reflected, other is None))
            return name != "uq_child_pid"

        return calls, {"include_name": include_name, "include_object": include_object}

    ours_calls, ours_opts = recorder()
    theirs_calls, theirs_opts = recorder()
    from alembic.autogenerate import compare_metadata as alembic_compare
    from alembic.runtime.migration import MigrationContext as AlembicContext

    from schema_lsp.autogenerate import compare_metadata
    from schema_lsp.runtime.migration import MigrationContext

    with engine.connect() as conn:
        compare_metadata(MigrationContext.configure(conn, opts=ours_opts), after)
        alembic_compare(AlembicContext.configure(conn, opts=theirs_opts), after)
    assert sorted(map(repr, ours_calls)) == sorted(map(repr, theirs_calls))
    assert ours_calls

    with engine.connect() as conn:
        result = run_both(
            conn,
            after,
            {
                "include_name": ours_opts["include_name"],
                "include_object": ours_opts["include_object"],
            },
        )
    assert_same(result, _mysql_divergences(engine, MYSQL_FK_INDEX))
    assert ("add_index", None, "child", "ix_child_new", ("py",), False) in result.ours
    assert not any(d[0] == "remove_index" and d[3] == "ix_child_keep" for d in result.ours)


# ------------------------------------------------------------------- more keys and order


def test_primary_key_added_and_removed(engine: Engine, backend: str) -> None:
    before = sa.MetaData()
    sa.Table("nopk", before, sa.Column("id", sa.Integer, nullable=False))
    sa.Table(
        "haspk",
        before,
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.PrimaryKeyConstraint("id", name="pk_haspk"),
    )
    after = sa.MetaData()
    sa.Table(
        "nopk",
        after,
        sa.Column("id", sa.Integer, nullable=False, autoincrement=False),
        sa.PrimaryKeyConstraint("id", name="pk_nopk"),
    )
    sa.Table("haspk", after, sa.Column("id", sa.Integer, nullable=False))
    old_name = {"postgresql": "pk_haspk", "mariadb": None, "sqlite": "pk_haspk"}[backend]
    check(
        engine,
        before,
        after,
        [
            ("remove_constraint", "PrimaryKeyConstraint", None, "haspk", old_name, ("id",)),
            ("add_constraint", "PrimaryKeyConstraint", None, "nopk", "pk_nopk", ("id",)),
        ],
        divergences=["pk-change"],
    )


def test_order_within_a_table_matches_alembic(engine: Engine, backend: str) -> None:
    """Not only the same diffs: the same order (indexes/uniques, then foreign keys, then
    the comment)."""
    before = sa.MetaData()
    _parent(before)
    _child(
        before,
        sa.Index("ix_c_a", "px"),
        sa.Index("ix_c_b", "py"),
        sa.Index("ix_c_z", "up"),
        sa.UniqueConstraint("pid", name="uq_c_m"),
        sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_c_pid"),
    )
    after = sa.MetaData()
    _parent(after)
    _child(
        after,
        sa.Index("ix_c_a", "px", "py"),
        sa.Index("ix_c_c", "py"),
        sa.Index("ix_c_z", "up", unique=True),
        sa.UniqueConstraint("up", name="uq_c_n"),
        sa.UniqueConstraint("px", "py"),
        sa.ForeignKeyConstraint(["up"], ["parent.id"], name="fk_c_up"),
        comment="children" if backend != "sqlite" else None,
    )
    build_database(engine, before)
    with engine.connect() as conn:
        result = run_both(conn, after)
    kinds = [d[0] for d in result.ours]
    last_index_or_unique = max(
        i for i, k in enumerate(kinds) if k.endswith("index") or k.endswith("constraint")
    )
    if not _on_mysql(engine):
        assert result.ours == result.alembic
        assert kinds.index("remove_fk") > last_index_or_unique
        return
    # mysql-fk-drops-first: the key goes first, as the unique index uq_c_m backs it
    assert_same(result)
    assert kinds.index("remove_fk") == 0


def test_created_table_expression_index_sqlite(engine: Engine, backend: str) -> None:
    """A created table's expression index is emitted (Alembic loses it on SQLite)."""
    before = sa.MetaData()
    after = sa.MetaData()
    t = _base(after)
    sa.Index("ix_t_lower", sa.func.lower(t.c.s))
    result = check(
        engine,
        before,
        after,
        [("add_table", None, "t"), ("add_index", None, "t", "ix_t_lower", ("s",), False)],
        divergences=["sqlite-expression-index-new-table"] if backend == "sqlite" else [],
    )
    if backend == "sqlite":
        assert result.alembic == [("add_table", None, "t")]


def test_fk_to_table_outside_the_comparison(engine: Engine, backend: str) -> None:
    """A removed foreign key whose target table is filtered out still yields a complete
    constraint (the target is read from the catalog or stood in for)."""
    before = sa.MetaData()
    _parent(before)
    _child(before, sa.ForeignKeyConstraint(["px", "py"], ["parent.x", "parent.y"], name="fk_xy"))
    after = sa.MetaData()
    _child(after)

    def include_name(name: Any, type_: str, parent: dict[str, Any]) -> bool:
        return not (type_ == "table" and name == "parent")

    build_database(engine, before)
    with engine.connect() as conn:
        result = run_both(conn, after, {"include_name": include_name})
    assert result.ours == [
        ("remove_fk", None, "child", "fk_xy", ("px", "py"), "parent", ("x", "y")),
        *_fk_index(engine, "child", "fk_xy", ("px", "py")),
    ]
    assert_same(result, _mysql_divergences(engine, MYSQL_FK_INDEX))


def test_ops_render_like_alembic(engine: Engine, backend: str) -> None:
    """The database-side objects we build for reported keys render as Alembic's do."""
    from alembic.autogenerate import produce_migrations as alembic_produce
    from alembic.autogenerate import render_python_code as alembic_render
    from alembic.runtime.migration import MigrationContext as AlembicContext

    from schema_lsp.autogenerate import produce_migrations, render_python_code
    from schema_lsp.runtime.migration import MigrationContext

    before = sa.MetaData()
    parent = _parent(before)
    _child(
        before,
        sa.ForeignKeyConstraint(["pid"], ["parent.id"], name="fk_pid", ondelete="CASCADE"),
        sa.Index("ix_child_pxpy", "px", sa.desc("py") if backend != "postgresql" else "py"),
        sa.UniqueConstraint("up", name="uq_child_up"),
    )
    if backend == "postgresql":
        sa.Index("ix_parent_sorted", parent.c.x.desc(), parent.c.y, postgresql_include=["id"])
    after = sa.MetaData()
    _parent(after)
    _child(after)
    build_database(engine, before)
    with engine.connect() as conn:
        ours = produce_migrations(MigrationContext.configure(conn), after)
        theirs = alembic_produce(AlembicContext.configure(conn), after)
    assert ours.upgrade_ops is not None and theirs.upgrade_ops is not None
    assert ours.downgrade_ops is not None and theirs.downgrade_ops is not None
    for mine, alembic in (
        (ours.upgrade_ops, theirs.upgrade_ops),
        (ours.downgrade_ops, theirs.downgrade_ops),
    ):
        our_code, their_code = render_python_code(mine), alembic_render(alembic)
        if not _on_mysql(engine):
            assert our_code == their_code
            continue
        # MYSQL_FK_INDEX and mysql-fk-drops-first: one more line, for fk_pid's own index
        extra = sorted(set(our_code.splitlines()) - set(their_code.splitlines()))
        assert len(extra) == 1 and "_index('fk_pid'" in extra[0], extra
        assert sorted(line for line in our_code.splitlines() if line not in extra) == sorted(
            their_code.splitlines()
        )


@pytest.mark.backends("sqlite")
def test_fk_target_not_in_model(engine: Engine) -> None:
    """A changed foreign key to a table the model doesn't declare is reported (Alembic
    raises NoReferencedTableError)."""
    from alembic.autogenerate import compare_metadata as alembic_compare
    from alembic.runtime.migration import MigrationContext as AlembicContext

    from schema_lsp.autogenerate import compare_metadata
    from schema_lsp.runtime.migration import MigrationContext

    from .differential import DIVERGENCES, normalize

    def model(ondelete: str | None) -> sa.MetaData:
        m = sa.MetaData()
        sa.Table(
            "t",
            m,
            sa.Column("id", sa.Integer, primary_key=True),
            sa.Column("eid", sa.ForeignKey("ext.id", name="fk_ext", ondelete=ondelete)),
        )
        return m

    full = model(None)
    sa.Table("ext", full, sa.Column("id", sa.Integer, primary_key=True))
    build_database(engine, full)
    opts = {"include_name": lambda n, t, p: not (t == "table" and n == "ext")}
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn, opts=opts), model(None)) == []
        diffs = compare_metadata(MigrationContext.configure(conn, opts=opts), model("CASCADE"))
        with pytest.raises(sa.exc.NoReferencedTableError):
            alembic_compare(AlembicContext.configure(conn, opts=opts), model("CASCADE"))
    assert normalize(diffs, engine.dialect) == [
        ("remove_fk", None, "t", "fk_ext", ("eid",), "ext", ("id",)),
        ("add_fk", None, "t", "fk_ext", ("eid",), "ext", ("id",)),
    ]
    assert diffs[1][1].ondelete == "CASCADE"
    assert "alembic-crash-fk-target-not-in-model" in DIVERGENCES


def test_dropped_table_index_ops_render_like_alembic(engine: Engine, backend: str) -> None:
    """The index ops of a dropped table, and their reversal, render as Alembic's."""
    from alembic.autogenerate import produce_migrations as alembic_produce
    from alembic.autogenerate import render_python_code as alembic_render
    from alembic.runtime.migration import MigrationContext as AlembicContext

    from schema_lsp.autogenerate import produce_migrations, render_python_code
    from schema_lsp.runtime.migration import MigrationContext

    before = sa.MetaData()
    t = _base(
        before,
        sa.Index("ix_gone_a", "a"),
        sa.Index("ix_gone_bs", "b", "s", unique=True),
        sa.UniqueConstraint("s", "a", name="uq_gone_sa"),
        name="gone",
    )
    if backend == "postgresql":
        sa.Index("ix_gone_expr", sa.func.lower(t.c.s), t.c.a.desc())
    build_database(engine, before)
    with engine.connect() as conn:
        ours = produce_migrations(MigrationContext.configure(conn), sa.MetaData())
        theirs = alembic_produce(AlembicContext.configure(conn), sa.MetaData())

    def index_lines(code: str) -> list[str]:
        return [line for line in code.splitlines() if "_index(" in line]

    assert ours.upgrade_ops is not None and theirs.upgrade_ops is not None
    assert ours.downgrade_ops is not None and theirs.downgrade_ops is not None
    for mine, alembic in (
        (ours.upgrade_ops, theirs.upgrade_ops),
        (ours.downgrade_ops, theirs.downgrade_ops),
    ):
        lines = index_lines(render_python_code(mine))
        assert lines
        assert lines == index_lines(alembic_render(alembic))


def test_fk_order_is_by_name(engine: Engine, backend: str) -> None:
    """``fk-order``: a table's removed foreign keys, then its added ones, each sorted by name
    whatever order the model declares them in (Alembic's is a set's)."""
    from .differential import DIVERGENCES

    def model(fks: list[tuple[str, str]]) -> sa.MetaData:
        m = sa.MetaData()
        sa.Table("parent", m, sa.Column("id", sa.Integer, primary_key=True))
        sa.Table(
            "child",
            m,
            sa.Column("id", sa.Integer, primary_key=True),
            *[sa.Column(f"c{i}", sa.Integer) for i in range(1, 7)],
            *[sa.ForeignKeyConstraint([col], ["parent.id"], name=name) for name, col in fks],
        )
        return m

    build_database(engine, model([("fk_c", "c1"), ("fk_a", "c2"), ("fk_b", "c3")]))
    added = [("fk_z", "c4"), ("fk_x", "c5"), ("fk_y", "c6")]
    with engine.connect() as conn:
        result = run_both(conn, model(added))
        reordered = run_both(conn, model(added[::-1]))
    fk_entries = [(d[0], d[3]) for d in result.ours if d[0] in ("add_fk", "remove_fk")]
    assert fk_entries == [
        ("remove_fk", "fk_a"),
        ("remove_fk", "fk_b"),
        ("remove_fk", "fk_c"),
        ("add_fk", "fk_x"),
        ("add_fk", "fk_y"),
        ("add_fk", "fk_z"),
    ]
    assert reordered.ours == result.ours
    assert_same(result, _mysql_divergences(engine, MYSQL_FK_INDEX))
    assert "fk-order" in DIVERGENCES
