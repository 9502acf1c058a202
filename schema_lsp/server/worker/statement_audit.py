"""An audit of every SQL statement the worker sends, for proving it never writes.

When ``SCHEMA_LSP_STATEMENT_AUDIT`` names a file, each statement the worker's engine
executes (in the warm parent and in any forked child, which inherits the engine and its
listener) is appended to it as one JSON line ``{"pid": ..., "statement": ...}``. Every line
is one ``write`` on a descriptor opened with ``O_APPEND``, so lines of several processes
never interleave. Unset, nothing is attached and nothing costs anything.

Statements a driver sends on its own (psycopg's implicit ``BEGIN``, the pool's pre-ping)
never pass through SQLAlchemy's cursor events and so are not in the file.
"""

from __future__ import annotations

import json
import os
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

ENV = "SCHEMA_LSP_STATEMENT_AUDIT"


def audit_path() -> str | None:
    """The audit file named by the environment, or None when auditing is off."""
    return os.environ.get(ENV) or None


def record(path: str, statement: str) -> None:
    """Append one statement to ``path`` as a single line (one ``write`` call)."""
    line = json.dumps({"pid": os.getpid(), "statement": statement}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def attach(engine: Engine) -> None:
    """Audit ``engine``'s statements when ``SCHEMA_LSP_STATEMENT_AUDIT`` is set."""
    path = audit_path()
    if path is None:
        return

    def before_cursor_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        record(path, statement)

    event.listen(engine, "before_cursor_execute", before_cursor_execute)
