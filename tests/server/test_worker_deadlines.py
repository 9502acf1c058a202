"""The worker's client-side deadlines: one watchdog thread, sockets shut when one passes."""

from __future__ import annotations

import socket
import threading

from schema_lsp.server.worker.database import _Deadline


def test_a_passed_deadline_shuts_the_socket_and_a_cancelled_one_does_not() -> None:
    ours, theirs = socket.socketpair()
    kept, peer = socket.socketpair()
    try:
        spared = _Deadline(kept.fileno(), 0.01)
        spared.cancel()
        deadline = _Deadline(ours.fileno(), 0.05)
        ours.settimeout(10)
        # Blocked on a read nobody answers, as a driver waits for the database:
        # the watchdog's shutdown makes it return (EOF) instead.
        assert ours.recv(1) == b""
        assert deadline.fired and not spared.fired
        peer.sendall(b"x")
        assert kept.recv(1) == b"x"  # the cancelled one's socket still works
    finally:
        for s in (ours, theirs, kept, peer):
            s.close()


def test_deadlines_share_one_thread() -> None:
    a, b = socket.socketpair()
    try:
        _Deadline(a.fileno(), 60).cancel()  # the watchdog runs from here on
        before = threading.active_count()
        for _ in range(200):
            _Deadline(a.fileno(), 60).cancel()
        assert threading.active_count() == before
    finally:
        a.close()
        b.close()
