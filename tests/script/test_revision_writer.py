"""Writing new revision files: ids, parents, names, templates, and safe writes."""

from __future__ import annotations

import ast
import datetime
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from schema_lsp.script import (
    DEFAULT_TEMPLATE,
    RevisionWriteError,
    ScriptConfig,
    load_graph,
    new_rev_id,
    plan_revision,
    render_revision,
    revision_file_name,
    slugify,
    write_revision,
)

RevisionFactory = Callable[..., Path]
FIXED_DATE = datetime.datetime(2024, 3, 5, 7, 8, 9)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.name.endswith(".tmp"))


def module_values(text: str) -> dict[str, object]:
    """The literal module-level assignments of generated source."""
    values: dict[str, object] = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            assert node.value is not None
            values[node.target.id] = ast.literal_eval(node.value)
        elif isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def test_rev_ids_are_12_hex_and_fresh() -> None:
    ids = {new_rev_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(re.fullmatch(r"[0-9a-f]{12}", rev) for rev in ids)


def test_slug_follows_alembic_rules() -> None:
    assert slugify("Add user.email column!", 40) == "add_user_email_column"
    assert slugify("one two three four", 10) == "one_two_"
    assert slugify(None, 40) == ""


def test_file_name_with_date_tokens() -> None:
    name = revision_file_name(
        "%(year)d/%(month).2d_%(day).2d_%(hour).2d%(minute).2d%(second).2d_%(rev)s_%(slug)s_%(epoch)s",
        "abc123",
        "Add things",
        FIXED_DATE,
    )
    assert name == f"2024/03_05_070809_abc123_add_things_{int(FIXED_DATE.timestamp())}.py"


def test_first_and_following_revisions(script_config: ScriptConfig) -> None:
    first = write_revision(script_config, "create users", create_date=FIXED_DATE)
    assert re.fullmatch(r"[0-9a-f]{12}", first.revision)
    assert first.path == script_config.versions_dirs[0] / f"{first.revision}_create_users.py"
    assert first.down_revision is None
    second = write_revision(script_config, "add email")
    assert second.down_revision == first.revision
    graph = load_graph(script_config)
    assert graph.problems == ()
    assert graph.heads == (second.revision,)
    assert graph.get_revision(second.revision).doc == "add email"
    values = module_values(first.path.read_text())
    assert values["revision"] == first.revision
    assert values["down_revision"] is None
    assert f"Create Date: {FIXED_DATE}" in first.text


def test_several_heads_are_refused_with_names_then_head_or_merge(
    script_config: ScriptConfig, add_revision: RevisionFactory
) -> None:
    add_revision("base01", None)
    add_revision("left01", "base01", message="left side")
    add_revision("right1", "base01", message="right side")
    with pytest.raises(RevisionWriteError) as info:
        write_revision(script_config, "next")
    message = str(info.value)
    assert "left01 (left side)" in message and "right1 (right side)" in message
    assert "merge=True" in message and "head=" in message
    on_left = write_revision(script_config, "on left", head="left")
    assert on_left.down_revision == "left01"
    merged = write_revision(script_config, "merge heads", merge=True)
    assert set(merged.down_revision or ()) == {on_left.revision, "right1"}
    assert isinstance(merged.down_revision, tuple)
    graph = load_graph(script_config)
    assert graph.heads == (merged.revision,)
    assert graph.get_revision(merged.revision).is_merge_point


def test_merge_needs_two_heads(script_config: ScriptConfig, add_revision: RevisionFactory) -> None:
    add_revision("only01", None)
    with pytest.raises(RevisionWriteError, match="only one head"):
        write_revision(script_config, "merge", merge=True)


def test_splice_is_needed_to_branch_from_a_non_head(
    script_config: ScriptConfig, add_revision: RevisionFactory
) -> None:
    add_revision("base01", None)
    add_revision("next01", "base01")
    with pytest.raises(RevisionWriteError, match=r"not a head.*splice=True"):
        write_revision(script_config, "branch", head="base01")
    branch = write_revision(script_config, "branch", head="base01", splice=True)
    assert branch.down_revision == "base01"
    assert set(load_graph(script_config).heads) == {"next01", branch.revision}


def test_new_base_with_branch_label_and_label_head(
    script_config: ScriptConfig, add_revision: RevisionFactory
) -> None:
    add_revision("main01", None)
    other = write_revision(script_config, "other root", head="base", branch_label="other")
    assert other.down_revision is None
    follow = write_revision(script_config, "other next", head="other@head")
    assert follow.down_revision == other.revision
    graph = load_graph(script_config)
    assert graph.get_revision("other").revision == other.revision
    with pytest.raises(RevisionWriteError, match="already used"):
        write_revision(script_config, "again", head="base", branch_label="other")


def test_depends_on_is_resolved(script_config: ScriptConfig, add_revision: RevisionFactory) -> None:
    add_revision("core01", None, branch_labels=("core",))
    add_revision("abcdef", "core01")
    single = plan_revision(script_config, "x", head="abcdef", depends_on="core")
    assert single.depends_on == "core"
    several = plan_revision(script_config, "x", head="abcdef", depends_on=["core01", "abc"])
    assert several.depends_on == ["core01", "abcdef"]
    assert module_values(several.text)["depends_on"] == ["core01", "abcdef"]
    with pytest.raises(RevisionWriteError, match="depends_on: No revision 'nope'"):
        plan_revision(script_config, "x", depends_on="nope")


def test_never_overwrites_and_leaves_no_temp_files(script_config: ScriptConfig) -> None:
    versions = script_config.versions_dirs[0]
    graph = load_graph(script_config)  # planned before the clashing file appears
    target = versions / "fixed01_clash.py"
    target.write_text("# someone else's file\n")
    with pytest.raises(RevisionWriteError) as info:
        write_revision(script_config, "clash", rev_id="fixed01", graph=graph)
    assert info.value.problem.code == "file-exists"
    assert "will not be overwritten" in str(info.value)
    assert target.read_text() == "# someone else's file\n"
    assert leftovers(versions) == []
    target.unlink()
    written = write_revision(script_config, "fine", rev_id="fixed02")
    assert written.path.read_text() == written.text
    assert leftovers(versions) == []


def test_duplicate_rev_id_and_illegal_chars_refused(
    script_config: ScriptConfig, add_revision: RevisionFactory
) -> None:
    add_revision("taken1", None)
    with pytest.raises(RevisionWriteError, match="already used"):
        write_revision(script_config, "x", rev_id="taken1")
    with pytest.raises(RevisionWriteError, match="not allowed"):
        write_revision(script_config, "x", rev_id="a@b")


def test_broken_history_is_refused(script_config: ScriptConfig) -> None:
    bad = script_config.versions_dirs[0] / "broken.py"
    bad.write_text("revision = (\n")
    with pytest.raises(RevisionWriteError) as info:
        write_revision(script_config, "x")
    assert info.value.problem.path == bad
    assert "broken.py" in str(info.value) and "Fix these first" in str(info.value)


def test_default_template_when_project_has_none(script_config: ScriptConfig) -> None:
    plan = plan_revision(
        script_config,
        "add table",
        upgrades="op.create_table('t', sa.Column('id', sa.Integer()))",
        downgrades="op.drop_table('t')",
        imports={"import geoalchemy2", "from x import y"},
    )
    assert plan.template_file == DEFAULT_TEMPLATE
    assert "from alembic import op" in plan.text
    assert "    op.create_table('t', sa.Column('id', sa.Integer()))" in plan.text
    assert "from x import y\nimport geoalchemy2" in plan.text
    ast.parse(plan.text)


def test_project_template_with_extra_args_and_config(script_config: ScriptConfig) -> None:
    template = script_config.template_file
    template.write_text(
        '"""${message}"""\n'
        "# custom project template\n"
        "# databases=${config.get_main_option('databases', 'none')}\n"
        "revision = ${repr(up_revision)}\n"
        "down_revision = ${repr(down_revision)}\n"
        "def upgrade_engine1():\n"
        "    ${engine1_upgrades}\n"
    )
    config = ScriptConfig(
        script_location=script_config.script_location, main_options={"databases": "engine1"}
    )
    written = write_revision(config, "multi", template_args={"engine1_upgrades": "op.f()"})
    text = written.path.read_text()
    assert "# custom project template" in text
    assert "# databases=engine1" in text
    assert "    op.f()" in text
    assert load_graph(config).heads == (written.revision,)


def test_template_errors_name_the_file_and_line(script_config: ScriptConfig) -> None:
    template = script_config.template_file
    template.write_text("revision = ${repr(up_revision)}\nx = ${no_such_variable.attr}\n")
    with pytest.raises(RevisionWriteError) as info:
        render_revision(script_config, "x")
    assert (info.value.problem.path, info.value.problem.line) == (template, 2)
    template.write_text("line one\n% for x in\n")
    with pytest.raises(RevisionWriteError) as info:
        render_revision(script_config, "x")
    assert (info.value.problem.path, info.value.problem.line) == (template, 2)


def test_template_that_omits_identifiers_is_refused(script_config: ScriptConfig) -> None:
    script_config.template_file.write_text("# nothing useful: ${message}\n")
    with pytest.raises(RevisionWriteError, match="does not declare 'revision'"):
        write_revision(script_config, "x")
    assert list(script_config.versions_dirs[0].iterdir()) == []


def test_render_writes_nothing(script_config: ScriptConfig) -> None:
    text = render_revision(script_config, "preview only", rev_id="prev01")
    assert module_values(text)["revision"] == "prev01"
    assert list(script_config.versions_dirs[0].iterdir()) == []


def test_file_template_subfolders_and_timezone(script_config: ScriptConfig) -> None:
    config = ScriptConfig(
        script_location=script_config.script_location,
        file_template="%(year)d/%(month).2d/%(rev)s_%(slug)s",
        timezone="utc",
        recursive_version_locations=True,
    )
    written = write_revision(config, "dated", rev_id="dated1")
    plan_date = datetime.datetime.now(tz=datetime.timezone.utc)
    relative = written.path.relative_to(config.versions_dirs[0])
    assert relative.parts[-1] == "dated1_dated.py"
    assert relative.parts[0] in {str(plan_date.year), str(plan_date.year - 1)}
    assert "+00:00" in written.text
    assert load_graph(config).heads == ("dated1",)
    with pytest.raises(RevisionWriteError, match="Unknown timezone 'Mars/Base'"):
        render_revision(
            ScriptConfig(script_location=config.script_location, timezone="Mars/Base"), "x"
        )


def test_file_template_cannot_escape_versions_folder(script_config: ScriptConfig) -> None:
    config = ScriptConfig(script_location=script_config.script_location, file_template="../%(rev)s")
    with pytest.raises(RevisionWriteError, match="leaves the versions folder"):
        write_revision(config, "x")


def test_several_version_locations(tmp_path: Path, script_config: ScriptConfig) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    config = ScriptConfig(
        script_location=script_config.script_location, version_locations=(one, two)
    )
    with pytest.raises(RevisionWriteError, match="version_path="):
        write_revision(config, "first")
    first = write_revision(config, "first", version_path=two)
    assert first.path.parent == two
    second = write_revision(config, "second")
    assert second.path.parent == two
    with pytest.raises(RevisionWriteError, match="not one of the configured"):
        write_revision(config, "third", version_path=tmp_path)


def test_rendered_syntax_errors_are_refused_before_writing(script_config: ScriptConfig) -> None:
    with pytest.raises(RevisionWriteError, match="not valid Python") as info:
        write_revision(script_config, "x", upgrades="op.f(\n")
    assert info.value.problem.path == DEFAULT_TEMPLATE
    assert list(script_config.versions_dirs[0].iterdir()) == []
    ok = write_revision(script_config, "x", upgrades="op.f()\n    op.g()")
    assert "    op.f()\n    op.g()\n" in ok.text


def test_bad_output_encoding_is_a_clear_error(script_config: ScriptConfig) -> None:
    config = ScriptConfig(script_location=script_config.script_location, output_encoding="ascii")
    with pytest.raises(RevisionWriteError, match="cannot be encoded as 'ascii'"):
        write_revision(config, "café")
    assert list(config.versions_dirs[0].iterdir()) == []
    latin = ScriptConfig(script_location=script_config.script_location, output_encoding="latin-1")
    written = write_revision(latin, "café")
    assert written.path.read_bytes().decode("latin-1") == written.text
