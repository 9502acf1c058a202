"""A wrong password on MariaDB, through the language server: refused once, masked, and
recovered from when the configuration is fixed. The login user is the test's own."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import admin_connection
from lspkit import Probe, lsp
from lsprotocol import types
from report import Report, observed
from sqlalchemy.engine import URL, Engine

pytestmark = pytest.mark.backends("mariadb")

MODELS = "app_models.py"
MODEL_TEXT = '''import sqlalchemy as sa

metadata = sa.MetaData()
items = sa.Table("items", metadata, sa.Column("id", sa.Integer, primary_key=True))
extra = sa.Table("extra", metadata, sa.Column("id", sa.Integer, primary_key=True))
'''
PASSWORD = "right-horse-battery"


@pytest.fixture
def user(db_url: URL) -> Iterator[str]:
    name = f"slsp_{uuid.uuid4().hex[:10]}"
    with admin_connection("mariadb") as conn:
        conn.exec_driver_sql(f"CREATE USER '{name}'@'%%' IDENTIFIED BY '{PASSWORD}'")
        conn.exec_driver_sql(f"GRANT SELECT ON `{db_url.database}`.* TO '{name}'@'%%'")
    yield name
    with admin_connection("mariadb") as conn:
        conn.exec_driver_sql(f"DROP USER IF EXISTS '{name}'@'%%'")


def settings(url: URL) -> dict[str, object]:
    return {"databaseUrl": url.render_as_string(hide_password=False), "checkInterval": 0.5}


def healthy(probe: Probe) -> bool:
    ds = probe.diagnostics(MODELS)
    return any(d.code == "add_table" for d in ds) and not any("stale" in d.message for d in ds)


async def test_a_wrong_password_then_the_config_is_fixed(
    tmp_path: Path, db_url: URL, engine: Engine, user: str, hardening: Report
) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE items (id int PRIMARY KEY)")
    (tmp_path / MODELS).write_text(MODEL_TEXT, encoding="utf-8")
    (tmp_path / "pyproject.toml").write_text(
        '[tool.schema-lsp]\nmodels = ["app_models:metadata"]\n', encoding="utf-8"
    )
    wrong = "not-the-password"
    login = db_url.set(username=user, password=wrong)
    with observed(hardening, "reliability", "MariaDB: wrong password, then fixed") as case:
        async with lsp(tmp_path, settings=settings(login)) as probe:
            status = await probe.wait_status(lambda s: s["state"] == "unreachable", timeout=60)
            assert "refused the credentials" in status["message"], status
            assert user in status["message"] and wrong not in probe.all_text()
            warnings = [m for m in probe.client.messages if m.type == types.MessageType.Warning]
            assert len(warnings) == 1
            case.survived = probe.serving()
            fixed = settings(login.set(password=PASSWORD))
            started = time.monotonic()
            probe.client.set_configuration(fixed, section="schemaLsp")
            probe.client.workspace_did_change_configuration(
                types.DidChangeConfigurationParams(settings={"schemaLsp": fixed})
            )
            await probe.wait_for(lambda: healthy(probe), 60, "recovery")
            case.recover_s = time.monotonic() - started
            case.recovered = True
            case.note = status["message"][:70]
        assert case.survived
