"""Credentials never leave the process, and migration files are parsed, never imported.

Each failure case uses a URL whose password is a distinctive random string; it must appear
nowhere: CLI stdout/stderr, and every message the language server sends (diagnostics,
showMessage, logMessage, schemaLsp/status, anything else), its stderr and its
``--log-file``.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from databases import unavailable_reason
from lspkit import MODELS, REPO, copy_example, start_probe, stop_probe
from lsprotocol import types
from report import Report, observed

SECRET = f"Pw{uuid.uuid4().hex[:16]}Zq"
PG = "127.0.0.1:5432"


def failure_urls() -> dict[str, str]:
    cases = {
        "unreachable port": f"postgresql+psycopg://app:{SECRET}@127.0.0.1:1/app",
        "unknown role": f"postgresql+psycopg://nobody_{uuid.uuid4().hex[:6]}:{SECRET}@{PG}/test",
        "missing database": f"postgresql+psycopg://postgres:{SECRET}@{PG}/nope_{uuid.uuid4().hex[:6]}",
        "bad driver": f"postgresql+nosuchdriver://app:{SECRET}@127.0.0.1/app",
        "bad port in URL": f"postgresql+psycopg://app:{SECRET}@127.0.0.1:notaport/app",
        "malformed URL": f"postgresql+psycopg//app:{SECRET}@127.0.0.1/app",
    }
    if unavailable_reason("mariadb") is None:  # root has no password: any password is wrong
        cases["wrong password"] = f"mysql+pymysql://root:{SECRET}@127.0.0.1:3306/test"
    return cases


BROKEN_MODEL = "import sqlalchemy as sa\nmetadata = sa.MetaData()\nraise RuntimeError('boom')\n"
GOOD_MODEL = (
    "import sqlalchemy as sa\nmetadata = sa.MetaData()\n"
    "sa.Table('t', metadata, sa.Column('id', sa.Integer, primary_key=True))\n"
)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schema_lsp", *args],
        capture_output=True, text=True, timeout=60, cwd=cwd,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "DATABASE_URL": ""},
    )


UNPARSABLE = ("bad port in URL", "malformed URL")


def test_cli_diff_explains_an_unparsable_url(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD_MODEL, encoding="utf-8")
    urls = failure_urls()
    for name in UNPARSABLE:
        done = run_cli("diff", "--project", str(tmp_path), "--models", "good:metadata",
                       "--db", urls[name], cwd=tmp_path)
        assert SECRET not in done.stdout + done.stderr
        assert done.returncode == 2 and "Traceback" not in done.stderr, (name, done.stderr)


def test_cli_failures_never_show_the_password(tmp_path: Path, hardening: Report) -> None:
    (tmp_path / "good.py").write_text(GOOD_MODEL, encoding="utf-8")
    (tmp_path / "broken.py").write_text(BROKEN_MODEL, encoding="utf-8")
    cases = {name: ("good:metadata", url) for name, url in failure_urls().items()}
    cases["broken model"] = ("broken:metadata", f"postgresql+psycopg://postgres:{SECRET}@{PG}/test")
    title = f"CLI: {len(cases)} failure cases x check/diff, password never printed"
    with observed(hardening, "security", title) as case:
        runs = leaks = 0
        for name, (models, url) in cases.items():
            commands = ("check",) if name in UNPARSABLE else ("check", "diff")
            for command in commands:
                done = run_cli(command, "--project", str(tmp_path), "--models", models,
                               "--db", url, cwd=tmp_path)
                runs += 1
                leaks += SECRET in done.stdout + done.stderr
                case.note = f"{runs} runs, password printed in {leaks}"
                assert done.returncode == 2, (name, command, done.stdout, done.stderr)
                assert done.stderr.strip(), (name, command)
                assert SECRET not in done.stdout + done.stderr, (name, command, done.stderr)
        case.survived = leaks == 0


async def test_server_failures_never_send_or_log_the_password(
    tmp_path: Path, hardening: Report
) -> None:
    shop = copy_example(tmp_path)
    log = tmp_path / "server.log"
    cases = failure_urls()
    seen: list[str] = []
    title = f"LSP: {len(cases) + 1} failure cases, password never sent or logged"
    with observed(hardening, "security", title) as case:
        probe = await start_probe(shop, settings={"checkInterval": 0.5}, log_file=log)
        try:
            await probe.wait_diagnostics(
                lambda ds: any(d.code == "add_table" for d in ds), timeout=60
            )
            for name, url in cases.items():
                settings = {"checkInterval": 0.5, "databaseUrl": url}
                before = len(probe.statuses)
                probe.client.set_configuration(settings, section="schemaLsp")
                probe.client.workspace_did_change_configuration(
                    types.DidChangeConfigurationParams(settings={"schemaLsp": settings})
                )
                status = await probe.wait_status(
                    lambda s: s["state"] in ("unreachable", "stale", "error"), after=before
                )
                seen.append(f"{name}: {status['message']}")
            # A model that fails to import, with a password in the (working) URL.
            settings = {"checkInterval": 0.5, "databaseUrl": f"sqlite:///shop.db?x={SECRET}"}
            probe.client.set_configuration(settings, section="schemaLsp")
            probe.client.workspace_did_change_configuration(
                types.DidChangeConfigurationParams(settings={"schemaLsp": settings})
            )
            good = (shop / MODELS).read_text(encoding="utf-8")
            probe.save(
                MODELS, good.replace("class Base(", "raise RuntimeError('boom')\nclass Base(")
            )
            await probe.wait_diagnostics(lambda ds: any(d.code == "model-error" for d in ds))
        finally:
            await stop_probe(probe)
        process = probe.client._server
        assert process is not None and process.stderr is not None
        stderr = (await asyncio.wait_for(process.stderr.read(), 10)).decode(errors="replace")
        logged = log.read_text(encoding="utf-8")
        traffic = probe.all_text()
        leaked = [
            where
            for where, text in (("LSP traffic", traffic), ("stderr", stderr), ("log file", logged))
            if SECRET in text
        ]
        case.survived = not leaked and len(seen) == len(cases)
        case.note = (
            f"{len(probe.traffic)} messages, stderr and the log file checked; "
            f"leaked into: {', '.join(leaked) or 'none'}"
        )
    assert len(seen) == len(cases)
    assert "window/showMessage" in probe.methods and "window/logMessage" in probe.methods
    assert "Cannot reach the database" in traffic, "the failures must have been reported"
    assert not leaked, f"the password leaked into the {', '.join(leaked)}"


MARKER_REVISION = '''"""writes a marker when imported

