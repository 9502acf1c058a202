"""Shared fixtures: a real, empty database per test on each backend.

Use ``backend``/``db_url``/``engine`` in a test to run it on SQLite,
PostgreSQL and MariaDB; restrict with ``@pytest.mark.backends("postgresql")``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from databases import BACKENDS, extra_schema, fresh_database, make_engine
from sqlalchemy.engine import URL, Engine

pytest_plugins = ["pytester"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "backends(*names): run the test only on these backends "
        f"(any of {', '.join(BACKENDS)}); default is all of them",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``backend`` over the backends allowed by the ``backends`` marker."""
    if "backend" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        if "backend" in str(mark.args[0]).replace(" ", "").split(","):
            return  # the test pairs backends with its own cases
    marker = metafunc.definition.get_closest_marker("backends")
    selected: tuple[str, ...] = BACKENDS
    if marker is not None:
        unknown = [name for name in marker.args if name not in BACKENDS]
        if unknown or not marker.args:
            raise pytest.UsageError(
                f"@pytest.mark.backends{marker.args!r}: expected names from {BACKENDS}"
            )
        selected = tuple(name for name in BACKENDS if name in marker.args)
    metafunc.parametrize("backend", selected, ids=list(selected), indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The backend name of this test instance: "sqlite", "postgresql" or "mariadb"."""
    name: str = request.param
    return name


@pytest.fixture
def db_url(backend: str, tmp_path: Path) -> Iterator[URL]:
    """URL of a fresh, empty database, dropped after the test."""
    with fresh_database(backend, tmp_path) as url:
        yield url


@pytest.fixture
def engine(db_url: URL) -> Iterator[Engine]:
    """An engine on the fresh database, disposed before the database is dropped."""
    eng = make_engine(db_url)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def schema_name(db_url: URL) -> Iterator[str]:
    """Name of an extra schema usable from ``db_url`` (skips on SQLite)."""
    with extra_schema(db_url) as name:
        yield name


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A file-backed SQLite engine, for tests that need no server at all."""
    eng = sa.create_engine(URL.create("sqlite", database=str(tmp_path / "test.db")))
    try:
        yield eng
    finally:
        eng.dispose()
