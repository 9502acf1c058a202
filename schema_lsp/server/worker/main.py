"""The warm worker: holds the connection and the cached reflection, forks a child per check.

Between checks it also keeps what makes the next one cheap: per-table comparison results
(``reuse``) and the source blocks they came from (``origins``: tables of unchanged blocks
are verified only after answering), the model files compiled block by block
(``compiled``), the source hints last sent (only changed ones are sent again), and the
rows holding NULL of columns the models make NOT NULL (``null_rows``: the child never
touches the database). After an edit the child starts before the catalog fingerprint is
read; a moved catalog discards it.

Started by the server as ``<project python> -c "...main()"`` with our package on
PYTHONPATH. It reads requests from a private copy of stdin and answers on a private copy
of stdout; fd 0 becomes /dev/null and fd 1 becomes stderr before any user code runs.
A new request arriving while a child runs cancels that child: the newest check wins.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import json
import os
import select
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

from .null_rows import NullRowCounts
from .protocol import (
    CANCELLED,
    DB_ERROR,
    INTERNAL_ERROR,
    MODEL_ERROR,
    OK,
    UNCHANGED,
    CheckRequest,
    CheckResult,
    ModelFailure,
    repeats_filled_in,
    write_all,
)
from .table_cache import Entries, TableCache, entries_from_data

#: Time a child may take beyond the import time limit (comparison, hints) before it is killed.
COMPARE_ALLOWANCE = 60.0
#: Time a resident child may take to answer from an edit before a fresh child takes over
#: (it runs a block or two: a changed block that loops costs this much, then the fresh
#: child reports it as usual).
SPECULATION_LIMIT = 2.0

_SYSTEM_SCHEMAS = {
    "information_schema",
    "pg_catalog",
    "pg_toast",
    "mysql",
    "performance_schema",
    "sys",
}


class LineReader:
    """Lines from a raw fd, with a buffer so ``select`` and reading agree."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.buffer = b""
        self.eof = False

    def has_line(self) -> bool:
        return b"\n" in self.buffer

    def fill(self) -> None:
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.eof = True
        self.buffer += chunk

    def read_line(self) -> str | None:
        while not self.has_line():
            if self.eof:
                return None
            self.fill()
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()


