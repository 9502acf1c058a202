"""The migration code that fixes one drift: upgrade, downgrade and the imports they need.

Rendered where the models are loaded (the worker), because rendering needs the models'
SQLAlchemy objects; the language server only receives the text, with each diagnostic, and
inserts it into migration files.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Dialect

from ..operations import ops
from ..runtime.migration import MigrationContext
from .api import AutogenContext
from .render import _indent, render_op

_ALTER_ATTRIBUTES = {
    "modify_type": "modify_type",
    "modify_nullable": "modify_nullable",
    "modify_default": "modify_server_default",
    "modify_comment": "modify_comment",
}
_UNSET: dict[str, Any] = {
    "modify_type": None,
    "modify_nullable": None,
    "modify_server_default": False,
    "modify_comment": False,
}


@dataclass(frozen=True)
class Fix:
    """Op code for ``upgrade()`` and its reverse for ``downgrade()`` (no markers)."""

    upgrade: str
    downgrade: str
    imports: tuple[str, ...] = ()
    batch: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "upgrade": self.upgrade,
            "downgrade": self.downgrade,
            "imports": list(self.imports),
            "batch": self.batch,
        }


def only(alter: ops.AlterColumnOp, kind: str) -> ops.AlterColumnOp:
    """A copy of ``alter`` that changes just the attribute of drift ``kind``."""
    single = copy.copy(alter)
    single.kw = dict(alter.kw)
    keep = _ALTER_ATTRIBUTES[kind]
    for attr, unset in _UNSET.items():
        if attr != keep:
            setattr(single, attr, unset)
    return single


def render_fix(
    op: ops.MigrateOperation,
    *,
    table: str | None,
    schema: str | None,
    dialect: Dialect,
    batch: bool,
) -> Fix:
    """Render one op (wrapped for its table, so batch mode applies) and its reverse."""
    if isinstance(op, (ops.CreateTableOp, ops.DropTableOp)) or table is None:
        upgrade = ops.UpgradeOps([op])
    else:
        upgrade = ops.UpgradeOps([ops.ModifyTableOps(table, [op], schema=schema)])
    downgrade = upgrade.reverse()
    context = MigrationContext.configure(dialect=dialect)
    autogen = AutogenContext(context, opts={"render_as_batch": batch}, autogenerate=False)
    up = _body(autogen, upgrade)
    down = _body(autogen, downgrade)
    return Fix(up, down, tuple(sorted(autogen.imports)), batch)


def _body(autogen: AutogenContext, container: ops.OpContainer) -> str:
    lines: list[str] = []
    for op in container.ops:
        lines.extend(render_op(autogen, op))
    while lines and not lines[-1].strip():
        lines.pop()
    return _indent("\n".join(lines)) if lines else "pass"
