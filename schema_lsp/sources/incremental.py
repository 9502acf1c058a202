"""Re-parse only the top-level blocks of a model file that changed.

The language server re-reads a file on every keystroke; most edits touch one
class. Splitting the text into top-level blocks (a class with its decorators,
a ``Table(...)`` statement, ...) lets unchanged blocks reuse their previous
result, shifted if lines were inserted above them. A split in the wrong place
(inside a bracket or a triple-quoted string) always leaves a block that does
not parse, and then the whole file is parsed in one go, so results are always
those of ``parse_module``.
"""

from __future__ import annotations

import gc
import re
from dataclasses import replace

from schema_lsp.sources.model import (
    AttributeSyntax,
    BaseSyntax,
    ClassSyntax,
    ConstraintSyntax,
    ForeignKeySyntax,
    ModuleSyntax,
    Span,
    TableSyntax,
)
from schema_lsp.sources.syntax import parse_module, parse_text

_CONTINUATION = re.compile(r"(else|elif|except|finally)\b")
#: Lines that may start a top-level block: not blank, not indented, not a comment or closer.
_CANDIDATE = re.compile(r"\n(?=[^ \t#)\]}\r\f\n])")
_LONE_CR = re.compile(r"\r(?!\n)")


class ModuleParser:
    """``parse_module`` with a per-file cache of top-level blocks."""

    def __init__(self, encoding: str = "utf-16") -> None:
        self.encoding = encoding
        self._blocks: dict[str, dict[str, tuple[int, ModuleSyntax]]] = {}

    def forget(self, path: str) -> None:
        """Drop the cache of a closed or deleted file."""
        self._blocks.pop(path, None)

    def parse(self, path: str, text: str) -> ModuleSyntax:
        """Same result as ``parse_module(path, text)``, faster after small edits."""
        if _LONE_CR.search(text):  # old Mac line ends: let the full parser handle them
            self._blocks.pop(path, None)
            return parse_module(path, text, self.encoding)
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return self._parse(path, text)
        finally:
            if was_enabled:
                gc.enable()

    def _parse(self, path: str, text: str) -> ModuleSyntax:
        previous = self._blocks.get(path, {})
        current: dict[str, tuple[int, ModuleSyntax]] = {}
        parts: list[ModuleSyntax] = []
        for start, block in split_blocks(text):
            cached = previous.get(block) or current.get(block)
            if cached is None:
                syntax = parse_text(path, block, self.encoding)
                if syntax.error is not None:
                    self._blocks.pop(path, None)
                    return parse_module(path, text, self.encoding)
                cached = (0, syntax)
            old_start, syntax = cached
            if old_start != start:
                syntax = shift_module(syntax, start - old_start)
            current[block] = (start, syntax)
            parts.append(syntax)
        self._blocks[path] = current
        return _merge(path, parts)


def split_blocks(text: str) -> list[tuple[int, str]]:
    """(first line, text) of each top-level statement group, blank lines included.

    Only lines that start in column 0 can start a block, so those are found with one regex
    search and checked against the code line above them; scanning every line of a large
    file would be on the critical path of every save.
    """
    starts = [0]
    for match in _CANDIDATE.finditer(text):
        pos = match.end()
        if _CONTINUATION.match(text, pos):
            continue
        previous = _previous_code_line(text, pos)
        if previous.startswith("@") or previous.rstrip().endswith("\\"):
            continue
        starts.append(pos)
    blocks: list[tuple[int, str]] = []
    line = 0
    for i, pos in enumerate(starts):
        if i:
            line += text.count("\n", starts[i - 1], pos)
        end = starts[i + 1] - 1 if i + 1 < len(starts) else len(text)
        blocks.append((line, text[pos:end]))
    return blocks


def _previous_code_line(text: str, pos: int) -> str:
    """The last non-blank, non-comment line before the line starting at ``pos``."""
    end = pos - 1
    while end >= 0:
        start = text.rfind("\n", 0, end) + 1
        line = text[start:end]
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return line
        end = start - 1
    return ""


def _merge(path: str, parts: list[ModuleSyntax]) -> ModuleSyntax:
    imports: dict[str, str] = {}
    for part in parts:
        imports.update(part.imports)
    return ModuleSyntax(
        path=path,
        classes=tuple(c for part in parts for c in part.classes),
        tables=tuple(t for part in parts for t in part.tables),
        indexes=tuple(i for part in parts for i in part.indexes),
        bases=tuple(b for part in parts for b in part.bases),
        imports=imports,
    )


def shift_module(module: ModuleSyntax, lines: int) -> ModuleSyntax:
    """The same syntax moved down by ``lines`` (negative: up)."""
    return replace(
        module,
        classes=tuple(_class(c, lines) for c in module.classes),
        tables=tuple(_table(t, lines) for t in module.tables),
        indexes=tuple(_constraint(i, lines) for i in module.indexes),
        bases=tuple(_base(b, lines) for b in module.bases),
    )


def _span(span: Span, lines: int) -> Span:
    return Span(
        span.start_line + lines, span.start_character, span.end_line + lines, span.end_character
    )


def _maybe(span: Span | None, lines: int) -> Span | None:
    return None if span is None else _span(span, lines)


def _class(cls: ClassSyntax, lines: int) -> ClassSyntax:
    return ClassSyntax(
        cls.name,
        cls.qualname,
        _span(cls.span, lines),
        cls.bases,
        cls.tablename,
        cls.tablename_rule,
        cls.has_table_args,
        cls.schema,
        _maybe(cls.table_comment_span, lines),
        tuple([_constraint(c, lines) for c in cls.table_args]),
        tuple([_attribute(a, lines) for a in cls.attributes]),
        _table(cls.table, lines) if cls.table is not None else None,
        cls.abstract,
        cls.is_declarative_base,
    )


def _table(table: TableSyntax, lines: int) -> TableSyntax:
    return TableSyntax(
        table.name,
        table.schema,
        _span(table.span, lines),
        table.variable,
        tuple([_attribute(a, lines) for a in table.columns]),
        tuple([_constraint(c, lines) for c in table.constraints]),
        _maybe(table.comment_span, lines),
        table.metadata,
    )


def _constraint(c: ConstraintSyntax, lines: int) -> ConstraintSyntax:
    return ConstraintSyntax(
        c.kind, c.name, c.columns, _span(c.span, lines), c.target, c.unique, c.referred
    )


def _base(base: BaseSyntax, lines: int) -> BaseSyntax:
    return BaseSyntax(base.name, base.kind, _span(base.span, lines))


def _attribute(a: AttributeSyntax, lines: int) -> AttributeSyntax:
    return AttributeSyntax(
        a.key,
        a.name,
        a.kind,
        _span(a.span, lines),
        _maybe(a.call_span, lines),
        _maybe(a.type_span, lines),
        _maybe(a.annotation_type_span, lines),
        a.optional,
        _maybe(a.nullable_span, lines),
        _maybe(a.server_default_span, lines),
        _maybe(a.comment_span, lines),
        _maybe(a.index_span, lines),
        _maybe(a.unique_span, lines),
        _maybe(a.primary_key_span, lines),
        tuple([ForeignKeySyntax(fk.target, _span(fk.span, lines)) for fk in a.foreign_keys]),
    )
