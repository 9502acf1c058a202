"""Quick fixes and source actions that write a drift's ops into a migration file.

Actions carry a ``schemaLsp.addToMigration`` command rather than a ready edit: the edit is
computed when the user picks the action, from the migration's text at that moment (the
editor's buffer when it is open), and sent with ``workspace/applyEdit`` as a versioned
``TextDocumentEdit`` where the client supports them, so a stale edit is refused by the
client instead of landing in the wrong place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from lsprotocol import types

# pygls resolves command annotations at runtime: they must name importable objects.
from pygls.lsp.server import LanguageServer

from schema_lsp.script.edits import MigrationEditError, plan_migration_edit

from ..actions import (
    combine,
    dedupe,
    fix_title,
    has_fix,
    is_pending,
    lsp_edits,
    migration_targets,
    order_drifts,
    parse_args,
    revision_message,
    select_for_all,
    workspace_edit,
)
from ..command_errors import CommandFailed
from .migrations import (
    MIGRATIONS,
    classified_drifts,
    fs_path,
    open_document,
    open_documents,
    session_for,
)

if TYPE_CHECKING:
    from ..server import SchemaLanguageServer
    from ..session import RootSession

logger = logging.getLogger("schema_lsp")

ADD_TO_MIGRATION = "schemaLsp.addToMigration"
NEW_REVISION = "schemaLsp.newRevision"
ADD_ALL_FILE = "source.schemaLsp.addAllFile"
ADD_ALL_WORKSPACE = "source.schemaLsp.addAllWorkspace"
KINDS = [types.CodeActionKind.QuickFix, ADD_ALL_FILE, ADD_ALL_WORKSPACE]


def wanted(only: Sequence[str] | None, kind: str) -> bool:
    """LSP's ``only`` filter: a requested kind matches itself and its sub-kinds."""
    if not only:
        return True
    return any(kind == k or kind.startswith(k + ".") for k in only)


def supports_document_changes(ls: SchemaLanguageServer) -> bool:
    workspace = ls.client_capabilities.workspace
    edit = workspace.workspace_edit if workspace else None
    return bool(edit and edit.document_changes)


def include_destructive(ls: SchemaLanguageServer, session: RootSession) -> bool:
    value = getattr(session.config, "include_destructive", None)
    if value is None:
        settings = {**ls.init_settings, **ls.pushed_settings}
        value = settings.get("include_destructive", settings.get("includeDestructive", False))
    return bool(value)


def _overlaps(a: types.Range, b: types.Range) -> bool:
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (
        b.start.line,
        b.start.character,
    ) <= (a.end.line, a.end.character)


