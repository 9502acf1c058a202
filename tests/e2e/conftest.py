"""Fixtures for end-to-end tests: a private copy of the example project per test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from harness import copy_example
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The example project on its bundled (drifted) SQLite database."""
    return copy_example(tmp_path)


def migrate(project: Path, url: URL) -> None:
    """Build the example's old schema in ``url`` by running its migrations with Alembic.

    Runs in a subprocess so the example's modules never enter the test process.
    """
    ini = project / "alembic.ini"
    rendered = url.render_as_string(hide_password=False).replace("%", "%%")
    text = "\n".join(
        f"sqlalchemy.url = {rendered}" if line.startswith("sqlalchemy.url") else line
        for line in ini.read_text().splitlines()
    )
    ini.write_text(text + "\n")
    # The example's first migration writes a boolean default as the integer 1, which
    # PostgreSQL rejects; spell it portably in this private copy.
    first = project / "migrations" / "versions" / "0001_users_and_products.py"
    first.write_text(
        first.read_text().replace(
            'sa.Boolean(), server_default=sa.text("1")', "sa.Boolean(), server_default=sa.true()"
        )
    )
    done = subprocess.run(
        [sys.executable, "-c", "from alembic.config import main; main()", "upgrade", "head"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"building the old schema failed:\n{done.stderr[-3000:]}"
    # the users without a name that examples/shop/build_db.py puts into shop.db
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text("INSERT INTO users (id, email, name) VALUES (:id, :email, NULL)"),
                [{"id": i, "email": f"customer{i}@example.com"} for i in (1, 2, 3)],
            )
    finally:
        engine.dispose()
