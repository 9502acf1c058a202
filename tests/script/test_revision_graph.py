"""The revision graph read statically from revision files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from schema_lsp.script import (
    ParseCache,
    RevisionGraph,
    RevisionLookupError,
    ScriptConfig,
    load_graph,
    parse_revision_file,
)

RevisionFactory = Callable[..., Path]


def assert_descendants_first(graph: RevisionGraph, order: list[str]) -> None:
    """Every revision comes after all of its children that are in the walk."""
    position = {rev: index for index, rev in enumerate(order)}
    for rev in order:
        for child in graph.children[rev]:
            if child in position:
                assert position[child] < position[rev], (child, rev, order)


def test_linear_history(script_config: ScriptConfig, add_revision: RevisionFactory) -> None:
    add_revision("aaa111", None, message="create users")
    add_revision("bbb222", "aaa111", message="add email")
    add_revision("ccc333", "bbb222", message="add index")
    graph = load_graph(script_config)
    assert graph.problems == ()
    assert graph.heads == ("ccc333",)
    assert graph.bases == ("aaa111",)
    assert [s.revision for s in graph.iterate_ancestors()] == ["ccc333", "bbb222", "aaa111"]
    assert [s.revision for s in graph.iterate_ancestors("bbb")] == ["bbb222", "aaa111"]
    assert graph.get_revision("bbb222").doc == "add email"
    assert graph.get_revision("bbb222").down_revision == "aaa111"
    assert graph.get_revision("aaa111").is_base
    assert graph.is_head("ccc333") and not graph.is_head("aaa111")
    assert graph.current_head() == "ccc333"


def test_lookup_by_prefix_and_clear_lookup_errors(
    script_config: ScriptConfig, add_revision: RevisionFactory
) -> None:
    add_revision("abc001", None)
    add_revision("abc002", "abc001")
    add_revision("def003", "abc002")
    graph = load_graph(script_config)
    assert graph.get_revision("def").revision == "def003"
    with pytest.raises(RevisionLookupError, match=r"ambiguous.*abc001, abc002"):
        graph.get_revision("abc")
    with pytest.raises(RevisionLookupError, match=r"No revision 'zzz'.*def003"):
        graph.get_revision("zzz")


def test_branches_have_two_heads(
    script_config: ScriptConfig, add_revision: RevisionFactory
) -> None:
    add_revision("base01", None)
    add_revision("left01", "base01")
    add_revision("right1", "base01")
    graph = load_graph(script_config)
    assert set(graph.heads) == {"left01", "right1"}
    assert set(graph.children["base01"]) == {"left01", "right1"}
    with pytest.raises(RevisionLookupError, match="2 heads"):
        graph.current_head()
    order = [s.revision for s in graph.iterate_ancestors()]
    assert sorted(order) == ["base01", "left01", "right1"]
    assert order[-1] == "base01"


@pytest.mark.parametrize("container", [tuple, list])
def test_merge_point_from_tuple_or_list(
    script_config: ScriptConfig,
    add_revision: RevisionFactory,
    container: Callable[[list[str]], object],
) -> None:
    add_revision("base01", None)
    add_revision("left01", "base01")
    add_revision("left02", "left01")
    add_revision("right1", "base01")
    add_revision("merge1", container(["left02", "right1"]))
    add_revision("after1", "merge1")
    graph = load_graph(script_config)
    assert graph.problems == ()
    merge = graph.get_revision("merge1")
    assert merge.is_merge_point
    assert merge.down_revisions == ("left02", "right1")
    assert graph.heads == ("after1",)
    order = [s.revision for s in graph.iterate_ancestors()]
    assert len(order) == 6
    assert_descendants_first(graph, order)


def test_depends_on_does_not_make_a_head_and_resolves_labels(
    script_config: ScriptConfig, add_revision: RevisionFactory
) -> None:
    add_revision("core01", None, branch_labels=("core",))
    add_revision("core02", "core01")
    add_revision("acct01", None, branch_labels="accounts", depends_on="core")
    add_revision("acct02", "acct01", depends_on=["core02"])
    graph = load_graph(script_config)
    assert graph.problems == ()
    assert set(graph.heads) == {"core02", "acct02"}
    assert set(graph.bases) == {"core01", "acct01"}
    assert graph.dependencies["acct01"] == ("core01",)
    assert graph.dependencies["acct02"] == ("core02",)
    assert graph.get_revision("accounts").revision == "acct01"
    assert graph.get_revision("acct01").branch_labels == ("accounts",)
    with_deps = [s.revision for s in graph.iterate_ancestors("acct02", include_dependencies=True)]
    assert set(with_deps) == {"acct02", "acct01", "core02", "core01"}
    without = [s.revision for s in graph.iterate_ancestors("acct02")]
    assert without == ["acct02", "acct01"]


def test_function_ranges_and_docstring(
    script_config: ScriptConfig, add_revision: RevisionFactory
) -> None:
    path = add_revision("aaa111", None, message="Create users table\n\nLonger text.")
    script = load_graph(script_config).get_revision("aaa111")
    lines = path.read_text().splitlines()
    assert script.doc == "Create users table"
    assert script.longdoc.startswith("Create users table\n\nLonger text.")
    assert script.path == path
    assert script.upgrade is not None and script.downgrade is not None
    assert lines[script.upgrade.start_line - 1].startswith("def upgrade(")
    assert lines[script.downgrade.start_line - 1].startswith("def downgrade(")
    assert lines[script.upgrade.end_line - 1].strip() == "pass"
    assert script.revision_line is not None
    assert lines[script.revision_line - 1].startswith("revision =")


def test_annotated_assignments_are_read(script_config: ScriptConfig) -> None:
    path = script_config.versions_dirs[0] / "x.py"
    path.write_text(
        "from typing import Sequence, Union\n"
        "revision: str = 'abc123'\n"
        "down_revision: Union[str, Sequence[str], None] = ('p1', 'p2')\n"
        "branch_labels: Union[str, Sequence[str], None] = None\n"
    )
    script, problems = parse_revision_file(path)
    assert problems == []
    assert script is not None
    assert (script.revision, script.down_revisions, script.down_revision_line) == (
        "abc123",
        ("p1", "p2"),
        3,
    )


def test_module_body_is_never_executed(tmp_path: Path, script_config: ScriptConfig) -> None:
    marker = tmp_path / "executed.marker"
    path = script_config.versions_dirs[0] / "evil_rev.py"
    path.write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "raise SystemExit('imported!')\n"
        "revision = 'evil01'\n"
        "down_revision = None\n"
    )
    graph = load_graph(script_config)
    assert graph.heads == ("evil01",)
    assert not marker.exists()


def test_broken_files_are_reported_and_do_not_hide_others(
    script_config: ScriptConfig, add_revision: RevisionFactory
) -> None:
    versions = script_config.versions_dirs[0]
    add_revision("good01", None)
    add_revision("good02", "good01")
    syntax = versions / "broken_syntax.py"
    syntax.write_text("revision = 'bad1'\ndown_revision = None\ndef upgrade(:\n    pass\n")
    norev = versions / "no_revision.py"
    norev.write_text("down_revision = 'good01'\n")
    dup = add_revision("good01", None, filename="zz_duplicate.py")
    orphan = add_revision("orph01", "missing", filename="orphan.py")
    graph = load_graph(script_config)

    by_code = {p.code: p for p in graph.problems}
    assert set(by_code) == {"syntax-error", "missing-revision", "duplicate-id", "missing-parent"}
    assert (by_code["syntax-error"].path, by_code["syntax-error"].line) == (syntax, 3)
    assert by_code["missing-revision"].path == norev
    assert by_code["duplicate-id"].path == dup
    dup_line = by_code["duplicate-id"].line
    assert dup_line is not None
    assert dup.read_text().splitlines()[dup_line - 1] == "revision = 'good01'"
    assert "good01" in by_code["duplicate-id"].message
    assert by_code["missing-parent"].path == orphan
    assert "'missing'" in by_code["missing-parent"].message
    lines = orphan.read_text().splitlines()
    assert by_code["missing-parent"].line is not None
    assert lines[by_code["missing-parent"].line - 1].startswith("down_revision")
    assert set(graph.revisions) == {"good01", "good02", "orph01"}
    assert graph.revisions["good01"].path.name == "good01_rev.py"


def test_cycles_are_reported_on_each_member(
    script_config: ScriptConfig, add_revision: RevisionFactory
) -> None:
    add_revision("root01", None)
    first = add_revision("cyc001", ("root01", "cyc003"))
    second = add_revision("cyc002", "cyc001")
    third = add_revision("cyc003", "cyc002")
    add_revision("self01", "self01")
    graph = load_graph(script_config)
    cycles = [p for p in graph.problems if p.code == "cycle"]
    self_loop = script_config.versions_dirs[0] / "self01_rev.py"
    assert {p.path for p in cycles} == {first, second, third, self_loop}
    member = next(p for p in cycles if p.path == second)
    assert "cyc002 -> " in member.message and member.message.count("cyc002") == 3
    assert all(p.line is not None for p in cycles)
    walked = [s.revision for s in graph.iterate_ancestors("root01")]
    assert walked == ["root01"]


def test_non_literal_and_bad_values(script_config: ScriptConfig) -> None:
    versions = script_config.versions_dirs[0]
    (versions / "computed.py").write_text("revision = 'a' + 'b'\ndown_revision = None\n")
    (versions / "number.py").write_text("revision = 'num001'\ndown_revision = 42\n")
    (versions / "illegal.py").write_text("revision = 'a-b'\ndown_revision = None\n")
    graph = load_graph(script_config)
    codes = sorted((p.path.name if p.path else "", p.code, p.line) for p in graph.problems)
    assert codes == [
        ("computed.py", "not-literal", 1),
        ("illegal.py", "invalid-value", 1),
        ("number.py", "invalid-value", 2),
    ]


def test_which_files_count_as_revisions(script_config: ScriptConfig) -> None:
    versions = script_config.versions_dirs[0]
    (versions / "__init__.py").write_text("revision = 'init'\ndown_revision = None\n")
    (versions / "notes.txt").write_text("revision = 'txt'\n")
    (versions / "__pycache__").mkdir()
    (versions / "__pycache__" / "cached.py").write_text("revision = 'cache'\ndown_revision=None\n")
    (versions / "sub").mkdir()
    (versions / "sub" / "nested.py").write_text("revision = 'nested'\ndown_revision = None\n")
    (versions / "0a1b2c.py").write_text("down_revision = None\n")  # legacy: id from file name
    assert set(load_graph(script_config).revisions) == {"0a1b2c"}
    recursive = ScriptConfig(
        script_location=script_config.script_location, recursive_version_locations=True
    )
    assert set(load_graph(recursive).revisions) == {"0a1b2c", "nested"}


def test_unsaved_sources_override_disk(
    script_config: ScriptConfig, add_revision: RevisionFactory, make_source: Callable[..., str]
) -> None:
    add_revision("aaa111", None)
    edited = add_revision("bbb222", "aaa111")
    new_buffer = script_config.versions_dirs[0] / "unsaved.py"
    graph = load_graph(
        script_config,
        sources={
            edited: make_source("bbb999", "aaa111"),
            new_buffer: make_source("ccc333", "bbb999"),
        },
    )
    assert set(graph.revisions) == {"aaa111", "bbb999", "ccc333"}
    assert graph.heads == ("ccc333",)


def test_empty_or_missing_versions_folder(tmp_path: Path) -> None:
    graph = load_graph(ScriptConfig(script_location=tmp_path / "nothing"))
    assert (graph.heads, graph.bases, graph.problems, len(graph)) == ((), (), (), 0)
    assert graph.current_head() is None


def test_parse_cache_reparses_only_changed_files(
    script_config: ScriptConfig,
    add_revision: RevisionFactory,
    make_source: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import schema_lsp.script.revisions as revisions_module

    add_revision("aaa111", None)
    second = add_revision("bbb222", "aaa111")
    parsed: list[str] = []
    real_parse = revisions_module.parse_revision_file

    def counting_parse(path: Path, source: str | bytes | None = None) -> object:
        parsed.append(path.name)
        return real_parse(path, source)

    monkeypatch.setattr(revisions_module, "parse_revision_file", counting_parse)
    cache = ParseCache()
    assert load_graph(script_config, cache=cache).heads == ("bbb222",)
    assert sorted(parsed) == ["aaa111_rev.py", "bbb222_rev.py"]
    parsed.clear()
    assert load_graph(script_config, cache=cache).heads == ("bbb222",)
    assert parsed == []
    second.write_text(make_source("bbb999", "aaa111", message="renamed id"))
    graph = load_graph(script_config, cache=cache)
    assert parsed == ["bbb222_rev.py"]
    assert graph.heads == ("bbb999",)
    second.unlink()
    assert load_graph(script_config, cache=cache).heads == ("aaa111",)
    assert len(cache) == 1


def test_value_ranges_point_at_identifiers(script_config: ScriptConfig) -> None:
    path = script_config.versions_dirs[0] / "ranges.py"
    path.write_text(
        "revision = 'rng001'\n"
        "down_revision = (\n    'zzz999',\n)\n"
        "depends_on = 'nothing'\n"
        "branch_labels = ['x']\n"
    )
    graph = load_graph(script_config)
    script = graph.get_revision("rng001")
    lines = path.read_text().splitlines()
    rev = script.value_ranges["revision"]
    assert lines[rev.start_line - 1][rev.start_column : rev.end_column] == "'rng001'"
    down = script.value_ranges["down_revision"]
    assert (down.start_line, down.end_line) == (2, 4)
    by_code = {p.code: p for p in graph.problems}
    assert by_code["missing-parent"].line == 2
    assert by_code["unknown-dependency"].line == 5
    assert script.line_of("branch_labels") == 6


def test_parse_cache_sees_same_size_rewrite_with_same_timestamps(
    script_config: ScriptConfig, add_revision: RevisionFactory, make_source: Callable[..., str]
) -> None:
    import os

    path = add_revision("aaa111", None)
    cache = ParseCache()
    assert load_graph(script_config, cache=cache).heads == ("aaa111",)
    before = path.stat()
    replacement = make_source("bbb222", None)
    assert len(replacement) == len(path.read_text())
    path.write_text(replacement)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert load_graph(script_config, cache=cache).heads == ("bbb222",)
