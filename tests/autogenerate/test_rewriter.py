"""Rewriter: replace, drop, expand and chain rewrites over a revision's op tree,
checked against Alembic's Rewriter applied to Alembic's ops."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import api as alembic_api
from alembic.autogenerate.rewriter import Rewriter as AlembicRewriter
from alembic.operations import ops as alembic_ops

from schema_lsp.autogenerate.render import render_python_code
from schema_lsp.autogenerate.rewriter import Rewriter
from schema_lsp.operations import ops as our_ops


def _script(o: ModuleType) -> Any:
    table = sa.Table(
        "item",
        sa.MetaData(),
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
    )
    upgrade = o.UpgradeOps(
        [
            o.CreateTableOp.from_table(table),
            o.ModifyTableOps(
                "other",
                [
                    o.AddColumnOp("other", sa.Column("flag", sa.Boolean(), nullable=False)),
                    o.AddColumnOp("other", sa.Column("note", sa.Text(), nullable=True)),
                    o.AlterColumnOp("other", "x", existing_type=sa.Integer(),
                                    modify_nullable=True, existing_nullable=False),
                ],
            ),
        ]
    )
    return o.MigrationScript("rev", upgrade, upgrade.reverse())


def _add_rules(writer: Any, o: ModuleType) -> None:
    @writer.rewrites(o.AddColumnOp)
    def add_column(context: Any, revision: Any, op: Any) -> Any:
        if op.column.name == "note":
            return []  # drop
        if not op.column.nullable:
            # expand: add nullable, then tighten
            op.column.nullable = True
            return [
                op,
                o.AlterColumnOp(op.table_name, op.column.name, schema=op.schema,
                                modify_nullable=False, existing_type=op.column.type),
            ]
        return op

    @writer.rewrites(o.CreateTableOp)
    def create_table(context: Any, revision: Any, op: Any) -> Any:
        # replace with a renamed table
        return o.CreateTableOp("renamed_" + op.table_name, op.columns, schema=op.schema)


def _render(script: Any, renderer: Any) -> list[str]:
    return [renderer(script.upgrade_ops), renderer(script.downgrade_ops)]


def test_rewrites_match_alembic() -> None:
    ours, theirs = _script(our_ops), _script(alembic_ops)
    writer, their_writer = Rewriter(), AlembicRewriter()
    _add_rules(writer, our_ops)
    _add_rules(their_writer, alembic_ops)

    writer(None, ("head",), [ours])
    their_writer(None, ("head",), [theirs])

    assert _render(ours, render_python_code) == _render(theirs, alembic_api.render_python_code)
    text = render_python_code(ours.upgrade_ops)
    assert "op.create_table('renamed_item'" in text
    assert "'note'" not in text
    assert "sa.Column('flag', sa.Boolean(), nullable=True)" in text
    assert "op.alter_column('other', 'flag'" in text


def test_rewritten_ops_are_not_rewritten_again() -> None:
    writer = Rewriter()
    calls: list[str] = []

    @writer.rewrites(our_ops.AddColumnOp)
    def add_column(context: Any, revision: Any, op: Any) -> Any:
        calls.append(op.column.name)
        return op

    script = _script(our_ops)
    writer(None, None, [script])
    writer(None, None, [script])
    assert calls == ["flag", "note"]
    assert all(writer in op._mutations for op in script.upgrade_ops.ops[1].ops[:2])


def test_chain_runs_in_order_and_accepts_plain_functions() -> None:
    first, second = Rewriter(), Rewriter()
    seen: list[str] = []

    @first.rewrites(our_ops.CreateTableOp)
    def rename(context: Any, revision: Any, op: Any) -> Any:
        seen.append("first")
        return our_ops.CreateTableOp("a_" + op.table_name, op.columns)

    @second.rewrites(our_ops.CreateTableOp)
    def rename_again(context: Any, revision: Any, op: Any) -> Any:
        seen.append("second")
        return our_ops.CreateTableOp("b_" + op.table_name, op.columns)

    def plain(context: Any, revision: Any, directives: list[Any]) -> None:
        seen.append("plain")
        directives[0].message = "rewritten"

    chained = first.chain(second).chain(plain)
    script = _script(our_ops)
    chained(None, None, [script])
    assert seen == ["first", "second", "plain"]
    assert script.upgrade_ops.ops[0].table_name == "b_a_item"
    assert script.message == "rewritten"
    # chaining builds new rewriters and leaves the originals alone
    assert first._chained == ()


def test_script_level_rewrite_and_multiple_upgrade_ops() -> None:
    writer = Rewriter()

    @writer.rewrites(our_ops.ExecuteSQLOp)
    def upper(context: Any, revision: Any, op: Any) -> Any:
        return our_ops.ExecuteSQLOp(str(op.sqltext).upper())

    script = our_ops.MigrationScript(
        "r",
        [our_ops.UpgradeOps([our_ops.ExecuteSQLOp("select 1")], upgrade_token="a"),
         our_ops.UpgradeOps([our_ops.ExecuteSQLOp("select 2")], upgrade_token="b")],
        [our_ops.DowngradeOps([], downgrade_token="a_down"),
         our_ops.DowngradeOps([], downgrade_token="b_down")],
    )
    writer(None, None, [script])
    assert [u.ops[0].sqltext for u in script.upgrade_ops_list] == ["SELECT 1", "SELECT 2"]
    assert [u.upgrade_token for u in script.upgrade_ops_list] == ["a", "b"]


def test_upgrade_ops_must_stay_single() -> None:
    writer = Rewriter()

    @writer.rewrites(our_ops.UpgradeOps)
    def split(context: Any, revision: Any, op: Any) -> Any:
        return [op, our_ops.UpgradeOps()]

    with pytest.raises(ValueError, match="single object for UpgradeOps"):
        writer(None, None, [_script(our_ops)])


def test_duplicate_registration_is_refused() -> None:
    writer = Rewriter()
    writer.rewrites(our_ops.AddColumnOp)(lambda c, r, op: op)
    with pytest.raises(ValueError):
        writer.rewrites(our_ops.AddColumnOp)(lambda c, r, op: op)
