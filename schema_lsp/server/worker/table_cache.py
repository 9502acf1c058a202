"""The warm worker's per-table comparison results, as plain data (no SQLAlchemy needed).

Kept between checks by the warm parent and handed to each forked child (see ``reuse``);
the child sends the updated entries back on its result line.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

TableKey = tuple[str | None, str]
#: One table's cache entry: its model signature and its drift records (``Drift.to_dict``).
Entry = tuple[str, list[dict[str, Any]]]


@dataclass
class TableCache:
    """Per-table comparison results of the last check, valid for ``scope`` only."""

    scope: str | None = None
    entries: Entries = field(default_factory=lambda: Entries({}, {}))

    def for_scope(self, scope: str) -> Entries:
        """The entries usable under ``scope`` (the reflection and options of a check)."""
        return self.entries if scope == self.scope else Entries({}, {})

    def store(self, scope: str, entries: Entries) -> None:
        self.scope = scope
        self.entries = entries

    def clear(self) -> None:
        self.scope = None
        self.entries = Entries({}, {})


@dataclass(frozen=True)
class Entries:
    """Drift records of tables on both sides (by table, with the model's signature) and of
    the other top-level ops, created and dropped tables (by op, table and signature)."""

    tables: dict[TableKey, Entry]
    ops: dict[str, list[dict[str, Any]]]


def entries_to_data(entries: Entries) -> dict[str, Any]:
    return {
        "tables": [[s, name, sig, drifts] for (s, name), (sig, drifts) in entries.tables.items()],
        "ops": [[key, drifts] for key, drifts in entries.ops.items()],
    }


def entries_from_data(data: Mapping[str, Any]) -> Entries:
    tables: Iterable[Sequence[Any]] = data.get("tables") or ()
    ops: Iterable[Sequence[Any]] = data.get("ops") or ()
    return Entries(
        {(row[0], str(row[1])): (str(row[2]), list(row[3])) for row in tables},
        {str(row[0]): list(row[1]) for row in ops},
    )
