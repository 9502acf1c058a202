"""Migration-aware diagnostics and the server-side state the code actions share.

Drift diagnostics pass through :class:`MigrationAwareClient` on their way to the editor:
each is classified against the revisions the database has not applied (their files are
parsed, never run), and the revision graph's own problems are published on the migration
files. Unsaved editor buffers of migration files count, so the classification follows what
the user sees.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import to_fs_path

from schema_lsp.script import ParseCache, RevisionGraph, ScriptConfig, load_graph
from schema_lsp.script.pending import pending_revisions

from ..actions import (
    MIGRATION_KEY,
    MigrationState,
    annotate,
    graph_diagnostics,
    in_versions,
    script_config,
    script_ops,
    with_loss,
)
from ..server import LspClient
from .database_state import (
    DatabaseState,
    contradiction_diagnostics,
    contradictions,
)

if TYPE_CHECKING:
    from ..server import SchemaLanguageServer
    from ..session import RootSession

logger = logging.getLogger("schema_lsp")


def fs_path(uri: str) -> Path | None:
    path = to_fs_path(uri)
    return Path(path).absolute() if path else None


def session_for(ls: SchemaLanguageServer, uri: str | None) -> RootSession | None:
    """The session of ``uri``; without one, the only session (commands from a palette)."""
    if uri:
        found = ls.session_for(uri)
        if found is not None:
            return found
    sessions = list(ls.sessions.values())
    return sessions[0] if sessions else None


def open_documents(ls: SchemaLanguageServer) -> dict[Path, tuple[str, str, int | None]]:
    """Open documents by absolute path (as the graph spells paths): (uri, text, version)."""
    out: dict[Path, tuple[str, str, int | None]] = {}
    for uri, doc in list(ls.workspace.text_documents.items()):
        path = fs_path(uri)
        if path is not None:
            out[path] = (uri, doc.source, doc.version)
    return out


def open_document(ls: SchemaLanguageServer, path: Path) -> tuple[str, str, int | None] | None:
    """The open document of ``path``, matched through symlinks too."""
    docs = open_documents(ls)
    found = docs.get(path.absolute())
    if found is None:
        real = path.resolve()
        found = next((v for p, v in docs.items() if p.resolve() == real), None)
    return found


class Migrations:
    """One root's migration folder: graph (with unsaved buffers), cached parses."""

    def __init__(self) -> None:
        self.caches: dict[str, ParseCache] = {}

    def load(
        self, ls: SchemaLanguageServer, session: RootSession
    ) -> tuple[ScriptConfig, RevisionGraph] | None:
        config = script_config(session.config)
        if config is None:
            return None
        sources = {
            path: text
            for path, (_, text, _) in open_documents(ls).items()
            if path.suffix == ".py" and in_versions(config, path)
        }
        cache = self.caches.setdefault(session.root_uri, ParseCache())
        try:
            graph = load_graph(config, sources=sources, cache=cache)
        except Exception as exc:  # an unreadable folder must not break diagnostics
            logger.warning("reading the migrations failed: %s", exc)
            return None
        return config, graph

    def state(self, ls: SchemaLanguageServer, session: RootSession) -> MigrationState | None:
        loaded = self.load(ls, session)
        if loaded is None:
            return None
        _, graph = loaded
        result = session.last_result
        heads = getattr(result, "applied_heads", None) if result is not None else None
        sources = {
            path: text for path, (_, text, _) in open_documents(ls).items() if path.suffix == ".py"
        }
        return MigrationState(graph, tuple(heads) if heads is not None else None, sources)


def classified_drifts(ls: SchemaLanguageServer, session: RootSession) -> list[dict[str, Any]]:
    """Every drift of the last check, each with its classification under ``migration``."""
    result = session.last_result
    if result is not None:
        drifts = [dict(d) for d in result.drifts]
    else:
        drifts = [
            dict(d.data)
            for diags in session.fresh.values()
            for d in diags
            if isinstance(d.data, Mapping) and "fix" in d.data
        ]
    state = MIGRATIONS.state(ls, session)
    run = state.classifier() if state is not None else None
    if run is not None:
        for drift in drifts:
            c = run(drift)
            drift[MIGRATION_KEY] = {"category": c.category, "revision": c.revision}
    return drifts


MIGRATIONS = Migrations()


def database_state(session: RootSession) -> DatabaseState | None:
    """The database as the last check saw it: the worker's reflected summary when it sent
    one, else inferred from the models' hints and the drift."""
    result = session.last_result
    if result is None:
        return None
    cfg = session.config
    excluded = tuple(cfg.exclude_tables)
    # The worker sends the summary once per reflection; the session keeps the last one.
    summary = getattr(result, "database_schema", None) or getattr(session, "database_schema", None)
    if isinstance(summary, Mapping):
        return DatabaseState.from_summary(summary, excluded=excluded)
    include = cfg.include_schemas
    schemas: frozenset[str | None] | None = (
        None if include is True else frozenset({None, *(include or ())})
    )
    return DatabaseState.infer(result.hints, result.drifts, schemas=schemas, excluded=excluded)


