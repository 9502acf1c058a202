"""Custom ops: a CreateSequenceOp/DropSequenceOp pair with reverse() and
renderers, registered the way Alembic's documentation shows, rendered
identically by Alembic and by us."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import api as alembic_api
from alembic.autogenerate import render as alembic_render
from alembic.operations import ops as alembic_ops

from schema_lsp.autogenerate import render
from schema_lsp.autogenerate.api import AutogenContext
from schema_lsp.operations import ops as our_ops
from schema_lsp.runtime.migration import MigrationContext


def _sequence_ops(base: ModuleType, renderers: Any) -> tuple[type, type]:
    """Define the op pair on top of ``base``'s MigrateOperation and register
    renderers for them in ``renderers``."""

    class CreateSequenceOp(base.MigrateOperation):  # type: ignore[name-defined,misc]
        def __init__(self, sequence_name: str, schema: str | None = None, **kw: Any) -> None:
            self.sequence_name = sequence_name
            self.schema = schema
            self.kw = kw

        def reverse(self) -> Any:
            return DropSequenceOp(self.sequence_name, schema=self.schema)

        def to_diff_tuple(self) -> tuple[Any, ...]:
            return ("add_sequence", self.schema, self.sequence_name)

    class DropSequenceOp(base.MigrateOperation):  # type: ignore[name-defined,misc]
        def __init__(self, sequence_name: str, schema: str | None = None) -> None:
            self.sequence_name = sequence_name
            self.schema = schema

        def reverse(self) -> Any:
            return CreateSequenceOp(self.sequence_name, schema=self.schema)

        def to_diff_tuple(self) -> tuple[Any, ...]:
            return ("remove_sequence", self.schema, self.sequence_name)

    @renderers.dispatch_for(CreateSequenceOp)
    def render_create_sequence(autogen_context: Any, op: Any) -> str:
        return f"op.create_sequence({op.sequence_name!r}, **{{'schema': {op.schema!r}}})"

    @renderers.dispatch_for(DropSequenceOp)
    def render_drop_sequence(autogen_context: Any, op: Any) -> str:
        return f"op.drop_sequence({op.sequence_name!r}, **{{'schema': {op.schema!r}}})"

    return CreateSequenceOp, DropSequenceOp


OUR_CREATE, OUR_DROP = _sequence_ops(our_ops, render.renderers)
THEIR_CREATE, THEIR_DROP = _sequence_ops(alembic_ops, alembic_render.renderers)


def _upgrade(o: ModuleType, create: type, drop: type) -> Any:
    return o.UpgradeOps(
        [
            create("order_seq", schema="app"),
            o.ModifyTableOps("t", [drop("old_seq")]),
            o.AddColumnOp("t", sa.Column("n", sa.Integer(), server_default=sa.text(
                "nextval('order_seq')"))),
        ]
    )


def test_custom_ops_render_like_alembic() -> None:
    ours = _upgrade(our_ops, OUR_CREATE, OUR_DROP)
    theirs = _upgrade(alembic_ops, THEIR_CREATE, THEIR_DROP)
    for batch in (False, True):
        assert render.render_python_code(ours, render_as_batch=batch) == (
            alembic_api.render_python_code(theirs, render_as_batch=batch)
        )
        assert render.render_python_code(ours.reverse(), render_as_batch=batch) == (
            alembic_api.render_python_code(theirs.reverse(), render_as_batch=batch)
        )


def test_custom_ops_reverse_and_diffs() -> None:
    upgrade = _upgrade(our_ops, OUR_CREATE, OUR_DROP)
    text = render.render_python_code(upgrade)
    assert "op.create_sequence('order_seq', **{'schema': 'app'})" in text
    down = render.render_python_code(upgrade.reverse())
    assert "op.drop_sequence('order_seq', **{'schema': 'app'})" in down
    assert "op.create_sequence('old_seq', **{'schema': None})" in down
    assert upgrade.as_diffs()[0] == ("add_sequence", "app", "order_seq")
    assert upgrade.reverse().reverse().as_diffs() == upgrade.as_diffs()


def test_render_op_text_for_one_op() -> None:
    autogen = AutogenContext(MigrationContext.configure(dialect_name="postgresql"), opts={},
                             autogenerate=False)
    assert render.render_op_text(autogen, OUR_DROP("s")) == (
        "op.drop_sequence('s', **{'schema': None})"
    )
    assert render.render_op(autogen, our_ops.ModifyTableOps("t", [])) == []


def test_unregistered_op_is_an_error() -> None:
    class Unknown(our_ops.MigrateOperation):
        pass

    autogen = AutogenContext(MigrationContext.configure(dialect_name="sqlite"), opts={},
                             autogenerate=False)
    try:
        render.render_op_text(autogen, Unknown())
    except ValueError as err:
        assert "Unknown" in str(err)
    else:
        raise AssertionError("rendering an op without a renderer must fail")
