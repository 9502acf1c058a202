"""LSP features, one module per concern; each exposes ``register(server)``.

Code actions and the revision commands (``schemaLsp.previewRevision``,
``schemaLsp.newRevision``, ``schemaLsp.addToMigration``) slot in as further modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import (
    code_actions,
    code_lens,
    commands,
    configuration,
    documents,
    lifecycle,
    migrations,
    revision_commands,
)

if TYPE_CHECKING:
    from ..server import SchemaLanguageServer

# migrations replaces the client before any session exists; revision_commands hooks into it.
MODULES = (
    lifecycle,
    configuration,
    documents,
    commands,
    migrations,
    code_actions,
    revision_commands,
    code_lens,
)


def register_all(server: SchemaLanguageServer) -> None:
    for module in MODULES:
        module.register(server)
