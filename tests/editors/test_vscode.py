"""The VS Code extension's own checks, run from the project's test command.

Installs editors/vscode's npm dependencies (``npm ci``, skipped while node_modules matches
package-lock.json), exports the server's settings for the settings test, builds (tsc + esbuild),
runs the extension's unit tests (node's test runner), packages the .vsix with vsce (offline),
and runs the protocol smoke test, which drives ``schema-lsp serve`` over stdio against
examples/shop. A failing step fails with the tool's output.

Needs node >= 20 and npm: skipped without them, except under CI=true where that fails.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from databases import in_ci

REPO = Path(__file__).resolve().parents[2]
VSCODE = REPO / "editors" / "vscode"
NODE_MODULES = VSCODE / "node_modules"
STAMP = NODE_MODULES / ".schema-lsp-install-stamp"
"""Written after a successful ``npm ci``: the hash of what it installed from."""

MIN_NODE = 20
OUTPUT_TAIL = 12000


def _require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        reason = f"{tool} is not installed: the VS Code extension is not built or tested"
        if in_ci():
            pytest.fail(f"{reason} (CI=true: install node >= {MIN_NODE} and npm)")
        pytest.skip(f"{reason} (install node >= {MIN_NODE} and npm to run it)")
    return path


def run_step(name: str, cmd: list[str], timeout: float, **env: str) -> str:
    """Runs one step in editors/vscode; fails the test with its output when it fails."""
    try:
        proc = subprocess.run(
            cmd,
            cwd=VSCODE,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        output = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout
        pytest.fail(f"{name} timed out after {timeout:.0f} s: {' '.join(cmd)}\n{output or ''}")
    output = f"{proc.stdout}\n{proc.stderr}".strip()
    if proc.returncode != 0:
        pytest.fail(
            f"{name} failed (exit {proc.returncode}) in editors/vscode: {' '.join(cmd)}\n"
            f"{output[-OUTPUT_TAIL:]}",
            pytrace=False,
        )
    return output


def install_hash() -> str:
    """What ``npm ci`` installs from: the lock file and the dependencies in package.json."""
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    deps = {k: manifest.get(k) for k in ("dependencies", "devDependencies", "engines")}
    digest = hashlib.sha256((VSCODE / "package-lock.json").read_bytes())
    digest.update(json.dumps(deps, sort_keys=True).encode())
    return digest.hexdigest()


def declared_tests(*files: Path) -> int:
    """How many top-level ``test(...)`` the TypeScript test files declare."""
    return sum(len(re.findall(r"^test\(", f.read_text(encoding="utf-8"), re.M)) for f in files)


def tap_summary(output: str) -> dict[str, int]:
    """The closing counts of node's test runner (``# pass 28``, ``# fail 0``, ...)."""
    counts = {
        m.group(1): int(m.group(2))
        for m in re.finditer(r"^# (tests|pass|fail|cancelled|skipped|todo) (\d+)$", output, re.M)
    }
    if "pass" not in counts or "fail" not in counts:
        pytest.fail(f"no test summary in node's output:\n{output[-OUTPUT_TAIL:]}", pytrace=False)
    return counts


@pytest.fixture(scope="module")
def npm() -> str:
    node = _require("node")
    npm = _require("npm")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    match = re.match(r"v(\d+)\.", version)
    if match is None or int(match.group(1)) < MIN_NODE:
        pytest.fail(f"node {version} is too old for editors/vscode: install node >= {MIN_NODE}")
    return npm


@pytest.fixture(scope="module")
def built(npm: str) -> Path:
    """editors/vscode with its dependencies installed and the extension compiled and bundled."""
    wanted = install_hash()
    if not STAMP.is_file() or STAMP.read_text(encoding="utf-8").strip() != wanted:
        run_step("npm ci", [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], 600)
        STAMP.write_text(wanted + "\n", encoding="utf-8")
    run_step(
        "exporting the server's settings",
        [sys.executable, "scripts/server_settings.py", "out/server-settings.json"],
        60,
    )
    run_step("build (tsc + esbuild)", [npm, "run", "--silent", "build"], 300)
    return VSCODE


def test_unit_tests(npm: str, built: Path) -> None:
    """Interpreter choice, settings mapping (against the server's keys), status, manifest."""
    counts = tap_summary(run_step("unit tests (node --test)", [npm, "test", "--silent"], 300))
    assert counts["fail"] == 0
    declared = declared_tests(*(built / "test").glob("*.test.ts"))
    assert declared > 0 and counts["pass"] == declared, (declared, counts)
    assert counts.get("skipped", 0) == 0 and counts.get("todo", 0) == 0, counts


def test_vsix_packages_the_bundle_and_manifest(npm: str, built: Path) -> None:
    vsix = built / "schema-lsp.vsix"
    vsix.unlink(missing_ok=True)
    run_step("packaging (vsce)", [npm, "run", "--silent", "package"], 300)
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        packaged = json.loads(archive.read("extension/package.json"))
    for needed in ("extension/package.json", "extension/dist/extension.js", "extension/readme.md"):
        assert needed in names, sorted(names)
    assert not [n for n in names if "node_modules" in n or n.startswith("extension/src/")], names
    source = json.loads((built / "package.json").read_text(encoding="utf-8"))
    assert packaged["contributes"] == source["contributes"]
    assert packaged["main"] == "./dist/extension.js"


def test_protocol_smoke_against_the_example(npm: str, built: Path) -> None:
    """``schema-lsp serve`` driven from Node: drift diagnostics, status, commands, quick fix."""
    output = run_step(
        "protocol smoke test",
        [npm, "run", "--silent", "smoke"],
        300,
        SCHEMA_LSP_PYTHON=sys.executable,
        SCHEMA_LSP_REQUIRE_SERVER="1",
    )
    counts = tap_summary(output)
    assert counts["fail"] == 0
    assert counts.get("skipped", 0) == 0 and counts.get("todo", 0) == 0, output[-OUTPUT_TAIL:]
    declared = declared_tests(built / "test-smoke" / "smoke.ts")
    assert declared > 0 and counts["pass"] == declared, (declared, counts)
    diagnostics = re.search(r"^#\s+(?:\\?#\s+)?(\d+) diagnostics: (.*)$", output, re.M)
    assert diagnostics, output[-OUTPUT_TAIL:]
    assert int(diagnostics.group(1)) > 0
