"""Hardening suite: the report fixture, and the report printed at the end of the run."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import hardening, load, render_markdown, report_path

__all__ = ["hardening"]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    path = report_path(terminalreporter.config)
    if path.exists():
        terminalreporter.write_sep("-", f"hardening report ({path})")
        terminalreporter.write(render_markdown(load(path)))
