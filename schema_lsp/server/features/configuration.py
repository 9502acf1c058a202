"""workspace/didChangeConfiguration: apply new settings without a restart."""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from ..config import SECTION, normalize_settings

if TYPE_CHECKING:
    from ..server import SchemaLanguageServer


def register(server: SchemaLanguageServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_change(
        ls: SchemaLanguageServer, params: types.DidChangeConfigurationParams
    ) -> None:
        settings = params.settings
        if isinstance(settings, dict):
            inner = settings.get(SECTION)
            if isinstance(inner, dict):
                ls.pushed_settings = normalize_settings(inner)
        await ls.configure_all()
