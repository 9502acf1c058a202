"""Which tables an edit can have touched: the ones its changed blocks defined.

The child executes the model files block by block (``compiled``). After a one-table edit
only one block runs text the last check did not run, so the tables every other block
defined are *trusted* to be as the last check saw them: their signatures and hints are
not taken before answering. The child takes them after answering and reports a table whose
trust was wrong (see ``reuse.Comparison.mistrusted``); the worker then checks again in full.
Trust is cheap to lose and never needed for a correct answer in the end:

* a changed block that defined no table (a constant, mixin, naming convention, import)
  may have changed what any table reads: nothing is trusted;
* a file that could not be split runs as one block: if it changed, nothing is trusted;
* a table defined outside the blocks (by an installed package) is never trusted;
* a table linked by a foreign key to one a changed block defined is not trusted (its
  column types and key targets may be read from that table).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from types import CodeType
from typing import Any

from sqlalchemy import MetaData, Table, event

from .compiled import BlockKey


class BlockOrigins:
    """Records, while the models are imported, which block defined each table."""

    def __init__(self, known: Iterable[int]) -> None:
        #: The blocks the check whose per-table results are reused had executed.
        self.known = frozenset(known)
        #: Every block executed by this import (for the next check's ``known``).
        self.executed: list[int] = []
        #: Whether a changed block left every table alone, so nothing can be trusted.
        self.untrusting = False
        self._stack: list[bool] = []  # per running block: whether its text is new
        self._fresh: list[Table] = []
        self._trusted: list[Table] = []

    def install(self) -> None:
        """Listen for tables joining a MetaData (in the forked child only: it never ends)."""
        event.listen(Table, "after_parent_attach", self._attached)

    def run(self, key: BlockKey, code: CodeType, namespace: dict[str, Any]) -> None:
        """Execute one block of a model file, noting the tables it defines."""
        fresh = key.digest not in self.known
        self.executed.append(key.digest)
        self._stack.append(fresh)
        defined = len(self._fresh)
        try:
            exec(code, namespace)
        finally:
            self._stack.pop()
        if fresh and (key.whole or len(self._fresh) == defined):
            self.untrusting = True

    def _attached(self, table: Table, parent: Any) -> None:
        if not isinstance(parent, MetaData):
            return
        if self._stack and not self._stack[-1]:
            self._trusted.append(table)
        else:
            self._fresh.append(table)

    def trusted(self, metadatas: Sequence[MetaData]) -> frozenset[int]:
        """Ids of the tables of ``metadatas`` trusted to be unchanged (see the module)."""
        if self.untrusting or not self._trusted:
            return frozenset()
        fresh = {table.key for table in self._fresh}
        doubtful = set(fresh)
        for metadata in metadatas:
            for table in metadata.tables.values():
                referred = {_referred_key(fk.target_fullname) for fk in table.foreign_keys}
                if table.key in fresh:
                    doubtful |= referred
                elif referred & fresh:
                    doubtful.add(table.key)
        return frozenset(id(t) for t in self._trusted if t.key not in doubtful)


def _referred_key(target: str) -> str:
    """The table key (``schema.name`` or ``name``) of a foreign key's ``schema.table.col``."""
    return target.rsplit(".", 1)[0]
