"""A TCP proxy for tests: puts a slow or silent network between a client and a database.

The proxy listens on 127.0.0.1 (a free port) and forwards every connection to a target
host and port. A test can slow every chunk down (:attr:`TcpProxy.delay`), pause the flow
(bytes keep arriving and are held, nothing is forwarded, no connection is closed, as on a
link that stalls), resume it, pause by itself when the client sends a given pattern, and
drop every open connection. It counts the bytes it sees and forwards in each direction, so
a test can prove a query was sent and is waiting. Its asyncio loop runs in a thread of its
own: sync and async tests use it alike, and :meth:`TcpProxy.wait_until` wakes on every
chunk instead of polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

T = TypeVar("T")

CHUNK = 1 << 16
UP, DOWN = "up", "down"  # client -> target, target -> client


@dataclass(frozen=True)
class Traffic:
    """Byte counts of one moment: seen (read from a side) and forwarded (written on)."""

    seen_up: int
    seen_down: int
    sent_up: int
    sent_down: int
    connections: int
    open_connections: int
    paused: bool

    @property
    def held_up(self) -> int:
        """Bytes the client sent that the target has not received (a query waiting)."""
        return self.seen_up - self.sent_up

    @property
    def held_down(self) -> int:
        return self.seen_down - self.sent_down


class TcpProxy:
    """Forward 127.0.0.1:<port> to ``target``; start with :meth:`start` or ``with``."""

    def __init__(self, host: str, port: int, *, delay: float = 0.0) -> None:
        self.target = (host, port)
        self.delay = delay
        self.port = 0
        self._seen = {UP: 0, DOWN: 0}
        self._sent = {UP: 0, DOWN: 0}
        self._connections = 0
        self._open: set[asyncio.StreamWriter] = set()
        self._pause_pattern: bytes | None = None
        self._changed = threading.Condition()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name="tcp-proxy"
        )
        self._flowing: asyncio.Event | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._handlers: set[asyncio.Task[Any]] = set()

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        self._thread.start()
        self._call(self._listen())
        return self

    def close(self) -> None:
        """Close the listener and every connection, then stop the thread."""
        if not self._thread.is_alive():
            return
        with contextlib.suppress(Exception):
            self._call(self._shutdown(), timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- controls (any thread) ---------------------------------------------------------------

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def pause(self) -> Traffic:
        """Stop forwarding from now on (bytes are held); returns the counts at the pause."""
        return self._call(self._set_flowing(False))

    def resume(self) -> None:
        """Forward what was held, in order, and everything after it."""
        self._call(self._set_flowing(True))

    def pause_on(self, pattern: bytes) -> None:
        """Pause just before forwarding the first client chunk that contains ``pattern``."""
        self._call(self._set_pattern(pattern))

    @property
    def paused(self) -> bool:
        return self._flowing is not None and not self._flowing.is_set()

    def drop(self) -> None:
        """Close every open connection (both sides), as when a link is cut."""
        self._call(self._drop())

    def traffic(self) -> Traffic:
        with self._changed:
            return self._snapshot()

    def wait_until(self, predicate: Callable[[Traffic], bool], timeout: float) -> Traffic:
        """Block until ``predicate(traffic)`` holds (re-tested on every chunk)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                now = self._snapshot()
                if predicate(now):
                    return now
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(f"proxy: condition not met within {timeout}s: {now}")
                self._changed.wait(remaining)

    # -- inside the loop ---------------------------------------------------------------------

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def _snapshot(self) -> Traffic:
        return Traffic(
            self._seen[UP],
            self._seen[DOWN],
            self._sent[UP],
            self._sent[DOWN],
            self._connections,
            len(self._open) // 2,
            self.paused,
        )

    def _count(self, table: dict[str, int], direction: str, n: int) -> None:
        with self._changed:
            table[direction] += n
            self._changed.notify_all()

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def _set_flowing(self, flowing: bool) -> Traffic:
        assert self._flowing is not None
        if flowing:
            self._pause_pattern = None
            self._flowing.set()
        else:
            self._flowing.clear()
        with self._changed:
            self._changed.notify_all()
            return self._snapshot()

    async def _set_pattern(self, pattern: bytes) -> None:
        self._pause_pattern = pattern

    async def _drop(self) -> None:
        for writer in list(self._open):
            writer.close()
        for task in list(self._tasks):
            task.cancel()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        await self._drop()
        pending = [*self._tasks, *self._handlers]
        if pending:
            await asyncio.wait(pending, timeout=5)

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        handler = asyncio.current_task()
        if handler is not None:
            self._handlers.add(handler)
            handler.add_done_callback(self._handlers.discard)
        with self._changed:
            self._connections += 1
            self._changed.notify_all()
        try:
            target_r, target_w = await asyncio.open_connection(*self.target)
        except OSError:
            client_w.close()  # the target is down: the client sees the connection close
            return
        self._open.update((client_w, target_w))
        up = asyncio.create_task(self._pump(client_r, target_w, UP))
        down = asyncio.create_task(self._pump(target_r, client_w, DOWN))
        for task in (up, down):
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await asyncio.wait({up, down}, return_when=asyncio.FIRST_COMPLETED)
        await asyncio.wait({up, down}, timeout=None if self.paused else 5)
        for writer in (client_w, target_w):
            self._open.discard(writer)
            writer.close()
        with self._changed:
            self._changed.notify_all()

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, direction: str
    ) -> None:
        """Read into a queue at once (so held bytes are counted), write when flowing."""
        queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        tail = b""

        async def read() -> None:
            nonlocal tail
            try:
                while chunk := await reader.read(CHUNK):
                    pattern = self._pause_pattern
                    if direction == UP and pattern is not None and pattern in tail + chunk:
                        assert self._flowing is not None
                        self._flowing.clear()  # counted (and waiters woken) just below
                        self._pause_pattern = None
                    tail = chunk[-256:]
                    self._count(self._seen, direction, len(chunk))
                    queue.put_nowait(chunk)
            except (OSError, asyncio.IncompleteReadError):
                pass
            queue.put_nowait(None)

        reading = asyncio.create_task(read())
        assert self._flowing is not None
        try:
            while (chunk := await queue.get()) is not None:
                await self._flowing.wait()
                if self.delay:
                    await asyncio.sleep(self.delay)
                    await self._flowing.wait()  # paused during the delay
                writer.write(chunk)
                self._count(self._sent, direction, len(chunk))
                await writer.drain()
            await self._flowing.wait()
            if writer.can_write_eof():
                writer.write_eof()
        except OSError:
            pass
        finally:
            reading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reading
