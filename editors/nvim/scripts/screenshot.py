#!/usr/bin/env python3
"""Screenshot of Neovim showing schema-lsp's drift diagnostics on examples/shop.

Runs Neovim (with editors/nvim) in a private tmux server on a temporary copy of
examples/shop, waits until the diagnostics are on screen, captures the pane with colours
(``tmux capture-pane -e``), turns the ANSI text into SVG and the SVG into PNG with
``rsvg-convert``. Output: editors/nvim/screenshots/shop-diagnostics.png (and the .ans capture); with
``--preview --out editors/nvim/screenshots/shop-preview.png`` the revision preview split too.
``--check`` captures again and compares the text with the committed .ans (revision ids, dates
and temporary paths aside) without writing anything: tests/editors/test_screenshots.py runs it,
so a change to what Neovim shows fails until the screenshots are made again.

Needs (Debian): neovim, tmux, librsvg2-bin, fonts-dejavu-core (the last two only for the PNG);
and a Python with schema-lsp installed, given as --python (default: this interpreter).

    python3 editors/nvim/scripts/screenshot.py --python .venv/bin/python
"""

from __future__ import annotations

import argparse
import difflib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
PLUGIN = HERE.parent
REPO = PLUGIN.parent.parent
EXAMPLE = REPO / "examples" / "shop"

DEFAULT_FG = "#d4d4d4"
DEFAULT_BG = "#1e1e1e"
# xterm's 16 colours (as most terminals show them).
BASE16 = [
    "#000000",
    "#cd3131",
    "#0dbc79",
    "#e5e510",
    "#2472c8",
    "#bc3fbc",
    "#11a8cd",
    "#e5e5e5",
    "#666666",
    "#f14c4c",
    "#23d18b",
    "#f5f543",
    "#3b8eea",
    "#d670d6",
    "#29b8db",
    "#ffffff",
]


