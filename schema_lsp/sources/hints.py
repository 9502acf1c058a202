"""Runtime facts about where tables and columns come from.

Only the process that imported the models knows which class maps a table,
which mixin or parent class really defines a column, and what name a naming
convention gave an index. ``collect_hints`` records exactly that as plain,
JSON-serialisable data so a worker can send it to the language server, where
``map_sources`` combines it with the static parse.
"""

from __future__ import annotations

import sys
from collections.abc import Container, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import ColumnProperty, Mapper, registry
from sqlalchemy.sql.schema import ColumnCollectionConstraint


@dataclass(frozen=True, slots=True)
class DefinitionRef:
    """A class (by qualname) or module-level variable defined in ``file``."""

    file: str | None
    name: str


@dataclass(frozen=True, slots=True)
class ColumnHint:
    """A column, its mapped attribute key and the classes that may define it.

    ``origins`` lists, in MRO order, the classes whose own namespace mentions
    the attribute; the resolver takes the first one whose source defines it
    (the mapped class itself cannot tell an override from an inherited copy).
    """

    name: str
    key: str | None = None
    origins: tuple[DefinitionRef, ...] = ()


@dataclass(frozen=True, slots=True)
class ConstraintHint:
    """An index or constraint as SQLAlchemy named it (naming conventions applied)."""

    kind: str
    name: str | None
    columns: tuple[str, ...]
    from_column: bool = False


@dataclass(frozen=True, slots=True)
class TableHint:
    """Where one ``Table`` of the target metadata was defined."""

    schema: str | None
    name: str
    mapped_class: DefinitionRef | None = None
    table_variables: tuple[DefinitionRef, ...] = ()
    columns: tuple[ColumnHint, ...] = ()
    constraints: tuple[ConstraintHint, ...] = ()
    metadata: tuple[DefinitionRef, ...] = field(default=())


def collect_hints(
    target: MetaData | registry | type[Any], skip_modules: Container[str] = ()
) -> list[TableHint]:
    """Hints for every table of ``target``: a ``MetaData``, declarative base or registry.

    Must run where the models are imported. Mapped classes are found through
    the ORM registries whose metadata is ``target``'s metadata. ``skip_modules``
    names modules loaded before the models (the worker's own), whose globals
    cannot hold them and need not be searched.
    """
    from schema_lsp.sources.serialize import hints_from_data

    return hints_from_data([h for h in collect_hint_data(target, skip_modules) if h is not None])


def collect_hint_data(
    target: MetaData | registry | type[Any],
    skip_modules: Container[str] = (),
    trusted: Container[int] = frozenset(),
) -> list[dict[str, Any] | None]:
    """``collect_hints`` as ``hints_to_data`` writes it, built directly: the worker sends
    hints for every table on every check, and the dataclasses in between cost as much as
    the walk itself on a thousand tables. A table whose id is in ``trusted`` gets None
    (the worker trusts it to be as last sent)."""
    metadata, registries = _metadata_and_registries(target)
    mappers = [m for reg in registries for m in reg.mappers]
    by_table: dict[int, list[Mapper[Any]]] = {}
    for mapper in mappers:
        local = mapper.local_table
        if isinstance(local, Table) and local.metadata is metadata:
            by_table.setdefault(id(local), []).append(mapper)
    globals_index = _module_globals_index(metadata, skip_modules)
    metadata_refs = [_ref_data(r) for r in _metadata_refs(metadata, mappers, globals_index)]
    hints: list[dict[str, Any] | None] = []
    for table in metadata.tables.values():
        if id(table) in trusted:
            hints.append(None)
            continue
        table_mappers = sorted(by_table.get(id(table), []), key=_inheritance_depth)
        primary = table_mappers[0] if table_mappers else None
        hints.append(
            {
                "schema": table.schema,
                "name": table.name,
                "mapped_class": _ref_data(_class_ref(primary.class_)) if primary else None,
                "table_variables": [_ref_data(r) for r in globals_index.get(id(table), ())],
                "columns": _column_data(table, table_mappers),
                "constraints": _constraint_data(table),
                "metadata": list(metadata_refs),
            }
        )
    return hints


def hinted_tables(target: MetaData | registry | type[Any]) -> list[Table]:
    """The tables ``collect_hint_data`` describes, in its order."""
    return list(_metadata_and_registries(target)[0].tables.values())


def _ref_data(ref: DefinitionRef) -> dict[str, Any]:
    return {"file": ref.file, "name": ref.name}


def _metadata_and_registries(
    target: MetaData | registry | type[Any],
) -> tuple[MetaData, list[registry]]:
    """The metadata ``target`` stands for and every ORM registry mapping into it."""
    found = target if isinstance(target, MetaData) else getattr(target, "metadata", None)
    if not isinstance(found, MetaData):
        raise TypeError(f"expected MetaData, registry or declarative base, got {target!r}")
    registries = [reg for reg in _all_registries() if reg.metadata is found]
    for own in (target, getattr(target, "registry", None)):
        if isinstance(own, registry) and own not in registries:
            registries.append(own)
    return found, registries


def _all_registries() -> list[registry]:
    """Every live ORM registry (SQLAlchemy keeps them in a weak set)."""
    mapper_module = sys.modules.get("sqlalchemy.orm.mapper")
    tracked = getattr(mapper_module, "_mapper_registries", None)
    if tracked is None:
        return []
    return list(tracked)


def _inheritance_depth(mapper: Mapper[Any]) -> int:
    depth = 0
    parent = mapper.inherits
    while parent is not None:
        depth += 1
        parent = parent.inherits
    return depth


