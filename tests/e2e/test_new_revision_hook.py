"""``schemaLsp.newRevision`` with the project's ``process_revision_directives`` hook, end to end.

The hook is user code, so the server runs it in a one-shot child with the project's
interpreter: what it changes (message, template variables, ops) is in the written file, which
Alembic then runs; a hook that fails, empties the directives, leaves something that is not a
script, or hangs gives the editor one plain error naming the hook and writes no file.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from harness import Session, alembic, lsp_session, migrate
from lsprotocol import types
from sqlalchemy.engine import URL

from schema_lsp.server.revision_subprocess import (
    HookedRevisionFailed,
    HookedRevisionRequest,
    run_hooked_revision,
)
from tests.databases import make_engine

MODELS = "shop/models.py"
VERSIONS = "migrations/versions"
FAST = {"checkInterval": 0.5}

SHAPE = '''\
from schema_lsp.operations import ops


def shape(context, revision, directives):
    """Rename the revision, add a template variable, drop the new index."""
    script = directives[0]
    script.message = "shaped by the hook"
    context.opts["template_args"]["reviewed_by"] = "the migration hook"
    upgrade = script.upgrade_ops
    for block in upgrade.ops:
        if isinstance(block, ops.ModifyTableOps):
            block.ops[:] = [op for op in block.ops if not isinstance(op, ops.CreateIndexOp)]
    upgrade.ops[:] = [
        op
        for op in upgrade.ops
        if not isinstance(op, ops.CreateIndexOp)
        and not (isinstance(op, ops.ModifyTableOps) and not op.ops)
    ]
    upgrade.reverse_into(script.downgrade_ops)
'''

BROKEN = """\
def explode(context, revision, directives):
    raise RuntimeError("the hook refuses")


def drop_all(context, revision, directives):
    directives[:] = []


def junk(context, revision, directives):
    directives[:] = ["not a script"]


def spin(context, revision, directives):
    while True:
        pass
"""


def revision_files(root: Path) -> set[str]:
    return {p.name for p in (root / VERSIONS).glob("*.py")}


def with_hooks(root: Path, source: str) -> None:
    (root / "shop" / "hooks.py").write_text(source, encoding="utf-8")


async def initial(session: Session) -> None:
    await session.wait_diagnostics(
        MODELS, lambda ds: any(d.code == "add_table" for d in ds), timeout=60
    )


async def new_revision(session: Session, *args: Any) -> Any:
    return await session.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="schemaLsp.newRevision", arguments=list(args))
    )


async def failure(session: Session, *args: Any) -> str:
    """The message of the error the command answers with."""
    with pytest.raises(Exception) as caught:
        await new_revision(session, *args)
    return str(caught.value)


def table_names(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def index_names(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}


async def test_the_hook_shapes_the_written_revision_and_alembic_runs_it(shop: Path) -> None:
    with_hooks(shop, SHAPE)
    template = shop / "migrations" / "script.py.mako"
    template.write_text(
        template.read_text().replace(
            '"""${message}', '"""${message}\n\nReviewed-by: ${reviewed_by}'
        )
    )
    settings = {**FAST, "processRevisionDirectives": "shop.hooks:shape"}
    async with lsp_session(shop, settings=settings) as session:
        await initial(session)
        before = revision_files(shop)
        written = await new_revision(session, session.uri(MODELS), "catch up with the models")
        path = Path(written["path"])
        assert path.parent == shop / VERSIONS and path.name in revision_files(shop) - before
        assert any(d.uri == path.as_uri() for d in session.client.shown_documents)
        text = path.read_text()
        assert text.startswith('"""shaped by the hook') and "catch up" not in text
        assert "Reviewed-by: the migration hook" in text
        assert "op.create_table('reviews'" in text
        assert "email_verified" in text and "batch_op.alter_column('name'" in text
        assert "create_index" not in text and "drop_index" not in text, "the hook dropped it"
        assert "drop_column('note')" not in text, "destructive drift stays out by default"
        assert written["count"] == 3  # reviews, users.email_verified, products.name
        assert alembic(shop, "heads").startswith(written["revision"])

        alembic(shop, "upgrade", "head")
        db = shop / "shop.db"
        assert "reviews" in table_names(db)
        assert "ix_products_name" not in index_names(db)
        with sqlite3.connect(db) as conn:
            columns = {r[1] for r in conn.execute("PRAGMA table_info(users)")}
        assert "email_verified" in columns
        alembic(shop, "downgrade", "-1")
        assert "reviews" not in table_names(db)


