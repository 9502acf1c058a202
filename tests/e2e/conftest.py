"""Fixtures for end-to-end tests: a private copy of the example project per test."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import copy_example


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """The example project on its bundled (drifted) SQLite database."""
    return copy_example(tmp_path)
