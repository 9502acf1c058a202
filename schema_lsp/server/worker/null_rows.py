"""How many rows make a NOT NULL change fail: counted in the warm parent, read-only.

For every ``modify_nullable`` drift that makes a column NOT NULL, one bounded query per
table (the engine's statement timeout applies) counts the rows holding NULL, inside a
read-only transaction. Counts are kept with the reflection: a column is counted again only
after the catalog fingerprint moved, or when it newly drifts. A count that fails (no
SELECT privilege, a timeout) leaves that drift's general warning as it was.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # SQLAlchemy is imported when first needed: the worker's hello reports
    import sqlalchemy as sa  # a project interpreter without it
    from sqlalchemy.engine import Engine

#: (schema, table, column) of a column the models make NOT NULL.
ColumnKey = tuple[str | None, str, str]


def column_key(record: Mapping[str, Any]) -> ColumnKey:
    """Where a drift record's column lives."""
    return (record.get("schema"), str(record["table"]), str(record["name"]))


def null_count_query(schema: str | None, table: str, columns: list[str]) -> sa.Select[Any]:
    """One scan of ``table`` counting the NULLs of each of ``columns`` (dialect-quoted)."""
    import sqlalchemy as sa

    target = sa.table(table, *(sa.column(name) for name in columns), schema=schema)
    return sa.select(
        *(
            sa.func.coalesce(sa.func.sum(sa.case((target.c[name].is_(None), 1), else_=0)), 0)
            for name in columns
        )
    ).select_from(target)


def count_null_rows(engine: Engine, columns: Iterable[ColumnKey]) -> dict[ColumnKey, int | None]:
    """Rows holding NULL per column; None where counting failed (reported on stderr)."""
    from schema_lsp.reflect import read_only

    by_table: dict[tuple[str | None, str], list[str]] = defaultdict(list)
    for schema, table, name in columns:
        by_table[(schema, table)].append(name)
    out: dict[ColumnKey, int | None] = {}
    try:
        with engine.connect() as conn:
            for (schema, table), names in sorted(by_table.items(), key=repr):
                names.sort()
                try:
                    with read_only(conn):
                        row = conn.execute(null_count_query(schema, table, names)).one()
                except Exception as exc:
                    _report(schema, table, exc)
                    out.update({(schema, table, n): None for n in names})
                    continue
                out.update(
                    {(schema, table, n): int(v or 0) for n, v in zip(names, row, strict=True)}
                )
    except Exception as exc:  # no connection at all: every count stays unknown
        _report(None, "(connection)", exc)
    return out


def _report(schema: str | None, table: str, exc: BaseException) -> None:
    where = f"{schema}.{table}" if schema else table
    first = (str(getattr(exc, "orig", None) or exc).strip().splitlines() or [""])[0]
    print(
        f"schema-lsp: could not count the NULL rows of {where} ({type(exc).__name__}: "
        f"{first}); its NOT NULL warning stays general",
        file=sys.stderr,
    )


@dataclass
class NullRowCounts:
    """Counts kept for one reflection generation (see ``WarmState.generation``)."""

    generation: int = -1
    counts: dict[ColumnKey, int | None] = field(default_factory=dict)

    def apply(
        self, engine: Engine, generation: int, drifts: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """``drifts`` with the counted NULL rows in each NOT NULL change."""
        from schema_lsp.autogenerate.drift import needs_null_count, with_null_rows

        if generation != self.generation:
            self.generation = generation
            self.counts.clear()
        wanted = {column_key(d) for d in drifts if needs_null_count(d)}
        missing = wanted - self.counts.keys()
        if missing:
            self.counts.update({key: None for key in missing})
            self.counts.update(count_null_rows(engine, missing))
        if not wanted:
            return drifts
        out: list[dict[str, Any]] = []
        for record in drifts:
            rows = self.counts.get(column_key(record)) if needs_null_count(record) else None
            out.append(record if rows is None else with_null_rows(record, rows))
        return out
