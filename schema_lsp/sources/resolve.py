"""Mapping drift records ``(kind, schema, table, name)`` to source ranges.

These are the product rules for where a diagnostic goes (argument, else
column definition, else class header or ``Table(`` call, else the MetaData
or declarative base). Table records come from ``assemble`` on first use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schema_lsp.sources.assemble import (
    ColumnSource,
    TableAssembler,
    TableKey,
    TableSource,
    all_refs,
)
from schema_lsp.sources.hints import TableHint
from schema_lsp.sources.model import AttributeSyntax, ModuleSyntax, Span

_MODIFY_ATTRIBUTE = {
    "modify_type": "type",
    "modify_nullable": "nullable",
    "modify_default": "server_default",
    "modify_server_default": "server_default",
    "modify_comment": "comment",
}
_TABLE_COMMENT_KINDS = frozenset(
    {"add_table_comment", "remove_table_comment", "modify_table_comment"}
)
_ALL_CONSTRAINTS = ("unique", "foreign_key", "check", "primary_key")


@dataclass(frozen=True, slots=True)
class SourceLocation:
    """A range in a file; ``anchor`` says what it covers.

    ``anchor`` is ``argument`` (a keyword/type/annotation of a column),
    ``column``, ``constraint``, ``table`` (class header or ``Table(`` call) or
    ``base`` (MetaData/declarative base definition). Lines and characters are
    0-based, counted in the position encoding the files were parsed with.
    """

    path: str
    start_line: int
    start_character: int
    end_line: int
    end_character: int
    anchor: str

    @classmethod
    def at(cls, path: str, span: Span, anchor: str) -> SourceLocation:
        return cls(
            path, span.start_line, span.start_character, span.end_line, span.end_character, anchor
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "start_line": self.start_line,
            "start_character": self.start_character,
            "end_line": self.end_line,
            "end_character": self.end_character,
            "anchor": self.anchor,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SourceLocation:
        return cls(
            str(data["path"]),
            int(data["start_line"]),
            int(data["start_character"]),
            int(data["end_line"]),
            int(data["end_character"]),
            str(data["anchor"]),
        )


class SourceMap:
    """Source positions of the tables the models declare, resolved on first use.

    Building it only indexes names; a table's columns and constraints are
    resolved the first time a drift record asks for that table, so large
    models with few differences cost little.
    """

    def __init__(self, assembler: TableAssembler, hints: Sequence[TableHint] = ()) -> None:
        self._assembler = assembler
        self._hints: dict[TableKey, TableHint] = {}
        self._hint_keys: dict[str, list[TableKey]] = {}
        for hint in hints:
            key = (hint.schema, hint.name)
            if key not in self._hints:
                self._hints[key] = hint
                self._hint_keys.setdefault(hint.name, []).append(key)
        static_base = assembler.static_base()
        self.default_base = (assembler.base_from_refs(all_refs(hints)) if hints else None) or (
            static_base
        )
        self._entries: dict[TableKey, TableSource | None] = {}

    def table_keys(self) -> set[TableKey]:
        """Every (schema, table) the models declare (resolves everything: for tests/tools)."""
        keys = set(self._hints)
        for name in self._assembler.table_names():
            keys.update(self._assembler.static_entries(name))
        return keys

    def locate(
        self,
        kind: str,
        schema: str | None,
        table: str | None,
        name: str | None = None,
        attribute: str | None = None,
        columns: Sequence[str] = (),
    ) -> SourceLocation | None:
        """Where to show a drift record; falls back argument -> column -> table -> base."""
        entry, known = self._table(schema, table) if table else (None, False)
        if entry is None and known and kind != "remove_table":
            return None  # the models define it in a file missing or broken: not the base
        if entry is None or kind == "remove_table":
            base = entry.base if entry is not None and entry.base else self.default_base
            return SourceLocation.at(base.path, base.span, "base") if base else None
        header = SourceLocation.at(entry.header.path, entry.header.span, "table")
        if kind in ("add_table", "remove_column"):
            return header
        if kind in _TABLE_COMMENT_KINDS:
            if entry.comment is not None:
                return SourceLocation.at(entry.comment.path, entry.comment.span, "argument")
            return header
        constraint_kinds = _constraint_kinds(kind)
        if constraint_kinds:
            found = self._constraint(entry, kind, constraint_kinds, name, tuple(columns))
            return found or header
        attribute = attribute or _MODIFY_ATTRIBUTE.get(kind)
        column = _column(entry, name) if name else None
        if column is None:
            return header
        if attribute:
            span = _attribute_span(column.syntax, attribute)
            if span is not None:
                return SourceLocation.at(column.path, span, "argument")
        return SourceLocation.at(column.path, column.syntax.span, "column")

    def _entry(self, key: TableKey) -> tuple[TableSource | None, bool]:
        """The resolved table and whether the models are known to define it."""
        hint = self._hints.get(key)
        if key not in self._entries:
            static = self._assembler.static_entries(key[1]).get(key)
            entry = self._assembler.hinted_entry(hint, static) if hint is not None else static
            if entry is not None and entry.base is None:
                entry.base = self.default_base
            self._entries[key] = entry
        return self._entries[key], hint is not None

    def _table(self, schema: str | None, table: str) -> tuple[TableSource | None, bool]:
        entry, known = self._entry((schema, table))
        if entry is None and schema is not None:
            entry, also = self._entry((None, table))
            known = known or also
        if entry is None and not known:
            keys = set(self._hint_keys.get(table, ()))
            keys.update(self._assembler.static_entries(table))
            if len(keys) == 1:
                entry, known = self._entry(keys.pop())
        return entry, known

    def _constraint(
        self,
        entry: TableSource,
        kind: str,
        kinds: tuple[str, ...],
        name: str | None,
        columns: tuple[str, ...],
    ) -> SourceLocation | None:
        if name:
            for source in entry.constraints:
                if source.syntax.name == name and source.syntax.kind in kinds:
                    return SourceLocation.at(source.path, source.syntax.span, "constraint")
        in_model = not kind.startswith("remove_")
        if name:
            for hint in entry.hint_constraints:
                if hint.name == name and hint.kind in kinds:
                    columns = columns or hint.columns
                    kinds = (hint.kind,)
                    in_model = True
                    break
        if not in_model or not columns:
            return None
        wanted = set(columns)
        for exact in (True, False):
            for source in entry.constraints:
                if source.syntax.kind not in kinds or (name and source.syntax.name):
                    continue
                if (source.columns == columns) if exact else (set(source.columns) == wanted):
                    return SourceLocation.at(source.path, source.syntax.span, "constraint")
        if len(columns) > 1 and kinds == ("primary_key",):
            # a composite key written as primary_key=True on each column: show the first
            found = [_column(entry, c) for c in columns]
            if all(c is not None and c.syntax.primary_key_span for c in found):
                columns = columns[:1]
        if len(columns) != 1:
            return None
        column = _column(entry, columns[0])
        if column is None:
            return None
        span = _implicit_span(column.syntax, kinds)
        return SourceLocation.at(column.path, span, "argument") if span else None


def _column(entry: TableSource, name: str) -> ColumnSource | None:
    """A column by database name, or by attribute key when that is what was given."""
    found = entry.columns.get(name)
    if found is None and name in entry.keys:
        found = entry.columns.get(entry.keys[name])
    return found


def _constraint_kinds(kind: str) -> tuple[str, ...]:
    if "index" in kind:
        return ("index",)
    if "fk" in kind or "foreign" in kind:
        return ("foreign_key",)
    if "check" in kind:
        return ("check",)
    if kind.endswith("_pk") or "primary" in kind:
        return ("primary_key",)
    if "constraint" in kind or "unique" in kind:
        return _ALL_CONSTRAINTS
    return ()


def _attribute_span(column: AttributeSyntax, attribute: str) -> Span | None:
    if attribute == "type":
        return column.type_span or column.annotation_type_span
    if attribute == "nullable":  # primary_key=True implies NOT NULL whatever the annotation
        return column.nullable_span or column.primary_key_span or column.annotation_type_span
    if attribute == "server_default":
        return column.server_default_span
    if attribute == "comment":
        return column.comment_span
    return None


def _implicit_span(column: AttributeSyntax, kinds: tuple[str, ...]) -> Span | None:
    """The ``index=True``/``unique=True``/``ForeignKey``/``primary_key=True`` argument."""
    for kind in kinds:
        if kind == "index" and (column.index_span or column.unique_span):
            return column.index_span or column.unique_span
        if kind == "unique" and (column.unique_span or column.index_span):
            return column.unique_span or column.index_span
        if kind == "foreign_key" and column.foreign_keys:
            return column.foreign_keys[0].span
        if kind == "primary_key" and column.primary_key_span:
            return column.primary_key_span
    return None


# -- building ------------------------------------------------------------------


def map_sources(modules: Mapping[str, ModuleSyntax], hints: Sequence[TableHint] = ()) -> SourceMap:
    """Index ``modules`` (and ``hints``) for ``SourceMap.locate``; hints are optional.

    Without hints, tables are matched by ``__tablename__``/``Table("name")``
    literals and statically resolved base classes.
    """
    return SourceMap(TableAssembler(modules), hints)
