"""When checks run: debounced triggers, newest-wins cancellation, a periodic timer.

Pure asyncio, no LSP: the scheduler only calls ``run(trigger)``. The debounce has a leading
edge: a trigger after a quiet spell starts its check at once (a save is answered without
waiting), and triggers that follow within the debounce window merge into one check at the
window's end. A trigger arriving while a check runs cancels that check (the worker then
drops its child) when the new one starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Trigger:
    """Why a check runs; ``models_changed`` is false only for timer-driven checks."""

    reason: str
    models_changed: bool = True

    def merge(self, other: Trigger | None) -> Trigger:
        if other is None:
            return self
        return Trigger(
            reason=other.reason
            if other.models_changed and not self.models_changed
            else self.reason,
            models_changed=self.models_changed or other.models_changed,
        )


class CheckScheduler:
    """Debounce, cancel and time the checks of one workspace root."""

    def __init__(
        self,
        run: Callable[[Trigger], Awaitable[None]],
        *,
        debounce: float = 0.15,
        interval: Callable[[], float] | None = None,
    ) -> None:
        self._run = run
        self.debounce = debounce
        self._interval = interval
        self._pending: Trigger | None = None
        self._timer: asyncio.Task[None] | None = None
        self._running: asyncio.Task[None] | None = None
        self._periodic: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self.started = 0
        self.cancelled = 0
        #: Loop time at which the last check started (the debounce window opens there).
        self._last_start: float | None = None

    @property
    def busy(self) -> bool:
        return self._pending is not None or (self._running is not None and not self._running.done())

    def trigger(
        self, reason: str, *, models_changed: bool = True, delay: float | None = None
    ) -> None:
        """Ask for a check after ``delay``; merges with a pending one.

        Without ``delay`` the check starts at once when none started within the debounce
        window, else when the window closes.
        """
        self._pending = Trigger(reason, models_changed).merge(self._pending)
        self._idle.clear()
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
        wait = self._debounce_wait() if delay is None else delay
        self._timer = asyncio.create_task(self._fire_after(wait))

    def _debounce_wait(self) -> float:
        if self._last_start is None:
            return 0.0
        since = asyncio.get_running_loop().time() - self._last_start
        return max(0.0, self.debounce - since)

    async def _fire_after(self, delay: float) -> None:
        if delay > 0:
            await asyncio.sleep(delay)
        trigger, self._pending = self._pending, None
        if trigger is None:
            return
        previous = self._running
        if previous is not None and not previous.done():
            previous.cancel()
            self.cancelled += 1
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await previous
        self.started += 1
        self._last_start = asyncio.get_running_loop().time()
        self._running = asyncio.create_task(self._guarded(trigger))

    async def _guarded(self, trigger: Trigger) -> None:
        try:
            await self._run(trigger)
        except asyncio.CancelledError:
            raise
        except Exception:  # a bug in one check must not stop the next ones
            logger.exception("check failed unexpectedly")
        finally:
            if self._pending is None and (self._timer is None or self._timer.done()):
                self._idle.set()

    def start_periodic(self) -> None:
        """Run a timer-driven check every ``interval()`` seconds while idle."""
        if self._interval is not None and self._periodic is None:
            self._periodic = asyncio.create_task(self._periodic_loop())

    def reschedule(self) -> None:
        """The interval changed (new config, backoff): restart the timer now."""
        self._wake.set()

    async def _periodic_loop(self) -> None:
        assert self._interval is not None
        while True:
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval())
                continue  # woken early: start a fresh wait with the new interval
            if not self.busy:
                self.trigger("periodic", models_changed=False, delay=0)

    async def wait_idle(self, timeout: float) -> None:
        """For tests and shutdown: wait until nothing is pending or running."""
        await asyncio.wait_for(self._idle.wait(), timeout)

    async def stop(self) -> None:
        for task in (self._timer, self._running, self._periodic):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._periodic = None
        self._pending = None
        self._idle.set()
