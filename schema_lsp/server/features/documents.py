"""Opening and saving model files, and files changed outside the editor, trigger checks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

if TYPE_CHECKING:
    from ..server import SchemaLanguageServer

CONFIG_FILES = ("pyproject.toml", "alembic.ini")


def is_config_file(path: str) -> bool:
    return path.replace("\\", "/").rsplit("/", 1)[-1] in CONFIG_FILES


async def file_event(ls: SchemaLanguageServer, uri: str, reason: str, *, changed: bool) -> None:
    """Route one file event: config files reconfigure their root, model files re-check."""
    session = ls.session_for(uri)
    path = to_fs_path(uri) or ""
    if is_config_file(path):
        for root_uri in ls.root_uris():
            root = to_fs_path(root_uri)
            # A root's own config files only: /x/app-2/pyproject.toml is not /x/app's.
            if root and Path(path).is_relative_to(root):
                await ls.configure_root(root_uri)
        return
    if session is None:
        return
    if changed:
        session.file_changed(path, reason)
    elif session.is_model_file(path):
        session.scheduler.trigger(reason, models_changed=False)


def register(server: SchemaLanguageServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    async def on_open(ls: SchemaLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        await file_event(ls, params.text_document.uri, "opened", changed=False)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    async def on_save(ls: SchemaLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        await file_event(ls, params.text_document.uri, "saved", changed=True)

    @server.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    async def on_watched(
        ls: SchemaLanguageServer, params: types.DidChangeWatchedFilesParams
    ) -> None:
        open_uris = set(ls.workspace.text_documents)
        for change in params.changes:
            if change.uri in open_uris and not is_config_file(change.uri):
                continue  # didSave covers open documents
            await file_event(ls, change.uri, "changed on disk", changed=True)
