"""A slow and a silent network between the worker and PostgreSQL (tests/netproxy.py).

The catalog is read through a real TCP proxy that delays every chunk, or holds every byte:
checks still give the right diagnostics, the editor's requests are answered while a check
crawls, and a database that stops answering during the connection is reported once,
within the connect timeout, and recovered from when it answers again.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from lspkit import APP_MODELS, Probe, lsp
from lsprotocol import types
from netproxy import TcpProxy, Traffic
from report import Report, observed
from sqlalchemy.engine import URL, Engine

from schema_lsp.server.worker.database import CONNECT_TIMEOUT

pytestmark = pytest.mark.backends("postgresql")

T = TypeVar("T")
MODELS = APP_MODELS
#: Per chunk and direction: ~60 ms a round trip, a slow link to a far-away database.
DELAY = 0.03
#: An editor request counts as prompt when answered within this (a check may take seconds).
PROMPT_S = 0.5

#: The database side: items.name is narrower, items.note exists only here, extra is missing.
DDL = "CREATE TABLE items (id serial PRIMARY KEY, name varchar(20), note text)"
EXPECTED = {
    ("modify_type", "items.name"),
    ("remove_column", "items.note"),
    ("add_table", "extra"),
}


def settings(url: URL) -> dict[str, object]:
    # No periodic checks: only the checks a test starts run.
    return {"databaseUrl": url.render_as_string(hide_password=False), "checkInterval": 60}


def drift(probe: Probe) -> set[tuple[str, str]]:
    """(code, table[.column]) of each fresh diagnostic: the words before the first colon."""
    out = set()
    for d in probe.diagnostics(MODELS):
        subject = d.message.split(":", 1)[0].split()[-1]
        out.add((str(d.code), subject))
    return out


def settled(probe: Probe, expected: set[tuple[str, str]]) -> bool:
    """The last check ended (connected) with exactly ``expected`` drift."""
    last = probe.statuses[-1]["state"] if probe.statuses else None
    return last == "connected" and drift(probe) == expected


def stale(probe: Probe) -> bool:
    ds = probe.diagnostics(MODELS)
    return bool(ds) and all("(stale: database unreachable)" in d.message for d in ds)


def warnings(probe: Probe) -> list[str]:
    return [m.message for m in probe.client.messages if m.type == types.MessageType.Warning]


def checking(probe: Probe) -> bool:
    return bool(probe.statuses) and probe.statuses[-1]["state"] == "checking"


async def timed(request: Awaitable[T]) -> tuple[T, float]:
    start = time.perf_counter()
    result = await asyncio.wait_for(request, 10)
    return result, time.perf_counter() - start


async def editor_requests(probe: Probe) -> dict[str, tuple[Any, float]]:
    """Hover, code action and code lens on the model file, one after the other: each
    answer and its latency in seconds. Hover and code action aim at a diagnostic, so the
    answers have content when the server has diagnostics."""
    doc = types.TextDocumentIdentifier(uri=probe.uri(MODELS))
    shown = probe.diagnostics(MODELS)
    at = shown[0].range.start if shown else types.Position(0, 0)
    whole = types.Range(types.Position(0, 0), types.Position(200, 0))
    client = probe.client
    return {
        "hover": await timed(client.text_document_hover_async(types.HoverParams(doc, at))),
        "codeAction": await timed(
            client.text_document_code_action_async(
                types.CodeActionParams(doc, whole, types.CodeActionContext(diagnostics=shown))
            )
        ),
        "codeLens": await timed(client.text_document_code_lens_async(types.CodeLensParams(doc))),
    }


def latencies(answers: dict[str, tuple[Any, float]]) -> str:
    return ", ".join(f"{name} {took * 1000:.0f} ms" for name, (_, took) in answers.items())


async def wait_traffic(
    proxy: TcpProxy, predicate: Callable[[Traffic], bool], timeout: float
) -> Traffic:
    """Wait on the proxy's counters from a thread, so the client keeps reading meanwhile."""
    return await asyncio.to_thread(proxy.wait_until, predicate, timeout)


