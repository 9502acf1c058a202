"""The engine's public API: Alembic's shapes, hooks and plugin order, read-only."""

from __future__ import annotations

import re
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schema_lsp.autogenerate import (
    AutogenContext,
    comparators,
    compare_metadata,
    compare_reflected,
    produce_migrations,
)
from schema_lsp.autogenerate.dispatch import DispatchPriority, PriorityDispatchResult
from schema_lsp.operations import ops
from schema_lsp.reflect import read_only, reflect_schema
from schema_lsp.runtime.migration import MigrationContext
from tests.databases import record_statements

READ_ONLY = re.compile(
    r"^\s*(SELECT|SHOW|PRAGMA|WITH|SET (SESSION )?TRANSACTION READ|SET SESSION TRANSACTION|"
    r"DESCRIBE|EXPLAIN|BEGIN|ROLLBACK|SAVEPOINT|RELEASE)",
    re.IGNORECASE,
)


def _before() -> sa.MetaData:
    md = sa.MetaData()
    sa.Table(
        "users",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(100)),
        sa.Column("fax", sa.String(20)),
        sa.Index("ix_users_email", "email"),
    )
    sa.Table("legacy", md, sa.Column("id", sa.Integer, primary_key=True))
    return md


def _after() -> sa.MetaData:
    md = sa.MetaData()
    sa.Table(
        "users",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("verified", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Index("ix_users_email", "email"),
    )
    sa.Table(
        "orders",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id")),
    )
    return md


@pytest.fixture
def drifted(engine: Engine) -> Engine:
    with engine.begin() as conn:
        _before().create_all(conn)
    return engine


def test_diff_list_shape(drifted: Engine) -> None:
    with drifted.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), _after())
    kinds = [d[0] if isinstance(d, tuple) else [x[0] for x in d] for d in diffs]
    assert kinds[0] == "add_table" and diffs[0][1].name == "orders"
    assert kinds[1] == "remove_table" and diffs[1][1].name == "legacy"
    assert "add_column" in kinds and "remove_column" in kinds
    assert ["modify_type", "modify_nullable"] in kinds
    add_column = next(d for d in diffs if isinstance(d, tuple) and d[0] == "add_column")
    assert add_column[1:3] == (None, "users") and add_column[3].name == "verified"


def test_only_reads(drifted: Engine) -> None:
    """Every statement the engine runs is a read (or transaction control)."""
    opts = {"compare_server_default": True, "include_schemas": True}
    with record_statements(drifted) as statements, drifted.connect() as conn:
        compare_metadata(MigrationContext.configure(conn, opts=opts), _after())
        assert not conn.in_transaction()
    assert statements
    writes = [s for s in statements if not READ_ONLY.match(s)]
    assert writes == []


def test_read_only_transaction_refuses_writes(drifted: Engine) -> None:
    """Inside the engine's transaction the database itself refuses DML and DDL."""
    with drifted.connect() as conn:
        with read_only(conn):
            for statement in (
                "INSERT INTO legacy (id) VALUES (42)",
                "CREATE TABLE should_fail (id INTEGER)",
                "DROP TABLE legacy",
            ):
                with pytest.raises(sa.exc.DBAPIError):
                    conn.exec_driver_sql(statement)
        assert not conn.in_transaction()
        assert sa.inspect(conn).has_table("legacy")
        assert conn.exec_driver_sql("SELECT count(*) FROM legacy").scalar() == 0


def test_sqlite_query_only_during_reflection(sqlite_engine: Engine) -> None:
    seen: list[Any] = []

    @comparators.dispatch_for("schema")
    def try_write(autogen_context: AutogenContext, upgrade_ops: Any, schemas: Any) -> None:
        conn = autogen_context.connection
        assert conn is not None
        seen.append(conn.exec_driver_sql("PRAGMA query_only").scalar())

    try:
        with sqlite_engine.connect() as conn:
            compare_metadata(MigrationContext.configure(conn), _after())
    finally:
        _unregister(try_write)
    assert seen == [1]


def _unregister(fn: Any) -> None:
    for entries in comparators._registry.values():
        entries[:] = [e for e in entries if e[0] is not fn]


def test_produce_migrations_downgrade_is_reverse(drifted: Engine) -> None:
    with drifted.connect() as conn:
        script = produce_migrations(MigrationContext.configure(conn), _after())
    assert script.upgrade_ops is not None and script.downgrade_ops is not None
    up = [type(op).__name__ for op in script.upgrade_ops.ops]
    down = [type(op).__name__ for op in script.downgrade_ops.ops]
    assert up[:2] == ["CreateTableOp", "DropTableOp"]
    assert down[-2:] == ["CreateTableOp", "DropTableOp"]
    assert len(up) == len(down)


