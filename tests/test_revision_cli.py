"""``schema-lsp revision``: choosing the parent (--head, --merge), refusing a database
that is behind, and the project's ``process_revision_directives`` hook with its
template variables. Each test builds its own project in ``tmp_path``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from schema_lsp.cli import main
from schema_lsp.script import DEFAULT_TEMPLATE, ScriptConfig, load_graph

MODELS = """\
import sqlalchemy as sa

metadata = sa.MetaData()
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(50)),
)
"""


@dataclass
class Project:
    root: Path
    package: str

    @property
    def versions(self) -> Path:
        return self.root / "migrations" / "versions"

    def revision(self, *args: str) -> int:
        return main(["revision", "--project", str(self.root), *args])

    def at(self, *revisions: str) -> None:
        """Record ``revisions`` in the version table, as ``alembic upgrade`` would."""
        engine = sa.create_engine(f"sqlite:///{self.root / 'db.sqlite'}")
        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM alembic_version")
            for rev in revisions:
                conn.exec_driver_sql(f"INSERT INTO alembic_version VALUES ('{rev}')")
        engine.dispose()

    def graph_down(self, revision: str) -> object:
        return load_graph(ScriptConfig(self.root / "migrations")).revisions[revision].down_revision


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Models with ``users.email``; a SQLite database whose ``users`` lacks it."""
    package = f"proj_{uuid.uuid4().hex[:10]}"  # unique: the CLI runs in this process
    (tmp_path / package).mkdir()
    (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / package / "models.py").write_text(MODELS)
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.schema-lsp]\n"
        f'models = ["{package}.models:metadata"]\n'
        'database_url = "sqlite:///db.sqlite"\n'
        'migrations = "migrations"\n'
    )
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE users (id INTEGER NOT NULL, PRIMARY KEY (id))")
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
    engine.dispose()
    return Project(tmp_path, package)


@pytest.fixture
def two_heads(project: Project) -> Project:
    """History ``a1 -> b1`` and ``a1 -> b2``: two heads."""
    assert project.revision("-m", "base", "--rev-id", "a1") == 0
    assert project.revision("-m", "left", "--rev-id", "b1") == 0
    assert project.revision("-m", "right", "--rev-id", "b2", "--head", "a1", "--splice") == 0
    return project


def test_merge_joins_every_head(two_heads: Project) -> None:
    assert two_heads.revision("-m", "join", "--rev-id", "m1", "--merge") == 0
    assert set(two_heads.graph_down("m1")) == {"b1", "b2"}  # type: ignore[call-overload]
    alembic = ScriptDirectory(str(two_heads.root / "migrations"))
    assert alembic.get_heads() == ["m1"]
    assert set(alembic.get_revision("m1").down_revision) == {"b1", "b2"}  # type: ignore[arg-type]


def test_autogenerate_merge_needs_the_database_at_every_head(two_heads: Project) -> None:
    two_heads.at("b1", "b2")
    assert two_heads.revision("-m", "join", "--rev-id", "m1", "--merge", "--autogenerate") == 0
    [merge] = two_heads.versions.glob("m1_*.py")
    assert "batch_op.add_column(sa.Column('email'" in merge.read_text()
    assert set(two_heads.graph_down("m1")) == {"b1", "b2"}  # type: ignore[call-overload]


