"""One workspace root: its configuration, worker, scheduler and published diagnostics.

The session turns check results into what the user sees. It talks to the editor only
through :class:`Client`, so it can be driven by tests without a language server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Protocol

from lsprotocol import types
from pygls.uris import to_fs_path

from .bounds import fit_to_text
from .config import ServerConfig, mask_url
from .diagnostics import drift_diagnostic, failure_diagnostic, mark_stale
from .scheduling import CheckScheduler, Trigger
from .worker.client import WorkerClient, WorkerUnavailable
from .worker.protocol import (
    CANCELLED,
    DB_ERROR,
    INTERNAL_ERROR,
    MODEL_ERROR,
    OK,
    UNCHANGED,
    CheckResult,
)

logger = logging.getLogger(__name__)

#: Hints new since the last check that the event loop may parse itself (a few ms at most).
CHEAP_HINTS = 20

STATUS_METHOD = "schemaLsp/status"
PROGRESS_AFTER = 0.5
MIN_RETRY = 1.0
MAX_RETRY = 60.0


_STALE_REASONS = {
    "unreachable": "database unreachable",
    "timeout": "database unreachable",
    "auth": "database refused the credentials",
    "driver": "database driver missing",
    "missing_database": "database missing",
}


class Client(Protocol):
    """What a session needs from the editor connection."""

    def publish(self, uri: str, diagnostics: list[types.Diagnostic]) -> None: ...

    def status(self, params: dict[str, Any]) -> None: ...

    def show(self, kind: types.MessageType, message: str) -> None: ...

    def progress(self, title: str) -> contextlib.AbstractAsyncContextManager[None]: ...


def path_to_uri(path: str) -> str:
    return Path(path).absolute().as_uri()


class RootSession:
    """Checks one workspace root and keeps its diagnostics true, or visibly stale."""

    def __init__(self, config: ServerConfig, client: Client, *, debounce: float = 0.05) -> None:
        self.config = config
        self.client = client
        self.root_uri = config.root.as_uri()
        self.worker = self._new_worker(config)
        self.scheduler = CheckScheduler(self.run_check, debounce=debounce, interval=self.interval)
        self._sources: Any = None
        self.model_files: set[str] = set()
        self.fresh: dict[str, list[types.Diagnostic]] = {}
        self.published: dict[str, list[types.Diagnostic]] = {}
        self.failure_uri: str | None = None
        self.model_error: str | None = None  # the status message while the models fail
        self.state = "idle"
        self.drift_count = 0
        self.models_dirty = True
        self.db_problem: str | None = None
        self.retry_delay = 0.0
        self.unmapped_logged: set[str] = set()
        self.last_timings: dict[str, float] = {}
        self.checks_done = 0
        self.last_result: CheckResult | None = None  # the last OK result (code actions)
        #: The reflected database as the worker last summarised it (hover, migrations).
        self.database_schema: dict[str, Any] | None = None
        self.last_trigger: Trigger | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.scheduler.start_periodic()
        self.scheduler.trigger("startup", delay=0)

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.worker.stop()

    async def reconfigure(self, config: ServerConfig) -> None:
        """Apply new settings; restart the worker only when the interpreter changed."""
        old, self.config = self.config, config
        if old.python != config.python or old.root != config.root:
            await self.worker.stop()
            self.worker = self._new_worker(config)
        self.db_problem = None if old.database_url != config.database_url else self.db_problem
        self.retry_delay = 0.0
        self.scheduler.reschedule()
        self.scheduler.trigger("configuration changed", delay=0)

    def _new_worker(self, config: ServerConfig) -> WorkerClient:
        return WorkerClient(
            config.python, config.root, on_stderr=self._worker_output, on_stale=self._stale_answer
        )

    def _stale_answer(self, notice: dict[str, Any]) -> None:
        """The worker's last answer trusted an unchanged block's table wrongly (a model read
        something besides its source): check again, trusting nothing."""
        logger.info(
            "re-checking %s: %s table(s)%s changed without their source",
            self.config.root,
            notice.get("tables", 0),
            " and source hints" if notice.get("hints") else "",
        )
        self.models_dirty = True
        self.scheduler.trigger("re-check of trusted tables", delay=0)

    def interval(self) -> float:
        if self.retry_delay:
            return min(self.retry_delay, self.config.check_interval)
        return self.config.check_interval

    # -- triggers ----------------------------------------------------------------------------

    def is_model_file(self, path: str) -> bool:
        """Whether saving ``path`` may change the models (unknown until a first import)."""
        if not path.endswith(".py"):
            return False
        real = os.path.realpath(path)
        if not self.model_files or self.failure_uri is not None:
            return _inside(real, self.config.root)
        return any(os.path.realpath(p) == real for p in self.model_files)

    def file_changed(self, path: str, reason: str) -> bool:
        if not self.is_model_file(path):
            return False
        self.models_dirty = True
        self.scheduler.trigger(reason)
        return True

    def check_now(self) -> None:
        self.models_dirty = True
        self.scheduler.trigger("command", delay=0)

    # -- running a check ---------------------------------------------------------------------

    async def run_check(self, trigger: Trigger) -> None:
        cfg = self.config
        self.last_trigger = trigger
        assert cfg.database_url is not None
        if trigger.models_changed:
            self.models_dirty = True
        self._status("checking", f"checking ({trigger.reason})")
        started = time.perf_counter()
        opts = {
            "compare_type": cfg.compare_type,
            "compare_server_default": cfg.compare_server_default,
            "render_as_batch": cfg.render_as_batch,
        }
        # Parse the model files on a thread while the worker imports and compares them.
        index = self._index()
        parsing = asyncio.ensure_future(asyncio.to_thread(index.modules, sorted(self.model_files)))
        try:
            async with self.client.progress("schema-lsp: checking models against the database"):
                result = await self.worker.check(
                    root=str(cfg.root),
                    models=list(cfg.models),
                    database_url=cfg.database_url,
                    opts=opts,
                    include_schemas=(
                        list(cfg.include_schemas)
                        if isinstance(cfg.include_schemas, tuple)
                        else cfg.include_schemas
                    ),
                    exclude_tables=list(cfg.exclude_tables),
                    import_timeout=cfg.import_timeout,
                    models_changed=self.models_dirty,
                )
        except WorkerUnavailable as exc:
            parsing.cancel()
            self._worker_failed(str(exc))
            return
        answered = time.perf_counter()
        source_map = None
        with contextlib.suppress(Exception):
            await parsing
        parsed = time.perf_counter()
        if result.status == OK:
            files = self.result_files(result)
            if index.new_hints(result.hints) <= CHEAP_HINTS:
                # A hand-off to a thread costs more than this (GIL and wake-up).
                source_map = index.source_map(files, result.hints)
            else:
                source_map = await asyncio.to_thread(index.source_map, files, result.hints)
        mapped = time.perf_counter()
        self.apply(result, source_map)
        done = time.perf_counter()
        self.last_timings = {
            **result.timings,
            "worker_ms": (answered - started) * 1000,
            "parse_wait_ms": (parsed - answered) * 1000,
            "source_map_ms": (mapped - parsed) * 1000,
            "publish_ms": (done - mapped) * 1000,
            "total_ms": (done - started) * 1000,
        }
        logger.debug(
            "check (%s) %s: %s",
            trigger.reason,
            result.status,
            ", ".join(f"{k}={v:.0f}" for k, v in self.last_timings.items()),
        )

    def _index(self) -> Any:
        # Imported on first use: it pulls in SQLAlchemy, which the server needs only here.
        from .sourcemap import SourceIndex

        if self._sources is None:
            self._sources = SourceIndex()
        return self._sources

    def result_files(self, result: CheckResult) -> set[str]:
        return set(result.model_files) if result.model_files else self.model_files

    def apply(self, result: CheckResult, source_map: Any = None) -> None:
        """Turn one check result into diagnostics, messages and a status notification."""
        if result.status == CANCELLED:
            return
        self.checks_done += 1
        if result.status == DB_ERROR:
            assert result.db_failure is not None
            self._database_failed(result.db_failure.kind, result.db_failure.message)
            return
        self._database_ok()
        if result.model_files:
            self.model_files = set(result.model_files)
        if result.database_schema is not None:
            self.database_schema = result.database_schema
        if result.status == UNCHANGED:
            # The worker answers UNCHANGED for models that still fail as they did.
            if self.model_error is not None:
                self._status("error", self.model_error)
            else:
                self._status("connected", self._summary())
            return
        self.models_dirty = False
        if result.status == OK:
            self.last_result = result
            self._publish_drifts(result, source_map)
            self._status("connected", self._summary())
        elif result.status == MODEL_ERROR:
            self._model_failed(result)
        elif result.status == INTERNAL_ERROR:
            logger.error("internal error during a check: %s", result.message)
            self._status("error", "internal error in schema-lsp; see the log")

    def _summary(self) -> str:
        if self.drift_count == 0:
            return "models and database agree"
        noun = "difference" if self.drift_count == 1 else "differences"
        return f"{self.drift_count} {noun} between models and database"

    def _publish_drifts(self, result: CheckResult, source_map: Any = None) -> None:
        from .sourcemap import place

        if source_map is None:
            source_map = self._index().source_map(self.model_files, result.hints)
        fresh: dict[str, list[types.Diagnostic]] = {}
        for drift in result.drifts:
            placement = place(source_map, drift)
            if placement is None:
                key = ":".join(str(drift.get(k)) for k in ("kind", "schema", "table", "name"))
                if key not in self.unmapped_logged:
                    self.unmapped_logged.add(key)
                    logger.info("no model file defines this difference: %s", drift.get("message"))
                continue
            severity = self.config.severity_for(str(drift.get("kind")))
            diagnostic = drift_diagnostic(drift, placement.range, severity)
            fresh.setdefault(path_to_uri(placement.path), []).append(diagnostic)
        self.drift_count = len(result.drifts)
        self.failure_uri = None
        self.model_error = None
        self.fresh = fresh
        self._publish_all(fresh)

    def _publish_all(self, wanted: dict[str, list[types.Diagnostic]]) -> None:
        """Publish ``wanted``; files that had diagnostics and have none now are cleared."""
        for uri in set(self.published) - set(wanted):
            self.client.publish(uri, [])
        for uri, diagnostics in wanted.items():
            if self.published.get(uri) != diagnostics:
                self.client.publish(uri, diagnostics)
        self.published = {uri: diags for uri, diags in wanted.items() if diags}

    def _model_failed(self, result: CheckResult) -> None:
        failure = result.model_failure
        assert failure is not None
        wanted = self._stale("models failed to import")
        if failure.path and failure.line and os.path.exists(failure.path):
            uri = path_to_uri(failure.path)
            wanted.setdefault(uri, [])
            wanted[uri] = [failure_diagnostic(failure), *wanted[uri]]
            self.failure_uri = uri
            where = f"{os.path.relpath(failure.path, self.config.root)}:{failure.line}"
            message = f"models failed to load at {where}: {failure.message}"
        else:
            self.failure_uri = None
            message = f"models failed to load: {failure.message}"
            self.client.show(types.MessageType.Error, f"schema-lsp: {message}")
        self._publish_all(wanted)
        self.model_error = message
        self._status("error", message)

    def _stale(self, reason: str) -> dict[str, list[types.Diagnostic]]:
        """The last fresh diagnostics, marked stale and kept inside each file's current text.

        The files may have changed since they were checked (a save that failed to import
        shortened one); a file that is gone keeps no diagnostics.
        """
        wanted: dict[str, list[types.Diagnostic]] = {}
        for uri, diagnostics in self.fresh.items():
            try:
                text = Path(to_fs_path(uri) or "").read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            wanted[uri] = fit_to_text(mark_stale(diagnostics, reason), text)
        return wanted

    def _database_failed(self, kind: str, message: str) -> None:
        first = self.db_problem is None
        self.db_problem = kind
        self.retry_delay = min(max(self.retry_delay * 2, MIN_RETRY), MAX_RETRY)
        if first:
            self.client.show(types.MessageType.Warning, f"schema-lsp: {message}")
            logger.warning("%s", message)
        reason = _STALE_REASONS.get(kind, "database error")
        self._publish_all(self._stale(reason))
        self.scheduler.reschedule()
        state = "stale" if self.fresh else "unreachable"
        self._status(state, message)

    def _database_ok(self) -> None:
        if self.db_problem is not None:
            logger.info("database %s is reachable again", mask_url(self.config.database_url))
            self.client.show(types.MessageType.Info, "schema-lsp: the database is reachable again")
        self.db_problem = None
        if self.retry_delay:
            self.retry_delay = 0.0
            self.scheduler.reschedule()

    def _worker_failed(self, message: str) -> None:
        logger.error("%s", message)
        if self.state != "error":
            self.client.show(types.MessageType.Error, f"schema-lsp: {message}")
        self._publish_all(self._stale("worker unavailable"))
        self._status("error", message)

    def _status(self, state: str, message: str) -> None:
        if state != "checking":
            self.state = state
        self.client.status(
            {
                "state": state,
                "driftCount": self.drift_count,
                "message": message,
                "root": self.root_uri,
            }
        )

    def _worker_output(self, line: str) -> None:
        logger.debug("[%s] %s", self.config.root.name, line)


def _inside(path: str, root: Path) -> bool:
    try:
        Path(path).relative_to(os.path.realpath(root))
    except ValueError:
        return False
    return ".venv" not in Path(path).parts


@contextlib.asynccontextmanager
async def delayed_progress(
    begin: Any, end: Any, delay: float = PROGRESS_AFTER
) -> AsyncIterator[None]:
    """Report progress only for checks that take longer than ``delay``."""
    handle: list[Any] = []

    async def later() -> None:
        await asyncio.sleep(delay)
        handle.append(await begin())

    task = asyncio.create_task(later())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        if handle:
            end(handle[0])
