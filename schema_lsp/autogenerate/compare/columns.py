"""Column nullability.

Identity columns are never reported (they are NOT NULL by definition), nor computed columns
whose model leaves nullability unset, as in Alembic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Computed, Identity
from sqlalchemy.sql.schema import NULL_UNSPECIFIED

from ...operations import ops
from ..dispatch import Deferred, PriorityDispatchResult, builtin
from .registry import builtin_comparators

if TYPE_CHECKING:
    from ..api import AutogenContext


def record_of(conn_col: Any) -> Any:
    """The reflected column dict behind a ``conn_col`` argument."""
    if isinstance(conn_col, Deferred):
        return conn_col.record
    raise TypeError(f"expected a reflected column, got {conn_col!r}")


@builtin_comparators.dispatch_for("column", subgroup="nullable")
@builtin
def compare_nullable(
    autogen_context: AutogenContext,
    alter_column_op: ops.AlterColumnOp,
    schema: str | None,
    tname: str,
    cname: str,
    conn_col: Any,
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    record = record_of(conn_col)
    conn_nullable = bool(record["nullable"])
    alter_column_op.existing_nullable = conn_nullable
    if conn_nullable is metadata_col.nullable:
        return PriorityDispatchResult.CONTINUE
    identity = isinstance(metadata_col.server_default, Identity) or record.get("identity")
    computed = isinstance(metadata_col.server_default, Computed) or record.get("computed")
    if identity or (computed and _nullability_unset(metadata_col)):
        return PriorityDispatchResult.CONTINUE
    alter_column_op.modify_nullable = metadata_col.nullable
    return PriorityDispatchResult.STOP


def _nullability_unset(col: Column[Any]) -> bool:
    """The model never said ``nullable=``: a computed column's nullability is then the
    database's business (Alembic's rule)."""
    return getattr(col, "_user_defined_nullable", None) is NULL_UNSPECIFIED
