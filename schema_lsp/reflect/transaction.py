"""One read-only transaction around everything the engine reads.

The engine must never change the user's database. Where the backend can enforce that, the
transaction is declared read-only; it is always rolled back, never committed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.engine import Connection


@contextmanager
def read_only(connection: Connection) -> Iterator[Connection]:
    """Run the block in a read-only transaction when the connection has none yet.

    When the caller already started a transaction (as Alembic's ``env.py`` does), reading
    happens inside it and the caller keeps control of it.
    """
    if connection.in_transaction():
        yield connection
        return
    name = connection.dialect.name
    trans = connection.begin()
    try:
        if name == "postgresql":
            connection.execute(text("SET TRANSACTION READ ONLY"))
        elif name in ("mysql", "mariadb"):
            # Applies to the next transaction: the one SQLAlchemy starts on first use.
            connection.execute(text("SET SESSION TRANSACTION READ ONLY"))
        elif name == "sqlite":
            # No read-only transactions in SQLite; ``query_only`` refuses writes instead.
            connection.exec_driver_sql("PRAGMA query_only = 1")
        yield connection
    finally:
        trans.rollback()
        if name in ("mysql", "mariadb"):
            connection.execute(text("SET SESSION TRANSACTION READ WRITE"))
            connection.rollback()
        elif name == "sqlite":
            connection.exec_driver_sql("PRAGMA query_only = 0")
            connection.rollback()
