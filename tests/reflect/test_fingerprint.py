"""The catalog fingerprint: one query, stable while nothing changes, moved by any DDL."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from schema_lsp.reflect.fingerprint import fingerprint


def test_fingerprint_is_stable_and_follows_ddl(engine: Engine) -> None:
    metadata = sa.MetaData()
    sa.Table(
        "t", metadata, sa.Column("id", sa.Integer, primary_key=True), sa.Column("a", sa.Integer)
    )
    with engine.begin() as conn:
        metadata.create_all(conn)
    with engine.connect() as conn:
        first = fingerprint(conn)
        assert fingerprint(conn) == first
    changes = [
        "ALTER TABLE t ADD COLUMN b INTEGER",
        "CREATE INDEX ix_t_a ON t (a)",
        "CREATE TABLE u (id INTEGER PRIMARY KEY)",
    ]
    seen = {first}
    for ddl in changes:
        with engine.begin() as conn:
            conn.exec_driver_sql(ddl)
        with engine.connect() as conn:
            now = fingerprint(conn)
        assert now not in seen, f"the fingerprint did not move after {ddl}"
        seen.add(now)
