"""JSON-able dicts for hints, so the import worker can send them over a pipe."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from schema_lsp.sources.hints import ColumnHint, ConstraintHint, DefinitionRef, TableHint


def hints_to_data(hints: Iterable[TableHint]) -> list[dict[str, Any]]:
    """Plain lists/dicts/strings (``json.dumps``-ready) for ``hints``.

    Written out field by field: ``dataclasses.asdict`` deep-copies every value, which on a
    thousand tables costs more than collecting the hints.
    """
    return [_table_data(hint) for hint in hints]


def _ref_data(ref: DefinitionRef | None) -> dict[str, Any] | None:
    return None if ref is None else {"file": ref.file, "name": ref.name}


def _table_data(hint: TableHint) -> dict[str, Any]:
    return {
        "schema": hint.schema,
        "name": hint.name,
        "mapped_class": _ref_data(hint.mapped_class),
        "table_variables": [_ref_data(r) for r in hint.table_variables],
        "columns": [
            {"name": c.name, "key": c.key, "origins": [_ref_data(r) for r in c.origins]}
            for c in hint.columns
        ],
        "constraints": [
            {
                "kind": c.kind,
                "name": c.name,
                "columns": list(c.columns),
                "from_column": c.from_column,
            }
            for c in hint.constraints
        ],
        "metadata": [_ref_data(r) for r in hint.metadata],
    }


def hints_from_data(data: Iterable[Mapping[str, Any]]) -> list[TableHint]:
    """Inverse of ``hints_to_data``; tolerates missing optional keys."""
    return [_table(item) for item in data]


def _ref(data: Mapping[str, Any] | None) -> DefinitionRef | None:
    if not data:
        return None
    return DefinitionRef(file=data.get("file"), name=str(data["name"]))


def _refs(data: Iterable[Mapping[str, Any]] | None) -> tuple[DefinitionRef, ...]:
    return tuple(r for r in (_ref(item) for item in data or ()) if r is not None)


def _table(data: Mapping[str, Any]) -> TableHint:
    return TableHint(
        schema=data.get("schema"),
        name=str(data["name"]),
        mapped_class=_ref(data.get("mapped_class")),
        table_variables=_refs(data.get("table_variables")),
        columns=tuple(
            ColumnHint(name=str(c["name"]), key=c.get("key"), origins=_refs(c.get("origins")))
            for c in data.get("columns") or ()
        ),
        constraints=tuple(
            ConstraintHint(
                kind=str(c["kind"]),
                name=c.get("name"),
                columns=tuple(c.get("columns") or ()),
                from_column=bool(c.get("from_column", False)),
            )
            for c in data.get("constraints") or ()
        ),
        metadata=_refs(data.get("metadata")),
    )
