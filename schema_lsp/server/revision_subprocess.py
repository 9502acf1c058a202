"""New revisions through the project's ``process_revision_directives`` hook, in a child process.

The hook is the user's code, like the models, so the server never imports it: a one-shot
child started with the project's interpreter (our package on its path, as the worker) loads
the models and the hook, compares, narrows the ops to the drift the editor chose, runs the
hook and writes the files with the same code as ``schema-lsp revision --autogenerate``.
The request travels on the child's stdin, never its command line, so the database password
stays out of process listings; the answer is one JSON line.

Server half: :func:`run_hooked_revision` (asyncio, with a time limit; a child that overruns is
killed before it starts writing, so a timeout never leaves a file). Child half: :func:`main`.
Only the standard library is imported at module level: the child's interpreter is the
project's, which may not have the server's dependencies.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from schema_lsp.autogenerate.drift import Drift
    from schema_lsp.operations import ops
    from schema_lsp.script.writer import OptionNames

CONFIG_KEY = "process_revision_directives"
COMMAND = "schemaLsp.newRevision"

#: The fields that identify a drift (as ``code_actions.drift_key`` and the worker spell them).
DRIFT_KEY = ("kind", "schema", "table", "name", "attribute")

#: Seconds for the comparison on top of the model import and the hook's own time limit.
COMPARE_ALLOWANCE = 60.0
#: Seconds the child may take to write once it has said it is writing.
WRITE_GRACE = 15.0

BOOTSTRAP = (
    "import sys; sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
    "from schema_lsp.server.revision_subprocess import main; main()"
)

BEHIND_REASON = f"{COMMAND} compares the models with the database"


def server_option_names() -> OptionNames:
    """How messages name the parent options: as arguments of ``schemaLsp.newRevision``."""
    from schema_lsp.script.writer import OptionNames

    return OptionNames(
        head=f'{COMMAND}\'s {{"head": "<revision>"}}',
        merge='{"merge": true}',
        splice='{"splice": true}',
        version_path=f'{COMMAND}\'s {{"version_path": "<folder>"}}',
    )


class HookedRevisionFailed(Exception):
    """No revision was written; the message says why (passwords masked) and how to fix it."""


@dataclass(frozen=True)
class HookedRevisionRequest:
    """Everything the child needs, in the names of the server's configuration."""

    root: str
    hook: str
    models: list[str]
    database_url: str
    migrations: str | None = None
    compare_type: bool = True
    compare_server_default: bool = False
    include_schemas: bool | list[str] = False
    exclude_tables: list[str] = field(default_factory=list)
    render_as_batch: bool | None = None
    message: str | None = None
    head: str | None = None
    merge: bool = False
    splice: bool = False
    version_path: str | None = None
    #: Drift keys (:data:`DRIFT_KEY` order) the revision may hold; None: every difference.
    selected: list[list[Any]] | None = None
    #: Seconds the hook may take to import and to run (the project's ``import_timeout``).
    hook_time_limit: float = 10.0


@dataclass(frozen=True)
class HookedRevision:
    """What the child wrote: one file per script the hook left (usually one); ``count`` is
    the differences those files hold after the hook."""

    paths: list[str]
    revisions: list[str]
    count: int


# --- server half -------------------------------------------------------------------------


def masked_message(text: str, url: str) -> str:
    """``text`` without the URL's password, wherever the child or a driver echoed it."""
    from .config import mask_url

    shown = text.replace(url, mask_url(url))
    try:
        from sqlalchemy.engine import make_url

        password = make_url(url).password
    except Exception:
        return shown
    return shown.replace(str(password), "***") if password else shown


def total_time_limit(request: HookedRevisionRequest, import_timeout: float) -> float:
    """The backstop for the whole child: models, hook and comparison (the hook's own limit is
    enforced inside the child, where it can say which line was running)."""
    return import_timeout + request.hook_time_limit + COMPARE_ALLOWANCE


