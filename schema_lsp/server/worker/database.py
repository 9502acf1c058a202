"""Connecting to the user's database from the worker: bounded waits, plain error kinds.

Every wait is bounded (connect, statement and lock timeouts) so a migration holding a lock
makes a check fail fast instead of hanging; every message is free of passwords.
"""

from __future__ import annotations

import heapq
import os
import re
import socket
import threading
import time
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DisconnectionError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.pool import NullPool

from .protocol import DbFailure
from .statement_audit import attach, audit_path, record

CONNECT_TIMEOUT = 5
STATEMENT_TIMEOUT_MS = 20_000
LOCK_TIMEOUT_MS = 3_000
#: How long past the statement timeout the worker waits for an answer before it ends the
#: connection itself: the database enforces the statement timeout only on a query it got.
ANSWER_MARGIN_S = 1.0


class NoAnswer(OperationalError):
    """A statement whose answer never came (the network or the server held it)."""


#: PostgreSQL's 'role "x" does not exist' is a login problem, not a missing database.
_MISSING_ROLE = re.compile(r'\brole "[^"]*" does not exist')
_MISSING_DATABASE = re.compile(r'\bdatabase "[^"]*" does not exist')

_EXTRAS = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql"}


def masked(url: str) -> str:
    """``url`` with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unparseable database URL)"


def scrub(text: str, url: str) -> str:
    """Remove the URL's password from ``text`` wherever a driver echoed it."""
    try:
        password = make_url(url).password
    except ArgumentError:
        return text
    if password:
        text = text.replace(str(password), "***")
    return text


def ensure_sqlite_file(engine: Engine) -> None:
    """Refuse to let SQLite create an empty database where the user's file should be."""
    url = engine.url
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return
    if not database.startswith("file:") and not os.path.exists(database):
        raise FileNotFoundError(database)


