"""Language-server latency: save-to-diagnostics and the idle periodic check.

For 20, 200 and 1000 tables (models from ``schema_gen``, database on PostgreSQL) this
starts ``python -m schema_lsp.server`` over stdio, then

* saves the model file alternately with and without one extra column and times
  ``didSave`` -> the ``publishDiagnostics`` that reflects the edit (client side);
* times an idle periodic check (worker round trip: fingerprint query, nothing changed);
* times a code-action request on a drift diagnostic (request -> response) and the
  ``schemaLsp.previewRevision`` command (the next revision rendered from every drift);
* times the cold full check of fresh workers (reflect, import, compare) against the engine
  alone (``compare_metadata`` on the same database and models) and prints the ratio;
* reports server, worker and resident-child RSS, the CPU time per save of the server and
  of the worker with its forked checks (what a loaded machine cannot hide), and the
  targets next to the medians with PASS/FAIL.

``SCHEMA_LSP_BENCH_LOG=/path`` makes the server write its debug log (per-check timings);
``SCHEMA_LSP_BENCH_PROFILE=/path`` runs it under cProfile (stats written on exit).

Saves come ``--pause`` seconds (default 1) after the previous save's diagnostics, as a
user's do: time the worker uses after answering (verifying, keeping the models imported
for the next edit, see ``worker/resident.py``) is then spent. ``--pause 0`` saves back
to back, the worst case, where each save cuts that work short.

Usage: ``python benchmarks/lsp_latency.py [--sizes 20,200,1000] [--saves 15] [--pause 1]``.
The admin URL defaults to the local test server; override with
``SCHEMA_LSP_TEST_POSTGRESQL_URL``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

import schema_gen  # noqa: E402

ADMIN_URL = os.environ.get(
    "SCHEMA_LSP_TEST_POSTGRESQL_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TOGGLE = '    Column("bench_toggle", Integer),\n'
EXAMPLE = REPO / "examples" / "shop"

#: Fresh workers (and engine runs) whose median is the cold check (and the engine figure).
COLD_RUNS = 3

#: (what, tables, limit in ms): the targets of the issues, checked against the medians.
TARGETS = [
    ("save->diagnostics", 200, 150.0),
    ("save->diagnostics", 1000, 500.0),
    ("idle check", 1000, 50.0),
    ("code action", 200, 50.0),
    ("code action", 1000, 50.0),
    ("preview", 200, 100.0),
]


@dataclass
class Result:
    tables: int
    save_ms: list[float]
    idle_ms: list[float]
    fingerprint_ms: list[float]
    server_rss_mib: float
    worker_rss_mib: float
    resident_rss_mib: float
    first_check_s: float
    action_ms: list[float]
    preview_ms: list[float]
    cold_check_ms: float
    #: The part of the cold check that does the engine's work: reflecting and comparing.
    cold_engine_part_ms: float
    engine_ms: float
    server_cpu_ms: float
    worker_cpu_ms: float
    #: The model file alone, executed in this process (median): the floor of a save, and
    #: how fast this shared machine runs Python right now.
    models_exec_ms: float = 0.0

    def median(self, what: str) -> float:
        values = {
            "save->diagnostics": self.save_ms,
            "idle check": self.idle_ms,
            "code action": self.action_ms,
            "preview": self.preview_ms,
        }[what]
        return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def render_models(spec: Any) -> str:
    """Python source with one ``Table(...)`` call per table, as a user would write it."""
    out = [
        "from sqlalchemy import Column, ForeignKeyConstraint, Index, Integer, MetaData, Table",
        "from sqlalchemy import UniqueConstraint",
        "",
        "from schema_gen import build_default as D, build_type as T",
        "",
        "metadata = MetaData()",
        "",
    ]
    for n, table in enumerate(spec.tables):
        out.append(f"t_{table.name} = Table(")
        out.append(f"    {table.name!r},")
        out.append("    metadata,")
        if n == 0:
            out.append("    # bench-toggle")
        for col in table.columns:
            enum = f"{table.name}_{col.name}_enum"
            out.append(
                f"    Column({col.name!r}, T({col.kind!r}, {col.params!r}, {enum!r}), "
                f"primary_key={col.primary_key}, nullable={col.nullable}, "
                f"server_default=D({col.default!r}), comment={col.comment!r}),"
            )
        for fk in table.foreign_keys:
            refs = [f"{fk.ref_table}.{c}" for c in fk.ref_columns]
            out.append(
                f"    ForeignKeyConstraint({list(fk.columns)!r}, {refs!r}, name={fk.name!r}, "
                f"ondelete={fk.ondelete!r}),"
            )
        for u in table.uniques:
            out.append(f"    UniqueConstraint(*{list(u.columns)!r}, name={u.name!r}),")
        for i in table.indexes:
            out.append(f"    Index({i.name!r}, *{list(i.columns)!r}, unique={i.unique}),")
        out.append(f"    comment={table.comment!r},")
        out.append(")")
        out.append("")
    return "\n".join(out) + "\n"


def worker_pid_of(client: Any) -> int | None:
    """The worker's pid, from the server's "worker N started" log message."""
    pids = [
        m.message.split()[1]
        for m in client.log_messages
        if m.message.startswith("worker ") and "started" in m.message
    ]
    return int(pids[-1]) if pids else None


def cpu_ms(pid: int | None) -> float:
    """CPU time of ``pid`` and its reaped children (the worker's forked checks), in ms."""
    if not pid:
        return float("nan")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def children_rss_mib(pid: int | None) -> float:
    """RSS of ``pid``'s live children: the worker's resident child, which keeps the models
    imported between saves (pages shared with the worker count in both)."""
    if not pid:
        return float("nan")
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return float("nan")
    return sum(rss_mib(int(child)) for child in children)


def rss_mib(pid: int | None) -> float:
    if not pid:
        return float("nan")
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def time_code_actions(client: Any, uri: str, rounds: int) -> list[float]:
    """Request -> response of ``textDocument/codeAction`` on a drift diagnostic with a fix."""
    from lsprotocol import types

    with_fix = [d for d in client.diagnostics.get(uri, []) if (d.data or {}).get("fix")]
    if not with_fix:
        return []
    target = with_fix[len(with_fix) // 2]
    params = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=target.range,
        context=types.CodeActionContext(diagnostics=[target]),
    )
    out: list[float] = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        actions = await client.text_document_code_action_async(params)
        out.append((time.perf_counter() - t0) * 1000)
        assert actions, "no code action for a drift with a fix"
    return out


def time_models_exec(model_file: Path, workdir: Path, runs: int = 3) -> float:
    """Median time to execute the model file's code in this process (compiled once, the
    garbage collector off, as in the worker's forked child)."""
    import gc

    code = compile(model_file.read_text(), str(model_file), "exec")
    sys.path.insert(0, str(workdir))
    times = []
    try:
        for _ in range(runs):
            gc.disable()
            t0 = time.perf_counter()
            exec(code, {"__name__": "bench_models"})
            times.append((time.perf_counter() - t0) * 1000)
            gc.enable()
    finally:
        sys.path.remove(str(workdir))
        sys.modules.pop("schema_gen", None)
    return statistics.median(times)


def time_engine(url: Any, models: Any) -> float:
    """The engine alone, cold: connect, reflect and compare (the models are already built)."""
    from schema_lsp.autogenerate.api import compare_metadata
    from schema_lsp.runtime.migration import MigrationContext

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        t0 = time.perf_counter()
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            compare_metadata(context, models)
        return (time.perf_counter() - t0) * 1000
    finally:
        engine.dispose()


async def measure(
    n_tables: int, saves: int, idle_checks: int, rounds: int = 15, pause: float = 1.0
) -> Result:
    from lsprotocol import types
    from pytest_lsp import client_capabilities
    from pytest_lsp.client import make_test_lsp_client

    from schema_lsp.server.worker.client import WorkerClient

    admin = sa.create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    name = f"schema_lsp_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(ADMIN_URL).set(database=name)
    workdir = Path(tempfile.mkdtemp(prefix="schema-lsp-bench-"))
    try:
        db_metadata = schema_gen.make_metadata(n_tables, "postgresql", seed=0)
        engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        db_metadata.create_all(engine)
        engine.dispose()
        models = schema_gen.make_drifted(db_metadata, ratio=0.05, seed=0)
        shutil.copy(HERE / "schema_gen.py", workdir / "schema_gen.py")
        shutil.copy(EXAMPLE / "alembic.ini", workdir / "alembic.ini")
        (workdir / "migrations" / "versions").mkdir(parents=True)
        for name in ("env.py", "script.py.mako"):
            shutil.copy(EXAMPLE / "migrations" / name, workdir / "migrations" / name)
        model_file = workdir / "models.py"
        source = render_models(schema_gen.spec_of(models))
        model_file.write_text(source)
        settings = {
            "models": ["models:metadata"],
            "databaseUrl": url.render_as_string(hide_password=False),
            "checkInterval": 3600,
        }

        client = make_test_lsp_client()
        client.set_configuration(settings, section="schemaLsp")

        @client.feature("schemaLsp/status")
        def on_status(params: Any) -> None:
            pass

        @client.feature(types.CLIENT_REGISTER_CAPABILITY)
        def on_register(params: Any) -> None:
            pass

        @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
        def on_code_lens_refresh(params: Any) -> None:
            pass

        env = {**os.environ, "PYTHONPATH": str(REPO)}
        log = (
            ["--log-file", os.environ["SCHEMA_LSP_BENCH_LOG"]]
            if os.environ.get("SCHEMA_LSP_BENCH_LOG")
            else []
        )
        profile = os.environ.get("SCHEMA_LSP_BENCH_PROFILE")
        runner = ["-m", "cProfile", "-o", profile] if profile else []
        await client.start_io(sys.executable, *runner, "-m", "schema_lsp.server", *log, env=env)
        uri = model_file.as_uri()
        await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities("visual-studio-code"),
                root_uri=workdir.as_uri(),
                workspace_folders=[types.WorkspaceFolder(uri=workdir.as_uri(), name="bench")],
            )
        )

        async def wait_for(predicate: Any, timeout: float = 120) -> None:
            deadline = time.monotonic() + timeout
            while not predicate(client.diagnostics.get(uri, [])):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching diagnostics within {timeout}s")
                waiter = asyncio.ensure_future(
                    client.wait_for_notification("textDocument/publishDiagnostics")
                )
                await asyncio.wait({waiter}, timeout=remaining)

        def toggled(diagnostics: Any) -> bool:
            return any((d.data or {}).get("name") == "bench_toggle" for d in diagnostics)

        started = time.perf_counter()
        await wait_for(lambda ds: len(ds) > 0)
        first_check = time.perf_counter() - started
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=1, text=source
                )
            )
        )
        server_pid = client._server.pid if client._server else None
        worker_pid = worker_pid_of(client)
        save_ms: list[float] = []
        cpu_before: tuple[float, float] = (0.0, 0.0)
        for i in range(saves + 1):
            if i and pause:  # a user saves after typing, not the instant diagnostics land
                await asyncio.sleep(pause)
            if i == 1:
                cpu_before = (cpu_ms(server_pid), cpu_ms(worker_pid))
            with_column = i % 2 == 0
            text = source.replace("    # bench-toggle\n", TOGGLE) if with_column else source
            model_file.write_text(text)
            t0 = time.perf_counter()
            client.text_document_did_save(
                types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
            )
            await wait_for(lambda ds, w=with_column: toggled(ds) == w)
            if i:  # the first save also warms the parse cache
                save_ms.append((time.perf_counter() - t0) * 1000)
        server_cpu = (cpu_ms(server_pid) - cpu_before[0]) / max(saves, 1)
        worker_cpu = (cpu_ms(worker_pid) - cpu_before[1]) / max(saves, 1)
        action_ms = await time_code_actions(client, uri, rounds)
        preview_ms: list[float] = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            preview = await client.workspace_execute_command_async(
                types.ExecuteCommandParams(command="schemaLsp.previewRevision", arguments=[])
            )
            preview_ms.append((time.perf_counter() - t0) * 1000)
            assert "def upgrade" in preview["text"], preview
        server_rss, worker_rss = rss_mib(server_pid), rss_mib(worker_pid)
        resident_rss = children_rss_mib(worker_pid)
        await client.shutdown_session()
        await client.stop()

        # Cold checks of fresh workers against the engine alone (medians of COLD_RUNS).
        fields = {
            "root": str(workdir),
            "models": ["models:metadata"],
            "database_url": settings["databaseUrl"],
            "opts": {"compare_type": True, "compare_server_default": True},
        }
        cold_runs: list[tuple[float, float]] = []
        for _ in range(COLD_RUNS):
            worker = WorkerClient(sys.executable, workdir)
            await worker.start()
            t0 = time.perf_counter()
            cold = await worker.check(**fields)
            whole = (time.perf_counter() - t0) * 1000
            assert cold.status == "ok", cold.status
            part = cold.timings.get("reflect_ms", 0.0) + cold.timings.get("compare_ms", 0.0)
            cold_runs.append((whole, part))
            if len(cold_runs) < COLD_RUNS:
                await worker.stop()
        cold_check_ms = statistics.median(w for w, _ in cold_runs)
        cold_engine_part_ms = statistics.median(p for _, p in cold_runs)
        engine_ms = statistics.median(time_engine(url, models) for _ in range(COLD_RUNS))
        # Idle periodic check (on the last worker): what the timer costs when nothing changed.
        idle_ms: list[float] = []
        fingerprint_ms: list[float] = []
        for _ in range(idle_checks):
            t0 = time.perf_counter()
            result = await worker.check(**fields, models_changed=False)
            idle_ms.append((time.perf_counter() - t0) * 1000)
            assert result.status == "unchanged", result.status
            fingerprint_ms.append(result.timings.get("fingerprint_ms", float("nan")))
        await worker.stop()
        return Result(
            n_tables,
            save_ms,
            idle_ms,
            fingerprint_ms,
            server_rss,
            worker_rss,
            resident_rss,
            first_check,
            action_ms,
            preview_ms,
            cold_check_ms,
            cold_engine_part_ms,
            engine_ms,
            server_cpu,
            worker_cpu,
            time_models_exec(model_file, workdir),
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def format_table(results: Sequence[Result]) -> str:
    head = (
        f"{'tables':>6} | {'save->diag':>10} | {'p95':>8} | {'idle check':>10} | {'p95':>7} | "
        f"{'fingerprint':>11} | {'code action':>11} | {'p95':>7} | {'preview':>8} | "
        f"{'p95':>8} | {'cold check':>10} | {'engine':>8} | {'ratio':>5} | "
        f"{'server RSS':>10} | {'worker RSS':>10} | {'resident RSS':>12} | "
        f"{'CPU/save srv+wrk':>16}"
    )
    lines = [head, "-" * len(head)]

    def ms(values: Sequence[float], width: int) -> str:
        return f"{statistics.median(values):>{width}.1f} ms" if values else f"{'n/a':>{width + 3}}"

    def p95(values: Sequence[float], width: int) -> str:
        return f"{percentile(values, 0.95):>{width}.1f} ms" if values else f"{'n/a':>{width + 3}}"

    for r in results:
        lines.append(
            f"{r.tables:>6} | {ms(r.save_ms, 7)} | {p95(r.save_ms, 5)} | {ms(r.idle_ms, 7)} | "
            f"{p95(r.idle_ms, 4)} | {ms(r.fingerprint_ms, 8)} | {ms(r.action_ms, 8)} | "
            f"{p95(r.action_ms, 4)} | {ms(r.preview_ms, 5)} | {p95(r.preview_ms, 5)} | "
            f"{r.cold_check_ms:>7.0f} ms | {r.engine_ms:>5.0f} ms | "
            f"{r.cold_check_ms / r.engine_ms:>5.2f} | "
            f"{r.server_rss_mib:>6.0f} MiB | {r.worker_rss_mib:>6.0f} MiB | "
            f"{r.resident_rss_mib:>8.0f} MiB | "
            f"{r.server_cpu_ms:>5.0f} + {r.worker_cpu_ms:>4.0f} ms"
        )
    by_size = {r.tables: r for r in results}
    lines.append("")
    lines.append("targets (medians):")
    for what, tables, limit in TARGETS:
        r = by_size.get(tables)
        if r is None:
            continue
        value = r.median(what)
        verdict = "PASS" if value < limit else "FAIL"
        lines.append(
            f"  {what:<17} at {tables:>4} tables: {value:>7.1f} ms  (< {limit:.0f} ms)  {verdict}"
        )
    for r in results:
        verdict = "PASS" if r.cold_engine_part_ms <= r.engine_ms else "FAIL"
        lines.append(
            f"  cold check vs engine at {r.tables:>4} tables: reflect+compare "
            f"{r.cold_engine_part_ms:.0f} ms vs engine {r.engine_ms:.0f} ms "
            f"(ratio {r.cold_engine_part_ms / r.engine_ms:.2f}, <= engine)  {verdict}; "
            f"whole check with import and hints {r.cold_check_ms:.0f} ms "
            f"(ratio {r.cold_check_ms / r.engine_ms:.2f})"
        )
    for r in results:
        times = r.median("save->diagnostics") / max(r.models_exec_ms, 1.0)
        lines.append(
            f"  the model file alone at {r.tables:>4} tables: {r.models_exec_ms:.0f} ms in "
            f"this process (the floor of a save; the save took {times:.2f}x that)"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="20,200,1000", help="comma-separated table counts")
    parser.add_argument("--saves", type=int, default=15, help="timed saves per size")
    parser.add_argument("--idle", type=int, default=30, help="timed idle checks per size")
    parser.add_argument("--rounds", type=int, default=15, help="code actions and previews")
    parser.add_argument(
        "--pause",
        type=float,
        default=1.0,
        help="seconds between a save's diagnostics and the next save (0: back to back)",
    )
    args = parser.parse_args(argv)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        result = asyncio.run(measure(size, args.saves, args.idle, args.rounds, args.pause))
        print(f"{size} tables done", file=sys.stderr)
        results.append(result)
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