async def test_a_slow_catalog_gives_the_right_diagnostics_and_requests_stay_prompt(
    app_project: Path, engine: Engine, proxy: TcpProxy, proxied_url: URL, hardening: Report
) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(DDL)
    proxy.delay = DELAY
    name = f"PostgreSQL: catalog {DELAY * 1000:.0f} ms a chunk slower (TCP proxy)"
    with observed(hardening, "reliability", name) as case:
        async with lsp(app_project, settings=settings(proxied_url)) as probe:
            await probe.wait_for(lambda: settled(probe, EXPECTED), 90, "the first check")
            # The catalog moves, so the next check reads all of it again, slowly.
            with engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE items ADD COLUMN added_later int")
            before = len(probe.statuses)
            start = time.monotonic()
            sent = proxy.traffic().sent_up
            await probe.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="schemaLsp.check")
            )
            await probe.wait_status(lambda s: s["state"] == "checking", after=before)
            await wait_traffic(proxy, lambda t: t.sent_up > sent, 10)  # it reads, slowly
            answers = await editor_requests(probe)
            # The requests were served during the check, not after it.
            assert checking(probe), f"the check ended too soon to prove it: {probe.statuses}"
            await probe.wait_status(lambda s: s["state"] == "connected", after=before, timeout=60)
            took = time.monotonic() - start
            assert drift(probe) == {*EXPECTED, ("remove_column", "items.added_later")}
            hover, _ = answers["hover"]
            assert hover is not None and "schema-lsp" in str(hover.contents), hover
            assert answers["codeAction"][0], "no code action for the drift"
            # The same check without the delay, to show what the slow link cost.
            proxy.delay = 0
            with engine.begin() as conn:
                conn.exec_driver_sql("ALTER TABLE items ADD COLUMN added_last int")
            before = len(probe.statuses)
            start = time.monotonic()
            await probe.client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="schemaLsp.check")
            )
            await probe.wait_status(lambda s: s["state"] == "connected", after=before, timeout=60)
            direct = time.monotonic() - start
            assert ("remove_column", "items.added_last") in drift(probe)
            case.survived = probe.serving()
            case.recovered, case.recover_s = True, took
            case.note = (
                f"check took {took:.1f} s (undelayed {direct:.2f} s); during it: "
                f"{latencies(answers)}"
            )
            assert took > direct, "the delay did not slow the check down"
            slowest = max(t for _, t in answers.values())
            assert slowest < PROMPT_S, latencies(answers)
            assert not warnings(probe), warnings(probe)
        assert case.survived


async def test_a_database_silent_during_connect_is_reported_once_and_recovered(
    app_project: Path, engine: Engine, proxy: TcpProxy, proxied_url: URL, hardening: Report
) -> None:
    """The proxy cuts the worker's connection and then holds every byte: the reconnection
    accepts at TCP level and never gets an answer. The worker's connect timeout ends the
    check (a statement held mid-query would wait far longer, see the report)."""
    with engine.begin() as conn:
        conn.exec_driver_sql(DDL)
    name = "PostgreSQL: database silent during connect (TCP proxy holds the bytes)"
    with observed(hardening, "reliability", name) as case:
        async with lsp(app_project, settings=settings(proxied_url)) as probe:
            await probe.wait_for(lambda: settled(probe, EXPECTED), 90, "the first check")
            proxy.drop()
            at_pause = proxy.pause()
            before = len(probe.statuses)
            start = time.monotonic()
            probe.save(MODELS, (app_project / MODELS).read_text(encoding="utf-8") + "\n")
            # A new connection is opened and its startup message held by the proxy.
            await wait_traffic(
                proxy, lambda t: t.connections > at_pause.connections and t.held_up > 0, 20
            )
            status = await probe.wait_status(
                lambda s: s["state"] == "stale", after=before, timeout=CONNECT_TIMEOUT + 20
            )
            failed_after = time.monotonic() - start
            assert "Cannot reach the database" in status["message"], status
            assert stale(probe), probe.diagnostics(MODELS)  # kept, marked stale
            assert len(warnings(probe)) == 1, warnings(probe)
            answers = await editor_requests(probe)  # served while the database is silent
            assert max(t for _, t in answers.values()) < PROMPT_S, latencies(answers)
            case.survived = probe.serving()
            resumed = time.monotonic()
            proxy.resume()
            await probe.wait_for(
                lambda: drift(probe) == EXPECTED and not stale(probe), 60, "recovery"
            )
            case.recover_s = time.monotonic() - resumed
            case.recovered = True
            assert len(warnings(probe)) == 1, warnings(probe)
            case.note = (
                f"stale after {failed_after:.1f} s (connect timeout "
                f"{CONNECT_TIMEOUT} s); {latencies(answers)} while silent"
            )
        assert failed_after < CONNECT_TIMEOUT + 10, failed_after
        assert case.survived


#: The worker's own bounds, shortened for the test below (seconds).
SHORT_STATEMENT_S, SHORT_CONNECT_S = 1, 1


