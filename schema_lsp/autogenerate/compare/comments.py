"""Table and column comments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Column, Table

from ...operations import ops
from ..dispatch import PriorityDispatchResult, builtin
from .columns import record_of
from .registry import builtin_comparators
from .tables import conn_table_record

if TYPE_CHECKING:
    from ..api import AutogenContext


def normalize_comment(comment: str | None) -> str | None:
    """Empty and missing comments are the same (MySQL reports '' for none)."""
    return comment or None


@builtin_comparators.dispatch_for("column", subgroup="comments")
@builtin
def compare_column_comment(
    autogen_context: AutogenContext,
    alter_column_op: ops.AlterColumnOp,
    schema: str | None,
    tname: str,
    cname: str,
    conn_col: Any,
    metadata_col: Column[Any],
) -> PriorityDispatchResult:
    if not autogen_context.dialect.supports_comments:
        return PriorityDispatchResult.CONTINUE
    meta = normalize_comment(metadata_col.comment)
    conn = normalize_comment(record_of(conn_col).get("comment"))
    if conn is None and meta is None:
        return PriorityDispatchResult.CONTINUE
    alter_column_op.existing_comment = conn
    if conn != meta:
        alter_column_op.modify_comment = meta
        return PriorityDispatchResult.STOP
    return PriorityDispatchResult.CONTINUE


@builtin_comparators.dispatch_for("table", subgroup="comments")
@builtin
def compare_table_comment(
    autogen_context: AutogenContext,
    modify_table_ops: ops.ModifyTableOps,
    schema: str | None,
    tname: str,
    conn_table: Any,
    metadata_table: Table | None,
) -> PriorityDispatchResult:
    if not autogen_context.dialect.supports_comments:
        return PriorityDispatchResult.CONTINUE
    record = conn_table_record(conn_table)
    if record is None or metadata_table is None:
        return PriorityDispatchResult.CONTINUE
    conn = normalize_comment(record.comment)
    meta = normalize_comment(metadata_table.comment)
    if conn is None and meta is None:
        return PriorityDispatchResult.CONTINUE
    if meta is None:
        modify_table_ops.ops.append(
            ops.DropTableCommentOp(tname, existing_comment=conn, schema=schema)
        )
        return PriorityDispatchResult.STOP
    if meta != conn:
        modify_table_ops.ops.append(
            ops.CreateTableCommentOp(tname, meta, existing_comment=conn, schema=schema)
        )
        return PriorityDispatchResult.STOP
    return PriorityDispatchResult.CONTINUE