async def run_hooked_revision(
    request: HookedRevisionRequest, *, python: str, time_limit: float
) -> HookedRevision:
    """Run the child and return what it wrote; raise :class:`HookedRevisionFailed` with a
    message for the editor. Never blocks the event loop."""
    from .worker.client import package_parent

    env = dict(os.environ)
    extra = env.get("PYTHONPATH")
    env["PYTHONPATH"] = package_parent() + (os.pathsep + extra if extra else "")
    env["PYTHONUNBUFFERED"] = "1"
    try:
        process = await asyncio.create_subprocess_exec(
            python,
            "-c",
            BOOTSTRAP,
            cwd=request.root,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=os.name == "posix",
        )
    except OSError as exc:
        raise HookedRevisionFailed(
            f"cannot start the project's interpreter {python} ({exc.strerror}) to run the "
            f"{CONFIG_KEY} hook {request.hook}; set python in [tool.schema-lsp] to the "
            "project's interpreter"
        ) from None
    stderr: list[str] = []
    reader = asyncio.create_task(_collect(process, stderr))
    try:
        answer = await _exchange(process, request, time_limit)
    finally:
        await _stop(process)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    if answer is None:
        tail = next((line for line in reversed(stderr) if line.strip()), "")
        raise HookedRevisionFailed(
            masked_message(
                f"the child process running the {CONFIG_KEY} hook {request.hook} with "
                f"{python} exited with {process.returncode} before answering"
                + (f": {tail.strip()}" if tail else "")
                + "; no revision written",
                request.database_url,
            )
        )
    if not answer.get("ok"):
        message = str(answer.get("message") or "the revision could not be written")
        raise HookedRevisionFailed(masked_message(message, request.database_url))
    return HookedRevision(
        paths=[str(p) for p in answer.get("paths", [])],
        revisions=[str(r) for r in answer.get("revisions", [])],
        count=int(answer.get("count", 0)),
    )


async def _exchange(
    process: asyncio.subprocess.Process, request: HookedRevisionRequest, time_limit: float
) -> dict[str, Any] | None:
    """Send the request, then read lines until the answer; once the child says it is writing,
    let it finish (killing it then could leave some of several files)."""
    assert process.stdin is not None and process.stdout is not None
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        process.stdin.write(json.dumps(asdict(request)).encode() + b"\n")
        await process.stdin.drain()
        process.stdin.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + time_limit
    while True:
        try:
            line = await asyncio.wait_for(
                process.stdout.readline(), max(0.0, deadline - loop.time())
            )
        except asyncio.TimeoutError:
            raise HookedRevisionFailed(
                f"the {CONFIG_KEY} hook {request.hook} did not finish within {time_limit:g} s "
                "(models, hook and comparison together); it was stopped and no revision was "
                "written. Make the hook faster or raise import_timeout"
            ) from None
        if not line:
            return None
        try:
            data = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(data, dict):
            continue
        if data.get("event") == "writing":
            deadline = max(deadline, loop.time() + WRITE_GRACE)
            continue
        return data


async def _collect(process: asyncio.subprocess.Process, lines: list[str]) -> None:
    """Keep the last lines of the child's stderr (for a child that dies without answering)."""
    assert process.stderr is not None
    while True:
        raw = await process.stderr.readline()
        if not raw:
            return
        lines.append(raw.decode(errors="replace").rstrip())
        del lines[:-20]