def _class_file(cls: type) -> str | None:
    module = sys.modules.get(cls.__module__)
    path = getattr(module, "__file__", None)
    return path if isinstance(path, str) else None


def _class_ref(cls: type) -> DefinitionRef:
    return DefinitionRef(_class_file(cls), cls.__qualname__)


def _column_data(table: Table, mappers: list[Mapper[Any]]) -> list[dict[str, Any]]:
    keyed: dict[str, dict[str, Any]] = {}
    for mapper in mappers:
        for prop in _column_properties(mapper):
            for column in prop.columns:
                if not isinstance(column, Column) or column.table is not table:
                    continue
                if column.name in keyed:
                    continue
                owner = prop.parent.class_
                keyed[column.name] = {
                    "name": column.name,
                    "key": prop.key,
                    "origins": [_ref_data(r) for r in _origins(owner, prop.key)],
                }
    return [
        keyed.get(name) or {"name": name, "key": None, "origins": []}
        for name in [c.name for c in table.columns]
    ]


def _column_properties(mapper: Mapper[Any]) -> list[ColumnProperty[Any]]:
    """Column properties without ``configure_mappers()``.

    Configuring every mapper is slow for large models and raises on a
    half-edited relationship; column properties exist before configuration.
    """
    props = getattr(mapper, "_props", None)
    if props is None:
        return list(mapper.column_attrs)
    return [p for p in props.values() if isinstance(p, ColumnProperty)]


def _origins(owner: type, key: str) -> Iterator[DefinitionRef]:
    """Classes in ``owner``'s MRO whose own namespace declares ``key``."""
    for cls in owner.__mro__:
        if cls is object:
            continue
        own = cls.__dict__
        annotations = own.get("__annotations__", {})
        if key in own or (isinstance(annotations, dict) and key in annotations):
            yield _class_ref(cls)


_CONSTRAINT_KINDS = (
    (PrimaryKeyConstraint, "primary_key"),
    (UniqueConstraint, "unique"),
    (ForeignKeyConstraint, "foreign_key"),
    (CheckConstraint, "check"),
)


def _constraint_data(table: Table) -> list[dict[str, Any]]:
    out = [
        {
            "kind": "index",
            "name": _name(index.name),
            "columns": [c.name for c in index.columns],
            "from_column": bool(getattr(index, "_column_flag", False)),
        }
        for index in table.indexes
    ]
    for constraint in table.constraints:
        kind = next((k for cls, k in _CONSTRAINT_KINDS if isinstance(constraint, cls)), None)
        if kind is None or not isinstance(constraint, ColumnCollectionConstraint):
            continue
        out.append(
            {
                "kind": kind,
                "name": _name(constraint.name),
                "columns": [c.name for c in constraint.columns],
                "from_column": bool(getattr(constraint, "_column_flag", False)),
            }
        )
    # ``table.indexes`` and ``table.constraints`` are sets, iterated in an order that
    # changes with every import: sorted, equal tables give equal hints (sent once).
    out.sort(key=_constraint_order)
    return out


def _constraint_order(data: dict[str, Any]) -> tuple[str, str, list[str]]:
    return (data["kind"], data["name"] or "", data["columns"])


def _name(name: object) -> str | None:
    if name is None:
        return None
    text = str(name)
    return None if text == "_NONE_NAME" else text


def _module_globals_index(
    metadata: MetaData, skip_modules: Container[str] = ()
) -> dict[int, list[DefinitionRef]]:
    """id(object) -> module globals bound to it, for tables, metadata and bases.

    Imperative tables and ``Base = declarative_base()`` record no source
    location, so the module whose globals hold them is the best evidence.
    """
    wanted: dict[int, object] = {id(metadata): metadata}
    for table in metadata.tables.values():
        wanted[id(table)] = table
    found: dict[int, list[DefinitionRef]] = {}
    for module_name, module in list(sys.modules.items()):
        if module_name in skip_modules:
            continue
        try:  # lazy-loading module proxies may run code on attribute access
            namespace = getattr(module, "__dict__", None)
            path = getattr(module, "__file__", None)
        except Exception:
            continue
        if not isinstance(namespace, dict) or not isinstance(path, str):
            continue
        for name, value in list(namespace.items()):
            key = id(value)
            if key in wanted and wanted[key] is value:
                found.setdefault(key, []).append(DefinitionRef(path, name))
            elif isinstance(value, type) and vars(value).get("metadata") is metadata:
                found.setdefault(id(metadata), []).append(DefinitionRef(path, name))
    return found


def _metadata_refs(
    metadata: MetaData,
    mappers: list[Mapper[Any]],
    globals_index: dict[int, list[DefinitionRef]],
) -> Iterator[DefinitionRef]:
    """Candidate definitions of the metadata/base, most specific first."""
    seen: set[DefinitionRef] = set()
    # A mapped class's MRO holds the declarative base class itself; bases made by
    # ``declarative_base()`` claim SQLAlchemy's module, so only globals can tell.
    for cls in mappers[0].class_.__mro__ if mappers else ():
        own = vars(cls)
        if own.get("metadata") is metadata and "__mapper__" not in own:
            ref = _class_ref(cls)
            if ref not in seen and not cls.__module__.startswith("sqlalchemy."):
                seen.add(ref)
                yield ref
    for ref in globals_index.get(id(metadata), ()):
        if ref not in seen:
            seen.add(ref)
            yield ref
