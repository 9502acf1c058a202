"""Real, throw-away databases for tests on SQLite, PostgreSQL and MariaDB.

Every test gets its own uniquely named database so tests never see each
other's tables and a crashed run cannot poison the next one.  Servers that
cannot be reached are skipped locally but fail the run when ``CI=true``: a
green CI run must mean the tests actually ran against every backend.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import NullPool

BACKENDS: tuple[str, ...] = ("sqlite", "postgresql", "mariadb")
"""Backend names, in the order tests are parametrised over them."""

SERVER_BACKENDS: tuple[str, ...] = ("postgresql", "mariadb")

URL_ENV: dict[str, str] = {
    "postgresql": "SCHEMA_LSP_TEST_POSTGRESQL_URL",
    "mariadb": "SCHEMA_LSP_TEST_MARIADB_URL",
}
"""Environment variables overriding the admin URL of each server backend."""

DEFAULT_ADMIN_URLS: dict[str, str] = {
    "postgresql": "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    "mariadb": "mysql+pymysql://root@127.0.0.1:3306/test",
}

NAME_PREFIX = "schema_lsp_t_"
"""Prefix of every database this module creates (so leftovers are recognisable)."""

_CONNECT_TIMEOUT_S = 3
_availability: dict[str, str | None] = {}


def in_ci() -> bool:
    """True when running in CI, where a missing database must fail, not skip."""
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def skip_or_fail(reason: str) -> NoReturn:
    """Skip the current test locally; fail it in CI so missing coverage is loud."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing database is an error, not a skip)")
    pytest.skip(reason)


def admin_url(backend: str) -> URL:
    """The URL used to create and drop databases on a server backend."""
    if backend not in SERVER_BACKENDS:
        raise ValueError(f"no admin URL for backend {backend!r}")
    raw = os.environ.get(URL_ENV[backend]) or DEFAULT_ADMIN_URLS[backend]
    return sa.make_url(raw)


def _connect_args(url: URL) -> dict[str, Any]:
    """Short connect timeouts so an absent server costs seconds, not minutes."""
    if url.get_backend_name() in ("postgresql", "mysql", "mariadb"):
        return {"connect_timeout": _CONNECT_TIMEOUT_S}
    return {}


def make_engine(url: URL, **kwargs: Any) -> Engine:
    """An engine for ``url`` without a pool, so disposing it leaves nothing open."""
    return sa.create_engine(
        url, poolclass=NullPool, connect_args=_connect_args(url), **kwargs
    )


