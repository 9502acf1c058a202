"""Database trouble on PostgreSQL, through the language server: a lock held by another
session, a role over its connection limit, a role that doesn't exist yet, the schema
changing under the server. Each case: the server keeps serving, reports the problem once,
and recovers by itself when the cause goes away (time to recover recorded).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from databases import admin_connection, make_engine
from lspkit import APP_MODEL_TEXT, APP_MODELS, Probe, lsp
from lsprotocol import types
from report import Report, observed
from sqlalchemy.engine import URL, Engine

pytestmark = pytest.mark.backends("postgresql")

MODELS, MODEL_TEXT = APP_MODELS, APP_MODEL_TEXT


@pytest.fixture
def project(app_project: Path, engine: Engine) -> Path:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE items (id serial PRIMARY KEY, name varchar(50))")
    return app_project


@pytest.fixture
def role(db_url: URL) -> Iterator[str]:
    name = f"schema_lsp_r_{uuid.uuid4().hex[:10]}"
    yield name
    with admin_connection("postgresql") as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %(r)s",
            {"r": name},
        )
        conn.exec_driver_sql(f"DROP ROLE IF EXISTS {name}")


def settings(url: URL) -> dict[str, object]:
    return {"databaseUrl": url.render_as_string(hide_password=False), "checkInterval": 0.5}


def healthy(probe: Probe) -> bool:
    ds = probe.diagnostics(MODELS)
    return any(d.code == "add_table" for d in ds) and not any("stale" in d.message for d in ds)


def saved_outcome(statuses: list[dict[str, object]]) -> dict[str, object] | None:
    """The status that reports the outcome of the check a save started (None: not yet).
    Not simply the last one: with a 0.5 s interval a periodic check may follow at once."""
    started = next(
        (i for i, s in enumerate(statuses)
         if s["state"] == "checking" and "saved" in str(s["message"])),
        None,
    )
    if started is None:
        return None
    return next((s for s in statuses[started:] if s["state"] != "checking"), None)


def checked_since(statuses: list[dict[str, object]]) -> bool:
    """A check triggered by a save started, and a later status reports its outcome."""
    return saved_outcome(statuses) is not None


def warnings(probe: Probe) -> list[str]:
    return [m.message for m in probe.client.messages if m.type == types.MessageType.Warning]


LOCKS = {
    # name -> (statements run in the other session's open transaction, whether they block
    # the catalog reads of a check)
    # MVCC: the check reads the committed catalog and sees none of the uncommitted DDL.
    "ACCESS EXCLUSIVE lock on the table + uncommitted DDL": ((
        "LOCK TABLE items IN ACCESS EXCLUSIVE MODE",
        "ALTER TABLE items ADD COLUMN during_migration int",
        "CREATE TABLE extra (id serial PRIMARY KEY)",
    ), False),
    # Catalog reads take no lock on user tables; this one blocks them for real.
    "ACCESS EXCLUSIVE lock on pg_catalog.pg_attribute": ((
        "LOCK TABLE pg_catalog.pg_attribute IN ACCESS EXCLUSIVE MODE",
    ), True),
}


@pytest.mark.parametrize("lock", list(LOCKS))
async def test_a_lock_held_by_another_session_times_out_and_recovers(
    lock: str, project: Path, db_url: URL, engine: Engine, hardening: Report
) -> None:
    statements, blocks = LOCKS[lock]
    with observed(hardening, "reliability", f"PostgreSQL: {lock} during a check") as case:
        async with lsp(project, settings=settings(db_url)) as probe:
            await probe.wait_for(lambda: healthy(probe), 60, "the first check")
            locker = make_engine(db_url)
            conn = locker.connect()
            try:
                for statement in statements:
                    conn.exec_driver_sql(statement)
                before = len(probe.statuses)
                start = time.monotonic()
                probe.save(MODELS, MODEL_TEXT + "\n")
                # The check ends (result or timeout), it does not hang on the lock.
                await probe.wait_for(
                    lambda: checked_since(probe.statuses[before:]), 40, "the saved check to end"
                )
                blocked_for = time.monotonic() - start
                status = saved_outcome(probe.statuses[before:])
                assert status is not None
                shown = probe.diagnostics(MODELS)
            finally:
                conn.rollback()
                conn.close()
                locker.dispose()
            case.survived = probe.serving()
            case.note = f"check ended after {blocked_for:.1f} s as {status['state']}"
            if blocks:
                assert status["state"] == "stale", status
                assert "did not answer in time" in status["message"], status
                assert shown and all("(stale: database unreachable)" in d.message for d in shown)
                assert len(warnings(probe)) == 1, warnings(probe)
            else:
                assert status["state"] == "connected" and not warnings(probe), status
                assert healthy(probe)  # "extra" is still missing: its CREATE is uncommitted
                assert not any("during_migration" in d.message for d in shown), shown
            case.recover_s = await probe.wait_for(
                lambda: healthy(probe) and probe.statuses[-1]["state"] == "connected",
                60, "recovery after the lock",
            )
            case.recovered = True
            assert len(warnings(probe)) == int(blocks)
    assert blocked_for < 15, "the check waited on the lock far beyond lock_timeout"
    assert case.survived


async def test_a_role_over_its_connection_limit_then_allowed(
    project: Path, db_url: URL, role: str, hardening: Report
) -> None:
    with admin_connection("postgresql") as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0")
    async with lsp(project, settings=settings(db_url.set(username=role))) as probe:
        status = await probe.wait_status(
            lambda s: s["state"] in ("unreachable", "stale", "error"), timeout=60
        )
        assert "too many connections" in status["message"].lower(), status
        assert "no connection to spare" in status["message"], status
        with observed(hardening, "reliability", "PostgreSQL: too many connections for the "
                      "role") as case:
            case.survived = probe.serving()
            case.note = status["message"][:80]
            with admin_connection("postgresql") as conn:
                conn.exec_driver_sql(f"ALTER ROLE {role} CONNECTION LIMIT -1")
            case.recover_s = await probe.wait_for(lambda: healthy(probe), 60, "recovery")
            case.recovered = True
        assert len(warnings(probe)) == 1, warnings(probe)


async def test_a_role_that_does_not_exist_yet(
    project: Path, db_url: URL, role: str, hardening: Report
) -> None:
    async with lsp(project, settings=settings(db_url.set(username=role))) as probe:
        status = await probe.wait_status(
            lambda s: s["state"] in ("unreachable", "stale", "error"), timeout=60
        )
        assert role in status["message"]
        with observed(hardening, "reliability", "PostgreSQL: login role missing, then "
                      "created") as case:
            case.survived = probe.serving()
            case.note = status["message"][:80]
            with admin_connection("postgresql") as conn:
                conn.exec_driver_sql(f"CREATE ROLE {role} LOGIN")
            case.recover_s = await probe.wait_for(lambda: healthy(probe), 60, "recovery")
            case.recovered = True


async def test_the_schema_changing_under_the_server_converges(
    project: Path, db_url: URL, engine: Engine, hardening: Report
) -> None:
    """DDL racing the checks; here the last change lands after the checks it raced have
    settled (test_ddl_committed_while_the_worker_reflects_is_not_lost covers the race)."""
    async with lsp(project, settings=settings(db_url)) as probe:
        await probe.wait_for(lambda: healthy(probe), 60, "the first check")
        start = time.monotonic()
        probe.save(MODELS, MODEL_TEXT + "\n")
        for n in range(10):  # DDL racing the check the save started
            with engine.begin() as conn:
                conn.exec_driver_sql(f"ALTER TABLE items ADD COLUMN c{n} int")
            await asyncio.sleep(0)
        before = len(probe.statuses)
        await probe.wait_status(lambda s: s["state"] == "connected", after=before, timeout=30)
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE items ADD COLUMN c10 int")
        await probe.wait_for(
            lambda: sum(d.code == "remove_column" for d in probe.diagnostics(MODELS)) == 11,
            60, "the final schema's drift",
        )
        took = time.monotonic() - start
        with observed(hardening, "reliability", "PostgreSQL: 11 ALTER TABLE during checks") as case:
            case.survived, case.recovered, case.recover_s = probe.serving(), True, took


def test_ddl_committed_while_the_worker_reflects_is_not_lost(
    db_url: URL, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import schema_lsp.reflect as reflect
    from schema_lsp.server.worker.main import WarmState
    from schema_lsp.server.worker.protocol import CheckRequest

    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE items (id serial PRIMARY KEY)")
    real = reflect.reflect_schema
    raced: list[bool] = []

    def reflect_then_race(*args: object, **kwargs: object) -> object:
        result = real(*args, **kwargs)  # type: ignore[arg-type]
        if not raced:
            raced.append(True)
            with engine.begin() as other:  # another session commits DDL meanwhile
                other.exec_driver_sql("ALTER TABLE items ADD COLUMN late int")
        return result

    monkeypatch.setattr(reflect, "reflect_schema", reflect_then_race)
    state = WarmState(out_fd=-1)
    request = CheckRequest(id=1, root=".", models=[], database_url=db_url.render_as_string(
        hide_password=False))
    try:
        assert state.refresh_reflection(request) is True
        assert raced
        # The catalog moved after it was read: the next check must read it again.
        assert state.refresh_reflection(request) is True
    finally:
        state.dispose()


async def test_a_missing_role_is_not_called_a_missing_database(
    project: Path, db_url: URL, role: str
) -> None:
    async with lsp(project, settings=settings(db_url.set(username=role))) as probe:
        status = await probe.wait_status(
            lambda s: s["state"] in ("unreachable", "stale", "error"), timeout=60
        )
    assert "database at" not in status["message"], status
    assert "no such role" in status["message"] and role in status["message"], status
