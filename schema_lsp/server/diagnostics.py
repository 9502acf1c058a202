"""Drift records and model failures as LSP diagnostics; stale marking.

Plain functions: a drift dict plus a location in, a ``Diagnostic`` out. ``data`` carries
the drift record unchanged so code actions can act on it later.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types

from .worker.protocol import ModelFailure

SOURCE = "schema-lsp"
MODEL_ERROR_CODE = "model-error"

SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "information": types.DiagnosticSeverity.Information,
    "hint": types.DiagnosticSeverity.Hint,
}


def make_range(start_line: int, start_char: int, end_line: int, end_char: int) -> types.Range:
    return types.Range(
        start=types.Position(line=start_line, character=start_char),
        end=types.Position(line=end_line, character=end_char),
    )


def drift_diagnostic(drift: Mapping[str, Any], rng: types.Range, severity: str) -> types.Diagnostic:
    """One drift record as a diagnostic; ``code`` is the drift kind."""
    return types.Diagnostic(
        range=rng,
        message=str(drift.get("message") or drift.get("kind")),
        severity=SEVERITY.get(severity, types.DiagnosticSeverity.Warning),
        code=str(drift.get("kind")),
        source=SOURCE,
        data=dict(drift),
    )


def line_range(path: str, line: int, column: int | None = None) -> types.Range:
    """The rest of 1-based ``line`` from ``column`` (or its first non-blank character)."""
    index = max(line - 1, 0)
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
        text = lines[index] if index < len(lines) else ""
    except OSError:
        text = ""
    start = (column - 1) if column and column > 0 else len(text) - len(text.lstrip())
    start = min(start, len(text))
    end = len(text) if len(text) > start else start + 1
    return make_range(index, start, index, end)


def failure_diagnostic(failure: ModelFailure) -> types.Diagnostic:
    """A model import failure, at its file and line, as an error."""
    assert failure.path is not None and failure.line is not None
    return types.Diagnostic(
        range=line_range(failure.path, failure.line, failure.column),
        message=f"schema-lsp could not load the models: {failure.message}",
        severity=types.DiagnosticSeverity.Error,
        code=MODEL_ERROR_CODE,
        source=SOURCE,
        data={"kind": MODEL_ERROR_CODE, "failure": failure.kind},
    )


def mark_stale(diagnostics: Iterable[types.Diagnostic], reason: str) -> list[types.Diagnostic]:
    """Copies whose message says the result may be out of date, and why."""
    out = []
    for diagnostic in diagnostics:
        suffix = f" (stale: {reason})"
        out.append(
            types.Diagnostic(
                range=diagnostic.range,
                message=diagnostic.message + suffix,
                severity=diagnostic.severity,
                code=diagnostic.code,
                source=diagnostic.source,
                data=diagnostic.data,
                tags=diagnostic.tags,
            )
        )
    return out