def pending_contradictions(
    ls: SchemaLanguageServer, session: RootSession, graph: RevisionGraph
) -> dict[Path, list[types.Diagnostic]]:
    """Errors on the ops of not-yet-applied revisions that the database contradicts."""
    result = session.last_result
    heads = getattr(result, "applied_heads", None) if result is not None else None
    if heads is None:
        return {}
    pending = pending_revisions(graph, list(heads))
    # The database state costs a walk over every table: only worth it with ops to check.
    state = database_state(session) if pending else None
    if state is None:
        return {}
    texts = {
        path: text for path, (_, text, _) in open_documents(ls).items() if path.suffix == ".py"
    }
    ops = []
    for script in pending:
        path = script.path.absolute()
        if path not in texts:
            try:
                texts[path] = script.path.read_text(encoding="utf-8")
            except OSError:
                continue
        ops.extend(script_ops(script, texts))
    return contradiction_diagnostics(contradictions(ops, state), texts)


class MigrationAwareClient(LspClient):
    """Publishes drift diagnostics as the migrations explain them, plus the revision
    graph's problems on the migration files."""

    def __init__(self, server: SchemaLanguageServer) -> None:
        super().__init__(server)
        self.graph_published: dict[str, set[str]] = {}
        self.after_check: list[Any] = []

    def publish(self, uri: str, diagnostics: list[types.Diagnostic]) -> None:
        session = self.server.session_for(uri)
        diagnostics = [with_loss(d) for d in diagnostics]
        if session is not None and diagnostics:
            try:
                diagnostics = self.explain(session, diagnostics)
            except Exception as exc:  # classification is a bonus; never lose diagnostics
                logger.warning("classifying drift against the migrations failed: %s", exc)
        super().publish(uri, diagnostics)

    def explain(
        self, session: RootSession, diagnostics: list[types.Diagnostic]
    ) -> list[types.Diagnostic]:
        state = MIGRATIONS.state(self.server, session)
        if state is None:
            return diagnostics
        run = state.classifier()
        if run is None:
            return diagnostics
        out = []
        for d in diagnostics:
            data = d.data
            if isinstance(data, Mapping) and "fix" in data and data.get("kind"):
                out.append(annotate(d, run(data)))
            else:
                out.append(d)
        return out

    def status(self, params: dict[str, Any]) -> None:
        super().status(params)
        if params.get("state") != "connected":
            return
        session = self.server.sessions.get(str(params.get("root")))
        if session is None:
            return
        try:
            self.publish_graph(session)
        except Exception as exc:
            logger.warning("reading the revision graph failed: %s", exc)
        for hook in self.after_check:
            hook(session)

    def publish_graph(self, session: RootSession) -> None:
        """Diagnostics for the revision graph's problems (cleared once they are fixed)."""
        loaded = MIGRATIONS.load(self.server, session)
        wanted: dict[str, list[types.Diagnostic]] = {}
        if loaded is not None:
            buffers = {path: text for path, (_, text, _) in open_documents(self.server).items()}
            for path, diags in graph_diagnostics(loaded[1], buffers).items():
                wanted[path.as_uri()] = diags
            try:
                contradicting = pending_contradictions(self.server, session, loaded[1])
            except Exception as exc:  # a bonus check: never lose the graph's diagnostics
                logger.warning("checking pending revisions against the database failed: %s", exc)
                contradicting = {}
            for path, diags in contradicting.items():
                wanted.setdefault(path.as_uri(), []).extend(diags)
        before = self.graph_published.get(session.root_uri, set())
        for uri in before - set(wanted):
            super().publish(uri, [])
        for uri, diags in wanted.items():
            super().publish(uri, diags)
        self.graph_published[session.root_uri] = set(wanted)

    def republish(self, session: RootSession) -> None:
        """Re-classify what is shown (a migration file changed; the models did not)."""
        for uri, diags in list(session.published.items()):
            self.publish(uri, diags)
        self.publish_graph(session)


def register(server: SchemaLanguageServer) -> None:
    client = MigrationAwareClient(server)
    server.client = client

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def on_change(ls: SchemaLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        path = fs_path(params.text_document.uri)
        session = ls.session_for(params.text_document.uri)
        if path is None or session is None:
            return
        config = script_config(session.config)
        if config is not None and in_versions(config, path):
            client.republish(session)
