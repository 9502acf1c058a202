"""Keeping old diagnostics inside the text they are shown on.

Stale diagnostics keep the ranges of the text that was last checked; when the file got
shorter since, those ranges can point past its end, which editors reject or misdraw.
"""

from __future__ import annotations

from collections.abc import Iterable

from lsprotocol import types


def _width(line: str) -> int:
    """The line's length in UTF-16 code units (the LSP's default position encoding)."""
    return len(line.rstrip("\r").encode("utf-16-le")) // 2


def fit_to_text(diagnostics: Iterable[types.Diagnostic], text: str) -> list[types.Diagnostic]:
    """``diagnostics`` that start inside ``text``, their ends clamped to it.

    A diagnostic whose start lies past the end of the text (or of its line) is dropped:
    the code it was about is gone, and pinning it elsewhere would misplace it.
    """
    lines = text.split("\n")
    widths = [_width(line) for line in lines]

    def clamp(pos: types.Position) -> types.Position:
        line = min(max(pos.line, 0), len(lines) - 1)
        character = pos.character if line == pos.line else widths[line]
        return types.Position(line=line, character=min(max(character, 0), widths[line]))

    out: list[types.Diagnostic] = []
    for diagnostic in diagnostics:
        start = diagnostic.range.start
        if start.line >= len(lines) or start.character > widths[start.line]:
            continue
        start, end = clamp(diagnostic.range.start), clamp(diagnostic.range.end)
        if (end.line, end.character) < (start.line, start.character):
            end = start
        if (start, end) != (diagnostic.range.start, diagnostic.range.end):
            diagnostic = _moved(diagnostic, types.Range(start=start, end=end))
        out.append(diagnostic)
    return out


def _moved(diagnostic: types.Diagnostic, rng: types.Range) -> types.Diagnostic:
    return types.Diagnostic(
        range=rng,
        message=diagnostic.message,
        severity=diagnostic.severity,
        code=diagnostic.code,
        source=diagnostic.source,
        data=diagnostic.data,
        tags=diagnostic.tags,
    )
