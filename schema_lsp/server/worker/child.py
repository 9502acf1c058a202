"""One check inside a forked child: import the models fresh, compare, report, exit.

The child never touches the database (the reflection was read by the warm parent) and
always leaves through the real ``os._exit`` so no inherited connection is closed politely.
Whatever the user's code does (raise, loop, exit, crash) the parent still gets an answer:
an exception is reported here, a loop or crash through the faulthandler dump in ``trace_fd``.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import fnmatch
import json
import os
import sys
import time
import traceback
from typing import Any, NoReturn

from .failures import failure_from_exception, locate_failure
from .loader import ConfigProblem, load_target, metadata_of, prepare_imports, workspace_module_files
from .protocol import (
    INTERNAL_ERROR,
    MODEL_ERROR,
    OK,
    CheckRequest,
    CheckResult,
    Frame,
    ModelFailure,
    write_all,
)


def name_filters(req: CheckRequest) -> dict[str, Any]:
    """``include_name``/``include_object`` options for exclude_tables and include_schemas."""
    patterns = list(req.exclude_tables)
    schemas = req.include_schemas

    def excluded(name: str | None, schema: str | None) -> bool:
        if not name:
            return False
        qualified = f"{schema}.{name}" if schema else name
        return any(
            fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(qualified, p) for p in patterns
        )

    def include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
        if type_ == "schema" and isinstance(schemas, list):
            return name is None or name in schemas
        if type_ == "table":
            return not excluded(name, parent_names.get("schema_name"))
        return True

    def include_object(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
        if type_ == "table":
            return not excluded(name, getattr(obj, "schema", None))
        return True

    return {"include_name": include_name, "include_object": include_object}


def run_child(
    req: CheckRequest, reflected: Any, dialect: Any, result_fd: int, trace_fd: int
) -> NoReturn:
    real_exit = os._exit
    started = time.perf_counter()

    def send(result: CheckResult) -> None:
        write_all(result_fd, (result.to_json() + "\n").encode())

    try:
        faulthandler.enable(file=trace_fd, all_threads=False)
        faulthandler.dump_traceback_later(req.import_timeout, exit=True, file=trace_fd)
        before = set(sys.modules)

        def guarded_exit(code: int) -> NoReturn:
            frames = [Frame(f.filename, f.lineno or 0, f.name) for f in traceback.extract_stack()]
            failure = ModelFailure(
                kind="exit",
                message=f"the models called os._exit({code}) while being imported",
                frames=frames[:-1],
            )
            send(
                CheckResult(
                    id=req.id,
                    status=MODEL_ERROR,
                    model_failure=locate_failure(failure, req.root),
                    model_files=failed_import_files(req.root, before, failure),
                )
            )
            real_exit(code)

        os._exit = guarded_exit  # type: ignore[assignment]
        prepare_imports(req.root)
        targets: list[tuple[str, Any]] = []
        try:
            for spec in req.models:
                targets.append((spec, load_target(spec)))
            metadatas = [m for spec, obj in targets for m in metadata_of(spec, obj)]
        except ConfigProblem as exc:
            failure = ModelFailure(
                kind="config", message=str(exc), path=exc.path, line=1 if exc.path else None
            )
            send(CheckResult(id=req.id, status=MODEL_ERROR, model_failure=failure))
            real_exit(0)
        except BaseException as exc:  # the user's code raised: report where
            failure = locate_failure(failure_from_exception(exc), req.root)
            model_files = failed_import_files(req.root, before, failure)
            send(
                CheckResult(
                    id=req.id, status=MODEL_ERROR, model_failure=failure, model_files=model_files
                )
            )
            real_exit(0)
        faulthandler.cancel_dump_traceback_later()
        os._exit = real_exit
        imported = time.perf_counter()

        from schema_lsp.autogenerate.api import compare_reflected
        from schema_lsp.autogenerate.drift import drift_records

        opts = {**req.opts, **name_filters(req)}
        if req.include_schemas:
            opts["include_schemas"] = True
        hints_job = start_hints([obj for _, obj in targets])
        try:
            upgrade = compare_reflected(reflected, metadatas, dialect=dialect, opts=opts)
            drifts = [d.to_dict() for d in drift_records(upgrade, dialect)]
        except Exception as exc:  # a user type or default the comparison cannot handle
            failure = locate_failure(failure_from_exception(exc), req.root)
            if failure.path is None:
                raise
            send(CheckResult(id=req.id, status=MODEL_ERROR, model_failure=failure))
            real_exit(0)
        compared = time.perf_counter()
        hints = finish_hints(hints_job)
        send(
            CheckResult(
                id=req.id,
                status=OK,
                drifts=drifts,
                hints=hints,
                model_files=workspace_module_files(req.root, before),
                timings={
                    "import_ms": (imported - started) * 1000,
                    "compare_ms": (compared - imported) * 1000,
                    "hints_ms": (time.perf_counter() - compared) * 1000,
                    "child_cpu_ms": time.process_time() * 1000,
                },
            )
        )
        real_exit(0)
    except BaseException as exc:
        try:
            message = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            send(CheckResult(id=req.id, status=INTERNAL_ERROR, message=message[-4000:]))
        finally:
            real_exit(1)


def failed_import_files(root: str, before: set[str], failure: ModelFailure) -> list[str]:
    """Model files of a failed import: modules still loaded plus workspace files on the stack.

    A module whose import raised is gone from ``sys.modules``, but editing it must still
    trigger a check.
    """
    files = set(workspace_module_files(root, before))
    prefix = os.path.realpath(root) + os.sep
    for frame in failure.frames:
        if os.path.realpath(frame.path).startswith(prefix) and frame.path.endswith(".py"):
            files.add(os.path.abspath(frame.path))
    if failure.path and failure.path.endswith(".py"):
        files.add(os.path.abspath(failure.path))
    return sorted(files)


def start_hints(targets: list[Any]) -> tuple[int, int] | None:
    """Collect source hints in a grandchild, in parallel with the comparison.

    Both share the imported models copy-on-write; on a second core the hints cost nothing
    on the critical path. Returns (pid, read fd), or None where fork is unavailable.
    """
    if not hasattr(os, "fork"):
        return None
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            data = json.dumps(collect_hints(targets), default=str).encode()
            write_all(write_fd, data)
        finally:
            os._exit(0)
    os.close(write_fd)
    return pid, read_fd


def finish_hints(job: tuple[int, int] | None) -> list[dict[str, Any]]:
    """The grandchild's hints; an empty list if it failed (only placement precision is lost)."""
    if job is None:
        return []
    pid, read_fd = job
    chunks = []
    while True:
        chunk = os.read(read_fd, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    try:
        hints: list[dict[str, Any]] = json.loads(b"".join(chunks) or b"[]")
    except json.JSONDecodeError:
        return []
    return hints


def collect_hints(targets: list[Any]) -> list[dict[str, Any]]:
    """Source hints from the imported models; a failure here only costs precision."""
    try:
        from schema_lsp.sources.hints import collect_hints as _collect
    except ImportError:
        return []
    out: list[dict[str, Any]] = []
    try:
        for target in targets:
            for hint in _collect(target):
                out.append(dataclasses.asdict(hint) if dataclasses.is_dataclass(hint) else hint)
    except Exception as exc:
        print(f"schema-lsp: collecting source hints failed: {exc!r}", file=sys.stderr)
    return out
