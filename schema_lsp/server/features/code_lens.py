"""Hover on a model column or a drifted line (model and database side by side) and a code
lens on each model class with drift: "N schema changes · Preview · Add to migration".

Both read what the last check published; the class lines come from the same source map the
diagnostics were placed with, so nothing here imports the models or touches the database.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from ..actions import MIGRATION_KEY, migration_targets, revision_message, select_for_all
from .code_actions import (
    ADD_TO_MIGRATION,
    NEW_REVISION,
    drift_key,
    file_diagnostics,
    include_destructive,
)
from .column_hover import ColumnAt, column_at, column_markdown, not_compared
from .database_state import DatabaseState
from .migrations import (
    MIGRATIONS,
    MigrationAwareClient,
    classified_drifts,
    database_state,
    fs_path,
    open_documents,
)
from .revision_commands import PREVIEW_REVISION

if TYPE_CHECKING:
    from ..server import SchemaLanguageServer
    from ..session import RootSession

logger = logging.getLogger("schema_lsp")


def _contains(rng: types.Range, pos: types.Position) -> bool:
    start = (rng.start.line, rng.start.character)
    end = (rng.end.line, rng.end.character)
    return start <= (pos.line, pos.character) <= end or rng.start.line == pos.line


def _cell(value: Any) -> str:
    return "—" if value in (None, "") else str(value).replace("|", "\\|")


def hover_markdown(drifts: Sequence[Mapping[str, Any]]) -> str:
    """One table row per drift: what the models say next to what the database has."""
    rows = ["| | models | database |", "| --- | --- | --- |"]
    notes = []
    for d in drifts:
        what = ".".join(str(x) for x in (d.get("table"), d.get("name")) if x)
        label = f"{what} ({str(d.get('kind')).replace('_', ' ')})"
        rows.append(f"| {_cell(label)} | {_cell(d.get('model'))} | {_cell(d.get('database'))} |")
        if d.get("destructive") and d.get("loss"):
            notes.append(f"⚠ {d['loss']}")
        info = d.get(MIGRATION_KEY)
        if isinstance(info, Mapping) and info.get("category") == "pending_revision":
            notes.append(f"covered by pending revision {info.get('revision')} (not applied)")
    return "\n".join(["**schema-lsp**", "", *rows, *(["", *notes] if notes else [])])


def hover(ls: SchemaLanguageServer, params: types.HoverParams) -> types.Hover | None:
    """On a model column: its model and database sides; on another drifted line (a class
    header, a constraint): one row per drift."""
    uri = params.text_document.uri
    session = ls.session_for(uri)
    if session is None:
        return None
    here = [
        d
        for d in file_diagnostics(session, uri)
        if isinstance(d.data, Mapping) and "fix" in d.data and _contains(d.range, params.position)
    ]
    column = model_column_at(session, uri, params.position)
    if not here and column is None:
        return None
    all_drifts = classified_drifts(ls, session)
    classified = {drift_key(d): d for d in all_drifts}
    drifts: list[Mapping[str, Any]] = []
    for d in here:
        data = d.data if isinstance(d.data, Mapping) else {}
        drifts.append(classified.get(drift_key(data), data))
    if column is None:
        value = hover_markdown(drifts)
        rng = here[0].range
    else:
        result = session.last_result
        assert result is not None
        summary = getattr(result, "model_schema", None)
        models = DatabaseState.from_summary(summary) if isinstance(summary, Mapping) else None
        value = column_markdown(
            column,
            all_drifts,
            result.hints,
            database_state(session),
            models,
            not_compared(session.config),
        )
        others = [
            d for d in drifts if (d.get("table"), d.get("name")) != (column.table, column.name)
        ]
        if others:
            value += "\n\n" + hover_markdown(others)
        rng = column.range
    return types.Hover(
        contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=value), range=rng
    )


def model_column_at(session: RootSession, uri: str, position: types.Position) -> ColumnAt | None:
    result = session.last_result
    path = fs_path(uri)
    if result is None or path is None:
        return None
    source_map = session._index().source_map(session.result_files(result), result.hints)
    return column_at(source_map, result.hints, path, position)


def class_lines(
    session: RootSession, uri: str, drifts: Sequence[Mapping[str, Any]]
) -> dict[int, Any]:
    """Line of each model class (table header) in ``uri`` that has drift, with its drifts."""
    from ..sourcemap import place

    result = session.last_result
    if result is None:
        return {}
    source_map = session._index().source_map(session.result_files(result), result.hints)
    path = fs_path(uri)
    if path is None:
        return {}
    out: dict[int, list[Mapping[str, Any]]] = {}
    for d in drifts:
        header = {"kind": "add_table", "schema": d.get("schema"), "table": d.get("table")}
        placement = place(source_map, header)
        if placement is None or Path(placement.path).resolve() != path.resolve():
            continue
        out.setdefault(placement.range.start.line, []).append(d)
    return out


def code_lenses(ls: SchemaLanguageServer, uri: str) -> list[types.CodeLens]:
    session = ls.session_for(uri)
    if session is None or not file_diagnostics(session, uri):
        return []
    shown = {drift_key(d.data) for d in file_diagnostics(session, uri) if d.data}
    drifts = [d for d in classified_drifts(ls, session) if drift_key(d) in shown]
    loaded = MIGRATIONS.load(ls, session)
    targets = migration_targets(loaded[1], open_documents(ls).keys()) if loaded else []
    lenses: list[types.CodeLens] = []
    include = include_destructive(ls, session)
    for line, found in sorted(class_lines(session, uri, drifts).items()):
        rng = types.Range(
            start=types.Position(line=line, character=0), end=types.Position(line=line, character=0)
        )
        n = len(found)
        count = f"{n} schema change{'s' if n != 1 else ''}"
        lenses.append(
            types.CodeLens(range=rng, command=types.Command(title=count, command="schemaLsp.check"))
        )
        lenses.append(
            types.CodeLens(
                range=rng,
                command=types.Command(
                    title="Preview", command=PREVIEW_REVISION, arguments=[uri, {"show": True}]
                ),
            )
        )
        chosen = select_for_all(found, include_destructive=include)
        if not chosen:
            continue
        if targets:
            add = types.Command(
                title="Add to migration",
                command=ADD_TO_MIGRATION,
                arguments=[targets[0].path.absolute().as_uri(), chosen],
            )
        else:
            add = types.Command(
                title="Add to migration",
                command=NEW_REVISION,
                arguments=[uri, revision_message(chosen), chosen],
            )
        lenses.append(types.CodeLens(range=rng, command=add))
    return lenses


class LensRefresh:
    """Ask the client to re-query lenses after each check (when it supports that)."""

    def __init__(self, server: SchemaLanguageServer) -> None:
        self.server = server
        self.seen: dict[str, int] = {}

    def __call__(self, session: RootSession) -> None:
        result = session.last_result
        if result is None or self.seen.get(session.root_uri) == id(result):
            return
        self.seen[session.root_uri] = id(result)
        workspace = self.server.client_capabilities.workspace
        lens = workspace.code_lens if workspace else None
        if lens and lens.refresh_support:
            self.server.workspace_code_lens_refresh(None)


def register(server: SchemaLanguageServer) -> None:
    if isinstance(server.client, MigrationAwareClient):
        server.client.after_check.append(LensRefresh(server))

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: SchemaLanguageServer, params: types.HoverParams) -> types.Hover | None:
        try:
            return hover(ls, params)
        except Exception as exc:
            logger.exception("hover failed: %s", exc)
            return None

    @server.feature(types.TEXT_DOCUMENT_CODE_LENS)
    def on_code_lens(
        ls: SchemaLanguageServer, params: types.CodeLensParams
    ) -> list[types.CodeLens]:
        try:
            return code_lenses(ls, params.text_document.uri)
        except Exception as exc:
            logger.exception("code lenses failed: %s", exc)
            return []
