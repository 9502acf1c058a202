"""The revision flow: hooks may edit, drop or multiply the scripts before they are written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from schema_lsp.autogenerate.revision import RevisionArgs, RevisionContext, RevisionError
from schema_lsp.operations import ops
from schema_lsp.runtime.migration import MigrationContext
from schema_lsp.script import CLI_OPTION_NAMES, ScriptConfig, load_graph
from schema_lsp.script.writer import RevisionWriteError


@pytest.fixture
def config(tmp_path: Path) -> ScriptConfig:
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    return ScriptConfig(script_location=tmp_path / "migrations")


@pytest.fixture
def connection(tmp_path: Path) -> Any:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE users (id INTEGER NOT NULL, PRIMARY KEY (id))")
    with engine.connect() as conn:
        yield conn
    engine.dispose()


def _models() -> sa.MetaData:
    md = sa.MetaData()
    sa.Table(
        "users",
        md,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(50)),
    )
    return md


def test_autogenerate_writes_ops(config: ScriptConfig, connection: Any) -> None:
    ctx = RevisionContext(config, RevisionArgs(message="add email"))
    ctx.run_autogenerate((), MigrationContext.configure(connection), _models())
    [written] = ctx.generate_scripts()
    text = written.path.read_text()
    assert "op.add_column('users', sa.Column('email', sa.String(length=50)" in text
    assert "op.drop_column('users', 'email')" in text
    assert load_graph(config).heads == (written.revision,)


def test_hook_edits_in_place(config: ScriptConfig, connection: Any) -> None:
    def hook(context: Any, revision: Any, directives: list[ops.MigrationScript]) -> None:
        directives[0].message = "renamed by hook"
        directives[0].rev_id = "aaaaaaaaaaaa"

    ctx = RevisionContext(config, RevisionArgs(message="x"), process_revision_directives=hook)
    ctx.run_autogenerate((), MigrationContext.configure(connection), _models())
    [written] = ctx.generate_scripts()
    assert written.revision == "aaaaaaaaaaaa"
    assert "renamed by hook" in written.path.read_text()


def test_hook_empties_the_list(config: ScriptConfig, connection: Any) -> None:
    def hook(context: Any, revision: Any, directives: list[ops.MigrationScript]) -> None:
        script = directives[0]
        assert script.upgrade_ops is not None
        if script.upgrade_ops.is_empty():
            directives[:] = []

    models = sa.MetaData()
    sa.Table("users", models, sa.Column("id", sa.Integer, primary_key=True))
    opts = {"process_revision_directives": hook}
    ctx = RevisionContext(config, RevisionArgs(message="nothing"))
    ctx.run_autogenerate((), MigrationContext.configure(connection, opts=opts), models)
    assert ctx.generated_revisions == []
    assert ctx.generate_scripts() == []
    assert list((config.script_location / "versions").iterdir()) == []


def test_hook_splits_into_several_files(config: ScriptConfig, connection: Any) -> None:
    def hook(context: Any, revision: Any, directives: list[ops.MigrationScript]) -> None:
        first = directives[0]
        second = ops.MigrationScript(
            rev_id="bbbbbbbbbbbb",
            message="second",
            upgrade_ops=ops.UpgradeOps([ops.CreateIndexOp("ix_users_email", "users", ["email"])]),
            downgrade_ops=ops.DowngradeOps([ops.DropIndexOp("ix_users_email", "users")]),
        )
        first.rev_id = "aaaaaaaaaaaa"
        directives.append(second)

    ctx = RevisionContext(config, RevisionArgs(message="first"), process_revision_directives=hook)
    ctx.run_autogenerate((), MigrationContext.configure(connection), _models())
    written = ctx.generate_scripts()
    assert [w.revision for w in written] == ["aaaaaaaaaaaa", "bbbbbbbbbbbb"]
    assert written[1].down_revision == "aaaaaaaaaaaa"
    assert "op.create_index('ix_users_email'" in written[1].path.read_text()


def test_several_engines_render_into_their_tokens(tmp_path: Path, connection: Any) -> None:
    location = tmp_path / "multi"
    (location / "versions").mkdir(parents=True)
    (location / "script.py.mako").write_text(
        '"""${message}"""\nrevision = ${repr(up_revision)}\n'
        "down_revision = ${repr(down_revision)}\nbranch_labels = None\ndepends_on = None\n\n"
        "def upgrade_engine1():\n    ${engine1_upgrades}\n\n"
        "def downgrade_engine1():\n    ${engine1_downgrades}\n\n"
        "def upgrade_engine2():\n    ${engine2_upgrades}\n\n"
        "def downgrade_engine2():\n    ${engine2_downgrades}\n"
    )
    config = ScriptConfig(script_location=location)
    ctx = RevisionContext(config, RevisionArgs(message="two engines"))
    for n in (1, 2):
        mc = MigrationContext.configure(
            connection,
            opts={
                "upgrade_token": f"engine{n}_upgrades",
                "downgrade_token": f"engine{n}_downgrades",
            },
        )
        ctx.run_autogenerate((), mc, _models())
    [written] = ctx.generate_scripts()
    text = written.path.read_text()
    compile(text, str(written.path), "exec")
    assert text.count("op.add_column('users'") == 2
    assert "def upgrade_engine2():\n    # ### commands auto generated" in text


def test_no_autogenerate_writes_pass(config: ScriptConfig) -> None:
    ctx = RevisionContext(config, RevisionArgs(message="empty"))
    ctx.run_no_autogenerate((), MigrationContext.configure(dialect_name="sqlite"))
    [rendered] = ctx.render_scripts()
    assert "pass" in rendered.text
    assert not Path(rendered.path).exists()


def _empty_revision(config: ScriptConfig, rev_id: str, **kw: Any) -> None:
    ctx = RevisionContext(config, RevisionArgs(message=rev_id, rev_id=rev_id, **kw))
    ctx.run_no_autogenerate((), MigrationContext.configure(dialect_name="sqlite"))
    ctx.generate_scripts()


def test_merge_joins_the_heads(config: ScriptConfig, connection: Any) -> None:
    _empty_revision(config, "a1")
    _empty_revision(config, "b1")
    _empty_revision(config, "b2", head="a1", splice=True)
    ctx = RevisionContext(config, RevisionArgs(message="join", merge=True))
    ctx.run_autogenerate((), MigrationContext.configure(connection), _models())
    [written] = ctx.generate_scripts()
    assert set(written.down_revision or ()) == {"b1", "b2"}
    assert "op.add_column('users'" in written.text
    assert load_graph(config).heads == (written.revision,)


def test_merge_and_head_exclude_each_other(config: ScriptConfig) -> None:
    with pytest.raises(RevisionError, match=r"either head=<revision> or merge=True"):
        RevisionContext(config, RevisionArgs(message="x", head="a1", merge=True))


def test_messages_use_the_callers_option_names(config: ScriptConfig) -> None:
    _empty_revision(config, "a1")
    _empty_revision(config, "b1")
    _empty_revision(config, "b2", head="a1", splice=True)
    ctx = RevisionContext(config, RevisionArgs(message="x"), option_names=CLI_OPTION_NAMES)
    ctx.run_no_autogenerate((), MigrationContext.configure(dialect_name="sqlite"))
    with pytest.raises(RevisionWriteError) as raised:
        ctx.generate_scripts()
    assert "Pass --head REV to build on one of them, or --merge to join them" in str(raised.value)


def test_template_args_reach_the_template(tmp_path: Path, connection: Any) -> None:
    location = tmp_path / "annotated"
    (location / "versions").mkdir(parents=True)
    (location / "script.py.mako").write_text(
        '"""${message}\n\nconfigured=${configured} hook=${hook} own=${own}\n"""\n'
        "revision = ${repr(up_revision)}\ndown_revision = ${repr(down_revision)}\n"
    )

    def hook(context: Any, revision: Any, directives: list[ops.MigrationScript]) -> None:
        assert context.opts["template_args"]["configured"] == "env.py"
        context.opts["template_args"]["hook"] = "opts"
        directives[0].template_args = {"own": "script"}  # type: ignore[attr-defined]

    # Alembic's env.py passes template_args to configure(); they land in the opts.
    opts = {"template_args": {"configured": "env.py"}, "process_revision_directives": hook}
    ctx = RevisionContext(ScriptConfig(script_location=location), RevisionArgs(message="m"))
    ctx.run_autogenerate((), MigrationContext.configure(connection, opts=opts), _models())
    [rendered] = ctx.render_scripts()
    assert "configured=env.py hook=opts own=script" in rendered.text