Revision ID: 0003
Revises: 0002
"""
import pathlib

pathlib.Path({marker!r}).write_text("imported")

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
'''


async def test_migration_files_are_parsed_never_imported(
    tmp_path: Path, hardening: Report
) -> None:
    shop = copy_example(tmp_path)
    marker = tmp_path / "IMPORTED"
    revision = shop / "migrations" / "versions" / "0003_marker.py"
    revision.write_text(MARKER_REVISION.format(marker=str(marker)), encoding="utf-8")
    title = ("migration file with an import-time side effect: never run by "
             "check/diff/revision or the server")
    with observed(hardening, "security", title) as case:
        outputs = []
        for args in (("check",), ("diff",), ("revision", "-m", "next", "--autogenerate"),
                     ("revision", "-m", "empty")):
            done = run_cli(*args, "--project", str(shop), cwd=shop)
            outputs.append((args, done.returncode, done.stderr[-300:]))
            assert done.returncode in (0, 1, 2), outputs
            assert not marker.exists(), f"schema-lsp {' '.join(args)} imported a migration file"
        probe = await start_probe(shop, settings={"checkInterval": 0.5})
        try:
            await probe.wait_diagnostics(
                lambda ds: any(d.code == "add_table" for d in ds), timeout=60
            )
            relative = str(revision.relative_to(shop))
            probe.open(relative)
            before = len(probe.statuses)
            probe.save(relative, revision.read_text(encoding="utf-8") + "\n# edited\n")
            probe.client.workspace_execute_command(
                types.ExecuteCommandParams(command="schemaLsp.check", arguments=[shop.as_uri()])
            )
            await probe.wait_status(lambda s: s["state"] == "connected", after=before)
        finally:
            await stop_probe(probe)
        assert not marker.exists(), "the language server imported a migration file"
        # The marker works: importing the file does write it.
        subprocess.run([sys.executable, str(revision)], check=False, timeout=30,
                       capture_output=True)
        case.survived = marker.exists()
        case.note = f"{len(outputs)} CLI commands and a server session; the marker works"
    assert case.survived, "running the revision file did not write the marker"


@pytest.fixture(autouse=True)
def _no_leftover_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)


def test_serve_accepts_its_options(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    done = subprocess.run(
        [sys.executable, "-m", "schema_lsp", "serve", "--log-file", str(log)],
        input="", capture_output=True, text=True, timeout=30,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert "unrecognized arguments" not in done.stderr and done.returncode == 0, done.stderr
