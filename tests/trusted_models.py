"""Model files whose tables change without their source: what trusting by block must catch.

Shared by the worker tests (tests/server/test_worker_trust.py) and the end-to-end test
(tests/e2e/test_trusted_tables.py). Each project has tables ``a`` and ``b`` with a
``VARCHAR(10)`` column ``s`` in a SQLite database; ``{a}`` in a model text is the length
the model gives ``a.s`` (the one-table edit that makes a check trust ``b``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

#: ``b.s``'s length comes from ``b.json``: a file the worker knows nothing about.
JSON_MODELS = """\
import json
import pathlib

from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()

a = Table("a", metadata, Column("id", Integer, primary_key=True), Column("s", String({a})))

b = Table(
    "b",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("s", String(json.loads(pathlib.Path("b.json").read_text())["length"])),
)
"""


def two_table_project(parent: Path) -> Path:
    """``parent/proj`` with ``app.db`` holding ``a`` and ``b`` (no model file yet)."""
    root = parent / "proj"
    root.mkdir()
    with sqlite3.connect(root / "app.db") as conn:
        conn.execute("CREATE TABLE a (id INTEGER NOT NULL PRIMARY KEY, s VARCHAR(10))")
        conn.execute("CREATE TABLE b (id INTEGER NOT NULL PRIMARY KEY, s VARCHAR(10))")
    return root
