"""Hardening suite: the report fixture, and the report printed at the end of the run."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from lspkit import APP_MODEL_TEXT, APP_MODELS
from netproxy import TcpProxy
from report import hardening, load, render_markdown, report_path
from sqlalchemy.engine import URL

__all__ = ["hardening"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    path = report_path(terminalreporter.config)
    if path.exists():
        terminalreporter.write_sep("-", f"hardening report ({path})")
        terminalreporter.write(render_markdown(load(path)))


# -- a project on a private database of the shared PostgreSQL, behind a TCP proxy ------------

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}


@pytest.fixture
def proxy(db_url: URL) -> Iterator[TcpProxy]:
    """A proxy in front of the test's database server (slowed or paused by the test)."""
    assert db_url.host, "the proxy needs a server database"
    port = db_url.port or DEFAULT_PORTS[db_url.get_backend_name()]
    with TcpProxy(db_url.host, port) as running:
        yield running


@pytest.fixture
def proxied_url(db_url: URL, proxy: TcpProxy) -> URL:
    """The test's database, reached through :func:`proxy`."""
    return db_url.set(host=proxy.host, port=proxy.port)


@pytest.fixture
def app_project(tmp_path: Path) -> Path:
    """A workspace whose models are lspkit's two-table ``app_models`` (no database URL:
    the test passes it in the settings)."""
    root = tmp_path / "proxied-project"
    root.mkdir()
    (root / APP_MODELS).write_text(APP_MODEL_TEXT, encoding="utf-8")
    (root / "pyproject.toml").write_text(
        '[tool.schema-lsp]\nmodels = ["app_models:metadata"]\n', encoding="utf-8"
    )
    return root
