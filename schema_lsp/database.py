"""Opening the user's database for reading, with failures explained in one sentence.

Used by the CLI and the language server's worker. Messages never contain the password:
URLs are always shown masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, make_url
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

#: The driver our extra installs for each backend, and the extra: (driver, extra).
DRIVER_EXTRAS = {
    "postgresql": ("psycopg", "postgresql"),
    "mysql": ("pymysql", "mysql"),
    "mariadb": ("pymysql", "mysql"),
}

#: PyPI names of drivers whose SQLAlchemy driver name is not their package name.
DRIVER_PACKAGES = {
    "psycopg": "psycopg[binary]",
    "psycopg2": "psycopg2-binary",
    "mysqldb": "mysqlclient",
    "mariadbconnector": "mariadb",
    "mysqlconnector": "mysql-connector-python",
    "pysqlite": "pysqlite3",
}

#: Seconds to wait for a connection, a lock, or a statement before giving up.
CONNECT_TIMEOUT = 5
STATEMENT_TIMEOUT_MS = 15000


@dataclass
class DatabaseError(Exception):
    """The database could not be used; ``message`` says why and how to fix it."""

    message: str

    def __str__(self) -> str:
        return self.message


def _hide_password(text: str) -> str:
    """``text`` (a URL that may not parse) with anything between ``user:`` and ``@`` hidden."""
    head, at, tail = text.rpartition("@")
    if not at:
        return text
    scheme, slashes, userinfo = head.rpartition("//")
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}{slashes}{user}{colon}***{at}{tail}" if colon else text


def mask_url(url: str | URL) -> str:
    """The URL with its password replaced by ``***``."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<invalid URL>"


def parse_url(url: str | URL) -> URL:
    try:
        return make_url(url)
    except (ArgumentError, ValueError):  # ValueError: a non-numeric port
        shown = _hide_password(str(url))
        raise DatabaseError(
            f"invalid database URL {shown!r}: expected 'dialect+driver://user:password@"
            "host:port/database', e.g. 'postgresql+psycopg://app@localhost/app' or "
            "'sqlite:///app.db'"
        ) from None


def anchor_sqlite_path(url: str | URL, base: str | Path) -> URL:
    """Resolve a SQLite file against the project (not the current directory) and open it
    read-only, so a mistyped path is reported instead of silently creating an empty file."""
    parsed = parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return parsed
    database = parsed.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return parsed
    path = Path(database)
    if not path.is_absolute():
        path = (Path(base) / path).resolve()
    if not path.exists():
        raise DatabaseError(
            f"the SQLite database {path} does not exist: check 'database_url' (relative "
            "paths are relative to the project's root)"
        )
    query = dict(parsed.query)
    query.update({"mode": "ro", "uri": "true"})
    return parsed.set(database=f"file:{path}", query=query)


def _connect_args(url: URL) -> dict[str, object]:
    backend = url.get_backend_name()
    if backend == "postgresql":
        return {
            "connect_timeout": CONNECT_TIMEOUT,
            # Never wait behind a migration holding a lock; never run away on a slow catalog.
            "options": f"-c lock_timeout={STATEMENT_TIMEOUT_MS} "
            f"-c statement_timeout={STATEMENT_TIMEOUT_MS}",
        }
    if backend in ("mysql", "mariadb"):
        return {
            "connect_timeout": CONNECT_TIMEOUT,
            "read_timeout": STATEMENT_TIMEOUT_MS // 1000,
            "init_command": f"SET SESSION lock_wait_timeout = {STATEMENT_TIMEOUT_MS // 1000}",
        }
    if backend == "sqlite":
        return {"timeout": CONNECT_TIMEOUT}
    return {}


def open_engine(url: str | URL) -> Engine:
    """An engine for reading ``url``; raises ``DatabaseError`` with a fix for bad URLs and
    missing drivers."""
    parsed = parse_url(url)
    try:
        return create_engine(parsed, connect_args=_connect_args(parsed), pool_pre_ping=True)
    except (NoSuchModuleError, ModuleNotFoundError, ImportError) as exc:
        raise DatabaseError(missing_driver_message(parsed, exc)) from None
    except ArgumentError as exc:
        raise DatabaseError(f"invalid database URL {mask_url(parsed)}: {exc}") from None


def missing_driver_message(url: URL, exc: BaseException) -> str:
    """What is missing and the install that fixes it, for the driver the URL names: our
    extra only installs psycopg and PyMySQL, so other drivers get their own package (or the
    URL spelling that uses ours)."""
    backend = url.get_backend_name()
    try:
        driver: str | None = url.get_driver_name()
    except (NoSuchModuleError, ImportError):  # a dialect SQLAlchemy doesn't know
        driver = None
    ours, extra = DRIVER_EXTRAS.get(backend, (None, None))
    package = DRIVER_PACKAGES.get(driver or "", driver)
    if extra and driver == ours:
        hint = f"install it with: pip install 'schema-lsp[{extra}]'"
    elif extra and package:
        hint = (
            f"install it with: pip install '{package}', or use the driver schema-lsp "
            f"installs: write the URL as {backend}+{ours}:// and pip install "
            f"'schema-lsp[{extra}]'"
        )
    elif package:
        hint = f"install it with: pip install '{package}'"
    else:
        hint = f"install the driver for {backend}"
    return f"the database driver for {mask_url(url)} is not installed ({exc}); {hint}"


def explain_connect_error(url: str | URL, exc: BaseException) -> str:
    """One sentence for a failure to connect or read."""
    shown = mask_url(url)
    if isinstance(exc, (ModuleNotFoundError, ImportError, NoSuchModuleError)):
        return missing_driver_message(parse_url(url), exc)
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = detail[0] if detail else type(exc).__name__
    password = make_url(url).password if not isinstance(exc, ArgumentError) else None
    if password:
        first = first.replace(str(password), "***")
    if isinstance(exc, OperationalError):
        return f"cannot connect to {shown}: {first}"
    if isinstance(exc, DBAPIError):
        return f"reading the catalog of {shown} failed: {first}"
    return f"database {shown}: {first}"