def test_compare_reflected_needs_no_connection(drifted: Engine) -> None:
    with drifted.connect() as conn:
        reflected = reflect_schema(conn)
        dialect = conn.dialect
        expected = compare_metadata(MigrationContext.configure(conn), _after())
    upgrade = compare_reflected(reflected, _after(), dialect=dialect, opts={})
    assert len(upgrade.as_diffs()) == len(expected)


def test_include_name_and_include_object(drifted: Engine) -> None:
    names: list[tuple[str | None, str]] = []
    objects: list[tuple[str, bool]] = []

    def include_name(name: str | None, type_: str, parent: dict[str, Any]) -> bool:
        names.append((name, type_))
        return not (type_ == "table" and name == "legacy")

    def include_object(obj: Any, name: Any, type_: str, reflected: bool, compare_to: Any) -> bool:
        objects.append((type_, reflected))
        return not (type_ == "column" and name == "fax")

    opts = {"include_name": include_name, "include_object": include_object}
    with drifted.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts=opts), _after())
    flat = [d[0] if isinstance(d, tuple) else d[0][0] for d in diffs]
    assert "remove_table" not in flat
    assert "remove_column" not in flat
    assert ("legacy", "table") in names and ("users", "table") in names
    assert ("column", True) in objects and ("table", False) in objects


def test_compare_type_callable(drifted: Engine) -> None:
    calls: list[str] = []

    def never(context: Any, inspected: Any, metadata: Any, itype: Any, mtype: Any) -> bool:
        calls.append(metadata.name)
        assert isinstance(inspected, sa.Column)
        return False

    def defer(*args: Any) -> None:
        return None

    with drifted.connect() as conn:
        d1 = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": never}), _after()
        )
        d2 = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": defer}), _after()
        )
    kinds1 = [x[0] for d in d1 if isinstance(d, list) for x in d]
    kinds2 = [x[0] for d in d2 if isinstance(d, list) for x in d]
    assert "modify_type" not in kinds1 and "email" in calls
    assert "modify_type" in kinds2  # None falls back to the built-in comparison


def test_plugin_order_relative_to_builtins(drifted: Engine) -> None:
    """Plugins at MEDIUM run before the built-ins of their target; FIRST/LAST bracket them."""
    order: list[str] = []

    def record(tag: str) -> Any:
        def fn(
            autogen_context: Any,
            modify_ops: ops.ModifyTableOps,
            schema: Any,
            tname: str,
            conn_table: Any,
            metadata_table: Any,
        ) -> PriorityDispatchResult:
            if tname == "users" and conn_table is not None and metadata_table is not None:
                order.append(f"{tag}:{len(modify_ops.ops)}")
                assert isinstance(conn_table, sa.Table)
            return PriorityDispatchResult.CONTINUE

        return fn

    first = comparators.dispatch_for("table", priority=DispatchPriority.FIRST)(record("first"))
    medium = comparators.dispatch_for("table")(record("medium"))
    last = comparators.dispatch_for("table", priority=DispatchPriority.LAST)(record("last"))
    try:
        with drifted.connect() as conn:
            compare_metadata(MigrationContext.configure(conn), _after())
    finally:
        for fn in (first, medium, last):
            _unregister(fn)
    # The ops already queued when each runs: added + altered columns (2) before any
    # table-level comparator; nothing more is added for 'users' by the built-ins.
    assert [o.split(":")[0] for o in order] == ["first", "medium", "last"]


def test_custom_schema_comparator_adds_ops(drifted: Engine) -> None:
    @comparators.dispatch_for("schema")
    def add_sql(autogen_context: Any, upgrade_ops: ops.UpgradeOps, schemas: Any) -> None:
        upgrade_ops.ops.append(ops.CreateIndexOp("ix_plugin", "users", ["email"]))

    try:
        with drifted.connect() as conn:
            script = produce_migrations(MigrationContext.configure(conn), _after())
    finally:
        _unregister(add_sql)
    assert script.upgrade_ops is not None
    assert any(isinstance(op, ops.CreateIndexOp) for op in script.upgrade_ops.ops)
    assert script.downgrade_ops is not None
    assert any(isinstance(op, ops.DropIndexOp) for op in script.downgrade_ops.ops)


def test_migration_context_without_connection() -> None:
    ctx = MigrationContext.configure(dialect_name="postgresql", opts={"compare_type": False})
    assert ctx.dialect.name == "postgresql"
    assert ctx.opts["compare_type"] is False
    assert ctx.get_current_heads() == ()
