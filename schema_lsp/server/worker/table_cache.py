"""The warm worker's per-table comparison results, as plain data (no SQLAlchemy needed).

Kept between checks by the warm parent and handed to each forked child (see ``reuse``);
the child sends back, on its result line, only the entries that differ from the ones it was
handed (after a one-table edit: one of a thousand), and the parent applies them.
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
    #: The source blocks the import behind these entries executed (``origins``).
    blocks: frozenset[int] = frozenset()


def entries_to_data(entries: Entries, since: Entries | None = None) -> dict[str, Any]:
    """``entries`` as plain data; with ``since``, only what differs from it (the records
    of a reused entry are the very list it was handed, so comparing them is cheap)."""
    base = since or Entries({}, {})
    return {
        "tables": [
            [s, name, sig, drifts]
            for (s, name), (sig, drifts) in entries.tables.items()
            if base.tables.get((s, name)) != (sig, drifts)
        ],
        "ops": [
            [key, drifts] for key, drifts in entries.ops.items() if base.ops.get(key) != drifts
        ],
        "gone_tables": [[s, name] for (s, name) in base.tables if (s, name) not in entries.tables],
        "gone_ops": [key for key in base.ops if key not in entries.ops],
        **({"blocks": sorted(entries.blocks)} if entries.blocks != base.blocks else {}),
    }


def entries_from_data(data: Mapping[str, Any], since: Entries | None = None) -> Entries:
    """The entries :func:`entries_to_data` was given, from its data and the same ``since``."""
    base = since or Entries({}, {})
    tables: Iterable[Sequence[Any]] = data.get("tables") or ()
    ops: Iterable[Sequence[Any]] = data.get("ops") or ()
    gone_tables = {(row[0], str(row[1])) for row in data.get("gone_tables") or ()}
    gone_ops = set(data.get("gone_ops") or ())
    merged = {key: entry for key, entry in base.tables.items() if key not in gone_tables}
    merged.update({(row[0], str(row[1])): (str(row[2]), list(row[3])) for row in tables})
    merged_ops = {key: drifts for key, drifts in base.ops.items() if key not in gone_ops}
    merged_ops.update({str(row[0]): list(row[1]) for row in ops})
    blocks = frozenset(int(b) for b in data["blocks"]) if "blocks" in data else base.blocks
    return Entries(merged, merged_ops, blocks)
