"""Alembic itself runs the revisions we write and sees the same graph we read."""

from __future__ import annotations

import contextlib
import io
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schema_lsp.script import ScriptConfig, load_config, load_graph, write_revision

CREATE_T = "op.create_table('t', sa.Column('id', sa.Integer(), primary_key=True))"


class AlembicProject:
    """A real ``alembic init`` project on a SQLite file, plus our view of it."""

    def __init__(self, root: Path) -> None:
        self.ini = root / "alembic.ini"
        self.db = root / "app.db"
        with contextlib.redirect_stdout(io.StringIO()):
            command.init(Config(str(self.ini)), str(root / "migrations"))
        text = self.ini.read_text()
        placeholder = "driver://user:pass@localhost/dbname"
        assert placeholder in text
        self.ini.write_text(text.replace(placeholder, "sqlite:///%(here)s/app.db"))
        self.config: ScriptConfig = load_config(self.ini)

    def alembic(self) -> Config:
        return Config(str(self.ini), stdout=io.StringIO())

    def script_directory(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.alembic())

    def inspect(self) -> tuple[dict[str, list[str]], list[str]]:
        """Tables with their columns, and the rows of alembic_version."""
        engine = sa.create_engine(f"sqlite:///{self.db}")
        try:
            inspector = sa.inspect(engine)
            tables = {
                name: [col["name"] for col in inspector.get_columns(name)]
                for name in inspector.get_table_names()
                if name != "alembic_version"
            }
            with engine.connect() as conn:
                versions = sorted(
                    conn.execute(sa.text("select version_num from alembic_version")).scalars()
                )
        finally:
            engine.dispose()
        return tables, versions


@pytest.fixture
def project(tmp_path: Path) -> AlembicProject:
    return AlembicProject(tmp_path)


def test_config_matches_alembic(project: AlembicProject) -> None:
    alembic_dir = project.script_directory()
    assert project.config.script_location == Path(alembic_dir.dir)
    assert project.config.versions_dirs == (Path(alembic_dir.versions),)
    assert project.config.file_template == alembic_dir.file_template
    assert project.config.truncate_slug_length == alembic_dir.truncate_slug_length
    assert project.config.sqlalchemy_url == project.alembic().get_main_option("sqlalchemy.url")


@pytest.mark.parametrize("own_template", [True, False], ids=["project-template", "default"])
def test_alembic_upgrades_and_downgrades_our_revisions(
    project: AlembicProject, own_template: bool
) -> None:
    if not own_template:
        project.config.template_file.unlink()
    first = write_revision(
        project.config, "create t", upgrades=CREATE_T, downgrades="op.drop_table('t')"
    )
    second = write_revision(
        project.config,
        "add name",
        upgrades="op.add_column('t', sa.Column('name', sa.String(50)))",
        downgrades="op.drop_column('t', 'name')",
    )
    assert second.down_revision == first.revision
    assert project.script_directory().get_heads() == [second.revision]

    command.upgrade(project.alembic(), "head")
    assert project.inspect() == ({"t": ["id", "name"]}, [second.revision])
    command.downgrade(project.alembic(), "-1")
    assert project.inspect() == ({"t": ["id"]}, [first.revision])
    command.downgrade(project.alembic(), "base")
    assert project.inspect() == ({}, [])


def test_alembic_runs_branches_and_our_merge(project: AlembicProject) -> None:
    base = write_revision(
        project.config, "base", upgrades=CREATE_T, downgrades="op.drop_table('t')"
    )
    left = write_revision(
        project.config,
        "left",
        upgrades="op.create_table('l', sa.Column('id', sa.Integer(), primary_key=True))",
        downgrades="op.drop_table('l')",
    )
    right = write_revision(
        project.config,
        "right",
        head=base.revision,
        splice=True,
        upgrades="op.create_table('r', sa.Column('id', sa.Integer(), primary_key=True))",
        downgrades="op.drop_table('r')",
    )
    ours = load_graph(project.config)
    assert set(project.script_directory().get_heads()) == set(ours.heads)
    assert set(ours.heads) == {left.revision, right.revision}
    merge = write_revision(project.config, "merge", merge=True)
    assert project.script_directory().get_heads() == [merge.revision]
    command.upgrade(project.alembic(), "head")
    tables, versions = project.inspect()
    assert sorted(tables) == ["l", "r", "t"]
    assert versions == [merge.revision]
    command.downgrade(project.alembic(), "base")
    assert project.inspect() == ({}, [])


def assert_same_graph(config: ScriptConfig, alembic_dir: ScriptDirectory) -> None:
    ours = load_graph(config)
    assert ours.problems == ()
    assert set(ours.heads) == set(alembic_dir.get_heads())
    assert set(ours.bases) == set(alembic_dir.get_bases())
    theirs = {script.revision: script for script in alembic_dir.walk_revisions()}
    assert set(theirs) == set(ours.revisions)
    for rev, script in ours.revisions.items():
        other = theirs[rev]
        assert script.down_revisions == tuple(other._versioned_down_revisions)
        assert set(script.branch_labels) == set(other._orig_branch_labels or ())
        assert set(ours.dependencies[rev]) == set(other._resolved_dependencies)
        assert set(ours.children[rev]) == set(other.nextrev) - {
            child for child in other.nextrev if rev not in theirs[child]._versioned_down_revisions
        }
        assert script.doc == other.doc
        assert Path(other.path) == script.path


def test_graph_matches_alembic_for_revisions_alembic_wrote(project: AlembicProject) -> None:
    cfg = project.alembic()
    one = command.revision(cfg, "one", rev_id="aa0001")
    assert one is not None
    command.revision(cfg, "two", rev_id="aa0002")
    command.revision(cfg, "side", rev_id="bb0001", head="aa0001", splice=True)
    command.revision(cfg, "lib root", rev_id="cc0001", head="base", branch_label="lib")
    command.revision(cfg, "uses lib", rev_id="aa0003", head="aa0002", depends_on="lib")
    command.merge(cfg, ["aa0003", "bb0001"], message="join", rev_id="dd0001")
    write_revision(project.config, "ours after lib", head="lib@head", depends_on="aa0003")
    assert_same_graph(project.config, project.script_directory())


@st.composite
def revision_dags(draw: st.DrawFn) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Random histories: each revision names 0-2 earlier parents and maybe a dependency."""
    count = draw(st.integers(min_value=1, max_value=9))
    revisions: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
    for index in range(count):
        earlier = [f"r{i:03d}" for i in range(index)]
        parents = (
            draw(st.lists(st.sampled_from(earlier), max_size=2, unique=True)) if earlier else []
        )
        deps = draw(st.lists(st.sampled_from(earlier), max_size=1, unique=True)) if earlier else []
        revisions.append(
            (f"r{index:03d}", tuple(parents), tuple(d for d in deps if d not in parents))
        )
    return revisions


@settings(
    max_examples=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(revision_dags())
def test_random_histories_match_alembic(
    make_source: Callable[..., str],
    dag: list[tuple[str, tuple[str, ...], tuple[str, ...]]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        location = Path(folder)
        (location / "versions").mkdir()
        for rev, parents, deps in dag:
            down = parents[0] if len(parents) == 1 else (parents or None)
            (location / "versions" / f"{rev}.py").write_text(
                make_source(rev, down, depends_on=deps or None)
            )
        assert_same_graph(ScriptConfig(script_location=location), ScriptDirectory(folder))