@dataclass
class WarmState:
    """What survives between checks: the engine, the last reflection and its fingerprint."""

    out_fd: int
    url: str | None = None
    engine: Any = None
    schemas: tuple[str | None, ...] = (None,)
    reflected: Any = None
    fingerprint: str | None = None
    last_key: str | None = None
    last_status: str | None = None
    fingerprint_broken: bool = False
    last_heads: list[str] | None = None
    warmed: bool = False
    timings: dict[str, float] = field(default_factory=dict)
    #: Bumped on every re-read of the catalog; per-table results hold for one generation.
    generation: int = 0
    table_cache: TableCache = field(default_factory=TableCache)
    #: Model files of the last import, compiled here (block by block) before each fork.
    model_files: list[str] = field(default_factory=list)
    heads: list[str] | None = None
    #: The last hints sent to the server and their number (see ``CheckResult.hints_base``).
    sent_hints: list[dict[str, Any]] = field(default_factory=list)
    sent_seq: int = 0
    #: Rows holding NULL per column the models make NOT NULL, for this generation.
    null_rows: NullRowCounts = field(default_factory=NullRowCounts)
    #: The generation whose database summary the server has (sent once per reflection).
    summary_sent: int = -1
    #: The last OK child, still to send its table cache (``collect_table_cache``).
    following: Following | None = None
    #: A child trusted tables wrongly (``origins``): the next one trusts none.
    exact_next: bool = False
    #: The last answer's trusted tables were not verified (a request stopped the child):
    #: until a child verifies them, "nothing changed" is not an answer.
    unverified: bool = False
    #: Children killed but not yet reaped (see ``abandon``).
    unreaped: list[int] = field(default_factory=list)
    #: The last child, kept with the models imported (``resident``), and its scope.
    resident: Forked | None = None
    resident_scope: str | None = None

    def send(self, result: CheckResult) -> None:
        write_all(self.out_fd, (result.to_json() + "\n").encode())

    # -- database ---------------------------------------------------------------------------

    def refresh_reflection(self, req: CheckRequest) -> bool:
        """Fingerprint the catalog; re-reflect only when it moved. True when it changed.

        Also reads the applied revisions (``self.heads``) on the same connection: one
        checkout (and pool ping) per check.
        """
        from sqlalchemy import inspect

        from schema_lsp.reflect import fingerprint, reflect_schema

        from .database import ensure_sqlite_file, make_engine

        if self.url != req.database_url or self.engine is None:
            self.dispose()
            self.engine = make_engine(req.database_url)
            self.url = req.database_url
        ensure_sqlite_file(self.engine)
        t0 = time.perf_counter()
        with self.engine.connect() as conn:
            schemas = self.wanted_schemas(conn, req, inspect)
            # Taken before reading: DDL committed during the read moves the fingerprint
            # away from the one stored, so the next check reads the catalog again.
            current = self.try_fingerprint(conn, schemas, fingerprint)
            self.timings["fingerprint_ms"] = (time.perf_counter() - t0) * 1000
            known = schemas == self.schemas and self.reflected is not None and self.fingerprint
            if known and current is not None and current == self.fingerprint:
                self.heads = self.applied_heads(conn)
                return False
            t1 = time.perf_counter()
            self.reflected = reflect_schema(
                conn,
                schemas=schemas,
                exclude=[(None, "alembic_version")],
                with_fingerprint=False,
            )
            conn.rollback()
            self.timings["reflect_ms"] = (time.perf_counter() - t1) * 1000
            self.schemas = schemas
            self.fingerprint = current
            self.generation += 1
            self.table_cache.clear()
            self.heads = self.applied_heads(conn)
        if not self.warmed:
            self.warmed = True
            with contextlib.suppress(Exception):
                warm_up(self.reflected, self.engine.dialect)
        return True

    def applied_heads(self, conn: Any) -> list[str] | None:
        """The revisions in ``alembic_version`` ([] without the table; None if unreadable)."""
        from sqlalchemy import inspect, text

        try:
            if not inspect(conn).has_table("alembic_version"):
                conn.rollback()
                return []
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).all()
            conn.rollback()
        except Exception:
            with contextlib.suppress(Exception):
                conn.rollback()
            return None
        return sorted(str(row[0]) for row in rows)

    def try_fingerprint(self, conn: Any, schemas: Any, fingerprint: Any) -> str | None:
        """The catalog fingerprint, or None (always re-read) where the query fails."""
        from sqlalchemy.exc import OperationalError

        if self.fingerprint_broken:
            return None
        try:
            value: str = fingerprint(conn, schemas)
        except OperationalError:
            raise  # connection trouble: reported like any other
        except Exception as exc:
            self.fingerprint_broken = True
            print(
                f"schema-lsp: catalog fingerprint unavailable ({type(exc).__name__}: {exc}); "
                "every check re-reads the schema",
                file=sys.stderr,
            )
            conn.rollback()
            return None
        conn.rollback()
        return value

    @staticmethod
    def wanted_schemas(conn: Any, req: CheckRequest, inspect: Any) -> tuple[str | None, ...]:
        if req.include_schemas is True:
            default = conn.dialect.default_schema_name
            names = inspect(conn).get_schema_names()
            others = sorted(
                n
                for n in names
                if n != default and n not in _SYSTEM_SCHEMAS and not n.startswith("pg_")
            )
            return (None, *others)
        if isinstance(req.include_schemas, list):
            return (None, *sorted(set(req.include_schemas)))
        return (None,)

    def dispose(self) -> None:
        self.drop_resident()
        if self.engine is not None:
            with contextlib.suppress(Exception):
                self.engine.dispose()
        self.engine = None
        self.fingerprint = None

    # -- checks ------------------------------------------------------------------------------

    def handle(self, req: CheckRequest, reader: LineReader) -> str | None:
        """Run one check; returns a request line that interrupted it, if any."""
        from .database import classify

        self.collect_table_cache(reader)  # normally done already, right after the answer
        self.timings = {}
        received = time.perf_counter()
        key = json.dumps([req.root, req.models, req.opts, req.include_schemas, req.exclude_tables])
        generation = self.generation
        early: Forked | None = None
        if req.models_changed and self.can_fork_early(req):
            # After an edit the catalog has almost always not moved: start importing now and
            # read the fingerprint meanwhile; a moved catalog discards this child.
            scope = f"{generation}:{key}"
            early = self.ask_resident(req, scope) or self.fork_child(req, reader, scope)
        try:
            changed = self.refresh_reflection(req)
            heads = self.heads
            changed = changed or heads != self.last_heads
            self.last_heads = heads
        except Exception as exc:
            if early is not None:
                self.abandon(early)
            failure = classify(exc, req.database_url)
            self.dispose()
            self.last_status = None
            self.send(CheckResult(id=req.id, status=DB_ERROR, db_failure=failure))
            return None
        if (
            not changed
            and not req.models_changed
            and key == self.last_key
            and self.last_status is not None
            and not self.unverified
        ):
            self.send(CheckResult(id=req.id, status=UNCHANGED, timings=dict(self.timings)))
            return None
        if early is not None and self.generation != generation:
            self.abandon(early)
            early = None
        scope = f"{self.generation}:{key}"
        interrupt, result, repeated = self.fork_check(req, reader, scope, early)
        if result is not None and result.model_files:
            self.model_files = list(result.model_files)
        if result is not None:
            result = self.count_null_rows(dataclasses.replace(result, applied_heads=heads))
            result = self.hints_delta(result, repeated)
            result = self.with_database_summary(result)
            result.timings["worker_total_ms"] = (time.perf_counter() - received) * 1000
            self.last_key = key
            self.last_status = (
                result.status if result.status not in (CANCELLED, INTERNAL_ERROR) else None
            )
            self.send(result)
            self.collect_table_cache(reader, meanwhile=self.compile_model_files)
        self.reap()
        return interrupt

    def count_null_rows(self, result: CheckResult) -> CheckResult:
        """``result`` with the NULL rows counted for each drift that makes a column NOT NULL
        (the child never touches the database, so the parent counts)."""
        if result.status != OK or self.engine is None:
            return result
        t0 = time.perf_counter()
        drifts = self.null_rows.apply(self.engine, self.generation, result.drifts)
        if drifts is result.drifts:
            return result
        timings = {**result.timings, "null_rows_ms": (time.perf_counter() - t0) * 1000}
        return dataclasses.replace(result, drifts=drifts, timings=timings)

    def with_database_summary(self, result: CheckResult) -> CheckResult:
        """``result`` with the summary of the reflection, unless the server has it."""
        from .database_summary import database_summary

        if result.status != OK or self.summary_sent == self.generation or self.engine is None:
            return result
        self.summary_sent = self.generation
        return dataclasses.replace(
            result, database_schema=database_summary(self.reflected, self.engine.dialect)
        )

    def hints_delta(self, result: CheckResult, repeated: bool) -> CheckResult:
        """``result`` numbered for the server's hint cache. ``repeated``: the child left out
        (None) the hints equal to ``sent_hints``, which it inherited; the server fills them
        in from the list it holds (``hints_base``). The child repeats whenever there is a
        last list, so otherwise the list is whole."""
        if result.status != OK:
            return result
        base = self.sent_seq if repeated and self.sent_hints else None
        self.sent_seq += 1
        if base is None:
            self.sent_hints = result.hints
            return dataclasses.replace(result, hints_seq=self.sent_seq)
        self.sent_hints = repeats_filled_in(cast("list[Any]", result.hints), self.sent_hints)
        # The Nones exist only on the wire: WorkerClient restores them on arrival.
        return dataclasses.replace(result, hints_seq=self.sent_seq, hints_base=base)

    def compile_model_files(self) -> None:
        """Compile the model files block by block, after answering (off the critical path),
        so the next child compiles only what the next edit changes. Compiling runs no user
        code: the warm worker still never imports the models."""
        from . import loader
        from .compiled import BlockCompiler

        if loader.BLOCKS is None:
            loader.BLOCKS = BlockCompiler()
        for path in self.model_files:  # as the child's loader names them (module __file__)
            try:
                with open(path, "rb") as handle:
                    loader.BLOCKS.compile(path, handle.read())
            except Exception:  # unreadable or broken: the child reports it where it fails
                loader.BLOCKS.forget(path)

    def can_fork_early(self, req: CheckRequest) -> bool:
        """Whether a child may start before the fingerprint says the reflection still holds."""
        return (
            self.engine is not None
            and self.url == req.database_url
            and self.reflected is not None
            and self.fingerprint is not None
            and not self.fingerprint_broken
        )

    def fork_child(self, req: CheckRequest, reader: LineReader, scope: str) -> Forked:
        """Fork a child that checks ``req`` against the current reflection."""
        from .child import run_child

        result_r, result_w = os.pipe()
        cmd_r, cmd_w = os.pipe()
        trusting = not self.exact_next
        trace = tempfile.TemporaryFile()  # noqa: SIM115 (closed by fork_check or abandon)
        started = time.perf_counter()
        gc.freeze()  # the child's collector never walks the warm parent's objects
        pid = os.fork()
        if pid == 0:  # the child
            gc.disable()  # short-lived: exiting frees everything, collections only cost time
            os.close(result_r)
            os.close(cmd_w)
            os.close(reader.fd)
            os.close(self.out_fd)
            others = [self.resident, self.following.child if self.following else None]
            for other in others:
                if other is not None:  # its pipes end when the parent closes its ends
                    _close(other.result_r, other.cmd_w)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            previous = self.table_cache.for_scope(scope)
            run_child(
                req,
                self.reflected,
                self.engine.dialect,
                result_w,
                trace.fileno(),
                previous,
                self.sent_hints,
                trust=trusting,
                cmd_fd=cmd_r,
            )
        os.close(result_w)
        os.close(cmd_r)
        return Forked(pid, result_r, trace, started, trusting=trusting, cmd_w=cmd_w)

    def ask_resident(self, req: CheckRequest, scope: str) -> Forked | None:
        """Hand ``req`` to the resident child if it holds this scope's models (it answers
        from the edit alone, see ``resident``); it is used once either way."""
        resident, self.resident = self.resident, None
        if resident is None:
            return None
        if self.resident_scope != scope or self.exact_next or resident.cmd_w is None:
            self.abandon(resident)
            return None
        try:
            write_all(resident.cmd_w, (req.to_json() + "\n").encode())
        except OSError:
            self.abandon(resident)
            return None
        return dataclasses.replace(resident, started=time.perf_counter(), speculative=True)

    def drop_resident(self) -> None:
        """End the resident child: the server is about to hold state it does not have."""
        resident, self.resident = self.resident, None
        if resident is not None:
            self.abandon(resident)

    def abandon(self, child: Forked) -> None:
        """Stop a child whose answer is no longer wanted. It is reaped later (``reap``):
        the kernel takes a while to free a large child, and a newer check is waiting."""
        _kill(child.pid)
        _close(child.result_r, child.cmd_w)
        child.trace.close()
        self.unreaped.append(child.pid)

    def reap(self, *, wait: bool = False) -> None:
        """Reap the abandoned children that have ended (all of them with ``wait``)."""
        for pid in list(self.unreaped):
            try:
                done, _ = os.waitpid(pid, 0 if wait else os.WNOHANG)
            except ChildProcessError:
                done = pid
            if done:
                self.unreaped.remove(pid)

    def fork_check(
        self, req: CheckRequest, reader: LineReader, scope: str, child: Forked | None = None
    ) -> tuple[str | None, CheckResult | None, bool]:
        """Run the check in a forked child (``child``, when already started); per-table
        results of ``scope`` are reused. Also returns whether the child left out the hints
        equal to ``sent_hints`` (see ``hints_delta``). After an OK answer the child is left
        to send its table cache, collected by ``collect_table_cache`` once the answer is out."""
        from .failures import frames_from_faulthandler, locate_failure

        if child is None:
            self.drop_resident()
            child = self.fork_child(req, reader, scope)
        deadline = time.monotonic() + req.import_timeout + COMPARE_ALLOWANCE
        answer: tuple[CheckResult | None, bool] | None = None
        if child.speculative:
            interrupt, answer, rest = self.wait_for_speculation(child, reader, deadline)
            killed_for_time = False
            if interrupt is None and answer is None and not reader.eof:  # declined: fork
                child = self.fork_child(req, reader, scope)
        if not child.speculative:
            interrupt, killed_for_time, head, rest = self.wait_for_answer(child, reader, deadline)
            answer = self.parse_answer(head) if head is not None else None
        self.timings["child_ms"] = (time.perf_counter() - child.started) * 1000
        if interrupt is not None or reader.eof:
            self.abandon(child)
            return interrupt, CheckResult(id=req.id, status=CANCELLED), False
        if answer is not None:
            result, repeated = answer
            if result is not None:
                if result.status == OK:
                    previous = self.table_cache.for_scope(scope)  # what the child was handed
                    trusted = result.timings.get("tables_trusted") or result.timings.get(
                        "hints_trusted"
                    )
                    self.following = Following(
                        child,
                        scope,
                        rest,
                        deadline,
                        previous,
                        verifying=bool(trusted),
                        speculated=req if child.speculative else None,
                        drifts=result.drifts if child.speculative else None,
                    )
                    self.exact_next = self.exact_next and child.trusting
                else:
                    self.end_child(child)
                return None, result, repeated
        status = self.end_child(child, kill=killed_for_time, keep_trace=True)
        child.trace.seek(0)
        dump = child.trace.read().decode(errors="replace")
        child.trace.close()
        frames = frames_from_faulthandler(dump)
        if killed_for_time or dump.startswith("Timeout"):
            message = (
                f"importing the models did not finish within {req.import_timeout:g} s "
                "(an endless loop or a blocking call at import time?); the import was stopped"
            )
            kind = "timeout"
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            try:
                signame = signal.Signals(sig).name
            except ValueError:
                signame = f"signal {sig}"
            message = f"importing the models crashed the Python interpreter ({signame})"
            kind = "crash"
        else:
            code = os.WEXITSTATUS(status)
            message = f"importing the models ended the process (exit status {code})"
            kind = "exit"
        failure = locate_failure(ModelFailure(kind=kind, message=message, frames=frames), req.root)
        return (
            None,
            CheckResult(
                id=req.id, status=MODEL_ERROR, model_failure=failure, timings=dict(self.timings)
            ),
            False,
        )

    def wait_for_speculation(
        self, child: Forked, reader: LineReader, deadline: float
    ) -> tuple[str | None, tuple[CheckResult | None, bool] | None, bytes]:
        """A resident's answer: (interrupting request, its OK result as ``parse_answer``
        gives it or None when it declined or failed, what came after it). A declining or
        failing resident is ended; errors in the user's code are left for the fresh child
        to report."""
        limit = min(deadline, time.monotonic() + SPECULATION_LIMIT)
        interrupt, killed, head, rest = self.wait_for_answer(child, reader, limit)
        if interrupt is not None or reader.eof:
            return interrupt, None, rest
        answer = self.parse_answer(head) if head is not None else (None, False)
        result = answer[0]
        if result is not None and result.status == OK:
            return None, answer, rest
        why = _declined(head, result)
        self.timings["speculation_declined"] = 1
        print(f"schema-lsp: resident child declined ({why}); importing afresh", file=sys.stderr)
        if killed or head is None:
            self.abandon(child)
        else:
            self.end_child(child)
        return None, None, b""

    @staticmethod
    def wait_for_answer(
        child: Forked, reader: LineReader, deadline: float
    ) -> tuple[str | None, bool, bytes | None, bytes]:
        """Read the child's first line: (interrupting request, out of time, the line or None
        when the child ended without one, what came after it)."""
        buffer = b""
        while True:
            if reader.has_line():
                return reader.read_line(), False, None, buffer
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None, True, None, buffer
            ready, _, _ = select.select([child.result_r, reader.fd], [], [], remaining)
            if reader.fd in ready:
                reader.fill()
                if reader.eof:
                    return None, False, None, buffer
            if child.result_r in ready:
                chunk = os.read(child.result_r, 1 << 20)
                if not chunk:
                    head, _, rest = buffer.partition(b"\n")
                    return None, False, (head if head.strip() else None), rest
                buffer += chunk
                if b"\n" in chunk:
                    head, _, rest = buffer.partition(b"\n")
                    return None, False, head, rest

    def parse_answer(self, line: bytes) -> tuple[CheckResult | None, bool]:
        """The child's result line (None when it is not one) and its hints-left-out flag."""
        from .child import HINTS_REPEATED_FIELD

        try:
            data = json.loads(line.decode(errors="replace"))
            data.setdefault("timings", {}).update(self.timings)
            repeated = bool(data.pop(HINTS_REPEATED_FIELD, False))
            return CheckResult.from_dict(data), repeated
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError):
            return None, False

    @staticmethod
    def end_child(child: Forked, *, kill: bool = False, keep_trace: bool = False) -> int:
        """Close the child's pipe and reap it; returns its wait status."""
        if kill:
            _kill(child.pid)
        _close(child.result_r, child.cmd_w)
        _, status = os.waitpid(child.pid, 0)
        if not keep_trace:
            child.trace.close()
        return status

    def collect_table_cache(
        self, reader: LineReader, meanwhile: Callable[[], None] | None = None
    ) -> None:
        """Store the table cache the last OK child sends after its answer (the signatures of
        a cold check are taken only then). A child that sends none leaves the cache empty:
        the next check compares every table, never reuses a stale entry.

        A child that trusted tables (``origins``) then verifies them; a request arriving
        meanwhile stops it (the next child trusts no more than it did, and verifies the
        same tables). Wrongly trusted tables lose their entries, and the server is told to
        check again: that check trusts nothing. ``meanwhile`` runs once the cache is in,
        while the child verifies. A resident's answer is verified by a fresh child, whose
        lines are collected here too; a child whose answer held may stay ``resident``."""
        following, self.following = self.following, None
        while following is not None:
            following = self.collect_following(following, reader, meanwhile)
            meanwhile = None

    def collect_following(
        self, following: Following, reader: LineReader, meanwhile: Callable[[], None] | None
    ) -> Following | None:
        """``collect_table_cache`` for one child; returns the verifier to collect next."""
        from .child import RESIDENT_FIELD, TABLE_CACHE_FIELD, VERIFIED_FIELD

        child, buffer = following.child, following.rest
        stopped = False
        resident_line = json.dumps({RESIDENT_FIELD: True}).encode() + b"\n"
        while not buffer.endswith(resident_line):
            remaining = following.deadline - time.monotonic()
            if remaining <= 0:
                stopped = True
                break
            # Once the cache line is in, a waiting request wins over the verification
            # (over a verifier at any time: its answer is not awaited).
            watched = [child.result_r]
            if b"\n" in buffer or following.verifier:
                if meanwhile is not None and b"\n" in buffer:
                    meanwhile()
                    meanwhile = None
                if reader.has_line() or reader.eof:
                    stopped = True
                    break
                watched.append(reader.fd)
            ready, _, _ = select.select(watched, [], [], remaining)
            if reader.fd in ready:
                reader.fill()
                continue
            if not ready:
                continue
            chunk = os.read(child.result_r, 1 << 20)
            if not chunk:
                break
            buffer += chunk
        if meanwhile is not None:
            meanwhile()
        if not following.verifier:  # a verifier's entries replace them only when in
            self.table_cache.clear()
        cached_in, held, answered_alike, moved = False, True, True, False
        resident = False
        for line in buffer.splitlines():
            try:
                data = json.loads(line)
                cached = data.get(TABLE_CACHE_FIELD)
                verified = data.get(VERIFIED_FIELD)
            except (json.JSONDecodeError, AttributeError):
                continue
            if following.verifier and "status" in data:
                answered_alike = data["status"] == OK and data.get("drifts") == following.drifts
            if isinstance(cached, dict):
                since = following.previous
                self.table_cache.store(following.scope, entries_from_data(cached, since))
                cached_in = True
                # A verifier that ran other text (the files changed since) verified nothing.
                moved = following.verifier and "blocks" in cached
            if isinstance(verified, dict):
                held = not self.mistrusted(verified) and held
            resident = resident or data.get(RESIDENT_FIELD) is True
        if following.verifier and not stopped and not moved and not answered_alike and held:
            self.table_cache.clear()
            self.stale(tables=0, hints=False)
        held = held and answered_alike and not moved
        if resident and held and not stopped:
            self.drop_resident()
            self.resident, self.resident_scope = child, following.scope
            write_all(self.out_fd, b'{"op": "resident"}\n')
        elif stopped or resident:
            self.abandon(child)
        else:
            self.end_child(child)
        if following.speculated is not None and not stopped and cached_in:
            self.unverified = True  # until the verifier below is done
            verifier = self.fork_child(following.speculated, reader, following.scope)
            req = following.speculated
            return Following(
                verifier,
                following.scope,
                b"",
                time.monotonic() + req.import_timeout + COMPARE_ALLOWANCE,
                self.table_cache.for_scope(following.scope),
                verifying=True,
                drifts=following.drifts,
                verifier=True,
            )
        # A resident's answer with no verifier to follow stays unverified.
        self.unverified = (
            following.speculated is not None or moved or (stopped and following.verifying)
        )
        return None

    def mistrusted(self, verified: dict[str, Any]) -> bool:
        """Act on a child's verification of what it trusted (see ``collect_table_cache``);
        True when something was trusted wrongly."""
        tables = {(row[0], str(row[1])) for row in verified.get("tables") or ()}
        if not tables and not verified.get("hints"):
            return False
        entries = self.table_cache.entries
        kept = {key: entry for key, entry in entries.tables.items() if key not in tables}
        self.table_cache.entries = dataclasses.replace(entries, tables=kept)
        self.stale(tables=len(tables), hints=bool(verified.get("hints")))
        return True

    def stale(self, *, tables: int, hints: bool) -> None:
        """Tell the server its last answer may be wrong: it checks again, trusting nothing."""
        self.exact_next = True
        notice = {"op": "stale", "tables": tables, "hints": hints}
        write_all(self.out_fd, (json.dumps(notice) + "\n").encode())