def test_several_heads_error_names_the_cli_flags(
    two_heads: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert two_heads.revision("-m", "next") == 2
    err = capsys.readouterr().err
    assert "There are 2 heads" in err
    assert "--head REV" in err and "--merge" in err
    assert "head=" not in err and "merge=True" not in err
    assert len(err.strip().splitlines()) == 1


def test_head_that_is_not_a_head_names_splice(
    two_heads: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert two_heads.revision("-m", "next", "--head", "a1") == 2
    err = capsys.readouterr().err
    assert "a1 is not a head" in err and "--splice" in err and "splice=True" not in err


def test_head_picks_one_of_several_heads(two_heads: Project) -> None:
    assert two_heads.revision("-m", "on left", "--rev-id", "c1", "--head", "b1") == 0
    assert two_heads.graph_down("c1") == "b1"


def test_merge_with_a_single_head_is_refused(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert project.revision("-m", "base", "--rev-id", "a1") == 0
    assert project.revision("-m", "join", "--merge") == 2
    assert "only one head (a1), so there is nothing to merge" in capsys.readouterr().err
    assert [p.name for p in project.versions.glob("*.py")] == ["a1_base.py"]


def test_head_and_merge_exclude_each_other(
    two_heads: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        two_heads.revision("-m", "x", "--head", "b1", "--merge")
    assert exited.value.code == 2
    assert "--merge: not allowed with argument --head" in capsys.readouterr().err


def test_autogenerate_with_head_refuses_a_database_behind_it(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    assert project.revision("-m", "base", "--rev-id", "a1") == 0
    assert project.revision("-m", "more", "--rev-id", "b1") == 0
    project.at("a1")
    assert project.revision("-m", "auto", "--autogenerate", "--head", "b1") == 2
    err = capsys.readouterr().err
    assert "not up to date: it is at a1, the migrations' head is b1" in err
    assert "alembic upgrade head" in err
    assert not list(project.versions.glob("*_auto.py"))

    project.at("b1")
    assert project.revision("-m", "auto", "--rev-id", "c1", "--autogenerate", "--head", "b1") == 0
    assert project.graph_down("c1") == "b1"


def test_autogenerate_with_head_refuses_a_database_missing_another_head(
    two_heads: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    two_heads.at("b1")
    assert two_heads.revision("-m", "auto", "--autogenerate", "--head", "b1") == 2
    err = capsys.readouterr().err
    assert "heads are b1, b2" in err and "alembic upgrade heads" in err


def test_unparsable_url_is_one_line(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    url = "postgresql://app:secret@db:notaport/app"
    assert project.revision("-m", "auto", "--autogenerate", "--db", url) == 2
    err = capsys.readouterr().err
    assert err.startswith("schema-lsp: error: invalid database URL") and "secret" not in err
    assert len(err.strip().splitlines()) == 1


def _hooks(project: Project, source: str) -> str:
    (project.root / project.package / "hooks.py").write_text(source)
    return f"{project.package}.hooks"


def test_hook_that_empties_the_list_writes_nothing(
    project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    hooks = _hooks(
        project, "def drop_all(context, revision, directives):\n    directives[:] = []\n"
    )
    code = project.revision(
        "-m", "auto", "--autogenerate", "--process-revision-directives", f"{hooks}:drop_all"
    )
    assert code == 0
    err = capsys.readouterr().err
    assert (
        f"No revision file written: the process_revision_directives hook {hooks}:drop_all "
        "removed every revision" in err
    )
    assert not list(project.versions.glob("*.py"))


def test_rewriter_hook_reshapes_the_ops(project: Project) -> None:
    hooks = _hooks(
        project,
        "from schema_lsp.autogenerate.rewriter import Rewriter\n"
        "from schema_lsp.operations import ops\n\n"
        "writer = Rewriter()\n\n\n"
        "@writer.rewrites(ops.AddColumnOp)\n"
        "def comment(context, revision, op):\n"
        "    op.column.comment = 'added by the hook'\n"
        "    return op\n",
    )
    code = project.revision(
        "-m",
        "auto",
        "--rev-id",
        "r1",
        "--autogenerate",
        "--process-revision-directives",
        f"{hooks}:writer",
    )
    assert code == 0
    [written] = project.versions.glob("r1_*.py")
    assert "comment='added by the hook'" in written.read_text()


def test_template_args_from_a_hook_reach_the_template(project: Project) -> None:
    template = DEFAULT_TEMPLATE.read_text().replace(
        '"""${message}',
        "\"\"\"${message}\n\nTicket: ${context.get('ticket', 'UNSET')}\n"
        "Note: ${context.get('note', 'UNSET')}",
    )
    (project.root / "migrations" / "script.py.mako").write_text(template)
    hooks = _hooks(
        project,
        "def annotate(context, revision, directives):\n"
        "    context.opts['template_args']['note'] = 'from context opts'\n"
        "    directives[0].template_args = {'ticket': 'T-42'}\n",
    )
    for rev_id, extra in (("r1", ["--autogenerate"]), ("r2", [])):
        project.at(*(["r1"] if rev_id == "r2" else []))
        code = project.revision(
            "-m",
            "annotated",
            "--rev-id",
            rev_id,
            *extra,
            "--process-revision-directives",
            f"{hooks}:annotate",
        )
        assert code == 0
        [written] = project.versions.glob(f"{rev_id}_*.py")
        text = written.read_text()
        assert "Ticket: T-42" in text and "Note: from context opts" in text, rev_id


def test_hook_from_pyproject(project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    hooks = _hooks(
        project, "def drop_all(context, revision, directives):\n    directives[:] = []\n"
    )
    with (project.root / "pyproject.toml").open("a") as toml:
        toml.write(f'process_revision_directives = "{hooks}:drop_all"\n')
    assert project.revision("-m", "auto", "--autogenerate") == 0
    assert "No revision file written" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("source", "spec", "expected"),
    [
        ("", "missing_module:fn", "cannot import the process_revision_directives hook"),
        ("x = 1\n", "hooks:fn", "hooks has no attribute 'fn'"),
        ("fn = 1\n", "hooks:fn", "is a int, expected a function"),
        ("def fn(c, r, d):\n    raise ValueError('bad hook')\n", "hooks:fn", "failed at "),
        ("", "not a spec", "invalid process_revision_directives 'not a spec'"),
    ],
)
def test_hook_failures_are_one_line(
    project: Project, capsys: pytest.CaptureFixture[str], source: str, spec: str, expected: str
) -> None:
    module = _hooks(project, source)
    spec = spec.replace("hooks:", f"{module}:")
    assert (
        project.revision("-m", "auto", "--autogenerate", "--process-revision-directives", spec) == 2
    )
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    if "raise" in source:
        assert "hooks.py:2: ValueError: bad hook" in err
    assert not list(project.versions.glob("*.py"))
