"""The column hover's text from drift, hints and the worker's schema summaries."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types

from schema_lsp.server.features.column_hover import ColumnAt, column_at, column_markdown
from schema_lsp.server.features.database_state import DatabaseState

RANGE = types.Range(
    start=types.Position(line=3, character=4), end=types.Position(line=5, character=5)
)
AT = ColumnAt("audit", "events", "kind", RANGE)
HINTS: list[dict[str, Any]] = [
    {
        "schema": "audit",
        "name": "events",
        "columns": [{"name": "id"}, {"name": "kind"}],
        "constraints": [
            {"kind": "index", "name": "ix_events_kind", "columns": ["kind"]},
            {"kind": "index", "name": "ix_events_id", "columns": ["id"]},
        ],
    }
]


def summary(type_: str, nullable: bool, default: str | None, indexes: list[str]) -> dict[str, Any]:
    column = {"name": "kind", "type": type_, "nullable": nullable, "default": default}
    return {
        "schemas": [None, "audit"],
        "tables": [
            {
                "schema": "audit",
                "name": "events",
                "columns": [{**column, "comment": None}],
                "indexes": [{"name": n, "columns": ["kind"]} for n in indexes],
            }
        ],
    }


def test_with_both_summaries_every_value_is_shown() -> None:
    database = DatabaseState.from_summary(summary("VARCHAR(20)", True, "'a'", []))
    models = DatabaseState.from_summary(summary("VARCHAR(20)", False, "'a'", ["ix_events_kind"]))
    drift = {
        "kind": "modify_nullable",
        "schema": "audit",
        "table": "events",
        "name": "kind",
        "model": "NOT NULL",
        "database": "NULL",
        "migration": {"category": "pending_revision", "revision": "0004"},
    }
    text = column_markdown(AT, [drift], HINTS, database, models)
    assert text.startswith("**schema-lsp** · `audit.events.kind`")
    assert "| type | VARCHAR(20) | VARCHAR(20) |" in text
    assert "| **nullable** ≠ | NOT NULL | NULL |" in text
    assert "| default | 'a' | 'a' |" in text
    assert "| comment | no comment | no comment |" in text
    assert "| **indexes** ≠ | ix_events_kind | none |" in text
    assert "covered by pending revision 0004 (not applied)" in text


def test_a_column_only_in_the_models() -> None:
    drift = {"kind": "add_column", "schema": "audit", "table": "events", "name": "kind"}
    state = DatabaseState.infer(HINTS, [drift], schemas=frozenset({None, "audit"}))
    text = column_markdown(AT, [drift], HINTS, state)
    assert "| type | as declared | — |" in text and "not in the database yet" in text
    assert "| indexes | ix_events_kind | — |" in text


@dataclass
class Loc:
    path: str
    start_line: int
    start_character: int
    end_line: int
    end_character: int
    anchor: str


class FakeMap:
    """Columns ``id`` on line 2 and ``kind`` on lines 3-5 of one file."""

    def locate(self, kind: str, schema: Any, table: Any, name: Any) -> Loc | None:
        assert kind == "add_column"
        if name == "id":
            return Loc("/m/models.py", 2, 4, 2, 30, "column")
        return Loc("/m/models.py", 3, 4, 5, 5, "column")


def test_column_at_finds_the_definition_under_the_cursor() -> None:
    path = Path("/m/models.py")
    found = column_at(FakeMap(), HINTS, path, types.Position(line=4, character=0))
    assert found == ColumnAt("audit", "events", "kind", RANGE)
    on_id = column_at(FakeMap(), HINTS, path, types.Position(line=2, character=9))
    assert on_id is not None and on_id.name == "id"
    assert column_at(FakeMap(), HINTS, path, types.Position(line=7, character=0)) is None
    elsewhere = column_at(
        FakeMap(), HINTS, Path("/m/other.py"), types.Position(line=4, character=0)
    )
    assert elsewhere is None


def test_agreeing_attributes_show_the_database_value_on_both_sides() -> None:
    database = DatabaseState.from_summary(summary("VARCHAR(20)", False, None, ["ix_events_kind"]))
    text = column_markdown(
        AT, [], HINTS, database, not_compared={"default": "compare_server_default"}
    )
    assert "| type | VARCHAR(20) (agrees) | VARCHAR(20) |" in text
    assert "| nullable | NOT NULL (agrees) | NOT NULL |" in text
    assert "| default | not compared (compare_server_default is off) | no default |" in text
    assert "| indexes | ix_events_kind | ix_events_kind |" in text
