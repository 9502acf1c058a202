"""Random edits of the example's model file through the LSP: the server never dies and never
publishes a diagnostic whose range lies outside the document it describes.

Edits are random insertions/deletions (seeded, so CI is reproducible) sent as didChange;
every few edits the text is saved (written + didSave), which makes the server check it.
A diagnostic must fit one of the texts that were saved (a check of an older save may land
after a newer one); once the last save has been checked, they must fit that text.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from lspkit import MODELS, copy_example, lsp
from lsprotocol import types
from report import Report, observed

EDITS = 150
SAVE_EVERY = 15
SEED = 20261122
PIECES = [
    "(", ")", ":", "\n", "    ", "class X(Base):\n", "= mapped_column(", "'", '"""', "é",
    "\U0001d518",    "import nope\n", "\t", "#", ",", "String(", "Integer", "\\", "\r\n", "x" * 40,
]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fits(diagnostic: types.Diagnostic, text: str, strict: bool = True) -> bool:
    """Whether the range lies inside ``text``.

    The LSP lets a character past the end of its line mean the line's end, so only
    ``strict`` (fresh diagnostics of exactly this text) also bounds the characters.
    """
    lines = text.split("\n")
    for pos in (diagnostic.range.start, diagnostic.range.end):
        if pos.line < 0 or pos.character < 0 or pos.line > len(lines):
            return False
        if pos.line == len(lines):
            if pos.character != 0:
                return False
        elif strict and pos.character > utf16_len(lines[pos.line].rstrip("\r")) + 1:
            return False
    start, end = diagnostic.range.start, diagnostic.range.end
    return (start.line, start.character) <= (end.line, end.character)


def checked_since(statuses: list[dict[str, Any]]) -> bool:
    """A check triggered by a save started, and a later status reports its outcome."""
    started = next(
        (i for i, s in enumerate(statuses) if s["state"] == "checking" and "saved" in s["message"]),
        None,
    )
    return started is not None and any(s["state"] != "checking" for s in statuses[started:])


def describe(outside: list[types.Diagnostic], text: str, statuses: object) -> str:
    lines = text.split("\n")
    out = [f"{len(lines)} lines; statuses since the save: {statuses}"]
    for d in outside:
        line = d.range.start.line
        shown = lines[line] if line < len(lines) else "<past the end>"
        out.append(f"{d.code} at {d.range}: {d.message!r}; line text {shown!r}")
    return "\n".join(out)


def mutate(rng: random.Random, text: str) -> str:
    at = rng.randrange(len(text) + 1)
    if text and rng.random() < 0.45:
        return text[:at] + text[at + rng.randint(1, 30):]
    return text[:at] + rng.choice(PIECES) + text[at:]


async def test_random_edits_never_kill_the_server_or_misplace_a_diagnostic(
    tmp_path: Path, hardening: Report
) -> None:
    shop = copy_example(tmp_path)
    good = (shop / MODELS).read_text(encoding="utf-8")
    rng = random.Random(SEED)
    saved: list[str] = [good]
    stale_checks = stale_shown = 0
    async with lsp(shop, settings={"checkInterval": 60}) as probe:
        await probe.wait_diagnostics(lambda ds: any(d.code == "add_table" for d in ds), timeout=60)
        probe.open(MODELS, good)
        text = good
        for n in range(1, EDITS + 1):
            text = mutate(rng, text)
            probe.change(MODELS, text)
            if n % SAVE_EVERY == 0:
                saved.append(text)
                before = len(probe.statuses)
                probe.save(MODELS, text)


                def saved_check_done(start: int = before) -> bool:
                    return checked_since(probe.statuses[start:])

                await probe.wait_for(saved_check_done, 60, "a check")
                # Fresh or stale, every diagnostic lies inside the text just saved.
                last = probe.diagnostics()
                outside = [d for d in last if not fits(d, text)]
                assert not outside, describe(outside, text, probe.statuses[before:])
                if probe.statuses[-1]["state"] != "connected":
                    stale_checks += 1
                    stale_shown += sum("(stale:" in d.message for d in last)
        pid = probe.server_pid
        survived = probe.serving()
        assert survived, "the server died during the random edits"
        uri = probe.uri(MODELS)
        for params in probe.published:
            if params.uri == uri:
                for d in params.diagnostics:
                    assert any(fits(d, t) for t in saved), (d, params)
        # The good text comes back: drift diagnostics, no model error, nothing stale.
        probe.change(MODELS, good)
        probe.save(MODELS, good)
        with observed(
            hardening, "fuzz", f"{EDITS} random didChange edits, {len(saved) - 1} saves"
        ) as case:
            case.survived = survived
            case.note = (f"{stale_checks} failed checks kept {stale_shown} stale diagnostics, "
                         "all inside the document")
            case.recover_s = await probe.wait_for(
                lambda: any(d.code == "add_table" for d in probe.diagnostics())
                and not any(d.code == "model-error" or "stale" in d.message
                            for d in probe.diagnostics()),
                timeout=60,
                what="recovery after the random edits",
            )
            case.recovered = probe.server_pid == pid
        assert case.recovered, "the server was replaced"
    hardening.count("fuzz: random LSP edits", EDITS)


