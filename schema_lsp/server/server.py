"""The schema-lsp language server: wiring only; the work happens in sessions and workers.

``main(argv)`` is the ``schema-lsp serve`` entry point: LSP over stdio (``--tcp HOST:PORT``
for debugging), logs to the client and optionally to ``--log-file``, never to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from schema_lsp import __version__

from .config import SECTION, ConfigError, normalize_settings, resolve_config
from .session import STATUS_METHOD, RootSession, delayed_progress

T = TypeVar("T")

logger = logging.getLogger("schema_lsp")

COMMAND_CHECK = "schemaLsp.check"


async def client_request(request: Awaitable[T]) -> T:
    """Await a request to the client without letting a cancellation reach it.

    A check is cancelled when a newer one starts; were its pending request's future
    cancelled too, pygls would fail on the client's late answer ("Error in server:
    CANCELLED") and show that to the user. Shielded, the answer lands in a live future
    that nobody reads any more.
    """
    pending = asyncio.ensure_future(request)
    pending.add_done_callback(_consume)
    return await asyncio.shield(pending)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()  # retrieved: no "exception was never retrieved" for late failures


class LspClient:
    """The editor as a session sees it (see ``session.Client``)."""

    def __init__(self, server: SchemaLanguageServer) -> None:
        self.server = server

    def publish(self, uri: str, diagnostics: list[types.Diagnostic]) -> None:
        self.server.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics)
        )

    def status(self, params: dict[str, Any]) -> None:
        self.server.protocol.notify(STATUS_METHOD, params)

    def show(self, kind: types.MessageType, message: str) -> None:
        self.server.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def progress(self, title: str) -> contextlib.AbstractAsyncContextManager[None]:
        window = self.server.client_capabilities.window
        if not (window and window.work_done_progress):
            return contextlib.nullcontext()
        progress = self.server.work_done_progress

        async def begin() -> str:
            token = f"schema-lsp-{uuid.uuid4()}"
            await client_request(progress.create_async(token))
            progress.begin(token, types.WorkDoneProgressBegin(title=title, cancellable=False))
            return token

        def end(token: str) -> None:
            progress.end(token, types.WorkDoneProgressEnd(message="done"))

        return delayed_progress(begin, end)


class SchemaLanguageServer(LanguageServer):
    """Holds one :class:`RootSession` per workspace root."""

    def __init__(self) -> None:
        super().__init__("schema-lsp", __version__)
        self.sessions: dict[str, RootSession] = {}
        self.init_settings: dict[str, Any] = {}
        self.pushed_settings: dict[str, Any] = {}
        self.shown_errors: dict[str, str] = {}
        self.client = LspClient(self)
        self.debounce = 0.05

    # -- roots -------------------------------------------------------------------------------

    def root_uris(self) -> list[str]:
        folders = [f.uri for f in self.workspace.folders.values()]
        if not folders and self.workspace.root_uri:
            folders = [self.workspace.root_uri]
        return folders

    def session_for(self, uri: str) -> RootSession | None:
        """The session whose root contains ``uri`` (the innermost, for nested roots)."""
        path = Path(to_fs_path(uri) or "")
        best: RootSession | None = None
        for session in self.sessions.values():
            root = session.config.root
            if (path == root or root in path.parents) and (
                best is None or len(str(root)) > len(str(best.config.root))
            ):
                best = session
        return best

    async def settings_for(self, root_uri: str) -> dict[str, Any]:
        """Initialization options, overridden by ``workspace/configuration`` (or pushed)."""
        merged = {**self.init_settings, **self.pushed_settings}
        workspace = self.client_capabilities.workspace
        if workspace and workspace.configuration:
            try:
                result = await client_request(
                    self.workspace_configuration_async(
                        types.ConfigurationParams(
                            items=[types.ConfigurationItem(scope_uri=root_uri, section=SECTION)]
                        )
                    )
                )
            except Exception as exc:
                logger.warning("workspace/configuration failed: %s", exc)
            else:
                if result and isinstance(result[0], dict):
                    merged.update(normalize_settings(result[0]))
        return merged

    async def configure_root(self, root_uri: str) -> None:
        """(Re)read one root's configuration and start, update or stop its session."""
        root = Path(to_fs_path(root_uri) or "")
        settings = await self.settings_for(root_uri)
        try:
            config = resolve_config(root, settings)
            if config.models and not config.database_url:
                raise ConfigError(
                    "no database URL is configured",
                    f"workspace {root}",
                    "Set database_url in [tool.schema-lsp] (e.g. database_url = "
                    '"${DATABASE_URL}") or sqlalchemy.url in alembic.ini.',
                )
        except ConfigError as exc:
            # A half-typed pyproject.toml must not wipe the diagnostics: a running root keeps
            # checking with its last good configuration until the file is fixed.
            running = self.sessions.get(root_uri)
            message = f"schema-lsp configuration error: {exc}"
            if running is not None:
                message += " Checks go on with the last good configuration."
            if self.shown_errors.get(root_uri) != message:
                self.shown_errors[root_uri] = message
                self.client.show(types.MessageType.Error, message)
            logger.error("%s", message)
            self.client.status(
                {
                    "state": "error",
                    "driftCount": running.drift_count if running else 0,
                    "message": str(exc),
                    "root": root_uri,
                }
            )
            return
        recovered = self.shown_errors.pop(root_uri, None) is not None
        if not config.models:
            logger.info("no models configured for %s; schema-lsp stays idle there", root)
            await self.drop_root(root_uri)
            return
        session = self.sessions.get(root_uri)
        if session is None:
            session = RootSession(config, self.client, debounce=self.debounce)
            self.sessions[root_uri] = session
            logger.info("checking %s (models %s)", root, ", ".join(config.models))
            session.start()
        elif session.config != config:
            await session.reconfigure(config)
        elif recovered:
            session.scheduler.trigger("configuration fixed", delay=0)  # replaces the error status

    async def drop_root(self, root_uri: str) -> None:
        session = self.sessions.pop(root_uri, None)
        if session is not None:
            await session.stop()
            session._publish_all({})

    async def configure_all(self) -> None:
        wanted = set(self.root_uris())
        for uri in list(self.sessions):
            if uri not in wanted:
                await self.drop_root(uri)
        for uri in wanted:
            await self.configure_root(uri)

    async def stop_all(self) -> None:
        for uri in list(self.sessions):
            session = self.sessions.pop(uri)
            await session.stop()


