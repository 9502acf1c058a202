"""Figures of the hardening suite (fuzz, security, reliability) as JSON and Markdown.

Tests record what they tried through the ``hardening`` fixture; every record is written to
the JSON file at once, so an interrupted run still leaves its figures. The file is
``$SCHEMA_LSP_HARDENING_REPORT`` when set, else ``hardening-report.json`` in pytest's base
temporary directory (never inside the repository). Render it with::

    python tests/reliability/report.py [path/to/hardening-report.json]
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytest

ENV = "SCHEMA_LSP_HARDENING_REPORT"
FILENAME = "hardening-report.json"


@dataclass
class CaseResult:
    """One failure case driven through the server or CLI."""

    suite: str
    case: str
    tried: bool = True
    survived: bool = False
    recovered: bool | None = None
    recover_s: float | None = None
    note: str = ""


class Report:
    """Appends case results and counters to one JSON file (safe across processes)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = load(self.path)
                yield data
                tmp = self.path.with_suffix(".tmp")
                tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
                os.replace(tmp, self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def case(self, result: CaseResult) -> None:
        with self._locked() as data:
            cases = [
                c
                for c in data["cases"]
                if (c["suite"], c["case"]) != (result.suite, result.case)
            ]
            data["cases"] = [*cases, asdict(result)]

    def count(self, name: str, n: int) -> None:
        """Add ``n`` to counter ``name`` (fuzz examples run, statements audited, ...)."""
        with self._locked() as data:
            data["counters"][name] = data["counters"].get(name, 0) + n


@contextlib.contextmanager
def observed(report: Report, suite: str, case: str) -> Iterator[CaseResult]:
    """A case the test fills in as it observes it (survived, recovered, time to recover).

    Recorded even when the test fails part-way, so the figures show what did not hold.
    """
    result = CaseResult(suite, case)
    try:
        yield result
    finally:
        report.case(result)


def load(path: Path) -> dict[str, Any]:
    """The report at ``path`` (an empty one when the file is missing)."""
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = {}
    data.setdefault("cases", [])
    data.setdefault("counters", {})
    return data


def _yes(value: bool | None) -> str:
    return "n/a" if value is None else ("yes" if value else "**no**")


def render_markdown(data: dict[str, Any]) -> str:
    """The report as Markdown: one table of cases, one of counters."""
    lines = [
        "| suite | case | survived | recovered | time to recover | note |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for c in sorted(data.get("cases", []), key=lambda c: (c["suite"], c["case"])):
        seconds = c.get("recover_s")
        took = "" if seconds is None else f"{seconds:.2f} s"
        lines.append(
            f"| {c['suite']} | {c['case']} | {_yes(c.get('survived'))} | "
            f"{_yes(c.get('recovered'))} | {took} | {c.get('note', '')} |"
        )
    counters = data.get("counters", {})
    if counters:
        lines += ["", "| figure | value |", "| --- | --- |"]
        lines += [f"| {name} | {counters[name]} |" for name in sorted(counters)]
    return "\n".join(lines) + "\n"


_reports: dict[Path, Report] = {}


def report_path(config: pytest.Config) -> Path:
    """Where this run's report goes."""
    raw = os.environ.get(ENV)
    if raw:
        return Path(raw)
    factory = config._tmp_path_factory  # type: ignore[attr-defined]
    return Path(factory.getbasetemp()) / FILENAME


@pytest.fixture(scope="session")
def hardening(pytestconfig: pytest.Config) -> Report:
    """The run's report; the file is started afresh once per test session."""
    path = report_path(pytestconfig)
    if path not in _reports:
        path.unlink(missing_ok=True)
        _reports[path] = Report(path)
    return _reports[path]


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else Path(os.environ.get(ENV, FILENAME))
    if not path.exists():
        print(f"no report at {path}", file=sys.stderr)
        return 1
    sys.stdout.write(render_markdown(load(path)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
