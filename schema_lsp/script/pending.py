"""Migration-aware drift: which differences a not-yet-applied revision already covers.

A model change is often covered by a migration that exists but has not run. The pending
revisions (in the graph, not among the database's applied ones) are parsed statically, their
``op.*`` calls reduced to the same keys drift records use (kind, table, object name), and
each drift is classified: missing migration, covered by pending revision X, or changed by
hand in the database (the database has something no model and no migration has).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from .revisions import RevisionGraph, RevisionScript

#: Drift kinds that each op call covers, and which argument names the object.
_OP_KINDS: dict[str, tuple[str, ...]] = {
    "create_table": ("add_table",),
    "drop_table": ("remove_table",),
    "add_column": ("add_column",),
    "drop_column": ("remove_column",),
    "alter_column": ("modify_type", "modify_nullable", "modify_default", "modify_comment"),
    "create_index": ("add_index",),
    "drop_index": ("remove_index",),
    "create_unique_constraint": ("add_constraint",),
    "create_check_constraint": ("add_constraint",),
    "create_primary_key": ("add_constraint",),
    "create_foreign_key": ("add_fk",),
    "drop_constraint": ("remove_constraint", "remove_fk"),
    "create_table_comment": ("add_table_comment",),
    "drop_table_comment": ("remove_table_comment",),
}

MISSING = "missing_migration"
PENDING = "pending_revision"
BY_HAND = "changed_by_hand"


@dataclass(frozen=True)
class CoveredOp:
    """One op call of a revision file, reduced to what drift is matched on."""

    kinds: tuple[str, ...]
    table: str | None
    name: str | None
    revision: str
    path: Path
    line: int
    #: The op method called (``"add_column"``); None for a column listed in ``create_table``.
    method: str | None = None
    schema: str | None = None


@dataclass(frozen=True)
class Classification:
    category: str
    revision: str | None = None
    path: Path | None = None
    line: int | None = None


def _literal(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "f"
        and node.args
    ):
        return _literal(node.args[0])  # op.f('ix_name')
    return None


def _kw(call: ast.Call, name: str) -> ast.expr | None:
    for kw in call.keywords:
        if kw.arg == name:
            return kw.value
    return None


def _arg(call: ast.Call, index: int, name: str) -> ast.expr | None:
    if len(call.args) > index:
        return call.args[index]
    return _kw(call, name)


def ops_in_function(tree: ast.Module, function: str, revision: str, path: Path) -> list[CoveredOp]:
    """The op calls of ``function`` (``op.x(...)`` and ``batch_op.x(...)`` in batch blocks)."""
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == function), None)
    if fn is None:
        return []
    found: list[CoveredOp] = []

    def visit(nodes: Iterable[ast.stmt], batch_table: str | None, batch_schema: str | None) -> None:
        for node in nodes:
            if isinstance(node, ast.With):
                table, schema = batch_table, batch_schema
                for item in node.items:
                    call = item.context_expr
                    if (
                        isinstance(call, ast.Call)
                        and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "batch_alter_table"
                    ):
                        table = _literal(_arg(call, 0, "table_name"))
                        schema = _literal(_kw(call, "schema"))
                visit(node.body, table, schema)
                continue
            calls = [n for n in ast.walk(node) if isinstance(n, ast.Call)]
            for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset)):
                if not isinstance(call.func, ast.Attribute) or call.func.attr not in _OP_KINDS:
                    continue
                op = _covered(call, batch_table, batch_schema, revision, path)
                found.append(op)
                if call.func.attr == "create_table":
                    found.extend(_table_columns(call, op))

    visit(fn.body, None, None)
    return found


def _covered(
    call: ast.Call, batch_table: str | None, batch_schema: str | None, revision: str, path: Path
) -> CoveredOp:
    method = call.func.attr  # type: ignore[attr-defined]
    kinds = _OP_KINDS[method]
    table: str | None
    name: str | None = None
    offset = 0 if batch_table else 1
    if method in ("create_table", "drop_table"):
        table = _literal(_arg(call, 0, "table_name"))
    elif method in ("add_column",):
        table = batch_table or _literal(_arg(call, 0, "table_name"))
        column = _arg(call, offset, "column")
        if isinstance(column, ast.Call):
            name = _literal(column.args[0] if column.args else _kw(column, "name"))
    elif method in ("drop_column", "alter_column"):
        table = batch_table or _literal(_arg(call, 0, "table_name"))
        name = _literal(_arg(call, offset, "column_name"))
    elif method in ("create_index", "drop_index"):
        name = _literal(_arg(call, 0, "index_name"))
        table = batch_table or _literal(_arg(call, 1, "table_name"))
    elif method in ("create_table_comment", "drop_table_comment"):
        table = batch_table or _literal(_arg(call, 0, "table_name"))
    elif method == "create_foreign_key":
        name = _literal(_arg(call, 0, "constraint_name"))
        table = batch_table or _literal(_arg(call, 1, "source_table"))
    else:  # constraints: (name, table, ...)
        name = _literal(_arg(call, 0, "constraint_name"))
        table = batch_table or _literal(_arg(call, 1, "table_name"))
    schema = batch_schema if batch_table else _literal(_kw(call, "schema"))
    return CoveredOp(kinds, table, name, revision, path, call.lineno, method, schema)


def _table_columns(call: ast.Call, table_op: CoveredOp) -> list[CoveredOp]:
    """``op.create_table('t', sa.Column('a', ...))`` also adds column ``a``."""
    out = []
    for arg in call.args[1:]:
        if (
            isinstance(arg, ast.Call)
            and isinstance(arg.func, ast.Attribute)
            and arg.func.attr == "Column"
            and arg.args
        ):
            out.append(
                CoveredOp(
                    ("add_column",),
                    table_op.table,
                    _literal(arg.args[0]),
                    table_op.revision,
                    table_op.path,
                    arg.lineno,
                    None,
                    table_op.schema,
                )
            )
    return out


def pending_revisions(graph: RevisionGraph, applied_heads: Sequence[str]) -> list[RevisionScript]:
    """Revisions in the graph that the database has not applied, oldest first."""
    applied: set[str] = set()
    known = [h for h in applied_heads if h in graph.revisions]
    if known:
        applied = {r.revision for r in graph.iterate_ancestors(*known)}
    pending = [r for r in graph.iterate_ancestors() if r.revision not in applied]
    pending.reverse()
    return pending


def pending_ops(
    graph: RevisionGraph, applied_heads: Sequence[str], sources: dict[Path, str] | None = None
) -> list[CoveredOp]:
    """Every op in the upgrades of the pending revisions (files parsed, never run)."""
    return upgrade_ops(pending_revisions(graph, applied_heads), sources)


def upgrade_ops(
    scripts: Iterable[RevisionScript], sources: dict[Path, str] | None = None
) -> list[CoveredOp]:
    """Every op in the upgrades of ``scripts``; unreadable files are skipped (the revision
    graph reports them)."""
    out: list[CoveredOp] = []
    for script in scripts:
        text = (sources or {}).get(script.path)
        if text is None:
            try:
                text = script.path.read_text(encoding="utf-8")
            except OSError:
                continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        out.extend(ops_in_function(tree, "upgrade", script.revision, script.path))
    return out


_TABLE_LEVEL = frozenset({"add_table", "remove_table", "add_table_comment", "remove_table_comment"})
_CREATED_BY = {
    "remove_table": ("add_table",),
    "remove_column": ("add_column",),
    "remove_index": ("add_index",),
    "remove_constraint": ("add_constraint",),
    "remove_fk": ("add_fk",),
}


def _matches(op: CoveredOp, kinds: Iterable[str], table: str | None, name: str | None) -> bool:
    if op.table != table or not set(kinds) & set(op.kinds):
        return False
    return bool(set(kinds) & _TABLE_LEVEL) or op.name is None or op.name == name


def classify(
    kind: str,
    table: str | None,
    name: str | None,
    pending: Sequence[CoveredOp],
    history: Sequence[CoveredOp] = (),
) -> Classification:
    """Where a drift stands: covered by a pending revision, a migration still to write, or
    something the database has that no model and no migration ever created (by hand).

    ``history`` holds the ops of every revision, applied ones included.
    """
    for op in pending:
        if _matches(op, (kind,), table, name):
            return Classification(PENDING, op.revision, op.path, op.line)
    creators = _CREATED_BY.get(kind)
    if creators is not None and not any(_matches(op, creators, table, name) for op in history):
        return Classification(BY_HAND)
    return Classification(MISSING)
