"""``Rewriter``: change the ops of a revision before it is rendered.

Register functions per op class with ``@writer.rewrites(ops.AddColumnOp)``;
each receives ``(context, revision, op)`` and returns the op, a replacement, or
a list of zero or more ops.  The rewriter walks MigrationScript ->
UpgradeOps/DowngradeOps -> ModifyTableOps, and is itself a valid
``process_revision_directives`` callable, so it drops into ``env.py`` or our
configuration unchanged (the same API as Alembic's).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Union

from ..operations import ops
from .dispatch import Dispatcher

ProcessRevisionDirectiveFn = Callable[[Any, Any, list[ops.MigrationScript]], None]
_Chainable = Union[ProcessRevisionDirectiveFn, "Rewriter"]


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


class Rewriter:
    """A per-op-class rewrite registry applied over a revision's op tree."""

    _chained: tuple[_Chainable, ...] = ()

    def __init__(self) -> None:
        self.dispatch = Dispatcher()

    def chain(self, other: _Chainable) -> Rewriter:
        """A new rewriter that runs this one, then ``other``."""
        chained = self.__class__.__new__(self.__class__)
        chained.__dict__.update(self.__dict__)
        chained._chained = (*self._chained, other)
        return chained

    def rewrites(self, operator: type[ops.MigrateOperation]) -> Callable[..., Any]:
        """Decorator registering a rewrite function for ``operator`` (and subclasses)."""
        return self.dispatch.dispatch_for(operator)

    def __call__(
        self, context: Any, revision: Any, directives: list[ops.MigrationScript]
    ) -> None:
        self.process_revision_directives(context, revision, directives)
        for process in self._chained:
            process(context, revision, directives)

    def process_revision_directives(
        self, context: Any, revision: Any, directives: list[ops.MigrationScript]
    ) -> None:
        self._traverse_list(context, revision, directives)

    # ------------------------------------------------------------------

    def _rewrite(
        self, context: Any, revision: Any, directive: ops.MigrateOperation
    ) -> Iterator[ops.MigrateOperation]:
        try:
            rewrite = self.dispatch.dispatch(directive)
        except ValueError:
            yield directive
            return
        if self in directive._mutations:
            # already produced by this rewriter: don't rewrite its own output
            yield directive
            return
        for new in _as_list(rewrite(context, revision, directive)):
            new._mutations = new._mutations.union([self])
            yield new

    def _traverse_for(
        self, context: Any, revision: Any, directive: ops.MigrateOperation
    ) -> list[ops.MigrateOperation]:
        directives = list(self._rewrite(context, revision, directive))
        for item in directives:
            if isinstance(item, ops.MigrationScript):
                self._traverse_script(context, revision, item)
            elif isinstance(item, ops.OpContainer):
                self._traverse_list(context, revision, item.ops)
        return directives

    def _traverse_list(self, context: Any, revision: Any, directives: list[Any]) -> None:
        result: list[Any] = []
        for directive in directives:
            result.extend(self._traverse_for(context, revision, directive))
        directives[:] = result

    def _traverse_script(
        self, context: Any, revision: Any, script: ops.MigrationScript
    ) -> None:
        upgrade_ops_list: list[ops.UpgradeOps] = []
        for upgrade_ops in script.upgrade_ops_list:
            ret = self._traverse_for(context, revision, upgrade_ops)
            if len(ret) != 1:
                raise ValueError("Can only return single object for UpgradeOps traverse")
            upgrade_ops_list.append(ret[0])  # type: ignore[arg-type]
        script.upgrade_ops = upgrade_ops_list

        downgrade_ops_list: list[ops.DowngradeOps] = []
        for downgrade_ops in script.downgrade_ops_list:
            ret = self._traverse_for(context, revision, downgrade_ops)
            if len(ret) != 1:
                raise ValueError("Can only return single object for DowngradeOps traverse")
            downgrade_ops_list.append(ret[0])  # type: ignore[arg-type]
        script.downgrade_ops = downgrade_ops_list
