"""workspace/executeCommand: ``schemaLsp.check`` checks now (one root, or all)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

# pygls resolves command annotations at runtime: they must name importable objects.
from pygls.lsp.server import LanguageServer

if TYPE_CHECKING:
    from ..server import SchemaLanguageServer

CHECK = "schemaLsp.check"


def register(server: SchemaLanguageServer) -> None:
    @server.command(CHECK)
    def check(ls: LanguageServer, *args: Any) -> dict[str, Any]:
        """Optional first argument: a root or file URI to limit the check to."""
        srv = cast("SchemaLanguageServer", ls)
        target = args[0] if args and isinstance(args[0], str) else None
        sessions = (
            [s for s in [srv.session_for(target)] if s is not None]
            if target
            else list(srv.sessions.values())
        )
        for session in sessions:
            session.check_now()
        return {"roots": [s.root_uri for s in sessions]}
