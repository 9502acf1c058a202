"""End to end on PostgreSQL and MariaDB: the example's old schema in a fresh database.

The database is built by running the example's Alembic migrations, so the models have
drifted from it exactly as they have from the bundled SQLite file.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import lsp_session, migrate
from lsprotocol import types
from sqlalchemy.engine import URL

MODELS = "shop/models.py"


def line_of(root: Path, needle: str, after: str | None = None) -> int:
    lines = (root / MODELS).read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line) if after else 0
    return next(i for i in range(start, len(lines)) if needle in lines[i])


def codes(diagnostics: list[types.Diagnostic]) -> set[tuple[str, int]]:
    return {(str(d.code), d.range.start.line) for d in diagnostics}


@pytest.mark.backends("postgresql", "mariadb")
async def test_diagnostics_on_a_server_database(shop: Path, db_url: URL, backend: str) -> None:
    migrate(shop, db_url)
    url = db_url.render_as_string(hide_password=False)
    settings = {"databaseUrl": url, "checkInterval": 0.5}
    capabilities = "visual-studio-code" if backend == "postgresql" else "neovim"
    async with lsp_session(shop, capabilities=capabilities, settings=settings) as session:
        diagnostics = await session.wait_diagnostics(
            MODELS, lambda ds: any(d.code == "add_table" for d in ds), timeout=60
        )
        found = codes(diagnostics)
        assert ("add_column", line_of(shop, "email_verified:")) in found
        assert ("modify_type", line_of(shop, "name: Mapped[str]", "class Product")) in found
        assert ("add_table", line_of(shop, "class Review")) in found

        engine = sa.create_engine(db_url, poolclass=sa.pool.NullPool)
        try:
            # The database catches up with the models' VARCHAR(200).
            with engine.begin() as conn:
                if backend == "postgresql":
                    conn.exec_driver_sql("ALTER TABLE products ALTER COLUMN name TYPE VARCHAR(200)")
                else:
                    conn.exec_driver_sql("ALTER TABLE products MODIFY name VARCHAR(200) NOT NULL")
            await session.wait_diagnostics(
                MODELS, lambda ds: not any(d.code == "modify_type" for d in ds)
            )
            # Someone adds a column from outside: it shows up at the class header.
            with engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE products ADD COLUMN legacy_code VARCHAR(10)")
            after = await session.wait_diagnostics(
                MODELS, lambda ds: any((d.data or {}).get("name") == "legacy_code" for d in ds)
            )
            legacy = next(d for d in after if (d.data or {}).get("name") == "legacy_code")
            assert legacy.code == "remove_column"
            assert legacy.range.start.line == line_of(shop, "class Product")
        finally:
            engine.dispose()

        # A model edit is picked up on save against the same cached reflection.
        session.open(MODELS)
        text = (shop / MODELS).read_text()
        before = len(session.statuses)
        session.save(
            MODELS, text.replace("String(20), nullable=False", "String(40), nullable=False")
        )
        edited = await session.wait_diagnostics(
            MODELS,
            lambda ds: any(
                d.code == "modify_type" and (d.data or {}).get("table") == "orders" for d in ds
            ),
        )
        # The status bar count follows: some status after the save reports them all.
        await session.wait_status(
            lambda s: s["state"] == "connected" and s["driftCount"] >= len(edited), after=before
        )
