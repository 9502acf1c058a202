"""One read-only transaction around everything the engine reads.

The engine must never change the user's database. Where the backend can enforce that, the
transaction is declared read-only; it is always rolled back, never committed. A session that
is already read-only (the worker makes every connection so) stays read-only afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection, Dialect


def mysql_read_only_variable(dialect: Dialect) -> str:
    """The session variable holding the transaction access mode on this server.

    ``tx_read_only`` is the only name up to MariaDB 11.0 (MariaDB 11.1 added
    ``transaction_read_only`` and deprecated the old one); MySQL added
    ``transaction_read_only`` in 5.7.20 and removed ``tx_read_only`` in 8.0.3.
    """
    version = tuple(getattr(dialect, "server_version_info", None) or ())
    if getattr(dialect, "is_mariadb", False):
        return "transaction_read_only" if version >= (11, 1) else "tx_read_only"
    return "transaction_read_only" if version >= (5, 7, 20) else "tx_read_only"


def session_is_read_only(connection: Connection) -> bool | None:
    """Whether the session refuses writes by itself (None where there is no such setting).

    PostgreSQL: ``default_transaction_read_only``; MySQL/MariaDB: the session access mode;
    SQLite: ``PRAGMA query_only``. May start a transaction (autobegin), like any read.
    """
    name = connection.dialect.name
    if name == "postgresql":
        value = connection.execute(text("SHOW default_transaction_read_only")).scalar()
        return str(value).lower() == "on"
    if name in ("mysql", "mariadb"):
        variable = mysql_read_only_variable(connection.dialect)
        return bool(connection.execute(text(f"SELECT @@session.{variable}")).scalar())
    if name == "sqlite":
        return bool(connection.exec_driver_sql("PRAGMA query_only").scalar())
    return None


@contextmanager
def read_only(connection: Connection) -> Iterator[Connection]:
    """Run the block in a read-only transaction when the connection has none yet.

    When the caller already started a transaction (as Alembic's ``env.py`` does), reading
    happens inside it and the caller keeps control of it. A session-level setting that
    makes the block read-only (MySQL/MariaDB access mode, SQLite ``query_only``) is turned
    on only when it was off, and then turned off again: the session leaves as it came.
    """
    if connection.in_transaction():
        yield connection
        return
    name = connection.dialect.name
    restore: str | None = None
    trans = connection.begin()
    try:
        if name == "postgresql":
            connection.execute(text("SET TRANSACTION READ ONLY"))  # this transaction only
        elif name in ("mysql", "mariadb", "sqlite") and not session_is_read_only(connection):
            if name == "sqlite":
                # No read-only transactions in SQLite; ``query_only`` refuses writes instead.
                connection.exec_driver_sql("PRAGMA query_only = 1")
                restore = "PRAGMA query_only = 0"
            else:
                # Applies to the transaction just begun: it has read no table yet.
                connection.execute(text("SET SESSION TRANSACTION READ ONLY"))
                restore = "SET SESSION TRANSACTION READ WRITE"
        yield connection
    finally:
        trans.rollback()
        if restore is not None:
            connection.exec_driver_sql(restore)
            connection.rollback()