async def test_stale_diagnostics_stay_inside_a_shortened_document(tmp_path: Path) -> None:
    shop = copy_example(tmp_path)
    good = (shop / MODELS).read_text(encoding="utf-8")
    async with lsp(shop, settings={"checkInterval": 60}) as probe:
        before = await probe.wait_diagnostics(
            lambda ds: any(d.code == "add_table" for d in ds), timeout=60
        )
        # Keep the first diagnosed line; the others now lie past the end.
        first = min(d.range.start.line for d in before)
        assert any(d.range.start.line > first + 1 for d in before)
        short = "\n".join(good.splitlines()[: first + 1]) + "\nclass Broken(\n"
        probe.save(MODELS, short)
        diagnostics = await probe.wait_diagnostics(
            lambda ds: any(d.code == "model-error" for d in ds)
        )
        stale = [d for d in diagnostics if "(stale:" in d.message]
        assert stale and len(stale) < len(before), diagnostics
        assert all(fits(d, short) for d in diagnostics), [
            (d.code, d.range.start.line) for d in diagnostics
        ]


MIGRATION = "migrations/versions/0002_orders.py"
MIGRATION_EDITS = 120
MIGRATION_PIECES = [
    *PIECES,
    "op.add_column('users', sa.Column('name', sa.String(50)))\n    ",
    "op.drop_table('orders')\n    ",
    "down_revision = 'nowhere'\n",
    "revision = '0001'\n",
    "def upgrade():\n",
]


async def test_random_edits_of_a_migration_file_never_misplace_a_diagnostic(
    tmp_path: Path, hardening: Report
) -> None:
    """The same for an open migration file, which the server re-reads from the editor's
    buffer on every change (syntax errors, the revision graph, ops that contradict the
    database): after each change, every diagnostic on it lies inside the current text."""
    shop = copy_example(tmp_path)
    good = (shop / MIGRATION).read_text(encoding="utf-8")
    rng = random.Random(SEED + 1)
    shown = 0
    async with lsp(shop, settings={"checkInterval": 60}) as probe:
        await probe.wait_diagnostics(lambda ds: any(d.code == "add_table" for d in ds), timeout=60)
        pid = probe.server_pid
        probe.open(MIGRATION, good)
        doc = types.TextDocumentIdentifier(uri=probe.uri(MIGRATION))
        text = good
        for n in range(1, MIGRATION_EDITS + 1):
            text = mutate(rng, text) if rng.random() < 0.8 else text + rng.choice(MIGRATION_PIECES)
            probe.change(MIGRATION, text)
            if n % SAVE_EVERY == 0:
                probe.save(MIGRATION, text)
            # A request answered after the change: its re-publication has been sent by then.
            await probe.client.text_document_hover_async(
                types.HoverParams(text_document=doc, position=types.Position(line=0, character=0))
            )
            current = probe.diagnostics(MIGRATION)
            shown += len(current)
            outside = [d for d in current if not fits(d, text)]
            assert not outside, describe(outside, text, probe.statuses[-3:])
        survived = probe.serving() and probe.server_pid == pid
        assert survived, "the server died or was replaced during the random edits"
        with observed(
            hardening, "fuzz", f"{MIGRATION_EDITS} random edits of an open migration file"
        ) as case:
            case.survived = survived
            case.note = f"{shown} diagnostics shown on the migration file, all inside it"
            probe.change(MIGRATION, good)
            probe.save(MIGRATION, good)
            case.recover_s = await probe.wait_for(
                lambda: not any(d.code == "syntax-error" for d in probe.diagnostics(MIGRATION)),
                timeout=30,
                what="the migration file's diagnostics after the good text came back",
            )
            case.recovered = probe.serving()
        assert case.recovered
    hardening.count("fuzz: random LSP edits of a migration file", MIGRATION_EDITS)