async def _stop(process: asyncio.subprocess.Process) -> None:
    """Kill the child and whatever the hook started, unless it already exited."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.name == "posix":
                os.killpg(process.pid, signal.SIGKILL)
            else:
                process.kill()
    await process.wait()


# --- child half --------------------------------------------------------------------------


class HookTimedOut(BaseException):
    """Raised in the hook when its time is up; a BaseException so a hook's ``except
    Exception`` cannot swallow it."""


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Interrupt the block after ``seconds`` (POSIX; elsewhere the server's backstop acts)."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return

    def fire(signum: int, frame: FrameType | None) -> None:
        raise HookTimedOut()

    previous = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def drift_key(record: Drift) -> tuple[Any, ...]:
    return tuple(getattr(record, k) for k in DRIFT_KEY)


def narrow(script: ops.MigrationScript, wanted: set[tuple[Any, ...]]) -> None:
    """Keep only the ops of the drift in ``wanted`` (what the editor chose: no pending or
    destructive drift unless asked for); the downgrade is derived again from what is kept."""
    for upgrade, downgrade in zip(script.upgrade_ops_list, script.downgrade_ops_list, strict=True):
        upgrade.ops[:] = _kept(list(upgrade.ops), wanted)
        upgrade.reverse_into(downgrade)


def _kept(items: Sequence[ops.MigrateOperation], wanted: set[tuple[Any, ...]]) -> list[Any]:
    from schema_lsp.autogenerate.drift import drift_records
    from schema_lsp.autogenerate.fixes import only
    from schema_lsp.operations import ops

    out: list[Any] = []
    for op in items:
        if isinstance(op, ops.ModifyTableOps):
            inner = _kept(list(op.ops), wanted)
            if inner:
                op.ops[:] = inner
                out.append(op)
            continue
        records = drift_records([op], render_fixes=False)
        kept = [r for r in records if drift_key(r) in wanted]
        if not kept:
            continue
        if isinstance(op, ops.AlterColumnOp) and len(kept) < len(records):
            out.extend(only(op, r.kind) for r in kept)
        else:
            out.append(op)
    return out


def _fail(message: str) -> dict[str, Any]:
    return {"ok": False, "message": message}


def write_revision(request: HookedRevisionRequest, emit: Any) -> dict[str, Any]:
    """The child's work; every failure the user can cause becomes ``{"ok": false}`` with a
    message naming the hook. ``emit`` sends a progress line to the server."""
    from schema_lsp.autogenerate.drift import drift_records
    from schema_lsp.autogenerate.revision import RevisionArgs, RevisionContext, RevisionError
    from schema_lsp.check import exception_summary
    from schema_lsp.database import parse_url
    from schema_lsp.loader import failure_location
    from schema_lsp.operations import ops
    from schema_lsp.revision_cli import (
        autogenerate_into,
        comparison_opts,
        revision_failures,
        script_config_for,
    )
    from schema_lsp.revision_hook import RevisionHookError, load_revision_hook
    from schema_lsp.script import ScriptConfigError
    from schema_lsp.script.writer import RevisionWriteError

    project = Path(request.root)
    spec = request.hook
    limit = request.hook_time_limit
    wanted = None if request.selected is None else {tuple(k) for k in request.selected}

    def directives(context: Any, revision: Any, scripts: list[ops.MigrationScript]) -> None:
        if wanted is not None and scripts:
            narrow(scripts[0], wanted)
        with time_limit(limit):
            hook(context, revision, scripts)
        odd = [type(s).__name__ for s in scripts if not isinstance(s, ops.MigrationScript)]
        if odd:
            raise RevisionHookError(
                f"the {CONFIG_KEY} hook {spec} left {', '.join(odd)} in the directives, "
                "expected MigrationScript objects (or an empty list); no revision written"
            )

    try:
        config = script_config_for(project, request.migrations)
        with time_limit(limit):
            hook = load_revision_hook(spec, project)
        context = RevisionContext(
            config,
            RevisionArgs(
                message=request.message,
                head=request.head,
                merge=request.merge,
                splice=request.splice,
                version_path=request.version_path,
            ),
            process_revision_directives=directives,
            option_names=server_option_names(),
        )
        autogenerate_into(
            context,
            models=request.models,
            url=request.database_url,
            project=project,
            opts=comparison_opts(
                parse_url(request.database_url).get_backend_name(),
                compare_type=request.compare_type,
                compare_server_default=request.compare_server_default,
                include_schemas=request.include_schemas,
                render_as_batch=request.render_as_batch,
            ),
            exclude_tables=request.exclude_tables,
            behind_reason=BEHIND_REASON,
        )
    except HookTimedOut as exc:
        path, line = failure_location(exc, project)
        where = f" (it was running {path}:{line})" if path and line else ""
        return _fail(
            f"the {CONFIG_KEY} hook {spec} did not finish within {limit:g} s{where}; it was "
            "stopped and no revision was written. Make it faster or raise import_timeout"
        )
    except revision_failures() as exc:
        return _fail(str(exc))
    scripts = context.generated_revisions
    if not scripts:
        return _fail(f"the {CONFIG_KEY} hook {spec} removed every change; no revision written")
    try:
        context.render_scripts()  # every file renders before the first is written
    except (RevisionError, RevisionWriteError, ScriptConfigError) as exc:
        return _fail(f"{exc} (after the {CONFIG_KEY} hook {spec}); no revision written")
    except Exception as exc:
        return _fail(
            f"the revision the {CONFIG_KEY} hook {spec} left cannot be rendered: "
            f"{exception_summary(exc)}; no revision written"
        )
    count = sum(
        len(drift_records(upgrade, render_fixes=False))
        for s in scripts
        for upgrade in s.upgrade_ops_list
    )
    emit({"event": "writing"})
    try:
        written = context.generate_scripts()
    except (RevisionError, RevisionWriteError, ScriptConfigError) as exc:
        return _fail(f"{exc} (after the {CONFIG_KEY} hook {spec})")
    return {
        "ok": True,
        "paths": [str(w.path) for w in written],
        "revisions": [w.revision for w in written],
        "count": count,
    }


def _private_stdout() -> Any:
    """A duplicate of stdout for the answer; fd 1 then points at stderr, so whatever the
    models or the hook print cannot corrupt the protocol."""
    answer = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return answer


def main() -> None:
    """The child: one request on stdin, progress and one answer on the private stdout."""
    out = _private_stdout()

    def emit(data: Mapping[str, Any]) -> None:
        out.write(json.dumps(dict(data)) + "\n")
        out.flush()

    try:
        raw = json.loads(sys.stdin.readline())
        request = HookedRevisionRequest(**raw)
        answer = write_revision(request, emit)
    except Exception as exc:
        from schema_lsp.check import REPORT_HINT, exception_summary

        answer = _fail(f"writing the revision failed: {exception_summary(exc)}; {REPORT_HINT}")
    emit(answer)