async def test_hook_from_pyproject_shapes_a_quick_fix_revision(shop: Path) -> None:
    """A code action's single drift is all the hook sees; the key in pyproject.toml counts."""
    with_hooks(shop, SHAPE)
    template = shop / "migrations" / "script.py.mako"
    template.write_text(template.read_text().replace("${message}", "${message} (${reviewed_by})"))
    pyproject = shop / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text() + 'process_revision_directives = "shop.hooks:shape"\n'
    )
    async with lsp_session(shop, settings=FAST) as session:
        await initial(session)
        diagnostics = session.diagnostics(MODELS)
        email = next(d for d in diagnostics if (d.data or {}).get("name") == "email_verified")
        written = await new_revision(session, session.uri(MODELS), "one column", [email.data])
        text = Path(written["path"]).read_text()
        assert "shaped by the hook (the migration hook)" in text
        assert "email_verified" in text and "create_table" not in text
        assert written["count"] == 1
        alembic(shop, "upgrade", "head")


@pytest.mark.parametrize(
    ("hook", "expected"),
    [
        ("explode", "the process_revision_directives hook shop.hooks:explode failed at "),
        (
            "drop_all",
            "the process_revision_directives hook shop.hooks:drop_all removed every change; "
            "no revision written",
        ),
        ("junk", "shop.hooks:junk left str in the directives"),
        ("missing", "shop.hooks:missing does not exist"),
    ],
)
async def test_a_hook_that_cannot_give_a_revision_is_one_error_and_no_file(
    shop: Path, hook: str, expected: str
) -> None:
    with_hooks(shop, BROKEN)
    settings = {**FAST, "processRevisionDirectives": f"shop.hooks:{hook}"}
    async with lsp_session(shop, settings=settings) as session:
        await initial(session)
        before = revision_files(shop)
        message = await failure(session, "will not be written")
        assert expected in message, message
        assert "Traceback" not in message and "\n" not in message.strip()
        if hook == "explode":
            assert "hooks.py:2: RuntimeError: the hook refuses" in message
        assert revision_files(shop) == before
        assert not list((shop / VERSIONS).glob(".*")), "no temporary file is left behind"


async def test_a_hook_that_hangs_is_stopped_and_the_editor_is_served_meanwhile(
    shop: Path,
) -> None:
    with_hooks(shop, BROKEN)
    settings = {**FAST, "processRevisionDirectives": "shop.hooks:spin", "importTimeout": 3}
    async with lsp_session(shop, settings=settings) as session:
        await initial(session)
        before = revision_files(shop)
        pending = asyncio.ensure_future(failure(session, "spins"))
        preview = await session.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command="schemaLsp.previewRevision", arguments=[])
        )
        assert "op.create_table('reviews'" in preview["text"]
        assert not pending.done(), "the server answered while the hook was still running"
        message = await pending
        assert "shop.hooks:spin did not finish within 3 s" in message, message
        assert re.search(r"hooks\.py:1[45]\b", message) and "import_timeout" in message
        assert revision_files(shop) == before


