"""Which schemas are compared (``include_schemas``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import inspect

from ...operations import ops
from ..dispatch import builtin
from .registry import builtin_comparators

if TYPE_CHECKING:
    from ..api import AutogenContext


@builtin_comparators.dispatch_for("autogenerate")
@builtin
def compare_schemas(autogen_context: AutogenContext, upgrade_ops: ops.UpgradeOps) -> None:
    include_schemas = autogen_context.opts.get("include_schemas", False)
    schemas: set[str | None] = {None}
    if include_schemas:
        if autogen_context.reflected is not None:
            names: set[str | None] = set(autogen_context.reflected.schemas)
        else:
            assert autogen_context.connection is not None
            names = set(inspect(autogen_context.connection).get_schema_names())
        default = autogen_context.dialect.default_schema_name
        names.discard("information_schema")
        names.discard(default)
        schemas = {*names, None}
    schemas = {s for s in schemas if autogen_context.run_name_filters(s, "schema", {})}
    autogen_context.comparators.dispatch("schema", qualifier=autogen_context.dialect.name)(
        autogen_context, upgrade_ops, schemas
    )
