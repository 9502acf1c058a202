"""Typed per-workspace configuration, resolved from LSP settings, pyproject.toml and alembic.ini.

Precedence (highest first): LSP initialization options / ``workspace/configuration``
(section ``schemaLsp``), ``[tool.schema-lsp]`` in the root's ``pyproject.toml``, then
``alembic.ini`` (``sqlalchemy.url``, ``script_location``).  Resolution is a pure function
of its inputs so it can be tested without a server.
"""

from __future__ import annotations

import configparser
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10 needs the tomli backport
    import tomli as tomllib

SECTION = "schemaLsp"

SEVERITIES = ("error", "warning", "information", "hint")

# camelCase spellings accepted in LSP settings, mapped to the canonical snake_case key.
_CAMEL = {
    "databaseUrl": "database_url",
    "checkInterval": "check_interval",
    "compareType": "compare_type",
    "compareServerDefault": "compare_server_default",
    "includeSchemas": "include_schemas",
    "excludeTables": "exclude_tables",
    "previewOnSave": "preview_on_save",
    "includeDestructive": "include_destructive",
    "importTimeout": "import_timeout",
    "renderAsBatch": "render_as_batch",
    "processRevisionDirectives": "process_revision_directives",
}

KEYS = (
    "models",
    "database_url",
    "migrations",
    "check_interval",
    "compare_type",
    "compare_server_default",
    "include_schemas",
    "exclude_tables",
    "severity",
    "python",
    "preview_on_save",
    "import_timeout",
    "include_destructive",
    "render_as_batch",
    "process_revision_directives",
)

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ConfigError(Exception):
    """A configuration problem, phrased as what is wrong, where, and how to fix it."""

    def __init__(self, what: str, where: str, fix: str) -> None:
        self.what = what
        self.where = where
        self.fix = fix
        super().__init__(f"{what} (in {where}). {fix}")


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server needs to check one workspace root."""

    root: Path
    models: tuple[str, ...] = ()
    database_url: str | None = None
    migrations: str | None = None
    check_interval: float = 30.0
    compare_type: bool = True
    compare_server_default: bool = False
    include_schemas: bool | tuple[str, ...] = False
    exclude_tables: tuple[str, ...] = ()
    severity: Mapping[str, str] = field(default_factory=dict)
    python: str = sys.executable
    preview_on_save: bool = False
    include_destructive: bool = False
    """Whether "add all" and new revisions also write drift that loses data."""
    import_timeout: float = 10.0
    render_as_batch: bool | None = None
    """Render fixes as batch blocks; None: on SQLite only (what SQLite's ALTER needs)."""
    process_revision_directives: str | None = None
    """``module:attr`` of the project's revision hook (used by ``schema-lsp revision``)."""
    sources: Mapping[str, str] = field(default_factory=dict)
    """Where each key came from (key -> "LSP settings" / "pyproject.toml" / ...), for messages."""

    def severity_for(self, kind: str) -> str:
        """Configured severity for a drift kind; ``default`` key, then ``warning``."""
        return self.severity.get(kind, self.severity.get("default", "warning"))

    @property
    def enabled(self) -> bool:
        """Checks run only when models and a database are configured."""
        return bool(self.models) and bool(self.database_url)


def normalize_settings(settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """Accept camelCase and snake_case keys; drop ``None`` values (unset in the editor)."""
    out: dict[str, Any] = {}
    for key, value in (settings or {}).items():
        if value is None:
            continue
        out[_CAMEL.get(key, key)] = value
    return out


def expand_env(value: str, env: Mapping[str, str], where: str) -> str:
    """Expand ``${NAME}`` and ``${NAME:-default}`` from ``env``; a missing variable is an error."""

    def sub(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(
            f"database_url refers to ${{{name}}} but the environment variable {name} is not set",
            where,
            f"Set {name} in the environment the editor starts schema-lsp from, "
            f"or write ${{{name}:-fallback}}.",
        )

    return _ENV_REF.sub(sub, value)


def read_pyproject(root: Path) -> dict[str, Any]:
    """The ``[tool.schema-lsp]`` table of ``root/pyproject.toml`` (empty when absent)."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"pyproject.toml is not valid TOML: {exc}", str(path), "Fix the syntax and save."
        ) from exc
    section = data.get("tool", {}).get("schema-lsp", {})
    if not isinstance(section, dict):
        raise ConfigError(
            "[tool.schema-lsp] must be a table",
            str(path),
            "Write it as a [tool.schema-lsp] section.",
        )
    return normalize_settings(section)


def read_alembic_ini(root: Path) -> dict[str, Any]:
    """``sqlalchemy.url`` and ``script_location`` from ``root/alembic.ini`` (empty when absent)."""
    path = root / "alembic.ini"
    if not path.is_file():
        return {}
    parser = configparser.ConfigParser(defaults={"here": str(root)})
    try:
        parser.read(path, encoding="utf-8")
        out: dict[str, Any] = {}
        if parser.has_section("alembic"):
            url = parser.get("alembic", "sqlalchemy.url", fallback=None)
            if url and "driver://" not in url:  # alembic's template placeholder is not a URL
                out["database_url"] = url
            location = parser.get("alembic", "script_location", fallback=None)
            if location:
                out["migrations"] = location
        return out
    except configparser.Error as exc:
        raise ConfigError(
            f"alembic.ini could not be read: {exc}".replace("\n", " "),
            str(path),
            "Fix the file or set database_url in [tool.schema-lsp].",
        ) from exc


def default_python(root: Path) -> str:
    """The workspace's ``.venv`` interpreter when present, else the server's own."""
    for candidate in (root / ".venv" / "bin" / "python", root / ".venv" / "Scripts" / "python.exe"):
        if candidate.exists():
            return str(candidate)
    return sys.executable


def resolve_config(
    root: Path,
    lsp_settings: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> ServerConfig:
    """Merge the three layers for ``root`` and validate them into a :class:`ServerConfig`."""
    env = os.environ if env is None else env
    layers = (
        ("alembic.ini", read_alembic_ini(root)),
        ("pyproject.toml [tool.schema-lsp]", read_pyproject(root)),
        ("LSP settings (schemaLsp)", normalize_settings(lsp_settings)),
    )
    merged: dict[str, Any] = {}
    origin: dict[str, str] = {}
    for name, layer in layers:
        for key, value in layer.items():
            if key not in KEYS:
                raise ConfigError(
                    f"unknown configuration key {key!r}",
                    name,
                    f"Use one of: {', '.join(KEYS)} (camelCase is accepted in editor settings).",
                )
            merged[key] = value
            origin[key] = name
    return _validate(root, merged, origin, env)


def _validate(
    root: Path, raw: dict[str, Any], origin: dict[str, str], env: Mapping[str, str]
) -> ServerConfig:
    def where(key: str) -> str:
        return f"{key} from {origin.get(key, 'defaults')}"

    def expect(key: str, ok: bool, fix: str) -> None:
        if not ok:
            raise ConfigError(f"{key} has an invalid value {raw[key]!r}", where(key), fix)

    cfg = ServerConfig(root=root, python=default_python(root), sources=dict(origin))
    if "models" in raw:
        models = raw["models"]
        if isinstance(models, str):
            models = [models]
        expect(
            "models",
            isinstance(models, list)
            and all(isinstance(m, str) and re.fullmatch(r"[\w.]+:[\w.]+", m) for m in models),
            'Write it as "package.module:attribute", e.g. "shop.models:Base".',
        )
        cfg = replace(cfg, models=tuple(models))
    if "database_url" in raw:
        expect("database_url", isinstance(raw["database_url"], str), "Write it as a string URL.")
        url = expand_env(raw["database_url"], env, where("database_url"))
        cfg = replace(cfg, database_url=_resolve_sqlite_path(url, root) or None)
    if "migrations" in raw:
        expect("migrations", isinstance(raw["migrations"], str), "Write it as a directory path.")
        cfg = replace(cfg, migrations=raw["migrations"])
    if "check_interval" in raw:
        value = raw["check_interval"]
        expect(
            "check_interval",
            isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0,
            "Give a positive number of seconds, e.g. 30.",
        )
        cfg = replace(cfg, check_interval=float(value))
    if "import_timeout" in raw:
        value = raw["import_timeout"]
        expect(
            "import_timeout",
            isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0,
            "Give a positive number of seconds, e.g. 10.",
        )
        cfg = replace(cfg, import_timeout=float(value))
    bools = ("compare_type", "compare_server_default", "preview_on_save", "include_destructive")
    for key in (*bools, "render_as_batch"):
        if key in raw:
            expect(key, isinstance(raw[key], bool), "Use true or false.")
            cfg = replace(cfg, **{key: raw[key]})
    if "process_revision_directives" in raw:
        value = raw["process_revision_directives"]
        expect(
            "process_revision_directives",
            isinstance(value, str) and re.fullmatch(r"[\w.]+:[\w.]+", value) is not None,
            'Write it as "package.module:attribute", e.g. "app.migration_hooks:writer".',
        )
        cfg = replace(cfg, process_revision_directives=value)
    if "include_schemas" in raw:
        value = raw["include_schemas"]
        ok = isinstance(value, bool) or (
            isinstance(value, list) and all(isinstance(s, str) for s in value)
        )
        expect("include_schemas", ok, 'Use true, false, or a list of schema names like ["sales"].')
        cfg = replace(cfg, include_schemas=value if isinstance(value, bool) else tuple(value))
    if "exclude_tables" in raw:
        value = raw["exclude_tables"]
        if isinstance(value, str):
            value = [value]
        expect(
            "exclude_tables",
            isinstance(value, list) and all(isinstance(s, str) for s in value),
            'Use a list of glob patterns like ["tmp_*", "audit.*"].',
        )
        cfg = replace(cfg, exclude_tables=tuple(value))
    if "severity" in raw:
        value = raw["severity"]
        expect(
            "severity",
            isinstance(value, dict)
            and all(isinstance(v, str) and v.lower() in SEVERITIES for v in value.values()),
            f'Map drift kinds to one of {", ".join(SEVERITIES)}, e.g. {{add_column = "error"}}.',
        )
        cfg = replace(cfg, severity={k: v.lower() for k, v in value.items()})
    if "python" in raw:
        value = raw["python"]
        expect("python", isinstance(value, str) and value != "", "Give the interpreter's path.")
        path = Path(os.path.expanduser(value))
        if not path.is_absolute() and ("/" in value or "\\" in value):
            path = root / path
        resolved = str(path) if path.is_absolute() or path.exists() else value
        if path.is_absolute() and not path.exists():
            raise ConfigError(
                f"python interpreter {value!r} does not exist",
                where("python"),
                "Point python at the project's interpreter, e.g. .venv/bin/python.",
            )
        cfg = replace(cfg, python=resolved)
    return cfg


def _resolve_sqlite_path(url: str, root: Path) -> str:
    """Make relative SQLite paths relative to the workspace root, not the server's cwd."""
    match = re.match(r"^(sqlite(?:\+\w+)?:///)(?!/)([^?]+)(\?.*)?$", url)
    if not match or match.group(2) == ":memory:":
        return url
    return f"{match.group(1)}{(root / match.group(2)).as_posix()}{match.group(3) or ''}"


def mask_url(url: str | None) -> str:
    """The URL with its password hidden, safe for messages and logs."""
    if not url:
        return "(no database URL)"
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
