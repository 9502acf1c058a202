"""Custom ops: a CreateSequenceOp/DropSequenceOp pair with reverse() and
renderers, registered the way Alembic's documentation shows, rendered
identically by Alembic and by us; end to end on PostgreSQL, a schema-level
comparator finds the sequences, the rendered upgrade runs under Alembic's
runtime with the ops registered as Alembic operation plugins, and a second
comparison finds no drift."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import api as alembic_api
from alembic.autogenerate import render as alembic_render
from alembic.migration import MigrationContext as AlembicMigrationContext
from alembic.operations import Operations
from alembic.operations import ops as alembic_ops
from sqlalchemy.engine import Engine

from schema_lsp.autogenerate import comparators, render
from schema_lsp.autogenerate.api import AutogenContext, produce_migrations
from schema_lsp.operations import ops as our_ops
from schema_lsp.runtime.migration import MigrationContext


def _sequence_ops(base: ModuleType, renderers: Any) -> tuple[type, type]:
    """Define the op pair on top of ``base``'s MigrateOperation and register
    renderers for them in ``renderers``."""

    class CreateSequenceOp(base.MigrateOperation):  # type: ignore[name-defined]
        def __init__(self, sequence_name: str, schema: str | None = None, **kw: Any) -> None:
            self.sequence_name = sequence_name
            self.schema = schema
            self.kw = kw

        def reverse(self) -> Any:
            return DropSequenceOp(self.sequence_name, schema=self.schema)

        def to_diff_tuple(self) -> tuple[Any, ...]:
            return ("add_sequence", self.schema, self.sequence_name)

    class DropSequenceOp(base.MigrateOperation):  # type: ignore[name-defined]
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
            o.AddColumnOp(
                "t", sa.Column("n", sa.Integer(), server_default=sa.text("nextval('order_seq')"))
            ),
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
    autogen = AutogenContext(
        MigrationContext.configure(dialect_name="postgresql"), opts={}, autogenerate=False
    )
    assert render.render_op_text(autogen, OUR_DROP("s")) == (
        "op.drop_sequence('s', **{'schema': None})"
    )
    assert render.render_op(autogen, our_ops.ModifyTableOps("t", [])) == []


def test_unregistered_op_is_an_error() -> None:
    class Unknown(our_ops.MigrateOperation):
        pass

    autogen = AutogenContext(
        MigrationContext.configure(dialect_name="sqlite"), opts={}, autogenerate=False
    )
    try:
        render.render_op_text(autogen, Unknown())
    except ValueError as err:
        assert "Unknown" in str(err)
    else:
        raise AssertionError("rendering an op without a renderer must fail")


# --- end to end on PostgreSQL -------------------------------------------------------


def _register_comparator(create: type, drop: type) -> None:
    """The comparator of Alembic's "Autogenerating Custom Operation Directives" recipe."""

    @comparators.dispatch_for("schema")
    def compare_sequences(
        autogen_context: AutogenContext, upgrade_ops: Any, schemas: set[str | None]
    ) -> None:
        assert autogen_context.connection is not None
        in_database: set[tuple[str | None, str]] = set()
        for schema in schemas:
            rows = autogen_context.connection.execute(
                sa.text(
                    "SELECT sequence_name FROM information_schema.sequences "
                    "WHERE sequence_schema = :schema"
                ),
                {
                    "schema": autogen_context.dialect.default_schema_name
                    if schema is None
                    else schema
                },
            )
            in_database.update((schema, name) for (name,) in rows)
        assert isinstance(autogen_context.metadata, sa.MetaData)
        in_models = autogen_context.metadata.info.setdefault("sequences", set())
        for schema, name in sorted(in_models - in_database, key=str):
            upgrade_ops.ops.append(create(name, schema=schema))
        for schema, name in sorted(in_database - in_models, key=str):
            upgrade_ops.ops.append(drop(name, schema=schema))


