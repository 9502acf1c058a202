#!/usr/bin/env python3
"""Writes the settings the server accepts, as JSON, for the extension's settings test.

The test (test/settings.test.ts) checks that package.json and src/settings.ts cover exactly
these keys with the server's defaults, so a setting added to schema_lsp/server/config.py
cannot be forgotten in VS Code. Run with an interpreter that has schema-lsp installed:

    python editors/vscode/scripts/server_settings.py out/server-settings.json
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

from schema_lsp.server import config

DYNAMIC_DEFAULTS = {"python"}
"""Keys whose server default depends on the machine (the interpreter): exported as null."""

AUTO_DEFAULTS = {"render_as_batch"}
"""Keys whose unset value means "decide per dialect": null in the editor, not ""."""


def camel_case(key: str) -> str:
    head, *rest = key.split("_")
    return head + "".join(part.capitalize() for part in rest)


def json_default(value: Any) -> Any:
    """The server's default as the editor would write it: "" for unset, lists for tuples."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def server_settings() -> dict[str, dict[str, Any]]:
    """camelCase key -> {"key": snake_case key, "default": default or null}."""
    defaults = {
        f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default)
        for f in dataclasses.fields(config.ServerConfig)
    }
    out: dict[str, dict[str, Any]] = {}
    for key in config.KEYS:
        camel = camel_case(key)
        accepted = config.normalize_settings({camel: True})
        if list(accepted) != [key]:
            raise SystemExit(
                f"server_settings: the server does not accept the camelCase spelling {camel!r} "
                f"of {key!r} (schema_lsp/server/config.py _CAMEL)"
            )
        keep_null = key in DYNAMIC_DEFAULTS or key in AUTO_DEFAULTS
        default = None if keep_null else json_default(defaults[key])
        out[camel] = {"key": key, "default": default}
    return out


def main(argv: list[str]) -> int:
    text = json.dumps({"section": config.SECTION, "settings": server_settings()}, indent=2)
    if len(argv) > 1:
        target = Path(argv[1])
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
