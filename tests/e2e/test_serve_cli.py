"""``schema-lsp serve`` with its options: over TCP it serves a real session end to end."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from pathlib import Path
from typing import Any

from harness import REPO

MODELS = "shop/models.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RawClient:
    """JSON-RPC over a stream pair, keeping every notification the server sent."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.notifications: list[dict[str, Any]] = []

    def send(self, message: dict[str, Any]) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode()
        self.writer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    async def read(self) -> dict[str, Any]:
        length = 0
        while True:
            line = await self.reader.readline()
            if not line:
                raise EOFError("the server closed the connection")
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
            elif line in (b"\r\n", b"\n") and length:
                return dict(json.loads(await self.reader.readexactly(length)))

    async def request(self, msg_id: int, method: str, params: Any) -> dict[str, Any]:
        self.send({"id": msg_id, "method": method, "params": params})
        await self.writer.drain()
        while True:
            message = await asyncio.wait_for(self.read(), 60)
            if message.get("id") == msg_id and "method" not in message:
                return message
            self.notifications.append(message)

    async def notification(self, method: str, predicate: Any, timeout: float = 60) -> None:
        async def find() -> None:
            while not any(
                n.get("method") == method and predicate(n.get("params")) for n in self.notifications
            ):
                self.notifications.append(await self.read())

        await asyncio.wait_for(find(), timeout)


async def connect(port: int, process: asyncio.subprocess.Process) -> RawClient:
    """Connect once the server listens; fails fast if it exited instead."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    exited = asyncio.ensure_future(process.wait())
    try:
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError as exc:
                if exited.done() or loop.time() > deadline:
                    raise AssertionError(
                        f"the server never listened (exit {process.returncode})"
                    ) from exc
                # Poll the socket: the server gives no other sign that it listens.
                await asyncio.wait({exited}, timeout=0.1)
                continue
            return RawClient(reader, writer)
    finally:
        if not exited.done():
            exited.cancel()


def has_drift(params: Any) -> bool:
    return (
        bool(params)
        and params["uri"].endswith(MODELS)
        and any(d.get("code") == "add_table" for d in params["diagnostics"])
    )


async def test_serve_over_tcp_checks_a_project(shop: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "server.log"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schema_lsp",
        "serve",
        "--tcp",
        f"127.0.0.1:{port}",
        "--log-file",
        str(log),
        cwd=shop,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        client = await connect(port, process)
        init = await client.request(
            1,
            "initialize",
            {
                "processId": None,
                "rootUri": shop.as_uri(),
                "capabilities": {},
                "workspaceFolders": [{"uri": shop.as_uri(), "name": shop.name}],
            },
        )
        assert init["result"]["serverInfo"]["name"] == "schema-lsp"
        client.send({"method": "initialized", "params": {}})
        await client.notification("textDocument/publishDiagnostics", has_drift)
        assert (await client.request(2, "shutdown", None)).get("result", "missing") is None
        client.send({"method": "exit"})
        await client.writer.drain()
        code = await asyncio.wait_for(process.wait(), 30)
        client.writer.close()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.stderr is not None
    stderr = (await process.stderr.read()).decode()
    assert code == 0, stderr
    assert "checking" in log.read_text(encoding="utf-8")


async def test_serve_explains_a_bad_tcp_address(tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schema_lsp",
        "serve",
        "--tcp",
        "localhost",
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert err.decode().strip().splitlines() == [
        "schema-lsp: error: --tcp expects HOST:PORT (e.g. 127.0.0.1:2087), got 'localhost'"
    ]
    assert out == b""


async def test_serve_explains_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "schema_lsp",
            "serve",
            "--tcp",
            f"127.0.0.1:{port}",
            env={**os.environ, "PYTHONPATH": str(REPO)},
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(process.communicate(), 30)
    (line,) = err.decode().strip().splitlines()
    assert process.returncode == 2
    assert line.startswith(f"schema-lsp: error: cannot listen on 127.0.0.1:{port}"), line
    assert "choose another --tcp address" in line