def test_a_query_held_by_the_network_ends_within_the_worker_timeouts(
    proxy: TcpProxy, proxied_url: URL, monkeypatch: pytest.MonkeyPatch, hardening: Report
) -> None:
    """The worker's read of the catalog, on its pooled connection, while the network holds
    every byte: the statement timeout is enforced by the database, which never receives the
    query, so only a deadline on the client's side can end the wait."""
    from schema_lsp.server.worker import database
    from schema_lsp.server.worker.main import WarmState
    from schema_lsp.server.worker.protocol import CheckRequest

    monkeypatch.setattr(database, "STATEMENT_TIMEOUT_MS", SHORT_STATEMENT_S * 1000)
    monkeypatch.setattr(database, "CONNECT_TIMEOUT", SHORT_CONNECT_S)
    url = proxied_url.render_as_string(hide_password=False)
    request = CheckRequest(id=1, root=".", models=[], database_url=url)
    state = WarmState(out_fd=-1)
    outcome: list[str] = []

    def check() -> None:
        try:
            state.refresh_reflection(request)
            outcome.append("answered")
        except Exception as exc:
            outcome.append(database.classify(exc, url).kind)

    name = "PostgreSQL: a query held by the network mid-read (worker, in process)"
    bound = SHORT_STATEMENT_S + SHORT_CONNECT_S + 3
    with observed(hardening, "reliability", name) as case:
        try:
            assert state.refresh_reflection(request) is True  # warm: the connection is pooled
            proxy.pause()
            reading = threading.Thread(target=check, daemon=True)
            reading.start()
            proxy.wait_until(lambda t: t.held_up > 0, 5)  # the query left the worker, waits
            reading.join(bound)
            blocked = reading.is_alive()
            resumed = time.monotonic()
            proxy.resume()
            reading.join(10)
            assert not reading.is_alive()
            case.survived, case.recovered = not blocked, True
            case.recover_s = time.monotonic() - resumed
            case.note = (
                f"still waiting after {bound} s (statement_timeout {SHORT_STATEMENT_S} s)"
                if blocked
                else f"ended as {outcome}"
            )
        finally:
            state.dispose()
    assert not blocked, (
        f"a query the network holds outlived {bound} s though statement_timeout is "
        f"{SHORT_STATEMENT_S} s: the worker's client-side deadline did not end it"
    )
    assert outcome and outcome[0] in ("timeout", "unreachable"), outcome


def test_a_reflection_query_held_by_the_network_ends_at_the_answer_deadline(
    proxy: TcpProxy,
    proxied_url: URL,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    hardening: Report,
) -> None:
    """As above, but the connection is checked out and answering: the catalog moved, so the
    worker re-reads it, and the network holds the column query. The worker's own deadline
    (statement timeout plus ``ANSWER_MARGIN_S``) ends it as a timeout, not a hang."""
    from sqlalchemy import text

    from schema_lsp.server.worker import database
    from schema_lsp.server.worker.main import WarmState
    from schema_lsp.server.worker.protocol import CheckRequest

    monkeypatch.setattr(database, "STATEMENT_TIMEOUT_MS", SHORT_STATEMENT_S * 1000)
    url = proxied_url.render_as_string(hide_password=False)
    request = CheckRequest(id=1, root=".", models=[], database_url=url)
    state = WarmState(out_fd=-1)
    outcome: list[str] = []
    name = "PostgreSQL: a reflection query held by the network (worker, in process)"
    bound = database.answer_deadline() + 3
    with observed(hardening, "reliability", name) as case:
        try:
            assert state.refresh_reflection(request) is True
            with engine.begin() as conn:  # the catalog moves: the next check reflects
                conn.execute(text("CREATE TABLE moved (id integer PRIMARY KEY)"))
            proxy.pause_on(b"format_type(")  # SQLAlchemy's column query, after the ping
            started = time.monotonic()
            try:
                state.refresh_reflection(request)
                outcome.append("answered")
            except Exception as exc:
                outcome.append(database.classify(exc, url).kind)
                message = database.classify(exc, url).message
            ended = time.monotonic() - started
            assert proxy.paused, "the column query was held"
            proxy.resume()
            assert outcome == ["timeout"], outcome
            assert "did not answer a catalog query" in message
            assert ended < bound, ended
            assert state.refresh_reflection(request) is True  # recovers on a new connection
            case.survived = case.recovered = True
            case.note = f"ended as a timeout after {ended:.1f} s (deadline {bound - 3:g} s)"
        finally:
            state.dispose()