def make_engine(url: str) -> Engine:
    """An engine whose connections refuse writes and never wait unbounded.

    Read-only is set per session on every backend (PostgreSQL
    ``default_transaction_read_only``, MySQL/MariaDB ``SET SESSION TRANSACTION READ ONLY``,
    SQLite ``PRAGMA query_only``), so even a statement outside
    :func:`schema_lsp.reflect.read_only` cannot write.
    """
    sa_url = make_url(url)
    backend = sa_url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "postgresql":
        options = (
            f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout={LOCK_TIMEOUT_MS} "
            "-c default_transaction_read_only=on"
        )
        connect_args = {"connect_timeout": CONNECT_TIMEOUT, "options": options}
    elif backend in ("mysql", "mariadb"):
        connect_args = {"connect_timeout": CONNECT_TIMEOUT, "read_timeout": 60}
    elif backend == "sqlite":
        database = sa_url.database or ""
        on_disk = database and database != ":memory:" and not database.startswith("file:")
        if on_disk and not os.path.exists(database):
            raise FileNotFoundError(database)
        connect_args = {"timeout": LOCK_TIMEOUT_MS / 1000}
    if backend == "sqlite":
        # A new connection per check: a pooled one would keep reading a file that was
        # replaced (rebuilt database) or moved away.
        engine = create_engine(sa_url, connect_args=connect_args, poolclass=NullPool)
    else:
        # Pooled connections are pinged on checkout with a deadline (see below).
        engine = create_engine(sa_url, connect_args=connect_args)
    attach(engine)
    audit = audit_path()
    if backend != "sqlite":
        _end_unanswered_statements(engine, audit)
    if backend in ("mysql", "mariadb"):

        @event.listens_for(engine, "connect")
        def _bounded(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()

            def execute(statement: str) -> None:
                if audit is not None:  # a raw cursor: SQLAlchemy's events do not see it
                    record(audit, statement)
                cursor.execute(statement)

            try:
                execute(f"SET SESSION lock_wait_timeout = {LOCK_TIMEOUT_MS // 1000}")
                version = str(getattr(dbapi_conn, "server_version", "") or "")
                if "MariaDB" in version or "mariadb" in version.lower():
                    execute(f"SET SESSION max_statement_time = {STATEMENT_TIMEOUT_MS / 1000}")
                else:
                    execute(f"SET SESSION max_execution_time = {STATEMENT_TIMEOUT_MS}")
                # Every later transaction of the session refuses writes (error 1792).
                execute("SET SESSION TRANSACTION READ ONLY")
            finally:
                cursor.close()

    elif backend == "sqlite":

        @event.listens_for(engine, "connect")
        def _query_only(dbapi_conn: Any, _record: Any) -> None:
            # Refuses every write on this connection ("attempt to write a readonly
            # database"), yet still reads a WAL database, which ``mode=ro`` may not.
            statement = "PRAGMA query_only = 1"
            if audit is not None:
                record(audit, statement)
            dbapi_conn.execute(statement)

    return engine


def _socket_fd(dbapi_conn: Any) -> int | None:
    """The fd of a driver connection's socket (psycopg: ``fileno()``; PyMySQL: ``_sock``)."""
    fileno = getattr(dbapi_conn, "fileno", None)
    if callable(fileno):
        try:
            return int(fileno())
        except Exception:
            return None
    sock = getattr(dbapi_conn, "_sock", None)
    return sock.fileno() if isinstance(sock, socket.socket) else None


def answer_deadline() -> float:
    return STATEMENT_TIMEOUT_MS / 1000 + ANSWER_MARGIN_S


class _Deadline:
    """Shuts a socket down when a wait on it outlives ``seconds``, so the blocked read
    returns (the driver then fails like on a dropped connection)."""

    def __init__(self, fd: int, seconds: float) -> None:
        self.fired = False
        self.cancelled = False
        self._fd = fd
        _WATCHDOG.watch(self, time.monotonic() + seconds)

    def shut(self) -> None:
        if self.cancelled:  # answered while the watchdog woke up
            return
        self.fired = True
        try:
            with socket.socket(fileno=os.dup(self._fd)) as sock:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def cancel(self) -> None:
        self.cancelled = True


class _Watchdog:
    """One thread for every deadline (a thread per statement cost more than the statement
    on a small catalog). Started on first use, in the warm worker only."""

    def __init__(self) -> None:
        self._due: list[tuple[float, int, _Deadline]] = []
        self._wake = threading.Condition()
        self._thread: threading.Thread | None = None
        self._count = 0

    def watch(self, deadline: _Deadline, at: float) -> None:
        with self._wake:
            self._count += 1
            heapq.heappush(self._due, (at, self._count, deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="schema-lsp-deadlines", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._due and self._due[0][2].cancelled:
                    heapq.heappop(self._due)
                if not self._due:
                    self._wake.wait()
                    continue
                at, _, deadline = self._due[0]
                wait = at - time.monotonic()
                if wait > 0:
                    self._wake.wait(wait)
                    continue
                heapq.heappop(self._due)
            deadline.shut()


_WATCHDOG = _Watchdog()


def _end_unanswered_statements(engine: Engine, audit: str | None) -> None:
    """Give every wait on the database a client-side deadline (the database enforces the
    statement timeout only on a query it received): each statement, and the liveness ping
    of a pooled connection (done here, not by ``pool_pre_ping``, which no event covers).
    A statement past its deadline raises :class:`NoAnswer`; a ping past it, or failing,
    makes the pool replace the connection."""
    key = "schema_lsp_deadline"

    def arm(conn: Any, *_: Any) -> None:
        fd = _socket_fd(conn.connection.dbapi_connection)
        if fd is not None:
            conn.info[key] = _Deadline(fd, answer_deadline())

    def disarm(conn: Any, *_: Any) -> _Deadline | None:
        deadline: _Deadline | None = conn.info.pop(key, None)
        if deadline is not None:
            deadline.cancel()
        return deadline

    def on_error(context: Any) -> None:
        deadline = disarm(context.connection) if context.connection is not None else None
        if deadline is not None and deadline.fired:
            raise NoAnswer(
                context.statement,
                None,
                Exception(f"no answer within {answer_deadline():g} s; the connection was closed"),
            ) from context.original_exception

    def ping(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        fd = _socket_fd(dbapi_conn)
        # A ping answers at once or not at all: it gets the connect timeout.
        deadline = _Deadline(fd, CONNECT_TIMEOUT) if fd is not None else None
        try:
            if audit is not None:  # a raw cursor: SQLAlchemy's events do not see it
                record(audit, "SELECT 1")
            cursor = dbapi_conn.cursor()
            try:
                cursor.execute("SELECT 1")
                cursor.fetchall()
            finally:
                cursor.close()
            dbapi_conn.rollback()  # hand the connection over outside a transaction
        except Exception as exc:
            raise DisconnectionError(f"the pooled connection did not answer: {exc}") from exc
        finally:
            if deadline is not None:
                deadline.cancel()

    event.listen(engine, "before_cursor_execute", arm)
    event.listen(engine, "after_cursor_execute", disarm)
    event.listen(engine, "handle_error", on_error)
    event.listen(engine.pool, "checkout", ping)


def classify(exc: BaseException, url: str) -> DbFailure:
    """A :class:`DbFailure` saying what went wrong and how to fix it, without secrets."""
    where = masked(url)
    try:
        backend = make_url(url).get_backend_name()
    except ArgumentError:
        return DbFailure(
            "error",
            "database_url is not a valid SQLAlchemy URL. "
            "Write it like postgresql+psycopg://user@host/dbname.",
        )
    if isinstance(exc, NoAnswer):
        return DbFailure(
            "timeout",
            f"The database at {where} did not answer a catalog query "
            f"({scrub(str(exc.orig), url)}): a network device or the server may be holding "
            "it. Check the connection to the server; schema-lsp keeps retrying.",
        )
    raw = scrub(str(getattr(exc, "orig", None) or exc), url).strip().splitlines()
    detail = raw[0] if raw else type(exc).__name__
    lowered = " ".join(raw).lower()
    if isinstance(exc, FileNotFoundError):
        return DbFailure(
            "missing_database",
            f"SQLite database file {exc.args[0]} does not exist. "
            "Create it (e.g. run your migrations) or fix database_url.",
        )
    if isinstance(exc, (ModuleNotFoundError, ImportError, NoSuchModuleError)):
        extra = _EXTRAS.get(backend)
        install = f"pip install 'schema-lsp[{extra}]'" if extra else "install the driver for it"
        return DbFailure(
            "driver",
            f"The database driver for {where} is not installed in the project's interpreter "
            f"({detail}). Install it: {install}.",
        )
    if any(s in lowered for s in ("password authentication failed", "access denied")):
        return DbFailure(
            "auth",
            f"The database at {where} refused the credentials ({detail}). "
            "Fix the user or password in database_url.",
        )
    if _MISSING_ROLE.search(lowered):
        return DbFailure(
            "auth",
            f"Cannot log in to {where}: no such role ({detail}). "
            "Create the role or fix the user in database_url.",
        )
    if any(
        s in lowered
        for s in (
            "lock timeout",
            "lock wait timeout",
            "statement timeout",
            "max_statement_time",
            "max_execution_time",
            "database is locked",
            "canceling statement",
            "query execution was interrupted",
        )
    ):
        return DbFailure(
            "timeout",
            f"The database at {where} did not answer in time ({detail}); "
            "another session (a running migration?) may hold a lock. Retrying.",
        )
    if _MISSING_DATABASE.search(lowered) or "unknown database" in lowered:
        return DbFailure(
            "missing_database",
            f"The database at {where} does not exist ({detail}). Create it or fix database_url.",
        )
    if "too many connections" in lowered:
        return DbFailure(
            "unreachable",
            f"The database at {where} has no connection to spare ({detail}). Close idle "
            "sessions or raise the connection limit; schema-lsp keeps retrying.",
        )
    connection_trouble = isinstance(exc, (OperationalError, InterfaceError, OSError))
    if connection_trouble and any(
        s in lowered
        for s in ("connect", "refused", "timeout", "unreachable", "unable to open", "gone away")
    ):
        return DbFailure(
            "unreachable",
            f"Cannot reach the database at {where} ({detail}). "
            "Start the server or fix database_url; schema-lsp keeps retrying.",
        )
    if isinstance(exc, SQLAlchemyError):
        return DbFailure("error", f"Reading the database at {where} failed: {detail}")
    return DbFailure(
        "error", f"Reading the database at {where} failed: {type(exc).__name__}: {detail}"
    )
