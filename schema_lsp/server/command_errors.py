"""The error a command answers with when it cannot do what was asked."""

from __future__ import annotations

from pygls.exceptions import JsonRpcException


class CommandFailed(JsonRpcException, ValueError):
    """Sent as LSP's ``RequestFailed`` with the message alone (what failed, how to fix it),
    where any other exception would reach the editor as ``ValueError: ...``.
    A ``ValueError`` too, for callers that run the features without a server."""

    CODE = -32803
