"""The batched SQLite reader returns exactly what SQLAlchemy's Inspector returns."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from schema_lsp.reflect import ReflectedSchema, inspector, reflect_schema, sqlite
from tests.databases import record_statements

DDL = [
    "CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, code VARCHAR(10) NOT NULL, "
    "CONSTRAINT uq_parent_code UNIQUE (code))",
    "CREATE TABLE child (a INTEGER NOT NULL, b INTEGER NOT NULL, parent_id INTEGER, "
    "name TEXT DEFAULT 'x' CHECK (length(name) < 20), "
    "price NUMERIC(10, 2) DEFAULT 0, total NUMERIC GENERATED ALWAYS AS (price * 2) STORED, "
    "PRIMARY KEY (a, b), "
    "CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES parent (id) "
    "ON DELETE CASCADE, UNIQUE (name, price), CONSTRAINT ck_price CHECK (price >= 0))",
    "CREATE TABLE grandchild (id INTEGER PRIMARY KEY, ca INTEGER, cb INTEGER, "
    "FOREIGN KEY (ca, cb) REFERENCES child (a, b))",
    "CREATE INDEX ix_child_name ON child (name)",
    "CREATE UNIQUE INDEX ix_child_parent ON child (parent_id, name DESC)",
    "CREATE INDEX ix_child_partial ON child (price) WHERE price > 10",
    'CREATE TABLE "odd ""name""" (id INTEGER PRIMARY KEY, "sp ace" VARCHAR)',
]


def _plain(value: object) -> str:
    """Reflection output as text, with SQL expressions by their SQL, not their address."""
    return json.dumps(value, sort_keys=True, default=lambda o: getattr(o, "text", repr(o)))


def test_batched_reader_matches_inspector(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'r.db'}")
    with engine.begin() as conn:
        for stmt in DDL:
            conn.exec_driver_sql(stmt)
    with engine.connect() as conn:
        names = sa.inspect(conn).get_table_names()
        fast = ReflectedSchema("sqlite", None, (None,))
        slow = ReflectedSchema("sqlite", None, (None,))
        sqlite.read_tables(conn, fast, None, names)
        inspector.read_tables(conn, slow, None, names)
    assert set(fast.tables) == set(slow.tables) == {(None, n) for n in names}
    for key, table in slow.tables.items():
        for field in (
            "columns",
            "primary_key",
            "foreign_keys",
            "indexes",
            "unique_constraints",
            "check_constraints",
            "options",
        ):
            assert _plain(getattr(fast.tables[key], field)) == _plain(getattr(table, field)), (
                key,
                field,
            )
    assert fast.tables[(None, "child")].foreign_keys[0]["name"] == "fk_child_parent"


def test_reader_uses_a_fixed_number_of_statements(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'n.db'}")
    with engine.begin() as conn:
        for i in range(40):
            conn.exec_driver_sql(f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, v TEXT)")
            conn.exec_driver_sql(f"CREATE INDEX ix_t{i} ON t{i} (v)")
    with record_statements(engine) as statements, engine.connect() as conn:
        reflected = reflect_schema(conn)
    assert len(reflected.tables) == 40
    reads = [s for s in statements if "sqlite_master" in s]
    assert len(reads) <= 6, statements
    assert len(statements) < 15, statements