def xterm256(n: int) -> str:
    """The hex colour of xterm-256 colour ``n``."""
    if n < 16:
        return BASE16[n]
    if n < 232:
        n -= 16
        levels = [0, 95, 135, 175, 215, 255]
        r, g, b = levels[n // 36], levels[(n // 6) % 6], levels[n % 6]
        return f"#{r:02x}{g:02x}{b:02x}"
    v = 8 + (n - 232) * 10
    return f"#{v:02x}{v:02x}{v:02x}"


@dataclass(frozen=True)
class Style:
    fg: str | None = None
    bg: str | None = None
    bold: bool = False
    italic: bool = False
    underline: bool = False
    reverse: bool = False


def apply_sgr(style: Style, params: list[int]) -> Style:
    """The style after one SGR sequence (``ESC [ params m``)."""
    if not params:
        params = [0]
    i = 0
    while i < len(params):
        p = params[i]
        if p == 0:
            style = Style()
        elif p == 1:
            style = replace(style, bold=True)
        elif p == 3:
            style = replace(style, italic=True)
        elif p in (4, 21):
            style = replace(style, underline=True)
        elif p == 7:
            style = replace(style, reverse=True)
        elif p == 22:
            style = replace(style, bold=False)
        elif p == 23:
            style = replace(style, italic=False)
        elif p == 24:
            style = replace(style, underline=False)
        elif p == 27:
            style = replace(style, reverse=False)
        elif 30 <= p <= 37:
            style = replace(style, fg=BASE16[p - 30])
        elif 90 <= p <= 97:
            style = replace(style, fg=BASE16[p - 90 + 8])
        elif 40 <= p <= 47:
            style = replace(style, bg=BASE16[p - 40])
        elif 100 <= p <= 107:
            style = replace(style, bg=BASE16[p - 100 + 8])
        elif p == 39:
            style = replace(style, fg=None)
        elif p == 49:
            style = replace(style, bg=None)
        elif p in (38, 48) and i + 1 < len(params):
            if params[i + 1] == 5 and i + 2 < len(params):
                color = xterm256(params[i + 2])
                i += 2
            elif params[i + 1] == 2 and i + 4 < len(params):
                r, g, b = params[i + 2 : i + 5]
                color = f"#{r:02x}{g:02x}{b:02x}"
                i += 4
            else:
                color = None
                i += 1
            style = replace(style, fg=color) if p == 38 else replace(style, bg=color)
        i += 1
    return style


SGR = re.compile(r"\x1b\[([0-9;:]*)m")
OTHER_ESCAPE = re.compile(r"\x1b(?:\[[0-9;?]*[A-Za-ln-z]|\][^\x07]*\x07|[()][A-Z0-9])")


def parse_ansi(text: str) -> list[list[tuple[str, Style]]]:
    """Lines of (character, style) cells from ``capture-pane -e`` output."""
    rows: list[list[tuple[str, Style]]] = []
    style = Style()
    for line in text.split("\n"):
        row: list[tuple[str, Style]] = []
        pos = 0
        line = OTHER_ESCAPE.sub("", line)
        for match in SGR.finditer(line):
            row.extend((ch, style) for ch in line[pos : match.start()])
            params = [int(x) for x in re.split(r"[;:]", match.group(1)) if x != ""]
            style = apply_sgr(style, params)
            pos = match.end()
        row.extend((ch, style) for ch in line[pos:])
        rows.append(row)
    while rows and not rows[-1]:
        rows.pop()
    return rows


def to_svg(rows: list[list[tuple[str, Style]]], columns: int, font_size: float = 15.0) -> str:
    """An SVG picture of the terminal cells, one text run per style change."""
    cw, ch = font_size * 0.6021, font_size * 1.32
    pad = 12.0
    width, height = columns * cw + 2 * pad, len(rows) * ch + 2 * pad
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.1f} {height:.1f}">',
        f'<rect width="100%" height="100%" fill="{DEFAULT_BG}"/>',
        f'<g font-family="DejaVu Sans Mono, monospace" font-size="{font_size}" '
        'xml:space="preserve">',
    ]
    for y, row in enumerate(rows):
        runs: list[tuple[int, str, Style]] = []
        for x, (char, style) in enumerate(row):
            if runs and runs[-1][2] == style:
                start, text, _ = runs[-1]
                runs[-1] = (start, text + char, style)
            else:
                runs.append((x, char, style))
        top = pad + y * ch
        for start, text, style in runs:
            fg, bg = style.fg or DEFAULT_FG, style.bg
            if style.reverse:
                fg, bg = bg or DEFAULT_BG, fg
            left = pad + start * cw
            if bg is not None:
                out.append(
                    f'<rect x="{left:.2f}" y="{top:.2f}" width="{len(text) * cw + 0.5:.2f}" '
                    f'height="{ch + 0.5:.2f}" fill="{bg}"/>'
                )
            if not text.strip():
                continue
            attrs = [f'x="{left:.2f}"', f'y="{top + ch * 0.78:.2f}"', f'fill="{fg}"']
            attrs.append(f'textLength="{len(text) * cw:.2f}" lengthAdjust="spacingAndGlyphs"')
            if style.bold:
                attrs.append('font-weight="bold"')
            if style.italic:
                attrs.append('font-style="italic"')
            if style.underline:
                attrs.append('text-decoration="underline"')
            out.append(f"<text {' '.join(attrs)}>{html.escape(text)}</text>")
    out.append("</g></svg>")
    return "\n".join(out)


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    """Polls ``check()`` until it is true; raises after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshot: timed out waiting for {what}")
        time.sleep(0.2)


VOLATILE = (
    (re.compile(r"\b[0-9a-f]{12}\b"), "<revision>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d+)?"), "<date>"),
    (re.compile(r"/tmp/[^\s'\"]+"), "<tmp>"),
)
"""What may differ between two captures of the same screen: revision ids, dates, temp paths."""


def screen_lines(text: str) -> list[str]:
    """The text of a capture, colours dropped, without trailing blanks."""
    lines = [OTHER_ESCAPE.sub("", SGR.sub("", line)).rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def comparable(text: str) -> list[str]:
    """The capture's text with its volatile parts masked, for --check."""
    out = []
    for line in screen_lines(text):
        for pattern, mask in VOLATILE:
            line = pattern.sub(mask, line)
        out.append(line)
    return out


