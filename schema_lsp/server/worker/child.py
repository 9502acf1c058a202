"""One check inside a forked child: import the models fresh, compare, report, exit.

The child never touches the database (the reflection was read by the warm parent) and
always leaves through the real ``os._exit`` so no inherited connection is closed politely.
Whatever the user's code does (raise, loop, exit, crash) the parent still gets an answer:
an exception is reported here, a loop or crash through the faulthandler dump in ``trace_fd``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import faulthandler
import json
import os
import sys
import time
import traceback
from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any, NoReturn

from sqlalchemy import MetaData

from schema_lsp.table_filters import table_filters

from . import loader
from .failures import failure_from_exception, locate_failure
from .loader import ConfigProblem, load_target, metadata_of, prepare_imports, workspace_module_files
from .origins import BlockOrigins
from .protocol import (
    INTERNAL_ERROR,
    MODEL_ERROR,
    OK,
    CheckRequest,
    CheckResult,
    Frame,
    ModelFailure,
    repeats_left_out,
    write_all,
)
from .reuse import Comparison, compare_with_reuse
from .table_cache import Entries, entries_to_data

#: Key of the line after an OK result that carries the per-table comparison cache to the
#: warm parent: sent after the result, so the parent answers the server first.
TABLE_CACHE_FIELD = "table_cache"
#: Key of the line after the cache line when tables or hints were trusted: the trusted
#: tables whose signature differed and whether a trusted hint differed.
VERIFIED_FIELD = "verified"
#: Key set on a result line whose hints leave out (None) entries equal to the parent's
#: last sent ones: most of a large result, and unchanged after most edits.
HINTS_REPEATED_FIELD = "hints_repeat_sent"
#: Key of the last line of a child that stays resident (see ``resident``).
RESIDENT_FIELD = "resident"


def name_filters(req: CheckRequest) -> dict[str, Any]:
    """The filter options of ``exclude_tables`` and a list of ``include_schemas``."""
    return table_filters(req.exclude_tables, req.include_schemas)


def run_child(
    req: CheckRequest,
    reflected: Any,
    dialect: Any,
    result_fd: int,
    trace_fd: int,
    previous: Entries | None = None,
    sent_hints: list[dict[str, Any]] | None = None,
    trust: bool = True,
    cmd_fd: int | None = None,
) -> NoReturn:
    """Import, compare (reusing ``previous`` per-table results where the model is unchanged),
    send the result and exit. The OK result line leaves out hints equal to ``sent_hints``
    (``HINTS_REPEATED_FIELD``) and is followed by a ``TABLE_CACHE_FIELD`` line (the
    entries that differ from ``previous``), for the warm parent, which restores both.

    With ``trust``, tables whose source block did not change are trusted unchanged
    (``origins``) and checked only after answering, on a ``VERIFIED_FIELD`` line.

    With ``cmd_fd``, a child whose answer holds (verified, or nothing trusted) then stays
    ``resident`` (a ``RESIDENT_FIELD`` line) to answer the next check from its changes."""
    real_exit = os._exit
    started = time.perf_counter()

    def send(result: CheckResult, **extra: Any) -> None:
        write_all(result_fd, (result.to_json(**extra) + "\n").encode())

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
        origins = BlockOrigins(previous.blocks if previous is not None else ())
        origins.install()
        loader.ORIGINS = origins
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
        origins.importing = False
        imported = Imported(req, targets, metadatas, before, origins, started)
        trusted = origins.trusted(metadatas) if trust else frozenset()
        answered = answer(imported, reflected, dialect, result_fd, previous, sent_hints, trusted)
        if answered is None:
            real_exit(0)
        hints = answered.hints
        if answered.comparison.trusted or answered.trusted_hints:
            # Background work now: the server, the editor and the next check come first.
            # Not for a child that may stay resident: it could not be made urgent again
            # (lowering a nice value takes privileges) for the next edit it answers.
            if cmd_fd is None:
                with contextlib.suppress(OSError):
                    os.nice(19)
            full = collect_hints(answered.objs, before) if answered.trusted_hints else hints
            verified = {
                "tables": [list(key) for key in answered.comparison.mistrusted()],
                "hints": bool(answered.trusted_hints)
                and _hints_mistrusted(full, answered.sent, sent_hints or []),
            }
            write_all(result_fd, (json.dumps({VERIFIED_FIELD: verified}) + "\n").encode())
            if verified["tables"] or verified["hints"]:
                real_exit(0)
            hints = full
        # A resident needs every model file run block by block (``origins.files``).
        if cmd_fd is not None and loader.BLOCKS is not None and all(h is not None for h in hints):
            from .resident import Resident, serve

            write_all(result_fd, (json.dumps({RESIDENT_FIELD: True}) + "\n").encode())
            entries = answered.entries
            serve(Resident(imported, reflected, dialect, entries, hints), cmd_fd, result_fd)
        real_exit(0)
    except BaseException as exc:
        try:
            message = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            send(CheckResult(id=req.id, status=INTERNAL_ERROR, message=message[-4000:]))
        finally:
            real_exit(1)


@dataclass
class Imported:
    """The models as a child imported them: what answering (and a resident) works from."""

    req: CheckRequest
    targets: list[tuple[str, Any]]
    metadatas: list[MetaData]
    before: set[str]
    origins: BlockOrigins
    started: float
    imported: float = field(default_factory=time.perf_counter)
    #: Extra timings of the answer (the resident marks its own).
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Answered:
    """What a child answered: the comparison, the hints (None where trusted) and what
    was sent of them, the entries for the next check."""

    comparison: Comparison
    objs: list[Any]
    hints: list[Any]
    sent: list[Any]
    trusted_hints: frozenset[int]
    entries: Entries


def answer(
    imported: Imported,
    reflected: Any,
    dialect: Any,
    result_fd: int,
    previous: Entries | None,
    sent_hints: list[dict[str, Any]] | None,
    trusted: frozenset[int],
) -> Answered | None:
    """Compare, send the OK result line and the table cache line; None when the
    comparison failed on the user's code (a MODEL_ERROR line was sent instead)."""
    req = imported.req
    opts = {**req.opts, **name_filters(req)}
    if req.include_schemas:
        opts["include_schemas"] = True
    try:
        comparison = compare_with_reuse(
            reflected,
            imported.metadatas,
            dialect=dialect,
            opts=opts,
            previous=previous or Entries({}, {}),
            trusted=trusted,
        )
    except Exception as exc:  # a user type or default the comparison cannot handle
        failure = locate_failure(failure_from_exception(exc), req.root)
        if failure.path is None:
            raise
        result = CheckResult(id=req.id, status=MODEL_ERROR, model_failure=failure)
        write_all(result_fd, (result.to_json() + "\n").encode())
        return None
    compared = time.perf_counter()
    # In this process, after comparing: a grandchild in parallel cost more in
    # copy-on-write faults (both touch every model object) than the hints take.
    objs = [obj for _, obj in imported.targets]
    trusted_hints = trusted if sent_hints and _hints_align(objs, sent_hints) else frozenset()
    hints: list[Any] = collect_hints(objs, imported.before, trusted_hints)
    sent = hints
    extra: dict[str, Any] = {}
    if sent_hints:
        sent = repeats_left_out(hints, sent_hints)
        extra[HINTS_REPEATED_FIELD] = True
    result = CheckResult(
        id=req.id,
        status=OK,
        drifts=comparison.drifts,
        hints=sent,
        model_files=workspace_module_files(req.root, imported.before),
        timings={
            "import_ms": (imported.imported - imported.started) * 1000,
            "compare_ms": (compared - imported.imported) * 1000,
            "hints_ms": (time.perf_counter() - compared) * 1000,
            "child_cpu_ms": time.process_time() * 1000,
            "tables_compared": comparison.compared,
            "tables_reused": comparison.reused,
            "tables_trusted": len(comparison.trusted),
            "hints_trusted": len(trusted_hints),
            **imported.timings,
        },
    )
    write_all(result_fd, (result.to_json(**extra) + "\n").encode())
    entries = dataclasses.replace(comparison.entries, blocks=frozenset(imported.origins.executed))
    cache = entries_to_data(entries, previous)
    write_all(result_fd, (json.dumps({TABLE_CACHE_FIELD: cache}) + "\n").encode())
    return Answered(comparison, objs, hints, sent, trusted_hints, entries)


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


