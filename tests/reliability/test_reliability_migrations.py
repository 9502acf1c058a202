"""The migration file a quick fix aims at changes on disk between the diagnostic and the
fix: it is deleted, or made read-only. The fix fails with one clear message, nothing is
half-written, and the same fix works once the file is back.

The client here applies workspace edits like an editor: it writes the files, and refuses
(applied: false) to edit one that is read-only on disk, as VS Code does.
"""

from __future__ import annotations

import shutil
import stat
import time
from pathlib import Path
from typing import Any, Union
from urllib.parse import unquote, urlparse

import pytest
from lspkit import MODELS, Probe, copy_example, lsp
from lsprotocol import types
from report import Report, observed

from tests.e2e.harness import apply_text_edits

FAST = {"checkInterval": 0.5}
ADD_TO_MIGRATION = "schemaLsp.addToMigration"


def as_path(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))




def act_like_an_editor(probe: Probe) -> list[str]:
    """Handle workspace/applyEdit by writing files; returns the refusals it gave."""
    refusals: list[str] = []
    converter = probe.client.protocol._converter

    def structure(obj: Any, _: Any) -> types.Command | types.CodeAction:
        # lsprotocol reads any action with a "command" key as a bare Command; editors don't.
        if isinstance(obj.get("command"), str):
            return converter.structure(obj, types.Command)
        return converter.structure(obj, types.CodeAction)

    converter.register_structure_hook(Union[types.Command, types.CodeAction], structure)  # noqa: UP007

    @probe.client.feature(types.WORKSPACE_APPLY_EDIT)
    def on_apply(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        per_file: dict[str, list[types.TextEdit]] = {}
        for change in params.edit.document_changes or []:
            assert isinstance(change, types.TextDocumentEdit)
            per_file.setdefault(change.text_document.uri, []).extend(change.edits)  # type: ignore[arg-type]
        for uri, edits in (params.edit.changes or {}).items():
            per_file.setdefault(uri, []).extend(edits)
        for uri in per_file:
            path = as_path(uri)
            if not path.exists() or not path.stat().st_mode & stat.S_IWUSR:
                refusals.append(f"{path.name} is read-only or missing")
                return types.ApplyWorkspaceEditResult(
                    applied=False, failure_reason=refusals[-1]
                )
        for uri, edits in per_file.items():
            path = as_path(uri)
            path.write_text(apply_text_edits(path.read_text(encoding="utf-8"), edits), "utf-8")
        return types.ApplyWorkspaceEditResult(applied=True)

    return refusals


def healthy(probe: Probe) -> bool:
    return any(d.code == "add_table" for d in probe.diagnostics())


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


async def quick_fix(probe: Probe) -> types.Command:
    diagnostic = next(d for d in probe.diagnostics() if d.code == "add_table")
    actions = await probe.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=probe.uri(MODELS)),
            range=diagnostic.range,
            context=types.CodeActionContext(diagnostics=[diagnostic]),
        )
    )
    commands = [
        a.command for a in actions or []
        if isinstance(a, types.CodeAction) and a.command and a.command.command == ADD_TO_MIGRATION
    ]
    assert commands, actions
    return commands[0]


async def run(probe: Probe, command: types.Command) -> Any:
    return await probe.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
    )


@pytest.mark.parametrize("fault", ["deleted", "read-only"])
async def test_the_migration_changes_on_disk_before_the_quick_fix(
    fault: str, tmp_path: Path, hardening: Report
) -> None:
    shop = copy_example(tmp_path)
    aside = tmp_path / "aside.py"
    with observed(hardening, "reliability", f"migration file {fault} before the quick fix") as case:
        async with lsp(shop, settings=FAST) as probe:
            refusals = act_like_an_editor(probe)
            await probe.wait_for(lambda: healthy(probe), 60, "the first check")
            fix = await quick_fix(probe)
            assert fix.arguments
            target = as_path(str(fix.arguments[0]))
            versions = target.parent
            if fault == "deleted":
                shutil.move(target, aside)
            else:
                target.chmod(0o444)
            before = snapshot(versions)
            with pytest.raises(Exception) as failed:
                await run(probe, fix)
            message = str(failed.value)
            assert target.name in message and "Traceback" not in message, message
            assert len(message.strip().splitlines()) == 1, message
            assert snapshot(versions) == before, "the failed fix wrote something"
            assert fault == "deleted" or refusals, "the read-only file was never tried"
            case.survived = probe.serving()
            case.note = message[:90]
            # The file is back: the same fix from the same diagnostic now lands.
            restored = time.monotonic()
            if fault == "deleted":
                shutil.move(aside, target)
            else:
                target.chmod(0o644)
            result = await run(probe, fix)
            assert result["applied"] and result["inserted"] >= 1, result
            assert "create_table" in target.read_text(encoding="utf-8")
            case.recovered, case.recover_s = True, time.monotonic() - restored
        assert case.survived


async def failed_fix_message(tmp_path: Path, fault: str) -> str:
    shop = copy_example(tmp_path)
    async with lsp(shop, settings=FAST) as probe:
        act_like_an_editor(probe)
        await probe.wait_for(lambda: healthy(probe), 60, "the first check")
        fix = await quick_fix(probe)
        assert fix.arguments
        target = as_path(str(fix.arguments[0]))
        if fault == "deleted":
            target.unlink()
        else:
            target.chmod(0o444)
        with pytest.raises(Exception) as failed:
            await run(probe, fix)
    return str(failed.value)


async def test_a_deleted_migration_is_explained(tmp_path: Path) -> None:
    message = await failed_fix_message(tmp_path, "deleted")
    assert "Errno" not in message and "Error:" not in message, message


async def test_a_read_only_migration_is_explained(tmp_path: Path) -> None:
    message = await failed_fix_message(tmp_path, "read-only")
    assert "read-only" in message and "changed meanwhile" not in message, message