async def test_a_child_past_the_time_limit_is_killed_before_it_writes(shop: Path) -> None:
    """The server's own limit, for a hook the child cannot interrupt (it ignores SIGALRM)."""
    with_hooks(
        shop,
        "import signal, time\n\n\ndef stubborn(context, revision, directives):\n"
        "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    time.sleep(600)\n",
    )
    request = HookedRevisionRequest(
        root=str(shop),
        hook="shop.hooks:stubborn",
        models=["shop.models:Base"],
        database_url=f"sqlite:///{shop / 'shop.db'}",
        migrations="migrations",
        message="never",
        hook_time_limit=30,
    )
    before = revision_files(shop)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(HookedRevisionFailed) as caught:
        await run_hooked_revision(request, python=sys.executable, time_limit=4)
    assert loop.time() - started < 15
    assert "shop.hooks:stubborn did not finish within 4 s" in str(caught.value)
    assert revision_files(shop) == before


async def test_messages_name_the_command_arguments_and_merge_joins_the_heads(
    shop: Path,
) -> None:
    """Several heads: the message says how to pass the parent to schemaLsp.newRevision (not
    Python keywords), and ``{"merge": true}`` writes the merge; with a hook, a database behind
    the heads is refused in the command's words."""
    alembic(shop, "revision", "-m", "left", "--rev-id", "l1", "--head", "0002")
    alembic(shop, "revision", "-m", "right", "--rev-id", "r1", "--head", "0002", "--splice")
    async with lsp_session(shop, settings=FAST) as session:
        await initial(session)
        message = await failure(session, "two heads")
        assert 'Pass schemaLsp.newRevision\'s {"head": "<revision>"} to build' in message
        assert '{"merge": true}' in message and "head=<revision>" not in message
        written = await new_revision(session, "join", {"merge": True})
        assert "down_revision: Union[str, Sequence[str], None] = ('l1', 'r1')" in (
            Path(written["path"]).read_text()
        )
    alembic(shop, "upgrade", "heads")
    assert alembic(shop, "current").split()[0] == written["revision"]

    alembic(shop, "revision", "-m", "later", "--rev-id", "z9")
    with_hooks(shop, SHAPE)
    settings = {**FAST, "processRevisionDirectives": "shop.hooks:shape"}
    async with lsp_session(shop, settings=settings) as session:
        await session.wait_diagnostics(MODELS, bool, timeout=60)  # the destructive drift is left
        before = revision_files(shop)
        message = await failure(session, "behind")
        assert "the database is not up to date" in message and "'alembic upgrade head'" in message
        assert "schemaLsp.newRevision compares the models with the database" in message
        assert "--autogenerate" not in message
        assert revision_files(shop) == before


@pytest.mark.backends("postgresql", "mariadb")
async def test_the_hook_reads_the_database_read_only_and_passwords_stay_masked(
    shop: Path, db_url: URL, backend: str
) -> None:
    migrate(shop, db_url)
    if backend == "postgresql":  # the example's boolean default is SQLite's integer
        models = shop / MODELS
        text = models.read_text().replace('text("0"), comment=', 'text("false"), comment=')
        models.write_text(text)
    with_hooks(
        shop,
        "def write(context, revision, directives):\n"
        "    context.bind.exec_driver_sql('CREATE TABLE hook_wrote (id integer)')\n\n\n"
        "def leak(context, revision, directives):\n"
        "    raise RuntimeError(context.bind.engine.url.render_as_string(hide_password=False))\n",
    )
    cases = [("write", "READ ONLY" if backend == "mariadb" else "read-only transaction")]
    url = db_url.render_as_string(hide_password=False)
    if backend == "postgresql":
        # PostgreSQL trusts the test's connections: the password is carried, never checked.
        url = db_url.set(password="s3cret-pw").render_as_string(hide_password=False)
        cases.append(("leak", "***"))
    for hook, expected in cases:
        settings = {**FAST, "databaseUrl": url, "processRevisionDirectives": f"shop.hooks:{hook}"}
        async with lsp_session(shop, settings=settings) as session:
            await initial(session)
            before = revision_files(shop)
            message = await failure(session)
            assert f"shop.hooks:{hook} failed" in message and expected in message, message
            assert "s3cret-pw" not in message
            assert revision_files(shop) == before
    engine = make_engine(db_url)
    try:
        names = sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert "users" in names and "hook_wrote" not in names, "the hook's write was refused"
