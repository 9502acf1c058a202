"""Hover on any model column: what the model says next to what the database has.

Rows for type, nullable, default, comment and the indexes on the column. Values come from
what the last check sent: a drifted attribute shows both sides from its drift record; the
indexes come from the models' hints and the database state (see ``database_state``); an
attribute that agrees shows the database's value (the worker's ``database_schema``) on
both sides, since the comparison found the model to say the same; one the check does not
compare (type without ``compare_type``, default without ``compare_server_default``) says so
on the model's side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types

from .database_state import DatabaseState

#: Drift kind -> hover row; the order of the rows.
ATTRIBUTES = {
    "modify_type": "type",
    "modify_nullable": "nullable",
    "modify_default": "default",
    "modify_comment": "comment",
}


@dataclass(frozen=True)
class ColumnAt:
    """The model column under the cursor and the range of its definition."""

    schema: str | None
    table: str
    name: str
    range: types.Range


def column_at(
    source_map: Any, hints: Iterable[Mapping[str, Any]], path: Path, position: types.Position
) -> ColumnAt | None:
    """The innermost model column whose definition spans ``position`` in ``path``."""
    best: tuple[int, ColumnAt] | None = None
    real = path.resolve()
    for hint in hints:
        schema, table = hint.get("schema"), str(hint.get("name"))
        for column in hint.get("columns") or ():
            name = column.get("name")
            if not name:
                continue
            loc = source_map.locate("add_column", schema, table, str(name))
            if loc is None or loc.anchor != "column" or Path(loc.path).resolve() != real:
                continue
            if not (loc.start_line <= position.line <= loc.end_line):
                continue
            size = loc.end_line - loc.start_line
            if best is None or size < best[0]:
                rng = types.Range(
                    start=types.Position(line=loc.start_line, character=loc.start_character),
                    end=types.Position(line=loc.end_line, character=loc.end_character),
                )
                best = (size, ColumnAt(schema, table, str(name), rng))
    return best[1] if best else None


def _word(attribute: str, value: Any) -> str:
    if attribute == "nullable":
        return "NULL" if value else "NOT NULL"
    if value is None:
        return f"no {attribute}"
    return repr(value) if attribute == "comment" else str(value)


def _cell(value: Any) -> str:
    return "—" if value in (None, "") else str(value).replace("|", "\\|")


def _model_indexes(hints: Iterable[Mapping[str, Any]], at: ColumnAt) -> list[str]:
    key = DatabaseState.key(at.schema, at.table)
    out = []
    for hint in hints:
        if DatabaseState.key(hint.get("schema"), str(hint.get("name"))) != key:
            continue
        for c in hint.get("constraints") or ():
            if c.get("kind") == "index" and at.name in (c.get("columns") or ()):
                out.append(str(c.get("name") or "(unnamed)"))
    return sorted(out)


def _database_indexes(state: DatabaseState | None, at: ColumnAt) -> list[str] | None:
    table = state.table(at.schema, at.table) if state is not None else None
    if table is None or table.indexes is None:
        return None
    wanted = at.name.casefold()
    return sorted(
        name for name, cols in table.indexes.items() if wanted in {c.casefold() for c in cols}
    )


def not_compared(config: Any) -> dict[str, str]:
    """Attribute -> the setting that is off, for the attributes a check leaves alone."""
    return {
        attribute: setting
        for attribute, setting in (("type", "compare_type"), ("default", "compare_server_default"))
        if not getattr(config, setting)
    }


def column_markdown(
    at: ColumnAt,
    drifts: Sequence[Mapping[str, Any]],
    hints: Sequence[Mapping[str, Any]],
    database: DatabaseState | None,
    models: DatabaseState | None = None,
    not_compared: Mapping[str, str] | None = None,
) -> str:
    """The hover text for one model column. ``not_compared``: attribute -> the setting that
    would compare it, for attributes the check left alone."""
    mine = [
        d
        for d in drifts
        if d.get("table") == at.table
        and d.get("name") == at.name
        and (d.get("schema") or None) == (at.schema or None)
    ]
    by_attribute = {ATTRIBUTES[str(d["kind"])]: d for d in mine if d.get("kind") in ATTRIBUTES}
    missing = any(d.get("kind") == "add_column" for d in mine)
    db_table = database.table(at.schema, at.table) if database is not None else None
    db_column = None
    if db_table is not None and db_table.columns is not None:
        db_column = db_table.columns.get(at.name.casefold())
    model_table = models.table(at.schema, at.table) if models is not None else None
    model_column = (model_table.columns or {}).get(at.name.casefold()) if model_table else None

    where = f"{at.schema}.{at.table}" if at.schema else at.table
    rows = ["| | models | database |", "| --- | --- | --- |"]
    for attribute in ATTRIBUTES.values():
        drift = by_attribute.get(attribute)
        if drift is not None:
            model, db = drift.get("model"), drift.get("database")
            label = f"**{attribute}** ≠"
        else:
            label = attribute
            skipped = (not_compared or {}).get(attribute)
            if missing:
                db = None
            elif db_column is not None and attribute in db_column:
                db = _word(attribute, db_column[attribute])
            else:
                db = "same as the model"
            if model_column and attribute in model_column:
                model = _word(attribute, model_column[attribute])
            elif skipped:
                model = f"not compared ({skipped} is off)"
            elif db_column is not None and attribute in db_column and not missing:
                model = f"{db} (agrees)"
            else:
                model = "as declared"
        rows.append(f"| {label} | {_cell(model)} | {_cell(db)} |")
    model_ix = _model_indexes(hints, at)
    db_ix = None if missing else _database_indexes(database, at)
    db_ix_text = "unknown" if db_ix is None else (", ".join(db_ix) or "none")
    if missing:
        db_ix_text = "—"
    label = "indexes" if db_ix is None or db_ix == model_ix else "**indexes** ≠"
    rows.append(f"| {label} | {_cell(', '.join(model_ix) or 'none')} | {_cell(db_ix_text)} |")

    notes = []
    if missing:
        notes.append("not in the database yet")
    for d in mine:
        if d.get("destructive") and d.get("loss"):
            notes.append(f"⚠ {d['loss']}")
        info = d.get("migration")
        if isinstance(info, Mapping) and info.get("category") == "pending_revision":
            notes.append(f"covered by pending revision {info.get('revision')} (not applied)")
    return "\n".join(
        [f"**schema-lsp** · `{where}.{at.name}`", "", *rows, *(["", *notes] if notes else [])]
    )
