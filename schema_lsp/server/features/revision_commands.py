"""``schemaLsp.newRevision``, ``schemaLsp.previewRevision`` and the on-save preview.

A new revision holds the fixes the worker rendered for the current drift (never the
models themselves: the server does not import them), written from the project's own
``script.py.mako``. With ``process_revision_directives`` configured, the revision is made in a
one-shot child with the project's interpreter instead (:mod:`..revision_subprocess`), so the
hook shapes it as it would under ``schema-lsp revision --autogenerate``. The preview is the
same text as a new revision without a hook, rendered without writing a revision; with
``preview_on_save`` it is kept in a read-only file outside the versions folder (so Alembic
never runs it) and shown beside the editor after each save's check.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lsprotocol import types

# pygls resolves command annotations at runtime: they must name importable objects.
from pygls.lsp.server import LanguageServer

from schema_lsp.script import plan_revision, write_plan
from schema_lsp.script.writer import RevisionWriteError

from ..actions import (
    CommandArgs,
    combine,
    parse_args,
    revision_message,
    select_for_all,
    template_body,
)
from ..command_errors import CommandFailed
from ..revision_subprocess import (
    CONFIG_KEY,
    DRIFT_KEY,
    HookedRevisionFailed,
    HookedRevisionRequest,
    run_hooked_revision,
    server_option_names,
    total_time_limit,
)
from .code_actions import NEW_REVISION, include_destructive
from .migrations import MIGRATIONS, MigrationAwareClient, classified_drifts, session_for

if TYPE_CHECKING:
    from ..server import SchemaLanguageServer
    from ..session import RootSession

logger = logging.getLogger("schema_lsp")

PREVIEW_REVISION = "schemaLsp.previewRevision"
PREVIEW_NAME = "preview_revision.py"


def revision_parts(
    drifts: Sequence[Mapping[str, Any]], *, include: bool
) -> tuple[str, str, tuple[str, ...], int]:
    """Template values (upgrades, downgrades, imports) and how many drifts they hold."""
    combined = combine(select_for_all(drifts, include_destructive=include))
    return (
        template_body(combined.upgrade),
        template_body(combined.downgrade),
        combined.imports,
        combined.count,
    )


NO_MIGRATIONS = (
    "this project has no migrations folder: set migrations in [tool.schema-lsp] "
    "or create one with 'alembic init'"
)


@dataclass(frozen=True)
class ParentOptions:
    """Where the new revision goes, from the command's ``{"head": ..., "merge": true,
    "splice": true, "version_path": ...}`` argument (the names error messages use)."""

    head: str | None = None
    merge: bool = False
    splice: bool = False
    version_path: str | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> ParentOptions:
        given = options or {}
        head, path = given.get("head"), given.get("version_path", given.get("versionPath"))
        return cls(
            head=head if isinstance(head, str) and head else None,
            merge=given.get("merge") is True,
            splice=given.get("splice") is True,
            version_path=path if isinstance(path, str) and path else None,
        )


def picked_drifts(
    ls: SchemaLanguageServer, session: RootSession, drifts: Any
) -> list[Mapping[str, Any]]:
    """What a new revision holds: the drifts passed (a code action's), else every drift of
    the last check; never drift a pending revision covers, destructive only on request."""
    chosen = drifts if drifts is not None else classified_drifts(ls, session)
    include = include_destructive(ls, session) or drifts is not None
    return select_for_all(chosen, include_destructive=include)


def new_revision(
    ls: SchemaLanguageServer,
    session: RootSession,
    message: str | None,
    drifts: Any,
    parent: ParentOptions | None = None,
) -> dict[str, Any]:
    loaded = MIGRATIONS.load(ls, session)
    if loaded is None:
        raise CommandFailed(NO_MIGRATIONS)
    config, graph = loaded
    parent = parent or ParentOptions()
    picked = picked_drifts(ls, session, drifts)
    combined = combine(picked)
    message = message or (revision_message(picked) if picked else "empty message")
    try:
        plan = plan_revision(
            config,
            message,
            upgrades=template_body(combined.upgrade),
            downgrades=template_body(combined.downgrade),
            imports=combined.imports,
            head=parent.head,
            merge=parent.merge,
            splice=parent.splice,
            version_path=session.config.root / parent.version_path if parent.version_path else None,
            graph=graph,
            option_names=server_option_names(),
        )
        written = write_plan(plan, config.output_encoding)
    except RevisionWriteError as exc:
        raise CommandFailed(str(exc)) from None
    return {
        "path": str(written.path),
        "uri": written.path.absolute().as_uri(),
        "revision": written.revision,
        "count": combined.count,
    }


def hooked_request(
    ls: SchemaLanguageServer,
    session: RootSession,
    parsed: CommandArgs,
) -> HookedRevisionRequest:
    """The child's request: the root's settings, the chosen drift and the parent options."""
    cfg = session.config
    hook = cfg.process_revision_directives
    assert hook is not None
    if MIGRATIONS.load(ls, session) is None:
        raise CommandFailed(NO_MIGRATIONS)
    if not cfg.models or not cfg.database_url:
        raise CommandFailed(
            f"the {CONFIG_KEY} hook {hook} needs the models and the database: set models "
            "and database_url in [tool.schema-lsp] or the editor's schemaLsp settings"
        )
    picked = picked_drifts(ls, session, parsed.drifts)
    parent = ParentOptions.from_options(parsed.options)
    include = cfg.include_schemas
    return HookedRevisionRequest(
        root=str(cfg.root),
        hook=hook,
        models=list(cfg.models),
        database_url=cfg.database_url,
        migrations=cfg.migrations,
        compare_type=cfg.compare_type,
        compare_server_default=cfg.compare_server_default,
        include_schemas=include if isinstance(include, bool) else list(include),
        exclude_tables=list(cfg.exclude_tables),
        render_as_batch=cfg.render_as_batch,
        message=parsed.message or (revision_message(picked) if picked else "empty message"),
        head=parent.head,
        merge=parent.merge,
        splice=parent.splice,
        version_path=str(cfg.root / parent.version_path) if parent.version_path else None,
        selected=[[d.get(k) for k in DRIFT_KEY] for d in picked],
        hook_time_limit=cfg.import_timeout,
    )


async def new_hooked_revision(
    ls: SchemaLanguageServer, session: RootSession, parsed: CommandArgs
) -> dict[str, Any]:
    """A new revision shaped by the project's hook, made in a child process (the server
    never imports the hook); the event loop keeps serving the editor meanwhile."""
    request = hooked_request(ls, session, parsed)
    cfg = session.config
    try:
        done = await run_hooked_revision(
            request,
            python=cfg.python,
            time_limit=total_time_limit(request, cfg.import_timeout),
        )
    except HookedRevisionFailed as exc:
        raise CommandFailed(str(exc)) from None
    if not done.paths:
        raise CommandFailed(
            f"the {CONFIG_KEY} hook {request.hook} removed every change; no revision written"
        )
    path = Path(done.paths[0])
    return {
        "path": str(path),
        "uri": path.absolute().as_uri(),
        "revision": done.revisions[0],
        "count": done.count,
        "paths": done.paths,
    }


def preview_text(ls: SchemaLanguageServer, session: RootSession) -> dict[str, Any]:
    loaded = MIGRATIONS.load(ls, session)
    if loaded is None:
        return {"text": "# This project has no migrations folder to preview a revision for.\n"}
    config, graph = loaded
    drifts = classified_drifts(ls, session)
    upgrades, downgrades, imports, count = revision_parts(
        drifts, include=include_destructive(ls, session)
    )
    try:
        text = plan_revision(
            config,
            "preview",
            upgrades=upgrades,
            downgrades=downgrades,
            imports=imports,
            graph=graph,
            rev_id="preview",
            option_names=server_option_names(),
        ).text
    except Exception as exc:  # several heads, a broken graph, a template error
        text = f"# schema-lsp could not render the next revision:\n# {exc}\n"
    return {"text": text, "count": count}


def preview_path(session: RootSession) -> Path:
    """A per-root file in the temp dir: never inside the versions folder."""
    digest = hashlib.sha1(str(session.config.root).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / "schema-lsp" / digest / PREVIEW_NAME


def write_preview(path: Path, text: str) -> None:
    """Rewrite the read-only preview in place (same path, so the editor refreshes it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        os.chmod(path, stat.S_IRUSR | stat.S_IWUSR)
    path.write_text(
        "# Preview of the next revision (schema-lsp); read-only, not a migration.\n" + text,
        encoding="utf-8",
    )
    os.chmod(path, stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def supports_show_document(ls: SchemaLanguageServer) -> bool:
    window = ls.client_capabilities.window
    return bool(window and window.show_document and window.show_document.support)


class SavePreview:
    """After the check a model save triggered, refresh and show the preview."""

    def __init__(self, server: SchemaLanguageServer) -> None:
        self.server = server
        self.done: set[int] = set()

    def __call__(self, session: RootSession) -> None:
        trigger, result = session.last_trigger, session.last_result
        if not session.config.preview_on_save or result is None or trigger is None:
            return
        if trigger.reason != "saved" or id(result) in self.done:
            return
        if not supports_show_document(self.server):
            return
        self.done = {id(result)}
        show_preview(self.server, session)


def show_preview(ls: SchemaLanguageServer, session: RootSession) -> dict[str, Any]:
    """Write the preview file and show it beside the editor without taking focus."""
    found = preview_text(ls, session)
    path = preview_path(session)
    write_preview(path, found["text"])
    ls.window_show_document(
        types.ShowDocumentParams(uri=path.as_uri(), external=False, take_focus=False)
    )
    return {**found, "path": str(path), "uri": path.as_uri()}


def register(server: SchemaLanguageServer) -> None:
    if isinstance(server.client, MigrationAwareClient):
        server.client.after_check.append(SavePreview(server))

    @server.command(NEW_REVISION)
    async def new(ls: LanguageServer, *args: Any) -> dict[str, Any]:
        """Arguments (any order): a file or folder URI, the message, the drift records, and
        ``{"head": ..., "merge": true, "splice": true, "version_path": ...}``."""
        srv = cast("SchemaLanguageServer", ls)
        parsed = parse_args(args)
        session = session_for(srv, parsed.uri)
        if session is None:
            raise CommandFailed("no schema-lsp project is open")
        if session.config.process_revision_directives:
            written = await new_hooked_revision(srv, session, parsed)
        else:
            parent = ParentOptions.from_options(parsed.options)
            written = new_revision(srv, session, parsed.message, parsed.drifts, parent)
        if supports_show_document(srv):
            try:
                await srv.window_show_document_async(
                    types.ShowDocumentParams(uri=written["uri"], take_focus=True)
                )
            except Exception as exc:
                logger.info("showing %s failed: %s", written["path"], exc)
        return written

    @server.command(PREVIEW_REVISION)
    def preview(ls: LanguageServer, *args: Any) -> dict[str, Any]:
        """Optional arguments: a file or folder URI of the project; ``{"show": true}`` also
        writes the preview file and shows it (what the code lens asks for)."""
        srv = cast("SchemaLanguageServer", ls)
        parsed = parse_args(args)
        session = session_for(srv, parsed.uri)
        if session is None:
            return {"text": "# schema-lsp is not checking any project here.\n", "count": 0}
        if (parsed.options or {}).get("show") and supports_show_document(srv):
            return show_preview(srv, session)
        return preview_text(srv, session)