def capture_screen(args: argparse.Namespace) -> str:
    """Runs the demo in a private tmux server; returns the pane with colours, once Neovim has
    drawn the finished check (the screen text Neovim reports is exactly what tmux shows)."""
    socket = f"schema-lsp-shot-{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="schema-lsp-shot-") as tmp:
        work = Path(tmp) / "shop"
        shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
        marker = Path(tmp) / "diagnostics.json"
        env = {
            "SCHEMA_LSP_DEMO_PLUGIN": str(PLUGIN),
            "SCHEMA_LSP_DEMO_CMD": json.dumps([args.python, "-m", "schema_lsp", "serve"]),
            "SCHEMA_LSP_DEMO_MARKER": str(marker),
            "SCHEMA_LSP_DEMO_TOP": str(args.top),
            "SCHEMA_LSP_DEMO_PREVIEW": "1" if args.preview else "0",
            "XDG_STATE_HOME": str(Path(tmp) / "state"),
            "LC_ALL": "C.UTF-8",
        }
        tmux = ["tmux", "-u", "-L", socket, "-f", os.devnull]
        command = [
            "env",
            *(f"{k}={v}" for k, v in env.items()),
            args.nvim,
            "-i",
            "NONE",
            "-u",
            str(HERE / "demo_init.lua"),
            "shop/models.py",
        ]
        size = ["-x", str(args.columns), "-y", str(args.lines)]
        subprocess.run(
            [*tmux, "new-session", "-d", "-s", "shot", *size, "-c", str(work), *command],
            check=True,
            env={**os.environ, "TERM": "xterm-256color", "LC_ALL": "C.UTF-8"},
        )

        def capture(colours: bool) -> str:
            flags = ["-p", "-e"] if colours else ["-p"]
            proc = subprocess.run(
                [*tmux, "capture-pane", "-t", "shot", *flags],
                check=True,
                capture_output=True,
                text=True,
            )
            return proc.stdout

        try:
            try:
                wait_for("schema-lsp's diagnostics", marker.is_file, args.timeout)
            except SystemExit:
                print(capture(False), file=sys.stderr)
                raise
            drawn = json.loads(marker.read_text(encoding="utf-8"))
            expected = screen_lines("\n".join(drawn["screen"]))
            try:
                wait_for(
                    "tmux to show Neovim's screen",
                    lambda: screen_lines(capture(False)) == expected,
                    20,
                )
            except SystemExit:
                print("\n".join(expected), "\n---", capture(False), file=sys.stderr)
                raise
            return capture(True)
        finally:
            subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)


def render_png(ansi: str, out: Path, columns: int) -> None:
    """Writes ``out`` (PNG) from the ANSI capture, through SVG and rsvg-convert."""
    if shutil.which("rsvg-convert") is None:
        raise SystemExit("screenshot: rsvg-convert is not installed (apt-get install librsvg2-bin)")
    svg = out.with_suffix(".svg")
    svg.write_text(to_svg(parse_ansi(ansi), columns), encoding="utf-8")
    try:
        subprocess.run(["rsvg-convert", "-o", str(out), str(svg)], check=True)
    finally:
        svg.unlink()


def check_current(ansi: str, committed: Path, rerun: str) -> int:
    """0 when the committed capture shows what Neovim shows now (volatile parts aside)."""
    if not committed.is_file():
        print(f"screenshot: {committed} is missing; run `{rerun}` and commit it", file=sys.stderr)
        return 1
    old, new = comparable(committed.read_text(encoding="utf-8")), comparable(ansi)
    if old == new:
        print(f"screenshot: {committed.name} is current")
        return 0
    diff = difflib.unified_diff(old, new, "committed", "now", lineterm="", n=1)
    print("\n".join(list(diff)[:80]), file=sys.stderr)
    print(
        f"screenshot: {committed} is out of date (Neovim now shows what is above): "
        f"run `{rerun}` and commit the .ans and .png",
        file=sys.stderr,
    )
    return 1


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter with schema-lsp")
    parser.add_argument("--nvim", default="nvim", help="the Neovim to show (default: on PATH)")
    parser.add_argument("--out", type=Path, default=PLUGIN / "screenshots" / "shop-diagnostics.png")
    parser.add_argument("--columns", type=int, default=150)
    parser.add_argument("--lines", type=int, default=38)
    parser.add_argument("--top", type=int, default=44, help="models.py line shown at the top")
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument(
        "--preview", action="store_true", help="also open :SchemaLspPreview beside the models"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="capture again and compare with the committed .ans instead of writing files",
    )
    args = parser.parse_args()
    if os.sep in args.python:
        args.python = os.path.abspath(args.python)

    for tool in (args.nvim, "tmux"):
        if shutil.which(tool) is None:
            raise SystemExit(f"screenshot: {tool} is not installed (apt-get install neovim tmux)")

    ansi = capture_screen(args)
    committed = args.out.with_suffix(".ans")
    if args.check:
        rerun = "python3 editors/nvim/scripts/screenshot.py --python .venv/bin/python"
        if args.preview:
            rerun += f" --preview --out {os.path.relpath(args.out, REPO)}"
        return check_current(ansi, committed, rerun)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    committed.write_text(ansi, encoding="utf-8")
    render_png(ansi, args.out, args.columns)
    print(f"screenshot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
