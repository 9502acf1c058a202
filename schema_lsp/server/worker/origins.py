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

It also keeps, per file, the blocks executed and the tables each defined: what a
``resident`` child needs to run only the blocks an edit changed.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
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
        #: Per model file: the digests of its blocks, in the order they ran.
        self.files: dict[str, list[int]] = {}
        #: Per model file: the source it ran and its module's namespace.
        self.sources: dict[str, bytes] = {}
        self.namespaces: dict[str, dict[str, Any]] = {}
        #: Per block digest: the tables it defined (attached to a MetaData while it ran).
        self.tables_of: dict[int, list[Table]] = {}
        #: Model files that ran as one block (``BlockKey.whole``).
        self.whole: set[str] = set()
        #: Whether the models are being imported (tables made later, by comparing or
        #: collecting hints, are copies: not the models' own).
        self.importing = False
        self._stack: list[tuple[int, bool]] = []  # per running block: digest, text is new
        self._fresh: list[Table] = []
        self._trusted: list[Table] = []

    def install(self) -> None:
        """Listen for tables joining a MetaData (in the forked child only: it never ends)."""
        event.listen(Table, "after_parent_attach", self._attached)
        self.importing = True

    def begin_file(self, path: str, source: bytes, namespace: dict[str, Any]) -> None:
        """A model file starts running (its blocks follow through ``run``)."""
        self.files[path] = []
        self.sources[path] = source
        self.namespaces[path] = namespace

    def run(self, path: str, key: BlockKey, code: CodeType, namespace: dict[str, Any]) -> None:
        """Execute one block of a model file, noting the tables it defines."""
        fresh = key.digest not in self.known
        self.executed.append(key.digest)
        self.files.setdefault(path, []).append(key.digest)
        if key.whole:
            self.whole.add(path)
        self.tables_of.setdefault(key.digest, [])
        self._stack.append((key.digest, fresh))
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
        if not self._stack:
            if self.importing:
                self._fresh.append(table)  # outside the blocks: never trusted
            return
        digest, fresh = self._stack[-1]
        self.tables_of[digest].append(table)
        (self._fresh if fresh else self._trusted).append(table)

    def fresh_count(self) -> int:
        return len(self._fresh)

    def fresh_since(self, count: int) -> list[Table]:
        """The tables fresh blocks defined since ``fresh_count`` was ``count``."""
        return self._fresh[count:]

    def rerun(self, gone: Collection[int]) -> None:
        """Start over for a run of only the changed blocks in this process (``resident``):
        the tables of blocks ``gone`` are no longer defined, every other table defined in a
        block is trusted, and every block run next is fresh."""
        in_blocks = {id(t) for tables in self.tables_of.values() for t in tables}
        for digest in gone:
            self.tables_of.pop(digest, None)
        self._fresh = [t for t in self._fresh if id(t) not in in_blocks]  # outside ones
        self._trusted = [t for tables in self.tables_of.values() for t in tables]
        self.known = frozenset(self.executed) - frozenset(gone)
        self.untrusting = False
        self.importing = True

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
