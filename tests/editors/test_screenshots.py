"""The committed Neovim screenshots still show what Neovim shows.

Runs editors/nvim/scripts/screenshot.py in ``--check`` mode: it captures headless Neovim with
the plugin in tmux again and compares the text with the committed ``.ans`` capture (revision
ids, dates and temporary paths aside). A difference fails with the diff and the command that
makes the screenshots (.ans and .png) again.

Needs nvim and tmux: skipped without them, except under CI=true where that fails.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from databases import in_ci

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "editors" / "nvim" / "scripts" / "screenshot.py"
SHOTS = REPO / "editors" / "nvim" / "screenshots"


@pytest.fixture
def tools() -> None:
    missing = [tool for tool in ("nvim", "tmux") if shutil.which(tool) is None]
    if importlib.util.find_spec("schema_lsp.server.server") is None:
        missing.append("the schema-lsp server (schema_lsp.server.server)")
    if missing:
        reason = f"{', '.join(missing)} not installed (Debian: apt-get install -y neovim tmux)"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: the screenshot check must run)")
        pytest.skip(reason)


@pytest.mark.parametrize(
    "name, extra",
    [("shop-diagnostics", []), ("shop-preview", ["--preview"])],
    ids=["diagnostics", "preview"],
)
def test_screenshot_is_current(tools: None, name: str, extra: list[str]) -> None:
    png = SHOTS / f"{name}.png"
    assert png.is_file() and png.with_suffix(".ans").is_file(), f"{name}.png/.ans are committed"
    proc = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--python",
            sys.executable,
            "--check",
            "--out",
            str(png),
            *extra,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, f"{proc.stderr}\n{proc.stdout}"
    assert f"{name}.ans is current" in proc.stdout
