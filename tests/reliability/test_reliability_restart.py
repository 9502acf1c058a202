"""Whole-server faults on a private PostgreSQL or MariaDB instance (private_postgres.py,
private_mariadb.py): the server is stopped and started again mid-session, and a login is
refused for a wrong password until the configuration is fixed. The shared servers are
never touched.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from databases import skip_or_fail
from lspkit import APP_MODEL_TEXT, APP_MODELS, Probe, lsp
from lsprotocol import types
from private_mariadb import PrivateMariaDB, mariadb_binaries
from private_postgres import PASSWORD, PrivatePostgres, postgres_bin
from report import Report, observed
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

MODELS, MODEL_TEXT = APP_MODELS, APP_MODEL_TEXT


Private = PrivatePostgres | PrivateMariaDB


def private_server(backend: str) -> Private:
    if backend == "postgresql":
        bindir = postgres_bin()
        if bindir is None:
            skip_or_fail("PostgreSQL's initdb/pg_ctl are not installed")
        return PrivatePostgres(bindir)
    binaries = mariadb_binaries()
    if binaries is None:
        skip_or_fail("MariaDB's mariadb-install-db/mariadbd are not installed")
    return PrivateMariaDB(binaries)


@pytest.fixture
def server(backend: str) -> Iterator[Private]:
    instance = private_server(backend)
    try:
        instance.init()
        instance.start()
        engine = sa.create_engine(instance.url(), poolclass=NullPool)
        with engine.begin() as conn:
            if backend == "mariadb":
                conn.exec_driver_sql("CREATE DATABASE app")
                conn.exec_driver_sql("CREATE TABLE app.items (id int PRIMARY KEY, "
                                     "name varchar(50))")
            else:
                conn.exec_driver_sql("CREATE TABLE items (id serial PRIMARY KEY, "
                                     "name varchar(50))")
        engine.dispose()
        yield instance
    finally:
        instance.close()


def app_url(server: Private, **kw: str) -> URL:
    return server.url("app", **kw) if isinstance(server, PrivateMariaDB) else server.url(**kw)


@pytest.fixture
def project(app_project: Path) -> Path:
    return app_project


def settings(url: URL) -> dict[str, object]:
    return {"databaseUrl": url.render_as_string(hide_password=False), "checkInterval": 0.5}


def healthy(probe: Probe) -> bool:
    ds = probe.diagnostics(MODELS)
    return any(d.code == "add_table" for d in ds) and not any("stale" in d.message for d in ds)


def all_stale(probe: Probe) -> bool:
    ds = probe.diagnostics(MODELS)
    return bool(ds) and all("(stale: database unreachable)" in d.message for d in ds)


def shown(probe: Probe, kind: types.MessageType) -> list[str]:
    return [m.message for m in probe.client.messages if m.type == kind]


@pytest.mark.backends("postgresql", "mariadb")
async def test_the_database_server_stops_and_starts_again(
    project: Path, server: Private, backend: str, hardening: Report
) -> None:
    label = {"postgresql": "PostgreSQL", "mariadb": "MariaDB"}[backend]
    with observed(hardening, "reliability", f"{label}: server stopped, then started") as case:
        async with lsp(project, settings=settings(app_url(server))) as probe:
            await probe.wait_for(lambda: healthy(probe), 60, "the first check")
            before = len(probe.statuses)
            server.stop()
            # The next periodic check fails: diagnostics kept, marked stale, one warning.
            await probe.wait_for(lambda: all_stale(probe), 30, "stale diagnostics")
            status = await probe.wait_status(lambda s: s["state"] == "stale", after=before)
            assert "Cannot reach the database" in status["message"], status
            assert PASSWORD not in status["message"]
            # Keep failing for a while (the retries back off): still said once.
            await probe.wait_for(
                lambda: sum(s["state"] == "stale" for s in probe.statuses[before:]) >= 3,
                30, "three failed checks",
            )
            assert len(shown(probe, types.MessageType.Warning)) == 1
            case.survived = probe.serving()
            server.start()
            case.recover_s = await probe.wait_for(lambda: healthy(probe), 60, "recovery")
            case.recovered = True
            assert any("reachable again" in m for m in shown(probe, types.MessageType.Info))
            # A periodic check may be running by now: wait for it to end connected.
            await probe.wait_for(
                lambda: probe.statuses[-1]["state"] == "connected", 30, "a connected status"
            )
            assert len(shown(probe, types.MessageType.Warning)) == 1
            case.note = f"while stopped: '{status['message'][:60]}'"
        assert case.survived


@pytest.mark.backends("postgresql")
async def test_a_wrong_password_then_the_config_is_fixed(
    project: Path, server: PrivatePostgres, hardening: Report
) -> None:
    wrong = "not-the-password"
    with observed(hardening, "reliability", "PostgreSQL: wrong password, then fixed") as case:
        async with lsp(project, settings=settings(server.url(password=wrong))) as probe:
            status = await probe.wait_status(lambda s: s["state"] == "unreachable", timeout=60)
            assert "refused the credentials" in status["message"], status
            assert wrong not in status["message"] and "***" in status["message"]
            assert not probe.diagnostics(MODELS)
            (warning,) = shown(probe, types.MessageType.Warning)
            assert wrong not in warning and wrong not in probe.all_text()
            case.survived = probe.serving()
            fixed = settings(server.url())
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
