"""Assembling one table's source record from the static parse and runtime hints.

A table's record says where its header, columns, constraints, comment and
base are written. It is built from what the files declare (``__tablename__``
literals, ``Table("name")`` calls, statically resolved base classes) and,
when the worker imported the models, corrected by runtime hints: which class
maps the table, which mixin really defines each column, which names naming
conventions produced.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from schema_lsp.sources.hints import ConstraintHint, DefinitionRef, TableHint
from schema_lsp.sources.model import (
    AttributeSyntax,
    BaseSyntax,
    ClassSyntax,
    ConstraintSyntax,
    ModuleSyntax,
    Span,
    TableSyntax,
)

TableKey = tuple[str | None, str]


@dataclass(frozen=True, slots=True)
class Placed:
    path: str
    span: Span


@dataclass(frozen=True, slots=True)
class ColumnSource:
    path: str
    syntax: AttributeSyntax


@dataclass(frozen=True, slots=True)
class ConstraintSource:
    path: str
    syntax: ConstraintSyntax
    columns: tuple[str, ...]


@dataclass
class TableSource:
    schema: str | None
    name: str
    header: Placed
    columns: dict[str, ColumnSource] = field(default_factory=dict)
    constraints: list[ConstraintSource] = field(default_factory=list)
    comment: Placed | None = None
    hint_constraints: tuple[ConstraintHint, ...] = ()
    base: Placed | None = None
    keys: dict[str, str] = field(default_factory=dict)  # attribute key -> column name


@lru_cache(maxsize=8192)
def _norm(path: str) -> str:
    return os.path.normcase(os.path.abspath(path))


@lru_cache(maxsize=8192)
def _real(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))


class TableAssembler:
    """Joins module syntax and hints into ``TableSource`` records."""

    def __init__(self, modules: Mapping[str, ModuleSyntax]) -> None:
        self.modules: dict[str, tuple[str, ModuleSyntax]] = {}
        for path, module in modules.items():
            self.modules[_norm(path)] = (path, module)
        self.by_name: dict[str, list[tuple[str, ClassSyntax]]] = {}
        self.classes: dict[str, dict[str, ClassSyntax]] = {}
        for path, module in modules.items():
            by_qualname = self.classes.setdefault(path, {})
            for cls in module.classes:
                self.by_name.setdefault(cls.name, []).append((path, cls))
                by_qualname.setdefault(cls.qualname, cls)
        self._mro_cache: dict[tuple[str, str], list[tuple[str, ClassSyntax]]] = {}
        self._real_index: dict[str, tuple[str, ModuleSyntax]] | None = None
        self._key_cache: dict[tuple[str, str], tuple[TableKey, bool] | None] = {}
        self._indexed = False
        self._static: dict[str, dict[TableKey, TableSource]] = {}
        self.tables_by_name: dict[str, list[tuple[str, TableSyntax]]] = {}
        self.classes_by_tablename: dict[str, list[tuple[str, ClassSyntax]]] = {}
        self.unnamed: list[tuple[str, ClassSyntax]] = []
        self.unnamed_by_name: dict[str, list[tuple[str, ClassSyntax]]] = {}
        self.children: dict[str, list[tuple[str, ClassSyntax]]] = {}
        self.indexes_by_target: dict[str, list[tuple[str, ModuleSyntax, ConstraintSyntax]]] = {}

    def module(self, path: str | None) -> tuple[str, ModuleSyntax] | None:
        if path is None:
            return None
        found = self.modules.get(_norm(path))
        if found is None:
            if self._real_index is None:
                self._real_index = {_real(p): v for p, v in self.modules.items()}
            found = self._real_index.get(_real(path))
        return found

    # static class resolution

    def resolve_class(
        self, path: str, module: ModuleSyntax, name: str
    ) -> tuple[str, ClassSyntax] | None:
        """Find the class a base-class expression refers to, from ``module``'s point of view."""
        short = name.rsplit(".", 1)[-1]
        local = self.classes.get(path, {}).get(name)
        if local is not None:
            return path, local
        candidates = self.by_name.get(short, [])
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        head = name.split(".", 1)[0]
        imported = module.imports.get(head if "." in name else name)
        if imported:
            dotted = imported.lstrip(".")
            if "." in name:
                dotted = f"{dotted}.{name.split('.', 1)[1]}"
            module_part = dotted.rsplit(".", 1)[0].replace(".", os.sep)
            for candidate_path, cls in candidates:
                stem = os.path.splitext(_norm(candidate_path))[0]
                if stem.endswith(module_part) or stem.endswith(
                    os.path.join(module_part, "__init__")
                ):
                    return candidate_path, cls
        return candidates[0]

    def mro(self, path: str, cls: ClassSyntax) -> list[tuple[str, ClassSyntax]]:
        """Approximate MRO (depth-first, deduplicated) through statically known classes."""
        key = (path, cls.qualname)
        cached = self._mro_cache.get(key)
        if cached is not None:
            return cached
        self._mro_cache[key] = [(path, cls)]  # guards against cycles
        found = self.module(path)
        result: list[tuple[str, ClassSyntax]] = [(path, cls)]
        seen = {key}
        if found is not None:
            for base in cls.bases:
                resolved = self.resolve_class(path, found[1], base)
                if resolved is None:
                    continue
                for item in self.mro(*resolved):
                    ident = (item[0], item[1].qualname)
                    if ident not in seen:
                        seen.add(ident)
                        result.append(item)
        self._mro_cache[key] = result
        return result

    # static tables

    def table_names(self) -> set[str]:
        """Every table name some class or ``Table(...)`` may declare."""
        self._index()
        names = set(self.tables_by_name) | set(self.classes_by_tablename)
        for path, cls in self.unnamed:
            found = self.class_table_key(path, cls)
            if found is not None:
                names.add(found[0][1])
        return names

    def _index(self) -> None:
        """One pass over all modules: name -> declarers, without resolving anything."""
        if self._indexed:
            return
        self._indexed = True
        for path, module in self.modules.values():
            for table in module.tables:
                if table.name is not None:
                    self.tables_by_name.setdefault(table.name, []).append((path, table))
            for cls in module.classes:
                if cls.table is not None and cls.table.name:
                    self.classes_by_tablename.setdefault(cls.table.name, []).append((path, cls))
                elif cls.tablename is not None:
                    self.classes_by_tablename.setdefault(cls.tablename, []).append((path, cls))
                else:
                    self.unnamed.append((path, cls))
                    for candidate in {cls.name, cls.name.lower(), snake_case(cls.name)}:
                        self.unnamed_by_name.setdefault(candidate, []).append((path, cls))
                for base in cls.bases:
                    short = base.rsplit(".", 1)[-1]
                    self.children.setdefault(short, []).append((path, cls))
            for index in module.indexes:
                if index.target:
                    self.indexes_by_target.setdefault(index.target, []).append(
                        (path, module, index)
                    )

    def static_entries(self, name: str) -> dict[TableKey, TableSource]:
        """Tables called ``name`` (any schema) as the source alone declares them."""
        cached = self._static.get(name)
        if cached is not None:
            return cached
        self._index()
        entries: dict[TableKey, TableSource] = {}
        for path, table in self.tables_by_name.get(name, ()):
            key = (table.schema, name)
            if key not in entries:
                entry = self.table_entry(path, table)
                if table.variable:
                    self.add_module_indexes(entry, path, table.variable, None)
                entries[key] = entry
        candidates = [
            *self.classes_by_tablename.get(name, ()),
            *self.unnamed_by_name.get(name, ()),
        ]
        for path, cls in candidates:
            found = self.class_table_key(path, cls)
            if found is None or found[1] or found[0][1] != name or found[0] in entries:
                continue
            entry = self.class_entry(path, cls, found[0])
            self.add_subclasses(entry, found[0], path, cls, set())
            entries[found[0]] = entry
        self._static[name] = entries
        return entries

    def add_subclasses(
        self,
        entry: TableSource,
        key: TableKey,
        path: str,
        cls: ClassSyntax,
        seen: set[tuple[str, str]],
    ) -> None:
        """Columns of single-table-inheritance subclasses, and indexes naming the class."""
        seen.add((path, cls.qualname))
        self.add_module_indexes(entry, path, cls.name, cls)
        for child_path, child in self.children.get(cls.name, ()):
            if (child_path, child.qualname) in seen:
                continue
            found = self.class_table_key(child_path, child)
            if found is None or not found[1] or found[0] != key:
                continue
            self.add_class_columns(entry, child_path, child, own_table=False)
            self.add_subclasses(entry, key, child_path, child, seen)

    def add_module_indexes(
        self, entry: TableSource, path: str, target: str, cls: ClassSyntax | None
    ) -> None:
        """Module-level ``Index(...)`` calls whose columns hang off ``target``."""
        for index_path, module, index in self.indexes_by_target.get(target, ()):
            if cls is not None:
                resolved = self.resolve_class(index_path, module, target)
                if resolved is None or resolved[1] is not cls:
                    continue
            elif index_path != path and target not in module.imports:
                continue
            entry.constraints.append(
                ConstraintSource(index_path, index, _columns(entry, index.columns))
            )

    def class_table_key(
        self, path: str, cls: ClassSyntax
    ) -> tuple[tuple[str | None, str], bool] | None:
        """The table a class maps and whether it is its parent's (single-table inheritance)."""
        ident = (path, cls.qualname)
        if ident in self._key_cache:
            return self._key_cache[ident]
        self._key_cache[ident] = None  # guards against cycles
        result = self._class_table_key(path, cls)
        self._key_cache[ident] = result
        return result

    def _class_table_key(
        self, path: str, cls: ClassSyntax
    ) -> tuple[tuple[str | None, str], bool] | None:
        if cls.table is not None and cls.table.name:
            return (cls.table.schema, cls.table.name), False
        if cls.abstract or cls.is_declarative_base:
            return None
        mro = self.mro(path, cls)
        name = cls.tablename
        if name is None:
            rule = next((c.tablename_rule for _, c in mro if c.tablename_rule), None)
            if rule and any(c.is_declarative_base for _, c in mro):
                name = cls.name.lower() if rule == "lower" else cls.name
        parents = [
            (parent_path, parent, self.class_table_key(parent_path, parent))
            for parent_path, parent in mro[1:]
        ]
        if name is None and self._flask_model(cls, mro, parents):
            name = snake_case(cls.name)
        if name is None:
            for _, _, parent_key in parents:
                if parent_key is not None:
                    return parent_key[0], True
            return None
        schema = next((c.schema for _, c in mro if c.has_table_args), None)
        return (schema, name), False

    @staticmethod
    def _flask_model(
        cls: ClassSyntax,
        mro: list[tuple[str, ClassSyntax]],
        parents: list[tuple[str, ClassSyntax, tuple[TableKey, bool] | None]],
    ) -> bool:
        """Flask-SQLAlchemy names the table of a ``db.Model`` with its own primary key."""
        if not any(base.endswith(".Model") for _, c in mro for base in c.bases):
            return False
        own = [cls]
        for _, parent, key in parents:
            if key is not None:
                break  # a mapped parent: its key is its own table's
            own.append(parent)
        return any(a.primary_key_span is not None for c in own for a in c.attributes)

    def table_entry(self, path: str, table: TableSyntax) -> TableSource:
        entry = TableSource(table.schema, table.name or "", Placed(path, table.span))
        for column in table.columns:
            if column.column_name:
                entry.columns.setdefault(column.column_name, ColumnSource(path, column))
        entry.constraints.extend(
            ConstraintSource(path, c, _columns(entry, c.columns)) for c in table.constraints
        )
        if table.comment_span is not None:
            entry.comment = Placed(path, table.comment_span)
        return entry

    def class_entry(self, path: str, cls: ClassSyntax, key: tuple[str | None, str]) -> TableSource:
        entry = TableSource(key[0], key[1], Placed(path, cls.span))
        if cls.table is not None:
            inner = self.table_entry(path, cls.table)
            entry.columns.update(inner.columns)
            entry.constraints.extend(inner.constraints)
            entry.comment = inner.comment
        self.add_class_columns(entry, path, cls, own_table=True)
        return entry

    def add_class_columns(
        self, entry: TableSource, path: str, cls: ClassSyntax, own_table: bool
    ) -> None:
        """Columns from ``cls`` and its unmapped mixins (stopping at mapped parents)."""
        table_args_done = not own_table
        for item_path, item in self.mro(path, cls):
            if item is not cls and self.class_table_key(item_path, item) is not None:
                break  # a mapped parent: its columns live in its own table
            for attr in item.attributes:
                if attr.kind != "column" or attr.key is None:
                    continue
                column_name = attr.column_name or attr.key
                entry.keys.setdefault(attr.key, column_name)
                entry.columns.setdefault(column_name, ColumnSource(item_path, attr))
            if not table_args_done and item.has_table_args:
                table_args_done = True
                entry.constraints.extend(
                    ConstraintSource(item_path, c, _columns(entry, c.columns))
                    for c in item.table_args
                )
                if item.table_comment_span is not None and entry.comment is None:
                    entry.comment = Placed(item_path, item.table_comment_span)
        _refresh_columns(entry)

    def static_base(self) -> Placed | None:
        """The most likely MetaData/base definition when no hint names one."""
        order = {"declarative_class": 0, "declarative_base": 1, "metadata": 2, "registry": 3}
        best: tuple[int, str, BaseSyntax] | None = None
        for path, module in self.modules.values():
            for base in module.bases:
                rank = order.get(base.kind, 9)
                if best is None or rank < best[0]:
                    best = (rank, path, base)
        return Placed(best[1], best[2].span) if best else None

    # hints

    def class_from_ref(self, ref: DefinitionRef | None) -> tuple[str, ClassSyntax] | None:
        if ref is None:
            return None
        found = self.module(ref.file)
        if found is None:
            return None
        cls = self.classes.get(found[0], {}).get(ref.name)
        return (found[0], cls) if cls is not None else None

    def base_from_refs(self, refs: Iterable[DefinitionRef]) -> Placed | None:
        for ref in refs:
            found = self.module(ref.file)
            if found is None:
                continue
            for base in found[1].bases:
                if base.name == ref.name:
                    return Placed(found[0], base.span)
        return None

    def variable_entry(self, hint: TableHint) -> TableSource | None:
        """The ``Table(...)`` call bound to a module variable the hint names.

        Every module importing the table also binds it, so the first
        candidate whose file actually calls ``Table("name", ...)`` wins.
        """
        for ref in hint.table_variables:
            found = self.module(ref.file)
            if found is None:
                continue
            for table in found[1].tables:
                if table.variable == ref.name and table.name == hint.name:
                    entry = self.table_entry(found[0], table)
                    self.add_module_indexes(entry, found[0], ref.name, None)
                    return entry
        return None

    def hinted_entry(self, hint: TableHint, static: TableSource | None) -> TableSource | None:
        mapped = self.class_from_ref(hint.mapped_class)
        entry: TableSource | None = None
        if mapped is not None and self.class_table_key(*mapped) is not None:
            path, cls = mapped
            entry = self.class_entry(path, cls, (hint.schema, hint.name))
            self.add_module_indexes(entry, path, cls.name, cls)
        else:  # an imperative table, possibly mapped with ``registry.map_imperatively``
            entry = self.variable_entry(hint)
            if entry is None and mapped is not None:
                entry = self.class_entry(*mapped, (hint.schema, hint.name))
        if entry is None:
            if static is None:
                return None
            entry = TableSource(
                static.schema,
                static.name,
                static.header,
                dict(static.columns),
                list(static.constraints),
                static.comment,
                (),
                None,
                dict(static.keys),
            )
        elif static is not None:
            for column_name, source in static.columns.items():
                entry.columns.setdefault(column_name, source)
            known = {id(c.syntax) for c in entry.constraints}
            entry.constraints.extend(c for c in static.constraints if id(c.syntax) not in known)
        entry.schema, entry.name = hint.schema, hint.name
        for column in hint.columns:
            if column.key is None:
                continue
            entry.keys[column.key] = column.name
            for origin in column.origins:
                origin_class = self.class_from_ref(origin)
                if origin_class is None:
                    continue
                attr = origin_class[1].attribute(column.key)
                if attr is not None:
                    entry.columns[column.name] = ColumnSource(origin_class[0], attr)
                    break
        _refresh_columns(entry)
        entry.hint_constraints = hint.constraints
        entry.base = self.base_from_refs(hint.metadata)
        return entry


def _refresh_columns(entry: TableSource) -> None:
    """Re-derive constraint column names once all attribute keys are known."""
    entry.constraints = [
        ConstraintSource(c.path, c.syntax, _columns(entry, c.syntax.columns))
        for c in entry.constraints
    ]


def _columns(entry: TableSource, written: Iterable[str]) -> tuple[str, ...]:
    """Column names for names as written (attribute keys become column names)."""
    return tuple(w if w in entry.columns else entry.keys.get(w, w) for w in written)


def snake_case(name: str) -> str:
    """Flask-SQLAlchemy's default table name for a model class name."""
    name = re.sub(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))", r"_\1", name)
    return name.lower().lstrip("_")


def all_refs(hints: Sequence[TableHint]) -> Iterator[DefinitionRef]:
    seen: set[tuple[DefinitionRef, ...]] = set()
    for hint in hints:
        if hint.metadata not in seen:
            seen.add(hint.metadata)
            yield from hint.metadata
