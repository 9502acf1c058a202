"""Fixtures for migration-script tests: a bare migrations folder and revision files."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from schema_lsp.script import ScriptConfig

RevisionFactory = Callable[..., Path]


@pytest.fixture
def script_config(tmp_path: Path) -> ScriptConfig:
    """A migrations folder with an empty ``versions/`` and no template of its own."""
    location = tmp_path / "migrations"
    (location / "versions").mkdir(parents=True)
    return ScriptConfig(script_location=location)


def revision_source(
    revision: str | None,
    down_revision: str | Sequence[str] | None = None,
    *,
    message: str = "",
    branch_labels: str | Sequence[str] | None = None,
    depends_on: str | Sequence[str] | None = None,
    body: str = "",
) -> str:
    """The text of a hand-written revision file in Alembic's usual layout."""
    lines = [f'"""{message or "rev " + str(revision)}\n\nRevision ID: {revision}\n"""']
    lines.append("from alembic import op")
    lines.append("import sqlalchemy as sa")
    lines.append(body)
    if revision is not None:
        lines.append(f"revision = {revision!r}")
    lines.append(f"down_revision = {down_revision!r}")
    lines.append(f"branch_labels = {branch_labels!r}")
    lines.append(f"depends_on = {depends_on!r}")
    lines.append("")
    lines.append("")
    lines.append("def upgrade():\n    pass")
    lines.append("")
    lines.append("")
    lines.append("def downgrade():\n    pass")
    return "\n".join(lines) + "\n"


@pytest.fixture
def add_revision(script_config: ScriptConfig) -> RevisionFactory:
    """Write a revision file into the versions folder and return its path."""

    def add(
        revision: str | None,
        down_revision: str | Sequence[str] | None = None,
        *,
        filename: str | None = None,
        **kwargs: object,
    ) -> Path:
        path = script_config.versions_dirs[0] / (filename or f"{revision}_rev.py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(revision_source(revision, down_revision, **kwargs))  # type: ignore[arg-type]
        return path

    return add


@pytest.fixture
def make_source() -> Callable[..., str]:
    """The :func:`revision_source` builder, for tests that place files themselves."""
    return revision_source
