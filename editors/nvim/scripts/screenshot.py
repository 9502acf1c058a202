#!/usr/bin/env python3
"""Screenshot of Neovim showing schema-lsp's drift diagnostics on examples/shop.

Runs Neovim (with editors/nvim) in a private tmux server on a temporary copy of
examples/shop, waits until the diagnostics are on screen, captures the pane with colours
(``tmux capture-pane -e``), turns the ANSI text into SVG and the SVG into PNG with
``rsvg-convert``. Output: editors/nvim/screenshots/shop-diagnostics.png (and the .ans capture); with
``--preview --out editors/nvim/screenshots/shop-preview.png`` the revision preview split too.

Needs (Debian): neovim, tmux, librsvg2-bin, fonts-dejavu-core; and a Python with schema-lsp
installed, given as --python (default: this interpreter).

    python3 editors/nvim/scripts/screenshot.py --python .venv/bin/python
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
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


def wait_for(what: str, check: object, timeout: float) -> None:
    """Polls ``check()`` until it is true; raises after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshot: timed out waiting for {what}")
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="interpreter with schema-lsp")
    parser.add_argument("--out", type=Path, default=PLUGIN / "screenshots" / "shop-diagnostics.png")
    parser.add_argument("--columns", type=int, default=150)
    parser.add_argument("--lines", type=int, default=38)
    parser.add_argument("--top", type=int, default=44, help="models.py line shown at the top")
    parser.add_argument("--timeout", type=float, default=90.0)
    parser.add_argument(
        "--preview", action="store_true", help="also open :SchemaLspPreview beside the models"
    )
    args = parser.parse_args()
    if os.sep in args.python:
        args.python = os.path.abspath(args.python)

    for tool in ("nvim", "tmux", "rsvg-convert"):
        if shutil.which(tool) is None:
            raise SystemExit(
                f"screenshot: {tool} is not installed (apt-get install neovim tmux librsvg2-bin)"
            )

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
        }
        tmux = ["tmux", "-L", socket, "-f", os.devnull]
        command = [
            "env",
            *(f"{k}={v}" for k, v in env.items()),
            "nvim",
            "-i",
            "NONE",
            "-u",
            str(HERE / "demo_init.lua"),
            "shop/models.py",
        ]
        subprocess.run(
            [
                *tmux,
                "new-session",
                "-d",
                "-s",
                "shot",
                "-x",
                str(args.columns),
                "-y",
                str(args.lines),
                "-c",
                str(work),
                *command,
            ],
            check=True,
            env={**os.environ, "TERM": "xterm-256color"},
        )
        try:
            try:
                wait_for("schema-lsp diagnostics", marker.is_file, args.timeout)
            except SystemExit:
                screen = subprocess.run(
                    [*tmux, "capture-pane", "-t", "shot", "-p"],
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout
                print(screen, file=sys.stderr)
                raise
            count = len(json.loads(marker.read_text(encoding="utf-8")))
            needle = f"schema-lsp: {count} drift"

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
                wait_for(
                    "the diagnostics on screen",
                    lambda: needle in capture(False) and "\u25cf" in capture(False),
                    20,
                )
            except SystemExit:
                print(needle, capture(False), file=sys.stderr)
                raise
            ansi = capture(True)
        finally:
            subprocess.run([*tmux, "kill-server"], check=False, capture_output=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".ans").write_text(ansi, encoding="utf-8")
    svg = args.out.with_suffix(".svg")
    svg.write_text(to_svg(parse_ansi(ansi), args.columns), encoding="utf-8")
    subprocess.run(["rsvg-convert", "-o", str(args.out), str(svg)], check=True)
    svg.unlink()
    print(f"screenshot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
