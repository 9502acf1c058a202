"""Re-comparing only the tables whose model changed gives a full comparison's answer."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schema_lsp.autogenerate.api import compare_reflected
from schema_lsp.autogenerate.drift import drift_records
from schema_lsp.reflect import reflect_schema
from schema_lsp.server.worker.client import WorkerClient
from schema_lsp.server.worker.protocol import OK
from schema_lsp.server.worker.reuse import compare_with_reuse, table_signature
from schema_lsp.server.worker.table_cache import Entries

OPTS = {"compare_type": True, "compare_server_default": True}
NONE = Entries({}, {})


def models(**change: Any) -> sa.MetaData:
    """Three tables as in the database, with ``change`` applied to table ``b``."""
    metadata = sa.MetaData()
    sa.Table("a", metadata, sa.Column("id", sa.Integer, primary_key=True))
    sa.Table(
        "b",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("a_id", sa.ForeignKey("a.id", ondelete=change.get("ondelete"))),
        sa.Column("name", sa.String(change.get("length", 20)), nullable=change.get("null", False)),
        sa.Column("n", sa.Integer, server_default=sa.text(change.get("default", "0"))),
        sa.Index("ix_b_name", change.get("index", "name")),
        comment=change.get("comment"),
    )
    sa.Table("c", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("x", sa.Text))
    if change.get("extra_table"):
        sa.Table("d", metadata, sa.Column("id", sa.Integer, primary_key=True))
    return metadata


@pytest.fixture
def reflected(tmp_path: Path) -> tuple[Any, Any]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    models().create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE gone (id INTEGER PRIMARY KEY)")
    with engine.connect() as conn:
        schema = reflect_schema(conn, schemas=(None,), with_fingerprint=False)
    return schema, engine.dialect


def full(schema: Any, dialect: Any, metadata: sa.MetaData) -> list[dict[str, Any]]:
    upgrade = compare_reflected(schema, [metadata], dialect=dialect, opts=OPTS)
    return [d.to_dict() for d in drift_records(upgrade, dialect)]


EDITS: list[dict[str, Any]] = [
    {"length": 40},
    {"null": True},
    {"default": "1"},
    {"ondelete": "CASCADE"},
    {"index": "n"},
    {"extra_table": True},
]


@pytest.mark.parametrize("edit", EDITS, ids=[next(iter(e)) for e in EDITS])
def test_one_table_edit_matches_a_full_comparison_and_compares_one_table(
    reflected: tuple[Any, Any], edit: dict[str, Any]
) -> None:
    schema, dialect = reflected
    first = compare_with_reuse(schema, [models()], dialect=dialect, opts=OPTS, previous=NONE)
    assert first.reused == 0 and first.drifts == full(schema, dialect, models())
    edited = models(**edit)
    again = compare_with_reuse(schema, [edited], dialect=dialect, opts=OPTS, previous=first.entries)
    assert again.drifts == full(schema, dialect, edited)
    assert again.drifts != first.drifts
    changed_existing = 0 if edit.get("extra_table") else 1
    assert (again.compared, again.reused) == (changed_existing, 3 - changed_existing)
    same = compare_with_reuse(schema, [edited], dialect=dialect, opts=OPTS, previous=again.entries)
    assert same.drifts == again.drifts and (same.compared, same.reused) == (0, 3)
    assert same.entries.ops == again.entries.ops  # created/dropped tables' records reused
    back = compare_with_reuse(
        schema, [models()], dialect=dialect, opts=OPTS, previous=again.entries
    )
    assert back.drifts == first.drifts


def test_signature_follows_resolved_values_not_source_text() -> None:
    def table(length: Callable[[], int]) -> sa.Table:
        return sa.Table("t", sa.MetaData(), sa.Column("s", sa.String(length())))

    assert table(lambda: 5) is not table(lambda: 5)
    assert table_signature(table(lambda: 5)) == table_signature(table(lambda: 5))
    assert table_signature(table(lambda: 5)) != table_signature(table(lambda: 6))


def test_signature_of_schema_types_is_stable_across_imports() -> None:
    from sqlalchemy.dialects import postgresql

    def table() -> sa.Table:
        return sa.Table(
            "t",
            sa.MetaData(),
            sa.Column("e", sa.Enum("a", "b", name="kind")),
            sa.Column("xs", postgresql.ARRAY(sa.Integer)),
        )

    assert table_signature(table()) == table_signature(table())


GOOD = """\
from sqlalchemy import Column, Integer, MetaData, String, Table

