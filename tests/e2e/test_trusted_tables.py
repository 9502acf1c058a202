"""End to end over stdio: a table that changes without its source still gets its diagnostic.

After a one-table edit the worker trusts the tables of unchanged blocks and verifies them
only after answering (``schema_lsp.server.worker.origins``). Here a model reads its column
length from a JSON file: the file changes, then an edit of another table is saved. The
first answer trusted the JSON table; the server is told so and checks again, unprompted.
"""

from __future__ import annotations

from pathlib import Path

from harness import Session, lsp_session
from lsprotocol import types

from tests.trusted_models import JSON_MODELS, two_table_project


def drifted(diagnostics: list[types.Diagnostic]) -> set[str]:
    return {str((d.data or {}).get("table")) for d in diagnostics if d.code == "modify_type"}


async def saved(session: Session, a: int, expected: set[str]) -> None:
    session.save("models.py", JSON_MODELS.format(a=a))
    await session.wait_diagnostics("models.py", lambda ds: drifted(ds) == expected)


async def test_a_table_read_from_a_file_is_rechecked_after_a_trusting_answer(
    tmp_path: Path,
) -> None:
    root = two_table_project(tmp_path)
    (root / "pyproject.toml").write_text(
        '[tool.schema-lsp]\nmodels = ["models:metadata"]\ndatabase_url = "sqlite:///app.db"\n'
        "check_interval = 3600\n",
        encoding="utf-8",
    )
    (root / "b.json").write_text('{"length": 10}', encoding="utf-8")
    (root / "models.py").write_text(JSON_MODELS.format(a=20), encoding="utf-8")
    async with lsp_session(root) as session:
        await session.wait_diagnostics("models.py", lambda ds: drifted(ds) == {"a"}, 60)
        await saved(session, 10, set())
        await saved(session, 20, {"a"})  # blocks seen twice: this answer trusts b

        (root / "b.json").write_text('{"length": 40}', encoding="utf-8")
        await saved(session, 10, {"b"})  # trusted b wrongly, then re-checked: b drifts
        logged = " ".join(m.message for m in session.client.log_messages)
        assert "changed without their source" in logged
