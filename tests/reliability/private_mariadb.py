"""A private MariaDB server that a test may stop and start again (see private_postgres.py).

A data directory in a fresh temporary directory, a free port on 127.0.0.1, root without
a password (only this test can reach the port before it goes away). mariadbd refuses to
run as root, so as root it runs as the ``mysql`` user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from private_postgres import free_port
from sqlalchemy.engine import URL


def mariadb_binaries() -> tuple[Path, Path] | None:
    """``(mariadb-install-db, mariadbd)`` when both are installed."""
    install = shutil.which("mariadb-install-db")
    server = shutil.which("mariadbd") or (
        "/usr/sbin/mariadbd" if os.path.exists("/usr/sbin/mariadbd") else None
    )
    return (Path(install), Path(server)) if install and server else None


class PrivateMariaDB:
    """One throw-away server; :meth:`close` stops it and deletes its files."""

    def __init__(self, binaries: tuple[Path, Path]) -> None:
        self.install, self.server = binaries
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="schema-lsp-maria-"))
        self.data = self.dir / "data"
        self.pid_file = self.dir / "mariadbd.pid"
        self.process: subprocess.Popen[bytes] | None = None
        self._user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("mysql")
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
            self._user = ["runuser", "-u", owner.pw_name, "--"]
        os.chmod(self.dir, 0o700)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def init(self) -> None:
        done = subprocess.run(
            [*self._user, str(self.install), "--no-defaults", f"--datadir={self.data}",
             "--auth-root-authentication-method=normal", "--skip-test-db",
             "--skip-name-resolve"],
            capture_output=True, text=True, timeout=180,
        )
        if done.returncode != 0:
            raise RuntimeError(f"mariadb-install-db failed: {done.stderr[-2000:]}")

    def start(self, timeout: float = 60) -> None:
        self.pid_file.unlink(missing_ok=True)
        self.process = subprocess.Popen(
            [*self._user, str(self.server), "--no-defaults", f"--datadir={self.data}",
             f"--port={self.port}", "--bind-address=127.0.0.1", f"--socket={self.dir}/sock",
             f"--pid-file={self.pid_file}", "--skip-name-resolve", "--skip-log-bin",
             "--innodb-buffer-pool-size=16M", f"--log-error={self.dir}/error.log"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while True:  # the server announces readiness only by listening
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                if not self.running or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"mariadbd did not start: {self.log_tail()}"
                    ) from None
                time.sleep(0.1)

    def stop(self, timeout: float = 60) -> None:
        """A normal shutdown (SIGTERM): sessions are disconnected, as on a restart."""
        if self.process is None:
            return
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = self.process.pid
        os.kill(pid, signal.SIGTERM)
        self.process.wait(timeout)
        self.process = None

    def log_tail(self) -> str:
        try:
            return (self.dir / "error.log").read_text(errors="replace")[-2000:]
        except OSError:
            return "(no error log)"

    def url(self, database: str = "mysql") -> URL:
        return URL.create(
            "mysql+pymysql", username="root", host="127.0.0.1", port=self.port,
            database=database,
        )

    def close(self) -> None:
        try:
            if self.running:
                self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
