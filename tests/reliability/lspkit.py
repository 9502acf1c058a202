"""Drive ``python -m schema_lsp serve`` over stdio and keep every message it sends.

Unlike the e2e harness, this one records *all* incoming traffic (diagnostics, messages,
logs, status, requests, unknown notifications) as JSON text, knows the server's PID and
its worker processes, and waits on conditions without sleeping: every incoming message
wakes the waiters, which re-test their condition.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "shop"
MODELS = "shop/models.py"
STATUS = "schemaLsp/status"


def copy_example(dest: Path, name: str = "shop-project") -> Path:
    """A private copy of the example project (without caches)."""
    target = dest / name
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def children(pid: int) -> list[int]:
    """Direct child PIDs of ``pid`` (Linux /proc)."""
    found: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                stat = handle.read()
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command name.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1 and int(fields[1]) == pid:
            found.append(int(entry))
    return found


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        for child in children(todo.pop()):
            out.append(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            state = handle.read().rsplit(")", 1)[-1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def rss_kb(pid: int) -> int:
    """Resident memory of ``pid`` in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of ``pid``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
            fields = handle.read().rsplit(")", 1)[-1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Probe:
    """A connected client and everything the server sent it."""

    def __init__(self, client: LanguageClient, root: Path) -> None:
        self.client = client
        self.root = root
        self.traffic: list[str] = []
        self.methods: list[str] = []
        self.statuses: list[dict[str, Any]] = []
        self.published: list[types.PublishDiagnosticsParams] = []
        self.changed = asyncio.Event()
        self.versions: dict[str, int] = {}

    # -- what arrived ------------------------------------------------------------------------

    def record(self, message: Any) -> None:
        try:
            text = json.dumps(message, default=self.client.protocol._serialize_message)
        except Exception:
            text = repr(message)
        self.traffic.append(text)
        method = getattr(message, "method", None)
        if method:
            self.methods.append(str(method))
        self.changed.set()

    @property
    def server_pid(self) -> int:
        process = self.client._server
        assert process is not None
        return process.pid

    def serving(self) -> bool:
        """Whether the server process still runs (it did not crash or exit)."""
        process = self.client._server
        return process is not None and process.returncode is None and alive(process.pid)

    def uri(self, relative: str) -> str:
        return (self.root / relative).as_uri()

    def diagnostics(self, relative: str = MODELS) -> list[types.Diagnostic]:
        return list(self.client.diagnostics.get(self.uri(relative), []))

    def all_text(self) -> str:
        return "\n".join(self.traffic)

    # -- waiting -----------------------------------------------------------------------------

    async def wait_for(
        self, predicate: Callable[[], bool], timeout: float = 30.0, what: str = "condition"
    ) -> float:
        """Wait until ``predicate()`` holds; returns the seconds it took."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        deadline = start + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s waiting for {what}; "
                    f"last statuses={self.statuses[-4:]}"
                )
            self.changed.clear()
            if predicate():
                break
            waiter = asyncio.ensure_future(self.changed.wait())
            await asyncio.wait({waiter}, timeout=min(remaining, 1.0))
            waiter.cancel()
        return loop.time() - start

    async def wait_status(
        self, predicate: Callable[[dict[str, Any]], bool], *, after: int = 0, timeout: float = 30.0
    ) -> dict[str, Any]:
        await self.wait_for(
            lambda: any(predicate(s) for s in self.statuses[after:]), timeout, "a status"
        )
        return next(s for s in self.statuses[after:] if predicate(s))

    async def wait_diagnostics(
        self,
        predicate: Callable[[list[types.Diagnostic]], bool],
        relative: str = MODELS,
        timeout: float = 30.0,
    ) -> list[types.Diagnostic]:
        await self.wait_for(lambda: predicate(self.diagnostics(relative)), timeout, "diagnostics")
        return self.diagnostics(relative)

    # -- editor actions ----------------------------------------------------------------------

    def open(self, relative: str, text: str | None = None) -> None:
        path = self.root / relative
        self.versions[relative] = 1
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=self.uri(relative),
                    language_id="python",
                    version=1,
                    text=path.read_text(encoding="utf-8") if text is None else text,
                )
            )
        )

    def change(self, relative: str, text: str) -> None:
        """Replace the whole document (a full-text didChange)."""
        self.versions[relative] = self.versions.get(relative, 1) + 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(
                    uri=self.uri(relative), version=self.versions[relative]
                ),
                content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )

    def save(self, relative: str, text: str) -> None:
        """Write a file and tell the server it was saved (as an editor would)."""
        (self.root / relative).write_text(text, encoding="utf-8")
        self.client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri(relative))
            )
        )


def server_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = str(REPO)
    return env


async def start_probe(
    root: Path,
    *,
    settings: dict[str, Any] | None = None,
    log_file: Path | None = None,
    env: dict[str, str] | None = None,
) -> Probe:
    """Start the server on ``root`` and initialise it; the caller stops it."""
    client = make_test_lsp_client()
    probe = Probe(client, root)
    original = client.protocol.handle_message

    def handle_message(message: Any) -> None:
        original(message)
        if getattr(message, "method", None) == types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS:
            probe.published.append(message.params)
        probe.record(message)

    client.protocol.handle_message = handle_message  # type: ignore[method-assign]

    @client.feature(STATUS)
    def on_status(params: Any) -> None:
        keys = ("state", "driftCount", "message", "root")
        data = params if isinstance(params, dict) else {k: getattr(params, k, None) for k in keys}
        probe.statuses.append(data)

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(params: types.RegistrationParams) -> None:
        return None

    if settings is not None:
        client.set_configuration(settings, section="schemaLsp")
    args = ["-m", "schema_lsp", "serve"]
    if log_file is not None:
        args += ["--log-file", str(log_file)]
    await client.start_io(sys.executable, *args, env=server_env(env), cwd=str(root))
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options={"schemaLsp": settings} if settings else None,
        )
    )
    return probe


async def stop_probe(probe: Probe) -> None:
    try:
        await asyncio.wait_for(probe.client.shutdown_session(), 15)
    finally:
        await probe.client.stop()


@asynccontextmanager
async def lsp(
    root: Path,
    *,
    settings: dict[str, Any] | None = None,
    log_file: Path | None = None,
    env: dict[str, str] | None = None,
) -> AsyncIterator[Probe]:
    probe = await start_probe(root, settings=settings, log_file=log_file, env=env)
    try:
        yield probe
    finally:
        await stop_probe(probe)


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """PIDs of ``pids`` still alive after ``timeout`` seconds (polls /proc)."""
    deadline = time.monotonic() + timeout
    while True:
        left = [p for p in pids if alive(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


#: A two-table project of its own, for the tests that bring their own database.
APP_MODELS = "app_models.py"
APP_MODEL_TEXT = '''import sqlalchemy as sa

metadata = sa.MetaData()
items = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(50)),
)
extra = sa.Table("extra", metadata, sa.Column("id", sa.Integer, primary_key=True))
'''
