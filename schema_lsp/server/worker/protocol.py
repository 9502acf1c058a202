"""Plain-data messages between the server and the worker, one JSON object per line.

The worker reads requests on a private copy of its stdin and answers on a private copy of
its stdout; fd 1 is pointed at stderr before any user code runs, so a stray ``print`` in a
model file can never corrupt the stream.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

#: Result statuses of a check.
OK = "ok"
UNCHANGED = "unchanged"
MODEL_ERROR = "model_error"
DB_ERROR = "db_error"
CANCELLED = "cancelled"
INTERNAL_ERROR = "internal_error"


@dataclass(frozen=True)
class CheckRequest:
    """One check: load ``models`` from ``root``, compare against ``database_url``."""

    id: int
    root: str
    models: list[str]
    database_url: str
    opts: dict[str, Any] = field(default_factory=dict)
    include_schemas: bool | list[str] = False
    exclude_tables: list[str] = field(default_factory=list)
    import_timeout: float = 10.0
    models_changed: bool = True
    """False for periodic checks: the worker may answer ``unchanged`` without loading models."""

    def to_json(self) -> str:
        return json.dumps({"op": "check", **asdict(self)})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckRequest:
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Frame:
    """One traceback frame: file, 1-based line, function name."""

    path: str
    line: int
    name: str = ""


@dataclass(frozen=True)
class ModelFailure:
    """Why the models could not be loaded, with the frames to place a diagnostic."""

    kind: str  # "syntax" | "exception" | "timeout" | "exit" | "crash" | "config"
    message: str
    path: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based, when known
    frames: list[Frame] = field(default_factory=list)  # most recent call last

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelFailure:
        frames = [Frame(**f) for f in data.get("frames") or []]
        return cls(**{**data, "frames": frames})


@dataclass(frozen=True)
class DbFailure:
    """Why the database could not be read; ``kind`` picks the wording and retry policy."""

    kind: str  # "unreachable" | "auth" | "driver" | "timeout" | "missing_database" | "error"
    message: str


@dataclass(frozen=True)
class CheckResult:
    """What a check found; drifts and hints are plain dicts (``Drift.to_dict``)."""

    id: int
    status: str
    drifts: list[dict[str, Any]] = field(default_factory=list)
    hints: list[dict[str, Any]] = field(default_factory=list)
    model_files: list[str] = field(default_factory=list)
    model_failure: ModelFailure | None = None
    db_failure: DbFailure | None = None
    message: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    applied_heads: list[str] | None = None
    """The database's alembic_version rows (None: unknown), for migration-aware drift."""
    hints_seq: int = 0
    """Numbers the hints lists the worker sent, so the next may leave out repeated entries."""
    database_schema: dict[str, Any] | None = None
    """The reflected tables, columns and indexes (``database_summary``): sent with the
    first answer after each re-read of the catalog, None while it still holds."""
    hints_base: int | None = None
    """When set, a None in ``hints`` repeats the entry at that position of the hints sent
    with ``hints_seq == hints_base`` (most tables' hints do not change between checks);
    ``WorkerClient`` fills them in before anyone sees the result."""

    def to_dict(self) -> dict[str, Any]:
        """Shallow: drifts and hints are already plain data (``asdict`` would deep-copy
        thousands of them on every check)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["model_failure"] = asdict(self.model_failure) if self.model_failure else None
        data["db_failure"] = asdict(self.db_failure) if self.db_failure else None
        return data

    def to_json(self, **extra: Any) -> str:
        """One JSON line; ``extra`` adds fields outside the dataclass (worker-internal)."""
        return json.dumps({**self.to_dict(), **extra}, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        mf = data.get("model_failure")
        dbf = data.get("db_failure")
        known = cls.__dataclass_fields__
        fields = {k: v for k, v in data.items() if k in known}
        fields["model_failure"] = ModelFailure.from_dict(mf) if mf else None
        fields["db_failure"] = DbFailure(**dbf) if dbf else None
        return cls(**fields)


def repeats_left_out(new: list[dict[str, Any]], old: list[dict[str, Any]]) -> list[Any]:
    """``new`` with each entry equal to the one at its position in ``old`` replaced by None."""
    return [None if i < len(old) and h == old[i] else h for i, h in enumerate(new)]


def repeats_filled_in(
    sent: list[dict[str, Any] | None], old: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The list :func:`repeats_left_out` was given, from its result and the same ``old``."""
    return [old[i] if h is None else h for i, h in enumerate(sent)]


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a raw fd (pipes may accept less than asked)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
