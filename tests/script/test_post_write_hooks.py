"""Post-write hooks: read like Alembic reads them, run on the new revision file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from alembic.config import Config

from schema_lsp.script import (
    PostWriteHook,
    PostWriteHookError,
    ScriptConfig,
    hook_command,
    load_config,
    run_post_write_hooks,
    write_revision,
)

APPEND_MARKER = (
    "import pathlib, sys\n"
    "p = pathlib.Path(sys.argv[1])\n"
    "p.write_text(p.read_text() + '# formatted by ' + sys.argv[2] + '\\n')\n"
)


def project_with_hooks(tmp_path: Path, hooks: str) -> Path:
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    (tmp_path / "fmt.py").write_text(APPEND_MARKER)
    ini = tmp_path / "alembic.ini"
    ini.write_text(
        "[alembic]\nscript_location = %(here)s/migrations\n\n[post_write_hooks]\n" + hooks
    )
    return ini


def test_hooks_are_read_like_alembic(tmp_path: Path) -> None:
    ini = project_with_hooks(
        tmp_path,
        "hooks = fmt, lint\n"
        "fmt.type = exec\n"
        f"fmt.executable = {sys.executable}\n"
        "fmt.options = %(here)s/fmt.py REVISION_SCRIPT_FILENAME fmt\n"
        "lint.type = module\n"
        "lint.module = json.tool\n"
        "lint.cwd = %(here)s\n",
    )
    config = load_config(ini)
    theirs = Config(str(ini)).get_hooks_list()
    assert [hook.name for hook in config.post_write_hooks] == [h["_hook_name"] for h in theirs]
    for ours, other in zip(config.post_write_hooks, theirs, strict=True):
        assert ours.type == other["type"]
        expected = {k: v for k, v in other.items() if k not in ("_hook_name", "type")}
        assert dict(ours.options) == expected


def test_exec_hook_rewrites_the_new_file(tmp_path: Path) -> None:
    ini = project_with_hooks(
        tmp_path,
        "hooks = fmt\nfmt.type = exec\n"
        f"fmt.executable = {sys.executable}\n"
        "fmt.options = %(here)s/fmt.py REVISION_SCRIPT_FILENAME fmt\n",
    )
    config = load_config(ini)
    written = write_revision(config, "hooked")
    [result] = run_post_write_hooks(written.path, config.post_write_hooks)
    assert result.ok, result.output
    assert result.command[-2:] == (str(written.path), "fmt")
    assert written.path.read_text() == written.text + "# formatted by fmt\n"


def test_failing_hook_is_reported_not_raised(tmp_path: Path) -> None:
    target = tmp_path / "rev.py"
    target.write_text("revision = 'x'\n")
    hook = PostWriteHook("json", "module", {"module": "json.tool"})
    [result] = run_post_write_hooks(target, [hook])
    assert not result.ok
    assert "Expecting value" in result.output
    assert result.command[1:3] == ("-m", "json.tool")


def test_command_puts_path_first_without_token(tmp_path: Path) -> None:
    hook = PostWriteHook("x", "exec", {"executable": "tool", "options": "--fix 'a b'"})
    assert hook_command(hook, tmp_path / "r.py") == ["tool", str(tmp_path / "r.py"), "--fix", "a b"]


@pytest.mark.parametrize(
    ("hook", "expected"),
    [
        (PostWriteHook("h", None, {}), "'h.type' is required"),
        (PostWriteHook("h", "magic", {}), "unknown type 'magic'"),
        (PostWriteHook("h", "exec", {}), "'h.executable' is required"),
        (PostWriteHook("h", "module", {"module": "no_such_module_xyz"}), "not installed"),
        (PostWriteHook("h", "console_scripts", {"entrypoint": "no-such-tool-xyz"}), "no console"),
        (PostWriteHook("h", "exec", {"executable": "no-such-binary-xyz"}), "was not found"),
    ],
)
def test_misconfigured_hooks_are_clear_errors(
    tmp_path: Path, hook: PostWriteHook, expected: str
) -> None:
    with pytest.raises(PostWriteHookError, match=expected) as info:
        run_post_write_hooks(tmp_path / "r.py", [hook])
    assert "The revision file was written" in str(info.value)


def test_no_hooks_configured(script_config: ScriptConfig) -> None:
    assert script_config.post_write_hooks == ()
    assert run_post_write_hooks(script_config.script_location / "x.py", ()) == []