metadata = MetaData()
a = Table("a", metadata, Column("id", Integer, primary_key=True), Column("s", String({n})))
b = Table("b", metadata, Column("id", Integer, primary_key=True))
"""


async def test_worker_reuses_unchanged_tables_until_the_database_changes(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    db = root / "app.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE a (id INTEGER NOT NULL PRIMARY KEY, s VARCHAR(10))")
        conn.execute("CREATE TABLE b (id INTEGER NOT NULL PRIMARY KEY)")
    worker = WorkerClient(sys.executable, root)
    fields = {"root": str(root), "models": ["models:metadata"], "database_url": f"sqlite:///{db}"}
    fields["opts"] = OPTS
    try:
        (root / "models.py").write_text(GOOD.format(n=10))
        first = await worker.check(**fields)
        assert first.status == OK and first.drifts == []
        assert first.timings["tables_reused"] == 0
        (root / "models.py").write_text(GOOD.format(n=20))
        edited = await worker.check(**fields)
        assert [d["kind"] for d in edited.drifts] == ["modify_type"]
        assert (edited.timings["tables_compared"], edited.timings["tables_reused"]) == (1, 1)
        with sqlite3.connect(db) as conn:
            conn.execute("ALTER TABLE b ADD COLUMN extra INTEGER")
        moved = await worker.check(**fields)
        assert sorted(d["kind"] for d in moved.drifts) == ["modify_type", "remove_column"]
        assert moved.timings["tables_reused"] == 0
    finally:
        await worker.stop()


def test_table_cache_changes_restore_the_entries_they_were_taken_from() -> None:
    from schema_lsp.server.worker.table_cache import Entries, entries_from_data, entries_to_data

    kept: list[dict[str, object]] = []
    before = Entries(
        {(None, "a"): ("s1", kept), (None, "b"): ("s2", []), ("x", "c"): ("s3", [{"k": 1}])},
        {"CreateTableOp||d|s4": [{"k": 2}], "DropTableOp||e|database": []},
    )
    after = Entries(
        {(None, "a"): ("s1", kept), (None, "b"): ("s9", [{"k": 3}]), (None, "f"): ("s5", [])},
        {"CreateTableOp||d|s4": before.ops["CreateTableOp||d|s4"], "AddX": [{"k": 4}]},
    )
    data = entries_to_data(after, before)
    assert [row[1] for row in data["tables"]] == ["b", "f"]  # "a" was reused: not sent
    assert [row[0] for row in data["ops"]] == ["AddX"]
    assert entries_from_data(data, before) == after
    assert entries_from_data(entries_to_data(after), None) == after


def test_a_cold_comparison_takes_signatures_only_when_its_entries_are_used(
    reflected: tuple[Any, Any],
) -> None:
    """With nothing to reuse, signatures serve only the next check: the child answers
    first and reads ``entries`` (which takes them) afterwards."""
    schema, dialect = reflected
    metadata = models()
    cold = compare_with_reuse(schema, [metadata], dialect=dialect, opts=OPTS, previous=NONE)
    assert set(cold.unsigned) == {(None, "a"), (None, "b"), (None, "c")}
    assert {sig for sig, _ in cold.taken.tables.values()} == {""}
    signed = {key: sig for key, (sig, _) in cold.entries.tables.items()}
    assert signed == {key: table_signature(metadata.tables[key[1]]) for key in signed}
    warm = compare_with_reuse(schema, [models()], dialect=dialect, opts=OPTS, previous=cold.entries)
    assert not warm.unsigned and warm.reused == 3 and warm.drifts == cold.drifts