def collect_hints(
    targets: list[Any], skip_modules: Container[str] = (), trusted: Container[int] = frozenset()
) -> list[dict[str, Any] | None]:
    """Source hints from the imported models (None for a ``trusted`` table, taken to be as
    last sent); a failure here only costs precision."""
    try:
        from schema_lsp.sources.hints import collect_hint_data
    except ImportError:
        return []
    out: list[dict[str, Any] | None] = []
    try:
        for target in targets:
            out.extend(collect_hint_data(target, skip_modules, trusted))
    except Exception as exc:
        print(f"schema-lsp: collecting source hints failed: {exc!r}", file=sys.stderr)
        return []
    return out


def _hints_align(targets: list[Any], sent: list[dict[str, Any]]) -> bool:
    """Whether the hints would describe the same tables, in the same order, as ``sent``
    (only then may a trusted table's hint be left out as repeated)."""
    try:
        from schema_lsp.sources.hints import hinted_tables

        tables = [table for target in targets for table in hinted_tables(target)]
    except Exception:
        return False
    if len(tables) != len(sent):
        return False
    pairs = zip(tables, sent, strict=True)
    return all((t.schema, t.name) == (h.get("schema"), h.get("name")) for t, h in pairs)


def _hints_mistrusted(
    full: list[dict[str, Any] | None], answered: list[Any], sent: list[dict[str, Any]]
) -> bool:
    """Whether a hint left out as trusted differs from the one the server holds."""
    if len(full) != len(answered):
        return True
    pairs = enumerate(zip(full, answered, strict=True))
    return any(a is None and f != sent[i] for i, (f, a) in pairs)
