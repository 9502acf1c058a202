"""What the server knows of the database, and the pending migration ops that contradict it.

The server never reads the database: it knows what the worker sent. When a check result
carries ``database_schema`` (the reflected tables, columns and indexes, see
:func:`DatabaseState.from_summary`) that is used; otherwise the state is inferred from the
models' hints and the drift records: a model table with no ``add_table`` drift is in the
database, a column with no ``add_column`` drift too, and every ``remove_*`` drift names
something only the database has. Tables the check did not compare (excluded, or in a schema
it did not read) are unknown, never "missing".

A revision the database has not applied yet runs against this state: its ``op.*`` calls are
replayed in order (oldest pending revision first) and every op that would fail (adding a
column that exists, dropping a table that is gone) becomes a diagnostic on its line.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsprotocol import types

from schema_lsp.script.pending import CoveredOp

CODE = "migration-contradicts-database"
Key = tuple[str | None, str]


@dataclass
class TableState:
    """One table of the database; ``None`` columns or indexes mean "not known"."""

    columns: dict[str, dict[str, Any]] | None = None
    indexes: dict[str, tuple[str, ...]] | None = None


@dataclass
class DatabaseState:
    """Tables by (schema, casefolded name), plus which tables the check compared."""

    tables: dict[Key, TableState] = field(default_factory=dict)
    schemas: frozenset[str | None] | None = frozenset({None})
    """Schemas the check read (None: all of them)."""
    excluded: tuple[str, ...] = ()

    @staticmethod
    def key(schema: str | None, table: str) -> Key:
        return (schema.casefold() if schema else None, table.casefold())

    def compared(self, schema: str | None, table: str) -> bool:
        """Whether the check looked at this table (so its absence means something)."""
        if self.schemas is not None and (schema.casefold() if schema else None) not in {
            s.casefold() if s else None for s in self.schemas
        }:
            return False
        qualified = f"{schema}.{table}" if schema else table
        return not any(
            fnmatch.fnmatchcase(table, p) or fnmatch.fnmatchcase(qualified, p)
            for p in self.excluded
        )

    def table(self, schema: str | None, name: str) -> TableState | None:
        return self.tables.get(self.key(schema, name))

    @classmethod
    def from_summary(
        cls, summary: Mapping[str, Any], *, excluded: Sequence[str] = ()
    ) -> DatabaseState:
        """The worker's reflected schema, as plain data::

        {"schemas": [null, "audit"] | null,
         "tables": [{"schema": null, "name": "users",
                     "columns": [{"name": "id", "type": "INTEGER", "nullable": false,
                                  "default": null, "comment": null}],
                     "indexes": [{"name": "ix_users_email", "columns": ["email"],
                                  "unique": false}]}]}
        """
        raw_schemas = summary.get("schemas", [None])
        schemas = None if raw_schemas is None else frozenset(raw_schemas)
        state = cls(schemas=schemas, excluded=tuple(excluded))
        for table in summary.get("tables") or ():
            columns = {
                str(c["name"]).casefold(): dict(c)
                for c in table.get("columns") or ()
                if "name" in c
            }
            indexes = {
                str(i["name"]).casefold(): tuple(i.get("columns") or ())
                for i in table.get("indexes") or ()
                if i.get("name")
            }
            state.tables[cls.key(table.get("schema"), str(table["name"]))] = TableState(
                columns, indexes
            )
        return state

    @classmethod
    def infer(
        cls,
        hints: Iterable[Mapping[str, Any]],
        drifts: Iterable[Mapping[str, Any]],
        *,
        schemas: frozenset[str | None] | None = frozenset({None}),
        excluded: Sequence[str] = (),
    ) -> DatabaseState:
        """The database as the models plus the differences describe it (names only)."""
        state = cls(schemas=schemas, excluded=tuple(excluded))
        drifts = list(drifts)
        added_tables = {
            cls.key(d.get("schema"), str(d["table"]))
            for d in drifts
            if d.get("kind") == "add_table" and d.get("table")
        }
        for hint in hints:
            schema, name = hint.get("schema"), str(hint.get("name"))
            key = cls.key(schema, name)
            if key in added_tables or not state.compared(schema, name):
                continue
            columns = {
                str(c["name"]).casefold(): {"name": c["name"]}
                for c in hint.get("columns") or ()
                if c.get("name")
            }
            indexes = {
                str(c["name"]).casefold(): tuple(c.get("columns") or ())
                for c in hint.get("constraints") or ()
                if c.get("kind") == "index" and c.get("name")
            }
            state.tables[key] = TableState(columns, indexes)
        for d in drifts:
            kind, table = d.get("kind"), d.get("table")
            if not table:
                continue
            key = cls.key(d.get("schema"), str(table))
            if kind == "remove_table":
                cols = {str(c).casefold(): {"name": c} for c in d.get("columns") or ()}
                state.tables[key] = TableState(cols or None, None)
                continue
            found = state.tables.get(key)
            if found is None:
                continue
            name = str(d.get("name") or "")
            if kind == "add_column" and found.columns is not None:
                found.columns.pop(name.casefold(), None)
            elif kind == "remove_column" and found.columns is not None:
                found.columns[name.casefold()] = {"name": name}
            elif kind == "add_index" and found.indexes is not None:
                found.indexes.pop(name.casefold(), None)
            elif kind == "remove_index" and found.indexes is not None:
                found.indexes[name.casefold()] = tuple(d.get("columns") or ())
        return state


@dataclass(frozen=True)
class Contradiction:
    op: CoveredOp
    message: str


def _where(schema: str | None, table: str, name: str | None = None) -> str:
    qualified = f"{schema}.{table}" if schema else table
    return f"{qualified}.{name}" if name else qualified


def contradictions(ops: Sequence[CoveredOp], state: DatabaseState) -> list[Contradiction]:
    """Replay the pending ``ops`` (oldest first) on ``state``; each op that would fail.

    "In the database" covers what an earlier pending op created: both run before this one.
    """
    tables = {
        k: TableState(
            None if t.columns is None else dict(t.columns),
            None if t.indexes is None else dict(t.indexes),
        )
        for k, t in state.tables.items()
    }
    found: list[Contradiction] = []
    created: TableState | None = None

    def say(op: CoveredOp, what: str) -> None:
        found.append(
            Contradiction(
                op, f"{what}; 'alembic upgrade' would fail at pending revision {op.revision}"
            )
        )

    for op in ops:
        if op.method is None:  # a column of the create_table just replayed
            if created is not None and created.columns is not None and op.name:
                created.columns[op.name.casefold()] = {"name": op.name}
            continue
        created = None
        if not op.table or not state.compared(op.schema, op.table):
            continue
        key = DatabaseState.key(op.schema, op.table)
        table = tables.get(key)
        where = _where(op.schema, op.table)
        if op.method == "create_table":
            if table is not None:  # replay goes on as if the failing op were skipped
                say(op, f"table {where} already exists in the database")
            else:
                created = tables[key] = TableState({}, {})
            continue
        if table is None:
            say(op, f"table {where} is not in the database")
            continue
        if op.method == "drop_table":
            del tables[key]
            continue
        name = (op.name or "").casefold()
        if not name:
            continue
        if op.method in ("add_column", "drop_column", "alter_column") and table.columns is not None:
            column = _where(op.schema, op.table, op.name)
            exists = name in table.columns
            if op.method == "add_column":
                if exists:
                    say(op, f"column {column} already exists in the database")
                table.columns[name] = {"name": op.name}
            elif not exists:
                say(op, f"column {column} is not in the database")
            elif op.method == "drop_column":
                del table.columns[name]
        elif op.method in ("create_index", "drop_index") and table.indexes is not None:
            exists = name in table.indexes
            if op.method == "create_index":
                if exists:
                    say(op, f"index {op.name} on {where} already exists in the database")
                table.indexes[name] = ()
            elif not exists:
                say(op, f"index {op.name} on {where} is not in the database")
            else:
                del table.indexes[name]
    return found


def contradiction_diagnostics(
    found: Iterable[Contradiction], texts: Mapping[Path, str]
) -> dict[Path, list[types.Diagnostic]]:
    """One error per contradicting op, on its line of the migration file."""
    out: dict[Path, list[types.Diagnostic]] = {}
    for item in found:
        path = item.op.path.absolute()
        lines = texts.get(path, "").splitlines()
        row = max(item.op.line - 1, 0)
        text = lines[row] if row < len(lines) else ""
        start = len(text) - len(text.lstrip())
        out.setdefault(path, []).append(
            types.Diagnostic(
                range=types.Range(
                    start=types.Position(line=row, character=start),
                    end=types.Position(line=row, character=max(len(text), start + 1)),
                ),
                message=item.message,
                severity=types.DiagnosticSeverity.Error,
                code=CODE,
                source="schema-lsp",
                data={"kind": CODE, "revision": item.op.revision},
            )
        )
    return out
