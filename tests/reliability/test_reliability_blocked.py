"""A check blocked on the database never blocks the editor (issue #4), and a database that
goes away in the middle of reading the catalog is reported once, with the diagnostics kept
and marked stale, and recovered from when it is back.

A TCP proxy (tests/netproxy.py) sits between the worker and PostgreSQL and holds the bytes;
its counters prove the worker's query was sent after the pause and is waiting, so the
check is in flight while the editor's requests are answered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from databases import skip_or_fail
from lspkit import APP_MODEL_TEXT, APP_MODELS, lsp
from lsprotocol import types
from netproxy import TcpProxy
from private_postgres import PrivatePostgres, postgres_bin
from report import Report, observed
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool
from test_reliability_slow import (
    DDL,
    EXPECTED,
    PROMPT_S,
    checking,
    drift,
    editor_requests,
    latencies,
    settings,
    settled,
    stale,
    wait_traffic,
    warnings,
)

pytestmark = pytest.mark.backends("postgresql")

MODELS = APP_MODELS
#: The models gain items.price: the check blocked on the database would report it.
WITH_PRICE = APP_MODEL_TEXT.replace(
    'sa.Column("name", sa.String(50)),',
    'sa.Column("name", sa.String(50)),\n    sa.Column("price", sa.Integer),',
)
#: Only SQLAlchemy's column reflection query says this (the fingerprint does not).
REFLECTING_COLUMNS = b"pg_catalog.format_type("


async def test_editor_requests_are_answered_while_a_check_is_blocked_on_the_database(
    app_project: Path, engine: Engine, proxy: TcpProxy, proxied_url: URL, hardening: Report
) -> None:
    assert WITH_PRICE != APP_MODEL_TEXT
    with engine.begin() as conn:
        conn.exec_driver_sql(DDL)
    name = "PostgreSQL: editor requests while a check is blocked on the database (issue #4)"
    with observed(hardening, "reliability", name) as case:
        async with lsp(app_project, settings=settings(proxied_url)) as probe:
            await probe.wait_for(lambda: settled(probe, EXPECTED), 90, "the first check")
            at_pause = proxy.pause()
            before, published = len(probe.statuses), len(probe.published)
            probe.save(MODELS, WITH_PRICE)
            # In flight: the worker's query reached the proxy after the pause, and waits.
            blocked = await wait_traffic(proxy, lambda t: t.held_up > 0, 15)
            await probe.wait_status(lambda s: s["state"] == "checking", after=before)
            rounds = [await editor_requests(probe) for _ in range(3)]
            now = proxy.traffic()
            assert now.sent_up == at_pause.sent_up and now.held_up >= blocked.held_up, now
            assert checking(probe) and len(probe.published) == published, "not blocked"
            for answers in rounds:
                assert max(t for _, t in answers.values()) < PROMPT_S, latencies(answers)
                hover, _ = answers["hover"]
                assert hover is not None and "schema-lsp" in str(hover.contents), hover
                assert answers["codeAction"][0] and answers["codeLens"][0] is not None
            case.survived = probe.serving()
            held_for = time.monotonic()
            proxy.resume()
            await probe.wait_for(
                lambda: settled(probe, {*EXPECTED, ("add_column", "items.price")}),
                30,
                "the blocked check's diagnostics",
            )
            case.recover_s = time.monotonic() - held_for
            case.recovered = True
            slowest = max(t for answers in rounds for _, t in answers.values())
            case.note = (
                f"{3 * len(rounds[0])} requests answered while {blocked.held_up} "
                f"query bytes were held; slowest {slowest * 1000:.0f} ms"
            )
            assert not warnings(probe), warnings(probe)
        assert case.survived


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    """A private cluster with the drifted ``items`` table (it is stopped by the test)."""
    bindir = postgres_bin()
    if bindir is None:
        skip_or_fail("PostgreSQL's initdb/pg_ctl are not installed")
    instance = PrivatePostgres(bindir)
    try:
        instance.init()
        instance.start()
        engine = sa.create_engine(instance.url(), poolclass=NullPool)
        with engine.begin() as conn:
            conn.exec_driver_sql(DDL)
        engine.dispose()
        yield instance
    finally:
        instance.close()


async def test_the_database_stops_while_the_catalog_is_being_read(
    app_project: Path, private_pg: PrivatePostgres, hardening: Report
) -> None:
    direct = private_pg.url()
    name = "PostgreSQL: server stopped mid-reflection (query held in flight), then started"
    with (
        TcpProxy("127.0.0.1", private_pg.port) as proxy,
        observed(hardening, "reliability", name) as case,
    ):
        url = direct.set(host=proxy.host, port=proxy.port)
        async with lsp(app_project, settings=settings(url)) as probe:
            await probe.wait_for(lambda: settled(probe, EXPECTED), 90, "the first check")
            engine = sa.create_engine(direct, poolclass=NullPool)
            with engine.begin() as conn:  # the catalog moves: the next check reflects it
                conn.exec_driver_sql("ALTER TABLE items ADD COLUMN added_later int")
            engine.dispose()
            start = proxy.traffic()
            proxy.pause_on(REFLECTING_COLUMNS)
            before = len(probe.statuses)
            await probe.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="schemaLsp.check")
            )
            # The fingerprint and the table list went through; the columns query is held.
            held = await wait_traffic(proxy, lambda t: t.paused and t.held_up > 0, 30)
            assert held.sent_up > start.sent_up and held.sent_down > start.sent_down, held
            assert checking(probe), probe.statuses[-1]
            await asyncio.to_thread(private_pg.stop)
            resumed = time.monotonic()
            proxy.resume()
            status = await probe.wait_status(lambda s: s["state"] == "stale", after=before)
            reported_after = time.monotonic() - resumed
            assert "Cannot reach the database" in status["message"], status
            assert stale(probe), probe.diagnostics(MODELS)
            # Kept and marked stale, not cleared, and nothing read halfway shows up.
            assert drift(probe) == EXPECTED, drift(probe)
            (warning,) = warnings(probe)
            assert "Cannot reach the database" in warning, warning
            # Retries fail the same way while it is down, without a second warning.
            failed = sum(s["state"] == "stale" for s in probe.statuses[before:])
            await probe.wait_for(
                lambda: sum(s["state"] == "stale" for s in probe.statuses[before:]) > failed,
                30,
                "a retry while the database is down",
            )
            assert len(warnings(probe)) == 1, warnings(probe)
            case.survived = probe.serving()
            await asyncio.to_thread(private_pg.start)
            restarted = time.monotonic()
            await probe.wait_for(
                lambda: settled(probe, {*EXPECTED, ("remove_column", "items.added_later")}),
                90,
                "fresh diagnostics after the restart",
            )
            case.recover_s = time.monotonic() - restarted
            case.recovered = True
            infos = [m.message for m in probe.client.messages if m.type == types.MessageType.Info]
            assert any("reachable again" in m for m in infos), infos
            assert len(warnings(probe)) == 1, warnings(probe)
            case.note = (
                f"{held.held_up} bytes of the columns query held while the server "
                f"stopped; reported {reported_after:.2f} s after the resume"
            )
        assert case.survived
