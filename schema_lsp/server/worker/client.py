"""The server's handle on one warm worker process (asyncio, never blocks the event loop).

Starts ``<project python>`` with our package on PYTHONPATH, matches answers to requests
by id, kills and forgets a worker that stops answering, and restarts it on the next check.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import schema_lsp

from .protocol import CheckRequest, CheckResult, repeats_filled_in

logger = logging.getLogger(__name__)

BOOTSTRAP = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
    "from schema_lsp.server.worker.main import main; main()"
)

START_TIMEOUT = 60.0
#: Time on top of the import time limit for reading the database and comparing.
CHECK_ALLOWANCE = 150.0


class WorkerUnavailable(Exception):
    """The worker could not be started or stopped answering; the message says how to fix it."""


def package_parent() -> str:
    """The directory that contains the ``schema_lsp`` package (goes on the worker's path)."""
    return str(Path(schema_lsp.__file__).resolve().parent.parent)


class WorkerClient:
    """One warm worker for one workspace root and interpreter."""

    def __init__(
        self,
        python: str,
        root: Path,
        on_stderr: Callable[[str], None] | None = None,
        on_stale: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.python = python
        self.root = root
        self.on_stderr = on_stderr or (lambda line: logger.debug("worker: %s", line))
        #: Called when the worker finds that its last answer trusted a table wrongly and
        #: asks for a check again (the notice says how many tables and whether hints).
        self.on_stale = on_stale or (lambda notice: None)
        #: Set when the worker keeps the models of its last answer imported (``resident``):
        #: the next edit is answered from its changed blocks. Cleared by each check.
        self.resident = asyncio.Event()
        self.process: asyncio.subprocess.Process | None = None
        self.hello: dict[str, Any] = {}
        self._next_id = 0
        self._pending: dict[int, asyncio.Future[CheckResult]] = {}
        self._hello: asyncio.Future[dict[str, Any]] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._start_lock = asyncio.Lock()
        self._hints: tuple[int, list[dict[str, Any]]] = (0, [])

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process and self.process.returncode is None else None

    async def start(self) -> None:
        """Start the worker unless it runs; raise :class:`WorkerUnavailable` when it can't."""
        async with self._start_lock:
            if self.process is not None and self.process.returncode is None:
                return
            env = dict(os.environ)
            extra = env.get("PYTHONPATH")
            env["PYTHONPATH"] = package_parent() + (os.pathsep + extra if extra else "")
            env["PYTHONUNBUFFERED"] = "1"
            self._hints = (0, [])
            loop = asyncio.get_running_loop()
            self._hello = loop.create_future()
            try:
                self.process = await asyncio.create_subprocess_exec(
                    self.python,
                    "-c",
                    BOOTSTRAP,
                    cwd=str(self.root),
                    env=env,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    limit=64 * 1024 * 1024,
                )
            except OSError as exc:
                raise WorkerUnavailable(
                    f"Cannot start the project's interpreter {self.python} ({exc.strerror}). "
                    "Set python in [tool.schema-lsp] to the project's interpreter."
                ) from exc
            self._tasks = [
                asyncio.create_task(self._read_stdout(self.process)),
                asyncio.create_task(self._read_stderr(self.process)),
            ]
            try:
                hello = await asyncio.wait_for(asyncio.shield(self._hello), START_TIMEOUT)
            except (asyncio.TimeoutError, EOFError) as exc:
                await self.stop()
                raise WorkerUnavailable(
                    f"The worker in {self.python} did not start. "
                    "Check that the interpreter runs and has SQLAlchemy installed."
                ) from exc
            if not hello.get("ok") and not hello.get("missing", True):
                await self.stop()
                raise WorkerUnavailable(
                    f"schema-lsp's comparison engine failed to load in {self.python}: "
                    f"{hello.get('error')}. This is a bug in schema-lsp; please report it."
                )
            if not hello.get("ok"):
                await self.stop()
                raise WorkerUnavailable(
                    f"The project's interpreter {self.python} cannot load models: "
                    f"{hello.get('error')}. Install SQLAlchemy (and your database driver) "
                    "into it, or set python in [tool.schema-lsp]."
                )
            self.hello = hello
            logger.info(
                "worker %s started (Python %s, SQLAlchemy %s)",
                hello.get("pid"),
                hello.get("version"),
                hello.get("sqlalchemy"),
            )

    async def check(self, **fields: Any) -> CheckResult:
        """Send a check; a newer check makes the worker cancel this one (status cancelled)."""
        await self.start()
        assert self.process is not None and self.process.stdin is not None
        self._next_id += 1
        request = CheckRequest(id=self._next_id, **fields)
        future: asyncio.Future[CheckResult] = asyncio.get_running_loop().create_future()
        self._pending[request.id] = future
        self.resident.clear()
        try:
            self.process.stdin.write((request.to_json() + "\n").encode())
            await self.process.stdin.drain()
            timeout = request.import_timeout + CHECK_ALLOWANCE
            return await asyncio.wait_for(asyncio.shield(future), timeout)
        except asyncio.TimeoutError as exc:
            await self.stop()
            raise WorkerUnavailable(
                "The worker stopped answering and was restarted. "
                "If the models do heavy work at import time, raise import_timeout."
            ) from exc
        except (BrokenPipeError, ConnectionResetError, EOFError) as exc:
            await self.stop()
            raise WorkerUnavailable(
                "The worker exited unexpectedly; it restarts on the next check."
            ) from exc
        finally:
            self._pending.pop(request.id, None)

    async def stop(self) -> None:
        """Ask the worker to exit, then make sure it has."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.returncode is None:
            with contextlib.suppress(Exception):
                assert process.stdin is not None
                process.stdin.write(b'{"op": "shutdown"}\n')
                await process.stdin.drain()
                process.stdin.close()
            try:
                await asyncio.wait_for(process.wait(), 3)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for task in self._tasks:
            task.cancel()
        self._fail_pending(EOFError("worker stopped"))

    def _fail_pending(self, exc: BaseException) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(exc)
        if self._hello is not None and not self._hello.done():
            self._hello.set_exception(exc)

    async def _read_stdout(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while True:
            line = await process.stdout.readline()
            if not line:
                break
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                logger.warning("worker sent an unreadable line: %.200r", line)
                continue
            if data.get("op") == "hello":
                if self._hello is not None and not self._hello.done():
                    self._hello.set_result(data)
                continue
            if data.get("op") == "stale":
                self.on_stale(data)
                continue
            if data.get("op") == "resident":
                self.resident.set()
                continue
            result = self._complete_hints(CheckResult.from_dict(data))
            future = self._pending.get(data.get("id"))
            if future is not None and not future.done():
                future.set_result(result)
        if self.process is process:
            self.process = None
        self._fail_pending(EOFError("the worker exited"))

    def _complete_hints(self, result: CheckResult) -> CheckResult:
        """Fill in the hints the worker left out as repeated (every answer passes here, in
        order, so the last list is always the one the worker refers to)."""
        if not result.hints_seq:
            return result
        seq, last = self._hints
        hints = result.hints
        if result.hints_base is not None:
            if result.hints_base == seq:
                hints = repeats_filled_in(cast("list[dict[str, Any] | None]", hints), last)
            else:  # cannot happen in order; only placement precision is lost
                hints = [h for h in hints if h is not None]
        self._hints = (result.hints_seq, hints)
        return dataclasses.replace(result, hints=hints, hints_base=None)

    async def _read_stderr(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        while True:
            line = await process.stderr.readline()
            if not line:
                break
            self.on_stderr(line.decode(errors="replace").rstrip())
