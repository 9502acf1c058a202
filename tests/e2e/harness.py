"""Drive the real server over stdio with pytest-lsp's client; wait on notifications."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import make_test_lsp_client
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "shop"
STATUS = "schemaLsp/status"
DIAGNOSTICS = "textDocument/publishDiagnostics"


def copy_example(dest: Path) -> Path:
    """A private copy of the example project (without caches)."""
    target = dest / "shop-project"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


class Session:
    """A connected client plus what the server told it."""

    def __init__(self, client: LanguageClient, root: Path) -> None:
        self.client = client
        self.root = root
        self.statuses: list[dict[str, Any]] = []
        self.registrations: list[types.Registration] = []

    def uri(self, relative: str) -> str:
        return (self.root / relative).as_uri()

    def diagnostics(self, relative: str) -> list[types.Diagnostic]:
        return list(self.client.diagnostics.get(self.uri(relative), []))

    async def wait_until(
        self, method: str, predicate: Callable[[], bool], timeout: float = 30.0
    ) -> None:
        """Wait for notifications of ``method`` until ``predicate()`` holds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(
                    f"timed out after {timeout}s waiting on {method}; "
                    f"statuses={self.statuses[-5:]} diagnostics={self.client.diagnostics}"
                )
            # asyncio.wait, not wait_for: a timed-out wait must not cancel pygls' future.
            waiter = asyncio.ensure_future(self.client.wait_for_notification(method))
            await asyncio.wait({waiter}, timeout=remaining)

    async def wait_diagnostics(
        self,
        relative: str,
        predicate: Callable[[list[types.Diagnostic]], bool],
        timeout: float = 30.0,
    ) -> list[types.Diagnostic]:
        await self.wait_until(DIAGNOSTICS, lambda: predicate(self.diagnostics(relative)), timeout)
        return self.diagnostics(relative)

    async def wait_status(
        self, predicate: Callable[[dict[str, Any]], bool], *, after: int = 0, timeout: float = 30.0
    ) -> dict[str, Any]:
        def found() -> bool:
            return any(predicate(s) for s in self.statuses[after:])

        await self.wait_until(STATUS, found, timeout)
        return next(s for s in self.statuses[after:] if predicate(s))

    def save(self, relative: str, text: str) -> None:
        """Write a file and tell the server it was saved (as an editor would)."""
        path = self.root / relative
        path.write_text(text, encoding="utf-8")
        self.client.text_document_did_save(
            types.DidSaveTextDocumentParams(
                text_document=types.TextDocumentIdentifier(uri=self.uri(relative))
            )
        )

    def open(self, relative: str) -> None:
        path = self.root / relative
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=self.uri(relative), language_id="python", version=1, text=path.read_text()
                )
            )
        )


def run_alembic(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Alembic's own command line on ``root`` (the runtime our migrations must satisfy)."""
    return subprocess.run(
        [sys.executable, "-c", "from alembic.config import main; main()", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )


def alembic(root: Path, *args: str) -> str:
    """Run Alembic, expect success; its output."""
    done = run_alembic(root, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def folder(root: Path) -> types.WorkspaceFolder:
    return types.WorkspaceFolder(uri=root.as_uri(), name=root.name)


def record_statuses(session: Session) -> None:
    """Keep every ``schemaLsp/status`` notification in ``session.statuses``."""

    @session.client.feature(STATUS)
    def on_status(params: Any) -> None:
        keys = ("state", "driftCount", "message", "root")
        data = params if isinstance(params, dict) else {k: getattr(params, k, None) for k in keys}
        session.statuses.append(data)


@asynccontextmanager
async def lsp_session(
    root: Path,
    *,
    capabilities: str = "visual-studio-code",
    settings: dict[str, Any] | None = None,
    init_options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    folders: list[Path] | None = None,
    scoped_settings: dict[Path, dict[str, Any]] | None = None,
) -> AsyncIterator[Session]:
    """Start ``python -m schema_lsp.server`` on ``root`` and shut it down afterwards.

    ``folders``: the workspace's roots when there are several (``root`` then only holds
    them); ``scoped_settings`` answer ``workspace/configuration`` per root (scopeUri).
    """
    roots = folders or [root]
    client = make_test_lsp_client()
    session = Session(client, root)
    record_statuses(session)

    @client.feature(types.CLIENT_REGISTER_CAPABILITY)
    def on_register(params: types.RegistrationParams) -> None:
        session.registrations.extend(params.registrations)

    if settings is not None:
        client.set_configuration(settings, section="schemaLsp")
    for scope, values in (scoped_settings or {}).items():
        client.set_configuration(values, section="schemaLsp", scope_uri=scope.as_uri())
    server_env = {**os.environ, **(env or {})}
    server_env["PYTHONPATH"] = str(REPO)
    await client.start_io(sys.executable, "-m", "schema_lsp.server", env=server_env)
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities(capabilities),
                root_uri=roots[0].as_uri(),
                workspace_folders=[folder(r) for r in roots],
                initialization_options=init_options,
            )
        )
        yield session
    finally:
        try:
            await asyncio.wait_for(client.shutdown_session(), 15)
        finally:
            await client.stop()


def apply_text_edits(text: str, edits: list[types.TextEdit]) -> str:
    """What an editor does with ``edits`` on ``text`` (LSP positions, applied last first)."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)

    def offset(pos: types.Position) -> int:
        return len(text) if pos.line >= len(lines) else offsets[pos.line] + pos.character

    for edit in sorted(edits, key=lambda e: offset(e.range.start), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


def migrate(project: Path, url: URL) -> None:
    """Build the example's old schema in ``url`` by running its migrations with Alembic.

    Runs in a subprocess so the example's modules never enter the test process.
    """
    ini = project / "alembic.ini"
    rendered = url.render_as_string(hide_password=False).replace("%", "%%")
    text = "\n".join(
        f"sqlalchemy.url = {rendered}" if line.startswith("sqlalchemy.url") else line
        for line in ini.read_text().splitlines()
    )
    ini.write_text(text + "\n")
    # The example's first migration writes a boolean default as the integer 1, which
    # PostgreSQL rejects; spell it portably in this private copy.
    first = project / "migrations" / "versions" / "0001_users_and_products.py"
    first.write_text(
        first.read_text().replace(
            'sa.Boolean(), server_default=sa.text("1")', "sa.Boolean(), server_default=sa.true()"
        )
    )
    done = subprocess.run(
        [sys.executable, "-c", "from alembic.config import main; main()", "upgrade", "head"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"building the old schema failed:\n{done.stderr[-3000:]}"
    # the users without a name that examples/shop/build_db.py puts into shop.db
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO users (id, email, name) VALUES (:id, :email, NULL)"),
                [{"id": i, "email": f"customer{i}@example.com"} for i in (1, 2, 3)],
            )
    finally:
        engine.dispose()