@contextmanager
def admin_connection(backend: str) -> Iterator[Connection]:
    """An autocommit connection to the server, for CREATE/DROP DATABASE."""
    engine = make_engine(admin_url(backend), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def unavailable_reason(backend: str) -> str | None:
    """Why ``backend`` cannot be used right now, or None if it can (cached per process)."""
    if backend == "sqlite":
        return None
    if backend not in SERVER_BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    if backend not in _availability:
        url = admin_url(backend)
        try:
            with admin_connection(backend) as conn:
                conn.exec_driver_sql("SELECT 1")
            _availability[backend] = None
        except Exception as exc:  # any driver/network error means "unavailable"
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            _availability[backend] = (
                f"{backend} server unavailable at "
                f"{url.render_as_string(hide_password=True)} "
                f"(set {URL_ENV[backend]}): {type(exc).__name__}: {first_line}"
            )
    return _availability[backend]


def require_backend(backend: str) -> None:
    """Skip (or, in CI, fail) the calling test when ``backend`` is unreachable."""
    reason = unavailable_reason(backend)
    if reason is not None:
        skip_or_fail(reason)


def unique_name(prefix: str = NAME_PREFIX) -> str:
    """A lowercase identifier, unique across processes, valid on every backend."""
    return f"{prefix}{os.getpid()}_{uuid.uuid4().hex[:12]}"


def _quote(backend: str, name: str) -> str:
    quote = '"' if backend == "postgresql" else "`"
    return f"{quote}{name}{quote}"


def create_server_database(backend: str, name: str) -> URL:
    """Create database ``name`` on a server backend and return its URL."""
    with admin_connection(backend) as conn:
        if backend == "postgresql":
            conn.exec_driver_sql(f"CREATE DATABASE {_quote(backend, name)}")
        else:
            conn.exec_driver_sql(
                f"CREATE DATABASE {_quote(backend, name)} "
                "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
    return admin_url(backend).set(database=name)


def drop_server_database(backend: str, name: str) -> None:
    """Drop database ``name``, even if connections to it are still open."""
    with admin_connection(backend) as conn:
        if backend == "postgresql":
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote(backend, name)} WITH (FORCE)")
        else:
            # Tables in another database may reference this one (cross-schema FKs);
            # without this the drop fails with error 1451 and the database leaks.
            conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {_quote(backend, name)}")


def database_exists(backend: str, name: str) -> bool:
    """Whether a database called ``name`` exists on the server (for cleanup checks)."""
    with admin_connection(backend) as conn:
        if backend == "postgresql":
            sql = "SELECT count(*) FROM pg_database WHERE datname = %(n)s"
        else:
            sql = "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %(n)s"
        return bool(conn.exec_driver_sql(sql, {"n": name}).scalar())


@contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[URL]:
    """Yield the URL of a new, empty, uniquely named database; drop it afterwards.

    SQLite databases are files under ``tmp_path``; server databases are created
    and dropped through the admin URL.  Skips (or fails in CI) when the server
    is unreachable.
    """
    require_backend(backend)
    if backend == "sqlite":
        path = Path(tmp_path) / f"{unique_name()}.db"
        try:
            yield URL.create("sqlite", database=str(path))
        finally:
            path.unlink(missing_ok=True)
        return
    name = unique_name()
    url = create_server_database(backend, name)
    try:
        yield url
    finally:
        drop_server_database(backend, name)


def backend_of(url: URL) -> str:
    """Our backend name ("sqlite", "postgresql", "mariadb") for a database URL."""
    name = url.get_backend_name()
    if name == "mysql":
        return "mariadb"
    if name in BACKENDS:
        return name
    raise ValueError(f"unsupported backend in URL: {name!r}")


@contextmanager
def extra_schema(url: URL) -> Iterator[str]:
    """Create an additional schema usable from the database at ``url``; yield its name.

    PostgreSQL: ``CREATE SCHEMA`` inside that database.  MariaDB: schemas are
    databases, so a second uniquely named database is created and dropped.
    SQLite: skipped (attached databases are not schemas in the sense tested).
    """
    backend = backend_of(url)
    if backend == "sqlite":
        pytest.skip("SQLite has no schemas (only ATTACHed databases)")
    name = unique_name(prefix="schema_lsp_s_")
    if backend == "mariadb":
        create_server_database(backend, name)
        try:
            yield name
        finally:
            drop_server_database(backend, name)
        return
    engine = make_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {_quote(backend, name)}")
        yield name
    finally:
        # The whole database is dropped WITH (FORCE) later; dropping here keeps
        # the schema's lifetime identical to the MariaDB case.
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {_quote(backend, name)} CASCADE")
        finally:
            engine.dispose()


@contextmanager
def record_statements(engine: Engine) -> Iterator[list[str]]:
    """Collect the SQL text of every statement executed through ``engine``.

    Used to prove that comparison only reads (SELECT/SHOW/PRAGMA...), never writes.
    """
    statements: list[str] = []

    def before_cursor_execute(
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: Any,
        executemany: bool,
    ) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before_cursor_execute)


READ_ONLY_PREFIXES: tuple[str, ...] = ("SELECT", "SHOW", "PRAGMA", "WITH", "DESCRIBE", "EXPLAIN")


def is_read_only(statement: str) -> bool:
    """Whether ``statement`` is a read (SELECT/SHOW/PRAGMA/...) rather than a write.

    ``PRAGMA x = y`` (an assignment) counts as a write.
    """
    text = statement.lstrip().lstrip("(").lstrip()
    head = text.split(None, 1)[0].upper() if text else ""
    if head not in READ_ONLY_PREFIXES:
        return False
    return not (head == "PRAGMA" and "=" in text)
