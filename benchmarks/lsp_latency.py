"""Language-server latency: save-to-diagnostics and the idle periodic check.

For 20, 200 and 1000 tables (models from ``schema_gen``, database on PostgreSQL) this
starts ``python -m schema_lsp.server`` over stdio, then

* saves the model file alternately with and without one extra column and times
  ``didSave`` -> the ``publishDiagnostics`` that reflects the edit (client side);
* times an idle periodic check (worker round trip: fingerprint query, nothing changed);
* reports server and worker RSS.

Usage: ``python benchmarks/lsp_latency.py [--sizes 20,200,1000] [--saves 15]``.
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


@dataclass
class Result:
    tables: int
    save_ms: list[float]
    idle_ms: list[float]
    fingerprint_ms: list[float]
    server_rss_mib: float
    worker_rss_mib: float
    first_check_s: float


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


async def measure(n_tables: int, saves: int, idle_checks: int) -> Result:
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

        env = {**os.environ, "PYTHONPATH": str(REPO)}
        await client.start_io(sys.executable, "-m", "schema_lsp.server", env=env)
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
        save_ms: list[float] = []
        for i in range(saves + 1):
            with_column = i % 2 == 0
            text = source.replace("    # bench-toggle\n", TOGGLE) if with_column else source
            model_file.write_text(text)
            t0 = time.perf_counter()
            client.text_document_did_save(
                types.DidSaveTextDocumentParams(
                    text_document=types.TextDocumentIdentifier(uri=uri)
                )
            )
            await wait_for(lambda ds, w=with_column: toggled(ds) == w)
            if i:  # the first save also warms the parse cache
                save_ms.append((time.perf_counter() - t0) * 1000)
        server_pid = client._server.pid if client._server else None
        worker_pids = [
            m.message.split()[1]
            for m in client.log_messages
            if m.message.startswith("worker ") and "started" in m.message
        ]
        worker_pid = int(worker_pids[-1]) if worker_pids else None
        server_rss, worker_rss = rss_mib(server_pid), rss_mib(worker_pid)
        await client.shutdown_session()
        await client.stop()

        # Idle periodic check: what the timer costs when nothing changed.
        worker = WorkerClient(sys.executable, workdir)
        fields = {
            "root": str(workdir),
            "models": ["models:metadata"],
            "database_url": settings["databaseUrl"],
        }
        await worker.check(**fields)
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
            n_tables, save_ms, idle_ms, fingerprint_ms, server_rss, worker_rss, first_check
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def format_table(results: Sequence[Result]) -> str:
    head = (
        f"{'tables':>6} | {'save->diag median':>17} | {'p95':>8} | {'idle check median':>17} | "
        f"{'p95':>7} | {'fingerprint':>11} | {'first check':>11} | {'server RSS':>10} | "
        f"{'worker RSS':>10}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.tables:>6} | {statistics.median(r.save_ms):>14.1f} ms | "
            f"{percentile(r.save_ms, 0.95):>5.1f} ms | {statistics.median(r.idle_ms):>14.1f} ms | "
            f"{percentile(r.idle_ms, 0.95):>4.1f} ms | "
            f"{statistics.median(r.fingerprint_ms):>8.1f} ms | {r.first_check_s:>9.2f} s | "
            f"{r.server_rss_mib:>6.0f} MiB | {r.worker_rss_mib:>6.0f} MiB"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sizes", default="20,200,1000", help="comma-separated table counts")
    parser.add_argument("--saves", type=int, default=15, help="timed saves per size")
    parser.add_argument("--idle", type=int, default=30, help="timed idle checks per size")
    args = parser.parse_args(argv)
    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        result = asyncio.run(measure(size, args.saves, args.idle))
        print(f"{size} tables done", file=sys.stderr)
        results.append(result)
    print(format_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
