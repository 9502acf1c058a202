"""Debounce, newest-wins cancellation and the periodic timer, without a server."""

from __future__ import annotations

import asyncio

from schema_lsp.server.scheduling import CheckScheduler, Trigger


class Recorder:
    """A fake check that records triggers and can be held open with an event."""

    def __init__(self, hold: bool = False) -> None:
        self.started: list[Trigger] = []
        self.finished: list[Trigger] = []
        self.cancelled: list[Trigger] = []
        self.release = asyncio.Event()
        self.entered = asyncio.Event()
        if not hold:
            self.release.set()

    async def __call__(self, trigger: Trigger) -> None:
        self.started.append(trigger)
        self.entered.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(trigger)
            raise
        self.finished.append(trigger)


async def test_triggers_within_the_debounce_window_merge_into_one_check() -> None:
    run = Recorder()
    scheduler = CheckScheduler(run, debounce=0.05)
    scheduler.trigger("periodic", models_changed=False)
    scheduler.trigger("saved")
    scheduler.trigger("opened", models_changed=False)
    await scheduler.wait_idle(5)
    assert len(run.finished) == 1
    assert run.finished[0].models_changed is True  # a model change is never lost in a merge
    assert run.finished[0].reason == "saved"
    await scheduler.stop()


async def test_a_trigger_after_a_quiet_spell_starts_at_once() -> None:
    # A debounce far longer than the test's timeout: only a leading edge can start the check.
    run = Recorder()
    scheduler = CheckScheduler(run, debounce=60)
    scheduler.trigger("saved")
    await asyncio.wait_for(run.entered.wait(), 5)
    assert [t.reason for t in run.started] == ["saved"]
    await scheduler.stop()


async def test_triggers_inside_the_window_wait_for_its_end_and_merge() -> None:
    run = Recorder()
    scheduler = CheckScheduler(run, debounce=0.3)
    scheduler.trigger("saved")
    await asyncio.wait_for(run.entered.wait(), 5)
    run.entered.clear()
    scheduler.trigger("saved again")
    scheduler.trigger("opened", models_changed=False)
    for _ in range(20):  # let every ready task run: none may start the second check yet
        await asyncio.sleep(0)
    assert len(run.started) == 1
    await scheduler.wait_idle(5)
    assert [t.reason for t in run.finished] == ["saved", "saved again"]
    await scheduler.stop()


async def test_a_newer_trigger_cancels_the_running_check() -> None:
    run = Recorder(hold=True)
    scheduler = CheckScheduler(run, debounce=0.01)
    scheduler.trigger("first")
    await asyncio.wait_for(run.entered.wait(), 5)
    run.entered.clear()
    scheduler.trigger("second")
    await asyncio.wait_for(run.entered.wait(), 5)
    assert [t.reason for t in run.cancelled] == ["first"]
    run.release.set()
    await scheduler.wait_idle(5)
    assert [t.reason for t in run.finished] == ["second"]
    assert scheduler.cancelled == 1
    await scheduler.stop()


async def test_periodic_checks_run_while_idle_and_do_not_claim_model_changes() -> None:
    run = Recorder()
    scheduler = CheckScheduler(run, debounce=0.01, interval=lambda: 0.05)
    scheduler.start_periodic()
    for _ in range(3):
        run.entered.clear()
        await asyncio.wait_for(run.entered.wait(), 5)
    assert len(run.started) >= 3
    assert all(t.reason == "periodic" and not t.models_changed for t in run.started)
    await scheduler.stop()


async def test_reschedule_applies_a_shorter_interval_immediately() -> None:
    run = Recorder()
    interval = [3600.0]
    scheduler = CheckScheduler(run, debounce=0.01, interval=lambda: interval[0])
    scheduler.start_periodic()
    await asyncio.sleep(0)
    interval[0] = 0.05
    scheduler.reschedule()
    await asyncio.wait_for(run.entered.wait(), 5)
    assert run.started[0].reason == "periodic"
    await scheduler.stop()


async def test_a_failing_check_does_not_stop_later_ones() -> None:
    calls: list[str] = []

    async def flaky(trigger: Trigger) -> None:
        calls.append(trigger.reason)
        if trigger.reason == "boom":
            raise RuntimeError("bug")

    scheduler = CheckScheduler(flaky, debounce=0.01)
    scheduler.trigger("boom")
    await scheduler.wait_idle(5)
    scheduler.trigger("after")
    await scheduler.wait_idle(5)
    assert calls == ["boom", "after"]
    await scheduler.stop()
