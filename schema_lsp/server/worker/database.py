"""Connecting to the user's database from the worker: bounded waits, plain error kinds.

Every wait is bounded (connect, statement and lock timeouts) so a migration holding a lock
makes a check fail fast instead of hanging; every message is free of passwords.
"""

from __future__ import annotations

import os
import re
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
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
        engine = create_engine(sa_url, connect_args=connect_args, pool_pre_ping=True)
    attach(engine)
    audit = audit_path()
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