@dataclass(frozen=True)
class Following:
    """A child that answered OK and is still to send its table cache."""

    child: Forked
    scope: str
    rest: bytes
    deadline: float
    #: The entries the child was handed: its cache line lists only what differs.
    previous: Entries
    #: Whether the child trusted tables or hints, and verifies them after its cache line.
    verifying: bool = False
    #: The request a resident answered from the edit alone: a fresh child verifies it.
    speculated: CheckRequest | None = None
    #: The drift records of the answer a ``verifier`` child checks (as the wire has them).
    drifts: Any = None
    #: Whether this child imports afresh to verify a resident's answer (its own is not sent).
    verifier: bool = False


@dataclass(frozen=True)
class Forked:
    """A running child: its pid, the read end of its result pipe, its faulthandler file."""

    pid: int
    result_r: int
    trace: Any
    started: float
    #: Whether the child may trust tables by source block (``origins``).
    trusting: bool = True
    #: The write end of the child's command pipe (where a resident reads its request).
    cmd_w: int | None = None
    #: A resident answering from the edit alone: its answer is verified by a fresh child.
    speculative: bool = False


def warm_up(reflected: Any, dialect: Any) -> None:
    """Run one small comparison in the parent so every forked child starts with the lazy
    imports and caches of the comparison path already filled."""
    import sqlalchemy as sa

    from schema_lsp.autogenerate.api import compare_reflected
    from schema_lsp.autogenerate.drift import drift_records

    metadata = sa.MetaData()
    parent = sa.Table(
        "schema_lsp_warm_parent",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("code", sa.String(20), nullable=False, unique=True, comment="c"),
    )
    sa.Table(
        "schema_lsp_warm_child",
        metadata,
        sa.Column("id", sa.BigInteger, primary_key=True),
        sa.Column("parent_id", sa.ForeignKey(parent.c.id, ondelete="CASCADE")),
        sa.Column("amount", sa.Numeric(10, 2), server_default=sa.text("0")),
        sa.Column("flag", sa.Boolean, server_default=sa.true()),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("body", sa.Text),
        sa.Column("kind", sa.Enum("a", "b", name="schema_lsp_warm_kind")),
        sa.Column("payload", sa.JSON),
        sa.Index("ix_schema_lsp_warm", "parent_id", "at"),
        comment="warm-up",
    )

    def only_ours(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
        return type_ != "table" or bool(name and name.startswith("schema_lsp_warm"))

    opts = {"compare_type": True, "compare_server_default": True, "include_name": only_ours}
    drift_records(compare_reflected(reflected, metadata, dialect=dialect, opts=opts), dialect)


def _declined(head: bytes | None, result: CheckResult | None) -> str:
    """Why a resident's first line (``head``, parsed as ``result``) is no OK answer."""
    from .resident import DECLINED_FIELD

    if result is not None:
        return f"status {result.status}"
    if head is None:
        return "no answer"
    try:
        return str(json.loads(head)[DECLINED_FIELD])
    except (json.JSONDecodeError, KeyError, TypeError):
        return "an unreadable answer"


def _close(*fds: int | None) -> None:
    for fd in fds:
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


def _kill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _private_streams() -> tuple[int, int]:
    """Move the protocol to private fds; user output on fd 1 goes to stderr instead."""
    proto_in = os.dup(0)
    proto_out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto_in, proto_out


def main() -> None:
    """Serve check requests until stdin closes or a ``shutdown`` request arrives."""
    proto_in, proto_out = _private_streams()
    state = WarmState(out_fd=proto_out)
    try:
        import sqlalchemy
        import sqlalchemy.orm

        import schema_lsp.autogenerate.api
        import schema_lsp.autogenerate.drift
        import schema_lsp.reflect
    except Exception as exc:  # a missing SQLAlchemy, or a broken schema-lsp install
        hello = {
            "op": "hello",
            "ok": False,
            "python": sys.executable,
            "error": f"{type(exc).__name__}: {exc}",
            "missing": isinstance(exc, ImportError),
        }
        write_all(proto_out, (json.dumps(hello) + "\n").encode())
        return
    with contextlib.suppress(ImportError):
        import schema_lsp.sources.hints  # noqa: F401
    hello = {
        "op": "hello",
        "ok": True,
        "python": sys.executable,
        "version": sys.version.split()[0],
        "sqlalchemy": sqlalchemy.__version__,
        "pid": os.getpid(),
    }
    write_all(proto_out, (json.dumps(hello) + "\n").encode())
    reader = LineReader(proto_in)
    pending: str | None = None
    while True:
        line = pending if pending is not None else reader.read_line()
        pending = None
        if line is None:
            break
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        op = message.get("op")
        if op == "shutdown":
            break
        if op != "check":
            continue
        req = CheckRequest.from_dict(message)
        try:
            pending = state.handle(req, reader)
        except Exception as exc:  # never die on a bad check: report and keep serving
            state.send(
                CheckResult(
                    id=req.id, status=INTERNAL_ERROR, message=f"{type(exc).__name__}: {exc}"
                )
            )
    state.dispose()
    state.reap(wait=True)
