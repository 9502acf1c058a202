"""initialize / initialized / shutdown and workspace folders: sessions come and go here."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from ..config import SECTION, normalize_settings

if TYPE_CHECKING:
    from ..server import SchemaLanguageServer

logger = logging.getLogger("schema_lsp")

WATCHERS = ("**/*.py", "**/pyproject.toml", "**/alembic.ini")


def initialization_settings(options: Any) -> dict[str, Any]:
    """Accept ``{"schemaLsp": {...}}`` or the settings object itself."""
    if not isinstance(options, dict):
        return {}
    inner = options.get(SECTION)
    return normalize_settings(inner if isinstance(inner, dict) else options)


def supports_dynamic_watchers(capabilities: types.ClientCapabilities) -> bool:
    workspace = capabilities.workspace
    watched = workspace.did_change_watched_files if workspace else None
    return bool(watched and watched.dynamic_registration)


def register(server: SchemaLanguageServer) -> None:
    @server.feature(types.INITIALIZE)
    def on_initialize(ls: SchemaLanguageServer, params: types.InitializeParams) -> None:
        ls.init_settings = initialization_settings(params.initialization_options)

    @server.feature(types.INITIALIZED)
    async def on_initialized(ls: SchemaLanguageServer, params: types.InitializedParams) -> None:
        if supports_dynamic_watchers(ls.client_capabilities):
            watchers = [types.FileSystemWatcher(glob_pattern=g) for g in WATCHERS]
            try:
                await ls.client_register_capability_async(
                    types.RegistrationParams(
                        registrations=[
                            types.Registration(
                                id="schema-lsp-watched-files",
                                method=types.WORKSPACE_DID_CHANGE_WATCHED_FILES,
                                register_options=types.DidChangeWatchedFilesRegistrationOptions(
                                    watchers=watchers
                                ),
                            )
                        ]
                    )
                )
            except Exception as exc:
                logger.warning("could not register file watchers: %s", exc)
        await ls.configure_all()

    @server.feature(types.SHUTDOWN)
    async def on_shutdown(ls: SchemaLanguageServer, params: None) -> None:
        await ls.stop_all()

    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    async def on_folders(
        ls: SchemaLanguageServer, params: types.DidChangeWorkspaceFoldersParams
    ) -> None:
        await ls.configure_all()
