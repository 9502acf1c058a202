"""``read_only()`` leaves the session as it found it: read-only stays read-only, read-write
becomes read-write again, also when the block raises.

The worker makes every session read-only (``worker/database.py``); a ``read_only()`` that
reset the session to read-write afterwards would silently undo that.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Engine

from schema_lsp.reflect import read_only
from schema_lsp.reflect.transaction import mysql_read_only_variable, session_is_read_only

#: Part of each backend's error for a write in a read-only session or transaction.
READ_ONLY_ERROR = {
    "sqlite": "attempt to write a readonly database",
    "postgresql": "read-only transaction",
    "mariadb": "READ ONLY transaction",
}

#: What makes a whole session read-only on each backend (a user's setting, or the worker's).
MAKE_SESSION_READ_ONLY = {
    "sqlite": "PRAGMA query_only = 1",
    "postgresql": "SET SESSION default_transaction_read_only = on",
    "mariadb": "SET SESSION TRANSACTION READ ONLY",
}


@pytest.fixture
def conn(engine: Engine) -> Iterator[Connection]:
    """A connection on a database holding one table ``probe`` to try writes on."""
    with engine.begin() as setup:
        setup.exec_driver_sql("CREATE TABLE probe (id INTEGER PRIMARY KEY)")
    with engine.connect() as connection:
        yield connection


def can_write(conn: Connection, backend: str) -> bool:
    """Whether an INSERT succeeds on ``conn`` (rolled back either way); raises on any error
    other than the backend's read-only refusal."""
    try:
        conn.exec_driver_sql("INSERT INTO probe (id) VALUES (1)")
    except sa.exc.DBAPIError as exc:
        conn.rollback()
        assert READ_ONLY_ERROR[backend] in str(exc.orig), exc
        return False
    conn.rollback()
    return True


def read_inside(conn: Connection, backend: str) -> bool:
    """Run a read in ``read_only()`` and report whether a write was possible inside it."""
    with read_only(conn):
        assert conn.exec_driver_sql("SELECT count(*) FROM probe").scalar() == 0
        try:
            conn.exec_driver_sql("INSERT INTO probe (id) VALUES (2)")
        except sa.exc.DBAPIError as exc:
            assert READ_ONLY_ERROR[backend] in str(exc.orig), exc
            return False
        return True


def test_a_read_write_session_is_read_write_again_afterwards(
    conn: Connection, backend: str
) -> None:
    assert session_is_read_only(conn) is False
    conn.rollback()
    assert can_write(conn, backend)
    assert not read_inside(conn, backend), "read_only() let a write through"
    assert session_is_read_only(conn) is False
    conn.rollback()
    assert can_write(conn, backend)


def test_a_read_only_session_stays_read_only_afterwards(
    conn: Connection, backend: str
) -> None:
    conn.exec_driver_sql(MAKE_SESSION_READ_ONLY[backend])
    conn.commit()  # PostgreSQL's SET is transactional
    assert session_is_read_only(conn) is True
    conn.rollback()
    assert not can_write(conn, backend)
    assert not read_inside(conn, backend)
    assert session_is_read_only(conn) is True
    conn.rollback()
    assert not can_write(conn, backend)
    with read_only(conn):  # and again: the second round must not see a changed session
        pass
    assert not can_write(conn, backend)


@pytest.mark.parametrize("read_only_before", [False, True], ids=["read-write", "read-only"])
def test_the_session_is_restored_when_the_block_raises(
    conn: Connection, backend: str, read_only_before: bool
) -> None:
    if read_only_before:
        conn.exec_driver_sql(MAKE_SESSION_READ_ONLY[backend])
        conn.commit()
    with pytest.raises(RuntimeError, match="reading failed"), read_only(conn):
        conn.exec_driver_sql("SELECT count(*) FROM probe")
        raise RuntimeError("reading failed")
    assert not conn.in_transaction()
    assert can_write(conn, backend) is not read_only_before


def test_a_transaction_of_the_caller_is_left_alone(conn: Connection, backend: str) -> None:
    """Inside the caller's transaction ``read_only()`` neither restricts nor ends it."""
    trans = conn.begin()
    with read_only(conn):
        conn.exec_driver_sql("INSERT INTO probe (id) VALUES (3)")
    assert conn.in_transaction()
    assert conn.exec_driver_sql("SELECT count(*) FROM probe").scalar() == 1
    trans.rollback()
    assert session_is_read_only(conn) is False
    conn.rollback()


@pytest.mark.parametrize(
    ("is_mariadb", "version", "variable"),
    [
        (True, (10, 6, 21), "tx_read_only"),
        (True, (10, 11, 19), "tx_read_only"),
        (True, (11, 1, 2), "transaction_read_only"),
        (True, (11, 8, 2), "transaction_read_only"),
        (False, (5, 7, 19), "tx_read_only"),
        (False, (5, 7, 20), "transaction_read_only"),
        (False, (8, 0, 36), "transaction_read_only"),
        (False, (8, 4, 3), "transaction_read_only"),
    ],
)
def test_the_access_mode_variable_follows_the_server_version(
    is_mariadb: bool, version: tuple[int, ...], variable: str
) -> None:
    """MySQL 8.0.3 removed ``tx_read_only``; MariaDB before 11.1 has nothing else."""
    dialect = mysql.dialect()
    dialect.server_version_info = version
    dialect.is_mariadb = is_mariadb
    assert mysql_read_only_variable(dialect) == variable


@pytest.mark.backends("mariadb")
def test_the_live_servers_variable_exists_and_tracks_the_access_mode(conn: Connection) -> None:
    variable = mysql_read_only_variable(conn.dialect)
    assert conn.exec_driver_sql(f"SELECT @@session.{variable}").scalar() == 0
    conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
    assert conn.exec_driver_sql(f"SELECT @@session.{variable}").scalar() == 1
    conn.rollback()
