"""Public entry points of the comparison engine, shaped like ``alembic.autogenerate``.

``compare_metadata`` and ``produce_migrations`` read the database once (batched, read-only)
and compare in memory. ``compare_reflected`` compares against an already reflected schema,
which is how the language server re-checks after an edit without touching the database.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import MetaData, Table
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.engine.reflection import Inspector

from ..operations import ops
from ..reflect import ReflectedSchema, read_only, reflect_schema
from .compare import comparators
from .dispatch import PriorityDispatcher

if TYPE_CHECKING:
    from ..runtime.migration import MigrationContext

__all__ = [
    "AutogenContext",
    "compare_metadata",
    "compare_reflected",
    "produce_migrations",
]


def compare_metadata(context: MigrationContext, metadata: MetaData | Sequence[MetaData]) -> Any:
    """Compare the database of ``context`` with ``metadata``; Alembic's list of diffs."""
    script = produce_migrations(context, metadata)
    assert script.upgrade_ops is not None
    return script.upgrade_ops.as_diffs()


def produce_migrations(
    context: MigrationContext, metadata: MetaData | Sequence[MetaData]
) -> ops.MigrationScript:
    """A ``MigrationScript`` whose upgrade makes the database match ``metadata``; the
    downgrade is the upgrade reversed."""
    autogen_context = AutogenContext(context, metadata=metadata)
    script = ops.MigrationScript(
        rev_id=None, upgrade_ops=ops.UpgradeOps([]), downgrade_ops=ops.DowngradeOps([])
    )
    populate_migration_script(autogen_context, script)
    return script


def populate_migration_script(autogen_context: AutogenContext, script: ops.MigrationScript) -> None:
    """Fill the last upgrade/downgrade pair of ``script`` from a comparison."""
    upgrade_ops = script.upgrade_ops_list[-1]
    downgrade_ops = script.downgrade_ops_list[-1]
    produce_net_changes(autogen_context, upgrade_ops)
    upgrade_ops.reverse_into(downgrade_ops)


def produce_net_changes(autogen_context: AutogenContext, upgrade_ops: ops.UpgradeOps) -> None:
    """Run every comparator; with a connection, all of it inside one read-only transaction."""
    run = autogen_context.comparators.dispatch(
        "autogenerate", qualifier=autogen_context.dialect.name
    )
    if autogen_context.connection is None:
        run(autogen_context, upgrade_ops)
        return
    with read_only(autogen_context.connection):
        run(autogen_context, upgrade_ops)


def compare_reflected(
    reflected: ReflectedSchema,
    metadata: MetaData | Sequence[MetaData],
    *,
    dialect: Dialect,
    opts: dict[str, Any] | None = None,
) -> ops.UpgradeOps:
    """Compare ``metadata`` with a schema reflected earlier; no database access.

    Plugins that query the database themselves get no connection here.
    """
    from ..runtime.migration import MigrationContext

    context = MigrationContext(dialect, None, opts or {})
    autogen_context = AutogenContext(context, metadata=metadata)
    autogen_context.reflected = reflected
    upgrade_ops = ops.UpgradeOps([])
    produce_net_changes(autogen_context, upgrade_ops)
    return upgrade_ops


class AutogenContext:
    """Configuration and state of one comparison or rendering (Alembic's attributes)."""

    metadata: MetaData | Sequence[MetaData] | None
    connection: Connection | None
    dialect: Dialect
    imports: set[str]
    migration_context: MigrationContext
    comparators: PriorityDispatcher

    def __init__(
        self,
        migration_context: MigrationContext,
        metadata: MetaData | Sequence[MetaData] | None = None,
        opts: dict[str, Any] | None = None,
        autogenerate: bool = True,
    ) -> None:
        if opts is None:
            opts = migration_context.opts
        self.opts: dict[str, Any] = opts
        self.metadata = opts.get("target_metadata") if metadata is None else metadata
        if autogenerate:
            # Plugins registered on the global ``comparators`` run before the built-in
            # comparators of the same priority, as in Alembic 1.18+.
            self.comparators = comparators.branch()
            from .compare import builtin_comparators

            self.comparators.populate_with(builtin_comparators)
        self._object_filters = [f for f in [opts.get("include_object")] if f]
        self._name_filters = [f for f in [opts.get("include_name")] if f]
        self.migration_context = migration_context
        self.connection = migration_context.bind
        self.dialect = migration_context.dialect
        self.imports = set()
        self._has_batch = False
        self.reflected: ReflectedSchema | None = None

    @cached_property
    def inspector(self) -> Inspector:
        from sqlalchemy import inspect

        if self.connection is None:
            raise TypeError(
                "can't return inspector as this AutogenContext has no database connection"
            )
        return inspect(self.connection)

    @contextmanager
    def _within_batch(self) -> Iterator[None]:
        self._has_batch = True
        yield
        self._has_batch = False

    def run_name_filters(self, name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
        """Apply ``include_name`` to a name read from the database."""
        if "schema_name" in parent_names:
            table_name = name if type_ == "table" else parent_names.get("table_name")
            if table_name:
                schema_name = parent_names["schema_name"]
                parent_names["schema_qualified_table_name"] = (
                    f"{schema_name}.{table_name}" if schema_name else table_name
                )
        return all(fn(name, type_, parent_names) for fn in self._name_filters)

    def run_object_filters(
        self, object_: Any, name: Any, type_: str, reflected: bool, compare_to: Any
    ) -> bool:
        """Apply ``include_object`` to a model or reflected object."""
        return all(fn(object_, name, type_, reflected, compare_to) for fn in self._object_filters)

    run_filters = run_object_filters

    @property
    def has_object_filters(self) -> bool:
        return bool(self._object_filters)

    @property
    def has_name_filters(self) -> bool:
        return bool(self._name_filters)

    @cached_property
    def sorted_tables(self) -> list[Table]:
        """Tables of all target MetaData, each in foreign-key order."""
        result: list[Table] = []
        for m in self._metadatas:
            result.extend(m.sorted_tables)
        return result

    @cached_property
    def table_key_to_table(self) -> dict[str, Table]:
        result: dict[str, Table] = {}
        for m in self._metadatas:
            intersect = set(result).intersection(m.tables)
            if intersect:
                raise ValueError(
                    "Duplicate table keys across multiple MetaData objects: "
                    + ", ".join(f'"{k}"' for k in sorted(intersect))
                )
            result.update(m.tables)
        return result

    @property
    def _metadatas(self) -> list[MetaData]:
        if self.metadata is None:
            return []
        if isinstance(self.metadata, MetaData):
            return [self.metadata]
        return list(self.metadata)

    def get_reflected(self, schemas: Sequence[str | None]) -> ReflectedSchema:
        """The database side, read once per context (or given by ``compare_reflected``)."""
        if self.reflected is None:
            if self.connection is None:
                raise TypeError("this AutogenContext has no database connection")
            version = (
                self.migration_context.version_table_schema,
                self.migration_context.version_table,
            )
            self.reflected = reflect_schema(
                self.connection,
                schemas=schemas,
                include_table=lambda name, schema: self.run_name_filters(
                    name, "table", {"schema_name": schema}
                ),
                exclude=[version],
            )
        return self.reflected
