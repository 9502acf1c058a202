"""Place drift records in model files, reusing parses of files that did not change."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from schema_lsp.sources import (
    ModuleParser,
    ModuleSyntax,
    SourceMap,
    TableHint,
    hints_from_data,
    map_sources,
)

from .diagnostics import make_range

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Placement:
    """Where a drift goes: the file and the 0-based range."""

    path: str
    range: types.Range


class SourceIndex:
    """Parsed model files keyed by path, refreshed when a file's mtime or size moves.

    A refresh re-parses only the top-level blocks that changed (``ModuleParser``): a save
    usually touches one table of a large file, and a full parse would be on the critical
    path of save-to-diagnostics.
    """

    def __init__(self) -> None:
        self._parsed: dict[str, tuple[tuple[int, int], ModuleSyntax]] = {}
        self._parser = ModuleParser()
        self._parsed_hints: dict[int, tuple[dict[str, Any], TableHint]] = {}
        self._lock = threading.Lock()

    def modules(self, paths: Iterable[str]) -> dict[str, ModuleSyntax]:
        """Parses of ``paths``; thread-safe, so a check can parse while the worker runs."""
        with self._lock:
            return self._modules(paths)

    def _modules(self, paths: Iterable[str]) -> dict[str, ModuleSyntax]:
        out: dict[str, ModuleSyntax] = {}
        for path in paths:
            try:
                stat = os.stat(path)
            except OSError:
                self._parsed.pop(path, None)
                self._parser.forget(path)
                continue
            stamp = (stat.st_mtime_ns, stat.st_size)
            cached = self._parsed.get(path)
            if cached is None or cached[0] != stamp:
                try:
                    with open(path, encoding="utf-8", errors="replace") as handle:
                        text = handle.read()
                except OSError:
                    continue
                cached = (stamp, self._parser.parse(path, text))
                self._parsed[path] = cached
            out[path] = cached[1]
        return out

    def source_map(self, paths: Iterable[str], hints: list[dict[str, Any]]) -> SourceMap:
        return map_sources(self.modules(paths), self._hints(hints))

    def new_hints(self, data: list[dict[str, Any]]) -> int:
        """How many entries of ``data`` the next ``source_map`` would parse (the rest are
        reused): with few, mapping is cheap enough for the event loop itself."""
        previous = self._parsed_hints
        return sum(1 for item in data if (previous.get(id(item)) or (None,))[0] is not item)

    def _hints(self, data: list[dict[str, Any]]) -> list[TableHint]:
        """Parsed hints, reusing the parse of entries that are the same objects as last
        time (the worker client keeps unchanged entries' dicts)."""
        with self._lock:
            previous = self._parsed_hints
            current: dict[int, tuple[dict[str, Any], TableHint]] = {}
            out: list[TableHint] = []
            for item in data:
                cached = previous.get(id(item))
                if cached is None or cached[0] is not item:
                    cached = (item, hints_from_data([item])[0])
                current[id(item)] = cached
                out.append(cached[1])
            self._parsed_hints = current
            return out


def place(source_map: SourceMap, drift: Mapping[str, Any]) -> Placement | None:
    """The file and range for one drift record, or None when no model defines it."""
    location = source_map.locate(
        str(drift.get("kind")),
        drift.get("schema"),
        drift.get("table"),
        drift.get("name"),
        attribute=drift.get("attribute"),
        columns=tuple(drift.get("columns") or ()),
    )
    if location is None:
        return None
    return Placement(
        path=location.path,
        range=make_range(
            location.start_line,
            location.start_character,
            location.end_line,
            location.end_character,
        ),
    )