def create_server() -> SchemaLanguageServer:
    """A server with every feature registered."""
    from .features import register_all

    server = SchemaLanguageServer()
    register_all(server)
    return server


class ClientLogHandler(logging.Handler):
    """Forwards log records to the client as ``window/logMessage``."""

    LEVELS = {
        logging.ERROR: types.MessageType.Error,
        logging.WARNING: types.MessageType.Warning,
        logging.INFO: types.MessageType.Info,
    }

    def __init__(self, server: SchemaLanguageServer) -> None:
        super().__init__(logging.INFO)
        self.server = server
        self._emitting = False

    def emit(self, record: logging.LogRecord) -> None:
        if self._emitting or self.server.protocol.writer is None:
            return
        self._emitting = True
        try:
            kind = self.LEVELS.get(record.levelno, types.MessageType.Log)
            if record.levelno >= logging.ERROR:
                kind = types.MessageType.Error
            self.server.window_log_message(
                types.LogMessageParams(type=kind, message=self.format(record))
            )
        except Exception:
            pass
        finally:
            self._emitting = False


def main(argv: list[str]) -> int:
    """``python -m schema_lsp.server [options]``: the same as ``schema-lsp serve``."""
    from schema_lsp.cli import add_serve_options

    parser = argparse.ArgumentParser(prog="schema-lsp serve", description=__doc__)
    add_serve_options(parser)
    args = parser.parse_args(argv)
    return serve(tcp=args.tcp, log_file=args.log_file, verbose=args.verbose)


def serve(*, tcp: str | None = None, log_file: str | None = None, verbose: bool = False) -> int:
    """Run the server until the client disconnects; returns the exit status."""
    address: tuple[str, int] | None = None
    if tcp is not None:
        host, _, port = tcp.rpartition(":")
        if not port.isdigit() or int(port) > 65535:
            print(
                f"schema-lsp: error: --tcp expects HOST:PORT (e.g. 127.0.0.1:2087), got {tcp!r}",
                file=sys.stderr,
            )
            return 2
        address = (host or "127.0.0.1", int(port))
    server = create_server()
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    logger.propagate = False
    logger.addHandler(ClientLogHandler(server))
    if log_file:
        try:
            handler = logging.FileHandler(log_file, encoding="utf-8")
        except OSError as exc:
            print(
                f"schema-lsp: error: cannot write the log file {log_file} "
                f"({exc.strerror or exc}); choose a writable path for --log-file",
                file=sys.stderr,
            )
            return 2
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(logging.DEBUG)
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    if address is not None:
        try:
            server.start_tcp(*address)
        except OSError as exc:
            print(
                f"schema-lsp: error: cannot listen on {address[0]}:{address[1]} "
                f"({exc.strerror or exc}); choose another --tcp address",
                file=sys.stderr,
            )
            return 2
    else:
        server.start_io()
    return 0
