"""Pending revisions replayed on what the server knows of the database, without a server."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from schema_lsp.script.pending import ops_in_function
from schema_lsp.server.features.database_state import (
    CODE,
    DatabaseState,
    contradiction_diagnostics,
    contradictions,
)

HINTS: list[dict[str, Any]] = [
    {
        "schema": None,
        "name": "users",
        "columns": [{"name": "id"}, {"name": "email"}, {"name": "verified"}],
        "constraints": [{"kind": "index", "name": "ix_users_email", "columns": ["email"]}],
    },
    {"schema": None, "name": "reviews", "columns": [{"name": "id"}]},
    {"schema": None, "name": "audit_log", "columns": [{"name": "id"}]},
]
DRIFTS: list[dict[str, Any]] = [
    {"kind": "add_column", "schema": None, "table": "users", "name": "verified"},
    {"kind": "remove_column", "schema": None, "table": "users", "name": "fax"},
    {"kind": "add_table", "schema": None, "table": "reviews", "name": None},
    {"kind": "remove_table", "schema": None, "table": "legacy", "columns": ["id", "x"]},
]

UPGRADE = """
def upgrade():
    op.add_column("users", sa.Column("email", sa.String()))
    op.add_column("users", sa.Column("verified", sa.Boolean()))
    op.drop_column("users", "phone")
    op.drop_column("users", "fax")
    op.create_table("users", sa.Column("id", sa.Integer()))
    op.create_table("reviews", sa.Column("id", sa.Integer()), sa.Column("body", sa.Text()))
    op.add_column("reviews", sa.Column("body", sa.Text()))
    op.drop_table("ghosts")
    op.drop_table("legacy")
    op.drop_table("legacy")
    op.add_column("audit_log", sa.Column("at", sa.DateTime()))
    op.create_index("ix_users_email", "users", ["email"])
    with op.batch_alter_table("users") as batch_op:
        batch_op.alter_column("nope", nullable=False)
        batch_op.drop_column("email")
        batch_op.drop_column("email")
    op.add_column("t", sa.Column("a", sa.Integer()), schema="elsewhere")
"""


def ops(source: str = UPGRADE, revision: str = "0003") -> list[Any]:
    return ops_in_function(ast.parse(source), "upgrade", revision, Path("/m/0003_x.py"))


def line_of(fragment: str, source: str = UPGRADE) -> int:
    return next(i for i, line in enumerate(source.split("\n"), 1) if fragment in line)


def test_inferred_state_follows_models_and_drift() -> None:
    state = DatabaseState.infer(HINTS, DRIFTS)
    users = state.table(None, "USERS")
    assert users is not None and users.columns is not None
    assert set(users.columns) == {"id", "email", "fax"}  # verified: only in the models
    assert state.table(None, "reviews") is None  # add_table: not in the database
    legacy = state.table(None, "legacy")
    assert legacy is not None and set(legacy.columns or ()) == {"id", "x"}
    excluded = DatabaseState.infer(HINTS, DRIFTS, excluded=("audit_*",))
    assert excluded.table(None, "audit_log") is None
    assert not excluded.compared(None, "audit_log") and excluded.compared(None, "ghosts")


def test_each_op_that_would_fail_is_found_in_replay_order() -> None:
    state = DatabaseState.infer(HINTS, DRIFTS, excluded=("audit_*",))
    found = {(c.op.line, c.message.split(";")[0]) for c in contradictions(ops(), state)}
    assert found == {
        (line_of('"email", sa.String'), "column users.email already exists in the database"),
        (line_of('"phone"'), "column users.phone is not in the database"),
        (line_of('create_table("users"'), "table users already exists in the database"),
        (line_of('"ghosts"'), "table ghosts is not in the database"),
        # the second drop of legacy: the first one removed it
        (line_of('"legacy"') + 1, "table legacy is not in the database"),
        (line_of("create_index"), "index ix_users_email on users already exists in the database"),
        (line_of('"nope"'), "column users.nope is not in the database"),
        # the pending create_table already made it
        (line_of('op.add_column("reviews"'), "column reviews.body already exists in the database"),
        (line_of('batch_op.drop_column("email")') + 1, "column users.email is not in the database"),
    }
    # Not reported: verified and fax (the database agrees with the op), audit_log
    # (excluded), a schema the check did not read.
    messages = [c.message for c in contradictions(ops(), state)]
    assert all("'alembic upgrade' would fail at pending revision 0003" in m for m in messages)


def test_pending_revisions_see_each_others_changes() -> None:
    first = ops('def upgrade():\n    op.drop_column("users", "email")\n', "0003")
    second = ops('def upgrade():\n    op.add_column("users", sa.Column("email"))\n', "0004")
    state = DatabaseState.infer(HINTS, DRIFTS)
    assert contradictions(first + second, state) == []
    assert [c.op.revision for c in contradictions(second + second, state)] == ["0004", "0004"]


def test_the_worker_summary_is_used_when_sent() -> None:
    summary = {
        "schemas": [None, "audit"],
        "tables": [
            {
                "schema": "audit",
                "name": "events",
                "columns": [{"name": "id", "type": "INTEGER", "nullable": False}],
                "indexes": [{"name": "ix_events_id", "columns": ["id"], "unique": False}],
            }
        ],
    }
    state = DatabaseState.from_summary(summary)
    source = (
        "def upgrade():\n"
        '    op.add_column("events", sa.Column("id"), schema="audit")\n'
        '    op.drop_index("ix_events_id", table_name="events", schema="audit")\n'
        '    op.drop_index("ix_events_id", table_name="events", schema="audit")\n'
        '    op.create_table("events", schema="other")\n'
    )
    found = contradictions(ops(source), state)
    assert [(c.op.line, c.message.split(";")[0]) for c in found] == [
        (2, "column audit.events.id already exists in the database"),
        (4, "index ix_events_id on audit.events is not in the database"),
    ]


def test_diagnostics_sit_on_the_op_line() -> None:
    state = DatabaseState.infer(HINTS, DRIFTS)
    found = contradictions(ops(), state)
    by_path = contradiction_diagnostics(found, {Path("/m/0003_x.py"): UPGRADE})
    diagnostics = by_path[Path("/m/0003_x.py")]
    assert len(diagnostics) == len(found)
    first = diagnostics[0]
    row = first.range.start.line
    line = UPGRADE.split("\n")[row]
    assert line[first.range.start.character :].startswith("op.add_column")
    assert first.code == CODE and first.data == {"kind": CODE, "revision": "0003"}


def test_the_session_state_prefers_the_worker_summary() -> None:
    from types import SimpleNamespace

    from schema_lsp.server.features.migrations import database_state

    result = SimpleNamespace(hints=HINTS, drifts=DRIFTS, applied_heads=["0002"])
    config = SimpleNamespace(exclude_tables=("audit_*",), include_schemas=("audit",))
    session: Any = SimpleNamespace(last_result=result, config=config)
    inferred = database_state(session)
    assert inferred is not None and inferred.table(None, "users") is not None
    assert inferred.schemas == frozenset({None, "audit"}) and not inferred.compared(None, "audit_x")
    result.database_schema = {"schemas": [None], "tables": [{"name": "only_this"}]}
    sent = database_state(session)
    assert sent is not None and set(sent.tables) == {(None, "only_this")}
    assert sent.table(None, "users") is None and not sent.compared(None, "audit_x")
