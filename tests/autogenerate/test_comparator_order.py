"""Where plugin comparators run relative to the built-ins (README, "Plugins").

For one target: priority FIRST → HIGH → MEDIUM → LOW → LAST; within a priority the
dialect's qualifier before ``default``; within those, plugins before built-ins. The
built-ins of "table" sit at MEDIUM; of "column", the user's ``compare_type`` callable sits
at FIRST, nullability at MEDIUM and the dialect's type comparison at LAST. Added and
altered column ops are queued before any "table" comparator runs; dropped columns after.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schema_lsp.autogenerate import comparators, compare_metadata
from schema_lsp.autogenerate.dispatch import DispatchPriority, PriorityDispatchResult
from schema_lsp.runtime.migration import MigrationContext

FIRST, MEDIUM, LAST = DispatchPriority.FIRST, DispatchPriority.MEDIUM, DispatchPriority.LAST


def _models(after: bool) -> sa.MetaData:
    md = sa.MetaData()
    sa.Table(
        "users",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(255 if after else 100), nullable=not after),
        *([sa.Column("verified", sa.Boolean)] if after else [sa.Column("fax", sa.String(20))]),
        sa.Index("ix_users_new" if after else "ix_users_old", "email"),
    )
    return md


@pytest.fixture
def drifted(engine: Engine) -> Engine:
    with engine.begin() as conn:
        _models(after=False).create_all(conn)
    return engine


@contextmanager
def _registered(*plugins: tuple[str, Any, dict[str, Any]]) -> Iterator[None]:
    """Register (target, fn, dispatch_for keywords) plugins; unregister them afterwards."""
    fns = [comparators.dispatch_for(target, **kw)(fn) for target, fn, kw in plugins]
    try:
        yield
    finally:
        for entries in comparators._registry.values():
            entries[:] = [e for e in entries if e[0] not in fns]


def _compare(engine: Engine, opts: dict[str, Any] | None = None) -> list[Any]:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts=opts or {}), _models(True))


def test_table_plugins_see_column_ops_and_only_last_sees_builtin_table_ops(
    drifted: Engine,
) -> None:
    seen: list[tuple[str, list[str]]] = []

    def table_plugin(tag: str) -> Any:
        def fn(ac: Any, modify_ops: Any, schema: Any, tname: str, conn_t: Any, meta_t: Any) -> None:
            if tname == "users":
                seen.append((tag, [type(op).__name__ for op in modify_ops.ops]))

        return fn

    dialect = drifted.dialect.name
    other = "sqlite" if dialect != "sqlite" else "postgresql"
    with _registered(
        ("table", table_plugin("last-default"), {"priority": LAST}),
        ("table", table_plugin("medium-default"), {}),
        ("table", table_plugin("medium-other-dialect"), {"qualifier": other}),
        ("table", table_plugin("medium-dialect"), {"qualifier": dialect}),
        ("table", table_plugin("last-dialect"), {"priority": LAST, "qualifier": dialect}),
        ("table", table_plugin("first-default"), {"priority": FIRST}),
    ):
        diffs = _compare(drifted)
    columns = ["AddColumnOp", "AlterColumnOp"]
    assert [tag for tag, _ in seen] == [
        "first-default",
        "medium-dialect",
        "medium-default",
        "last-dialect",
        "last-default",
    ]
    # FIRST and MEDIUM plugins run before the built-in index/key/comment comparators ...
    for tag, ops_seen in seen[:3]:
        assert ops_seen == columns, tag
    # ... LAST ones after them; the dropped column is queued after every table comparator.
    for tag, ops_seen in seen[3:]:
        assert ops_seen[:2] == columns, tag
        assert sorted(ops_seen[2:]) == ["CreateIndexOp", "DropIndexOp"], tag
    assert any(d[0] == "remove_column" for d in diffs)


def test_column_plugins_relative_to_type_and_nullable_builtins(drifted: Engine) -> None:
    seen: list[tuple[str, bool, Any]] = []

    def column_plugin(tag: str) -> Any:
        def fn(ac: Any, alter: Any, schema: Any, tname: str, cname: str, *cols: Any) -> None:
            if cname == "email":
                seen.append((tag, alter.modify_type is not None, alter.modify_nullable))

        return fn

    dialect = drifted.dialect.name
    plugins = (
        ("column", column_plugin("last-default"), {"priority": LAST}),
        ("column", column_plugin("medium-default"), {}),
        ("column", column_plugin("last-dialect"), {"priority": LAST, "qualifier": dialect}),
        ("column", column_plugin("first-default"), {"priority": FIRST}),
    )
    with _registered(*plugins):
        diffs = _compare(drifted)
    # (tag, modify_type already set, modify_nullable already set)
    assert seen == [
        ("first-default", False, None),
        ("medium-default", False, None),  # before the built-in nullable comparison
        ("last-dialect", False, False),  # after it, but before the dialect type comparison
        ("last-default", False, False),
    ]
    (email,) = [d for d in diffs if isinstance(d, list)]
    assert [d[0] for d in email] == ["modify_type", "modify_nullable"]

    # A compare_type callable decides at FIRST (after FIRST plugins): LAST plugins see it.
    seen.clear()
    with _registered(*plugins):
        _compare(drifted, {"compare_type": lambda *args: args[2].name == "email"})
    assert seen == [
        ("first-default", False, None),
        ("medium-default", True, None),
        ("last-dialect", True, False),
        ("last-default", True, False),
    ]


def test_plugin_stop_skips_the_builtins_of_its_subgroup(drifted: Engine) -> None:
    def stop(*args: Any) -> PriorityDispatchResult:
        return PriorityDispatchResult.STOP

    with _registered(("column", stop, {"subgroup": "types"})):
        no_types = _compare(drifted)
    with _registered(("table", stop, {"subgroup": "indexes"})):
        no_indexes = _compare(drifted)
    kinds = [d[0] for d in _compare(drifted) if isinstance(d, tuple)]
    assert "add_index" in kinds and "remove_index" in kinds
    email = [d for d in no_types if isinstance(d, list)]
    assert [[x[0] for x in d] for d in email] == [["modify_nullable"]]
    assert not any(isinstance(d, tuple) and d[0].endswith("_index") for d in no_indexes)