def drift_key(drift: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(drift.get(k) for k in ("kind", "schema", "table", "name", "attribute"))


def file_diagnostics(session: RootSession, uri: str) -> list[types.Diagnostic]:
    """What the session shows in ``uri`` (matched by path: clients spell URIs differently)."""
    path = fs_path(uri)
    for shown, diags in session.published.items():
        if fs_path(shown) == path:
            return list(diags)
    return []


def code_actions(
    ls: SchemaLanguageServer, params: types.CodeActionParams
) -> list[types.CodeAction]:
    uri = params.text_document.uri
    session = ls.session_for(uri)
    if session is None:
        return []
    only = params.context.only
    shown = file_diagnostics(session, uri)
    loaded = MIGRATIONS.load(ls, session)
    targets = migration_targets(loaded[1], open_documents(ls).keys()) if loaded else []
    actions: list[types.CodeAction] = []
    classified = {drift_key(d): d for d in classified_drifts(ls, session)}
    if wanted(only, types.CodeActionKind.QuickFix):
        near = [d for d in params.context.diagnostics if d.source == "schema-lsp"]
        near += [d for d in shown if _overlaps(d.range, params.range)]
        seen: set[tuple[Any, ...]] = set()
        for diagnostic in near:
            data = diagnostic.data
            if not isinstance(data, Mapping) or not has_fix(data):
                continue
            key = drift_key(data)
            if key in seen or is_pending(data) or is_pending(classified.get(key, {})):
                continue
            seen.add(key)
            actions.extend(quick_fixes(diagnostic, dict(data), targets, uri))
    include = include_destructive(ls, session)
    if wanted(only, ADD_ALL_FILE):
        keys = {drift_key(d.data) for d in shown if isinstance(d.data, Mapping)}
        mine = [d for key, d in classified.items() if key in keys]
        chosen = select_for_all(mine, include_destructive=include)
        if chosen:
            title = "Add all drift in this file"
            actions.extend(add_all(title, ADD_ALL_FILE, chosen, targets, uri))
    if wanted(only, ADD_ALL_WORKSPACE):
        chosen = select_for_all(list(classified.values()), include_destructive=include)
        if chosen:
            actions.extend(
                add_all("Add all drift in the workspace", ADD_ALL_WORKSPACE, chosen, targets, uri)
            )
    return actions


def quick_fixes(
    diagnostic: types.Diagnostic, drift: dict[str, Any], targets: Sequence[Any], uri: str
) -> list[types.CodeAction]:
    out = []
    loss = drift.get("loss") if drift.get("destructive") else None
    for index, target in enumerate(targets):
        title = fix_title(drift, target.path.name)
        if loss:
            title += f": {loss}"
        out.append(
            types.CodeAction(
                title=title,
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                is_preferred=index == 0 and not drift.get("destructive"),
                command=types.Command(
                    title=title,
                    command=ADD_TO_MIGRATION,
                    arguments=[target.path.absolute().as_uri(), [drift]],
                ),
            )
        )
    if not targets:
        title = "Create a new revision with these changes"
        if loss:
            title += f" (drops data: {loss})"
        out.append(
            types.CodeAction(
                title=title,
                kind=types.CodeActionKind.QuickFix,
                diagnostics=[diagnostic],
                command=types.Command(
                    title=title,
                    command=NEW_REVISION,
                    arguments=[uri, revision_message([drift]), [drift]],
                ),
            )
        )
    return out


def add_all(
    title: str, kind: str, drifts: list[Any], targets: Sequence[Any], uri: str
) -> list[types.CodeAction]:
    if not targets:
        label = f"{title} to a new revision"
        command = types.Command(
            title=label, command=NEW_REVISION, arguments=[uri, revision_message(drifts), drifts]
        )
        return [types.CodeAction(title=label, kind=kind, command=command)]
    out = []
    for target in targets:
        label = f"{title} to {target.path.name} ({len(drifts)})"
        command = types.Command(
            title=label,
            command=ADD_TO_MIGRATION,
            arguments=[target.path.absolute().as_uri(), drifts],
        )
        out.append(types.CodeAction(title=label, kind=kind, command=command))
    return out


async def add_to_migration(
    ls: SchemaLanguageServer, target_uri: str, drifts: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Insert the fixes of ``drifts`` into the migration at ``target_uri`` via applyEdit.

    Recomputed from the current text each time; a client that refuses the edit (its buffer
    moved on) gets one more try from the newer text, then an error.
    """
    path = fs_path(target_uri)
    if path is None:
        raise CommandFailed(f"not a file URI: {target_uri}")
    combined = combine(order_drifts(dedupe(d for d in drifts if has_fix(d))))
    if not combined.count:
        return {"applied": False, "inserted": 0, "skipped": 0, "path": str(path)}
    reason: str | None = None
    for _attempt in range(2):
        uri, text, version = _document(ls, path, target_uri)
        try:
            plan = plan_migration_edit(text, combined.upgrade, combined.downgrade, combined.imports)
        except MigrationEditError as exc:
            raise CommandFailed(f"{path.name}: {exc}") from None
        summary = {
            "path": str(path),
            "uri": uri,
            "inserted": plan.inserted_upgrade,
            "skipped": plan.skipped_duplicates,
        }
        if not plan.edits:
            return {**summary, "applied": True}
        edit = workspace_edit(
            uri, version, lsp_edits(plan), document_changes=supports_document_changes(ls)
        )
        result = await ls.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=edit, label=f"schema-lsp: add to {path.name}")
        )
        if result.applied:
            return {**summary, "applied": True}
        reason = result.failure_reason
        logger.info("the client refused the edit of %s: %s", path.name, reason)
    if reason:
        raise CommandFailed(f"the editor did not apply the edit of {path.name}: {reason}")
    raise CommandFailed(
        f"the editor refused the edit of {path.name} twice (it changed meanwhile?); "
        "save the file and try again"
    )


def _document(ls: SchemaLanguageServer, path: Path, uri: str) -> tuple[str, str, int | None]:
    """The target's text: the editor's buffer when open, else the file (whether it may be
    written is the editor's to say, in its answer to the edit)."""
    found = open_document(ls, path)
    if found is not None:
        return found
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CommandFailed(
            f"{path.name} no longer exists; ask for the code actions again to pick "
            "another migration, or create a new revision"
        ) from None
    except OSError as exc:
        message = f"{path.name} cannot be read ({exc.strerror}); nothing was changed"
        raise CommandFailed(message) from None
    return uri, text, None


def register(server: SchemaLanguageServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=KINDS, resolve_provider=False),
    )
    def on_code_action(
        ls: SchemaLanguageServer, params: types.CodeActionParams
    ) -> list[types.CodeAction]:
        try:
            return code_actions(ls, params)
        except Exception as exc:
            logger.exception("code actions failed: %s", exc)
            return []

    @server.command(ADD_TO_MIGRATION)
    async def add(ls: LanguageServer, *args: Any) -> dict[str, Any]:
        """Arguments: the migration's URI, then optionally the drift records (default: all
        drift that add-all would write)."""
        srv = cast("SchemaLanguageServer", ls)
        parsed = parse_args(args)
        if parsed.uri is None:
            raise CommandFailed("schemaLsp.addToMigration needs the migration file's URI")
        drifts = parsed.drifts
        if drifts is None:
            session = session_for(srv, parsed.uri)
            if session is None:
                raise CommandFailed("no schema-lsp project contains this file")
            drifts = select_for_all(
                classified_drifts(srv, session),
                include_destructive=include_destructive(srv, session),
            )
        return await add_to_migration(srv, parsed.uri, drifts)