def _register_alembic_operations() -> None:
    """``op.create_sequence`` / ``op.drop_sequence`` as Alembic operation plugins."""

    @Operations.register_operation("create_sequence")
    class CreateSequenceOp(alembic_ops.MigrateOperation):
        def __init__(self, sequence_name: str, schema: str | None = None) -> None:
            self.sequence_name = sequence_name
            self.schema = schema

        @classmethod
        def create_sequence(cls, operations: Operations, sequence_name: str, **kw: Any) -> Any:
            return operations.invoke(cls(sequence_name, **kw))

    @Operations.register_operation("drop_sequence")
    class DropSequenceOp(CreateSequenceOp):
        @classmethod
        def drop_sequence(cls, operations: Operations, sequence_name: str, **kw: Any) -> Any:
            return operations.invoke(cls(sequence_name, **kw))

    def qualified(op: CreateSequenceOp) -> str:
        return f'"{op.schema}"."{op.sequence_name}"' if op.schema else f'"{op.sequence_name}"'

    @Operations.implementation_for(CreateSequenceOp)
    def create_sequence(operations: Operations, op: CreateSequenceOp) -> None:
        operations.execute(f"CREATE SEQUENCE {qualified(op)}")

    @Operations.implementation_for(DropSequenceOp)
    def drop_sequence(operations: Operations, op: DropSequenceOp) -> None:
        operations.execute(f"DROP SEQUENCE {qualified(op)}")


@pytest.fixture
def sequence_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Register the comparator and the Alembic operations; the monkeypatch undoes every
    registration afterwards, so no other test sees them."""
    monkeypatch.setattr(comparators, "_registry", comparators.branch()._registry)
    monkeypatch.setattr(Operations, "_to_impl", Operations._to_impl.branch())
    for name in ("create_sequence", "drop_sequence"):
        monkeypatch.setattr(Operations, name, None, raising=False)
    _register_comparator(OUR_CREATE, OUR_DROP)
    _register_alembic_operations()
    yield
    # register_operation also lists the names for the ``alembic.op`` proxy module, which
    # every later migration installs: take them out again.
    for attr_names, modules in Operations._setups.values():
        for name in ("create_sequence", "drop_sequence"):
            if name in attr_names:
                attr_names.remove(name)
            for globals_, _locals in modules:
                globals_.pop(name, None)


def _execute(engine: Engine, code: str) -> None:
    """Run a rendered ``upgrade()``/``downgrade()`` body with Alembic's runtime."""
    body = "\n".join(line.removeprefix("    ") for line in code.splitlines())
    with engine.begin() as conn:
        op = Operations(AlembicMigrationContext.configure(conn))
        exec(compile(body, "<rendered migration>", "exec"), {"op": op, "sa": sa})


def _compare(engine: Engine, metadata: sa.MetaData) -> Any:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_schemas": True})
        return produce_migrations(context, metadata)


@pytest.mark.backends("postgresql")
def test_sequences_end_to_end(engine: Engine, schema_name: str, sequence_plugins: None) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE SEQUENCE stale_seq")
    metadata = sa.MetaData(info={"sequences": {(None, "order_seq"), (schema_name, "invoice_seq")}})

    script = _compare(engine, metadata)
    upgrade = render.render_python_code(script.upgrade_ops)
    downgrade = render.render_python_code(script.downgrade_ops)
    assert sorted(upgrade.splitlines()[1:-1]) == sorted(
        [
            "    op.create_sequence('order_seq', **{'schema': None})",
            f"    op.create_sequence('invoice_seq', **{{'schema': {schema_name!r}}})",
            "    op.drop_sequence('stale_seq', **{'schema': None})",
        ]
    )
    assert "op.drop_sequence('order_seq', **{'schema': None})" in downgrade
    assert f"op.drop_sequence('invoice_seq', **{{'schema': {schema_name!r}}})" in downgrade
    assert "op.create_sequence('stale_seq', **{'schema': None})" in downgrade

    _execute(engine, upgrade)
    assert _compare(engine, metadata).upgrade_ops.is_empty()

    _execute(engine, downgrade)
    again = _compare(engine, metadata).upgrade_ops.as_diffs()
    assert sorted(again, key=str) == sorted(script.upgrade_ops.as_diffs(), key=str)


def test_sequence_plugins_are_gone_after_the_test() -> None:
    """Runs after the end-to-end test in this module: its registrations were undone."""
    assert not hasattr(Operations, "create_sequence")
    assert all("create_sequence" not in names for names, _ in Operations._setups.values())
    assert all(fn.__name__ != "compare_sequences" for fn, _ in comparators.functions("schema"))
