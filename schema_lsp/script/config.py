"""Find and read a project's migration configuration without importing Alembic.

Reads the ``[alembic]`` section of ``alembic.ini`` (with ``%(here)s``
interpolation, as Alembic does) and, like Alembic 1.16+, falls back to
``[tool.alembic]`` in a sibling ``pyproject.toml`` for keys the ini lacks.
The result is a frozen :class:`ScriptConfig`, which callers such as the
language server may also build directly from their own settings.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schema_lsp.script.problems import ScriptProblem

DEFAULT_FILE_TEMPLATE = "%(rev)s_%(slug)s"
DEFAULT_TRUNCATE_SLUG_LENGTH = 40
INI_NAME = "alembic.ini"
TOML_NAME = "pyproject.toml"

_PATH_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}
_LEGACY_SPLIT = re.compile(r", *|(?: +)")


class ScriptConfigError(Exception):
    """The migration configuration cannot be used; ``problem`` says what, where and how to fix."""

    def __init__(self, problem: ScriptProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True)
class PostWriteHook:
    """One ``[post_write_hooks]`` entry: a formatter/linter run on each new revision file.

    ``type`` is ``exec``, ``module`` or ``console_scripts``; ``options`` holds
    the hook's other keys (``executable``, ``module``, ``entrypoint``,
    ``options``, ``cwd``), exactly as Alembic reads them.
    """

    name: str
    type: str | None
    options: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class ScriptConfig:
    """Where migrations live and how new revision files are named.

    ``version_locations`` empty means the Alembic default,
    ``<script_location>/versions``. ``main_options`` holds every option of the
    main section (already interpolated) so templates can read custom keys, and
    ``sections`` the other ini sections.
    """

    script_location: Path
    version_locations: tuple[Path, ...] = ()
    file_template: str = DEFAULT_FILE_TEMPLATE
    truncate_slug_length: int = DEFAULT_TRUNCATE_SLUG_LENGTH
    timezone: str | None = None
    sqlalchemy_url: str | None = None
    revision_environment: bool = False
    recursive_version_locations: bool = False
    output_encoding: str = "utf-8"
    prepend_sys_path: tuple[Path, ...] = ()
    config_file: Path | None = None
    post_write_hooks: tuple[PostWriteHook, ...] = ()
    main_options: Mapping[str, str] = field(
        default_factory=dict, hash=False, compare=False, repr=False
    )
    sections: Mapping[str, Mapping[str, str]] = field(
        default_factory=dict, hash=False, compare=False, repr=False
    )

    @property
    def versions_dirs(self) -> tuple[Path, ...]:
        """The folders holding revision files, in configured order."""
        return self.version_locations or (self.script_location / "versions",)

    @property
    def template_file(self) -> Path:
        """The project's own ``script.py.mako`` (it may not exist)."""
        return self.script_location / "script.py.mako"


def find_config_file(start: Path) -> Path | None:
    """Return the nearest ``alembic.ini``, or ``pyproject.toml`` with ``[tool.alembic]``.

    Searches ``start`` (a file or folder) and then each parent folder, so the
    language server can locate the project from any open document.
    """
    here = start if start.is_dir() else start.parent
    for folder in (here, *here.parents):
        ini = folder / INI_NAME
        if ini.is_file():
            return ini
        toml = folder / TOML_NAME
        if toml.is_file() and _toml_alembic_table(toml) is not None:
            return toml
    return None


def discover_config(start: Path, *, section: str = "alembic") -> ScriptConfig:
    """Find (see :func:`find_config_file`) and load the configuration for ``start``."""
    found = find_config_file(start)
    if found is None:
        raise ScriptConfigError(
            ScriptProblem(
                "config-not-found",
                f"No {INI_NAME} (or {TOML_NAME} with a [tool.alembic] table) was found in "
                f"{start} or any parent folder; run 'alembic init <folder>' to create one, "
                "or configure the migrations folder in the editor settings.",
                start,
            )
        )
    return load_config(found, section=section)


def load_config(path: Path, *, section: str = "alembic", cwd: Path | None = None) -> ScriptConfig:
    """Read ``alembic.ini`` (or ``pyproject.toml``) at ``path`` into a :class:`ScriptConfig`.

    A sibling ``pyproject.toml`` supplies keys missing from the ini, as in
    Alembic. Relative paths are resolved against ``cwd``, which defaults to
    the config file's folder (Alembic uses the working directory, which is
    normally that folder). Raises :class:`ScriptConfigError` for a missing or
    invalid file or a ``script_location`` folder that does not exist.
    """
    path = path.absolute()
    if not path.is_file():
        raise ScriptConfigError(
            ScriptProblem(
                "config-not-found",
                f"Migration config file {path} does not exist; check the path, or run "
                "'alembic init <folder>' to create one.",
                path,
            )
        )
    base = (cwd or path.parent).absolute()
    if path.name == TOML_NAME:
        ini_path: Path | None = None
        toml_path: Path | None = path
    else:
        ini_path = path
        toml_path = path.parent / TOML_NAME
    source = _OptionSource(ini_path, toml_path, section)
    return source.build(base)


def validate_config(config: ScriptConfig) -> list[ScriptProblem]:
    """Problems that stop migrations from being read or written (missing folders)."""
    problems: list[ScriptProblem] = []
    where = config.config_file
    if not config.script_location.is_dir():
        problems.append(
            ScriptProblem(
                "missing-script-location",
                f"Migrations folder {config.script_location} does not exist; fix "
                "'script_location' or run 'alembic init' to create it.",
                where,
            )
        )
    return problems


class _OptionSource:
    """The merged ini + toml options of one project, with line numbers for messages."""

    def __init__(self, ini_path: Path | None, toml_path: Path | None, section: str) -> None:
        self.ini_path = ini_path
        self.section = section
        self.ini_text = ""
        self.parser: configparser.ConfigParser | None = None
        self.toml: dict[str, Any] = {}
        self.toml_path: Path | None = None
        if ini_path is not None:
            self._read_ini(ini_path)
        if toml_path is not None and toml_path.is_file():
            table = _toml_alembic_table(toml_path)
            if table is not None:
                self.toml, self.toml_path = table, toml_path
            elif ini_path is None:
                raise ScriptConfigError(
                    ScriptProblem(
                        "config-invalid",
                        f"{toml_path} has no [tool.alembic] table; add one with "
                        "'script_location = \"%(here)s/migrations\"', or use alembic.ini.",
                        toml_path,
                    )
                )

    def _read_ini(self, ini_path: Path) -> None:
        try:
            self.ini_text = ini_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ScriptConfigError(
                ScriptProblem(
                    "config-invalid",
                    f"Cannot read {ini_path}: {exc}; check permissions and that it is UTF-8.",
                    ini_path,
                )
            ) from None
        parser = configparser.ConfigParser({"here": ini_path.parent.as_posix()})
        try:
            parser.read_string(self.ini_text, source=str(ini_path))
        except configparser.Error as exc:
            line: int | None = getattr(exc, "lineno", None)
            detail = exc.message.splitlines()[0]
            errors = getattr(exc, "errors", None)
            if isinstance(exc, configparser.ParsingError) and errors:
                line, text = errors[0]
                detail = f"line {line} is neither 'key = value' nor a [section]: {text.strip()!r}"
            elif isinstance(exc, configparser.MissingSectionHeaderError):
                detail = "the first setting comes before any [section] header"
            raise ScriptConfigError(
                ScriptProblem(
                    "config-invalid",
                    f"Not a valid ini file ({detail}); fix the syntax.",
                    ini_path,
                    line,
                )
            ) from None
        if not parser.has_section(self.section):
            raise ScriptConfigError(
                ScriptProblem(
                    "config-invalid",
                    f"{ini_path} has no [{self.section}] section; add one with "
                    "'script_location = %(here)s/migrations'.",
                    ini_path,
                )
            )
        self.parser = parser

    def line_of(self, key: str, section: str | None = None) -> int | None:
        """1-based line of ``key`` inside ``section`` of the ini text, for messages."""
        wanted = section or self.section
        current = None
        key_re = re.compile(rf"^\s*{re.escape(key)}\s*[=:]", re.IGNORECASE)
        for number, text in enumerate(self.ini_text.splitlines(), start=1):
            header = re.match(r"^\s*\[([^\]]+)\]", text)
            if header:
                current = header.group(1).strip()
            elif current == wanted and key_re.match(text):
                return number
        return None

    def _ini_get(self, key: str, section: str | None = None) -> str | None:
        if self.parser is None:
            return None
        name = section or self.section
        if not self.parser.has_option(name, key):
            return None
        try:
            return self.parser.get(name, key)
        except configparser.InterpolationError as exc:
            raise ScriptConfigError(
                ScriptProblem(
                    "config-invalid",
                    f"Option '{key}' in [{name}] cannot be interpolated ({exc.message}); "
                    "write a literal '%' as '%%' (e.g. file_template = %%(rev)s_%%(slug)s).",
                    self.ini_path,
                    self.line_of(key, name),
                )
            ) from None

    def get(self, key: str) -> str | None:
        """A string option: the ini wins, then ``[tool.alembic]``."""
        value = self._ini_get(key)
        if value is not None:
            return value
        raw = self.toml.get(key)
        if raw is None:
            return None
        if isinstance(raw, bool):
            return "true" if raw else "false"
        if not isinstance(raw, (str, int)):
            self._fail(key, f"must be a string in [tool.alembic], got {type(raw).__name__}")
        return self._toml_interpolate(key, str(raw))

    def get_list(self, key: str) -> list[str] | None:
        """A path-list option, split like Alembic (``path_separator``) or a toml list."""
        value = self._ini_get(key)
        if value:
            sep_name = self._ini_get("path_separator") or self._ini_get("version_path_separator")
            if sep_name is None:
                return [item for item in _LEGACY_SPLIT.split(value) if item]
            sep = _PATH_SEPARATORS.get(sep_name)
            if sep is None:
                self._fail(
                    "path_separator",
                    f"'{sep_name}' is not a valid path separator; use one of "
                    f"{', '.join(repr(k) for k in _PATH_SEPARATORS)}",
                )
            return [item.strip() for item in value.split(sep) if item.strip()]
        raw = self.toml.get(key)
        if raw is None:
            return None
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            self._fail(key, "must be a list of strings in [tool.alembic]")
        return [self._toml_interpolate(key, item) for item in raw]

    def get_bool(self, key: str) -> bool:
        value = self._ini_get(key)
        if value is not None:
            return value.strip().lower() == "true"
        raw = self.toml.get(key, False)
        if not isinstance(raw, bool):
            self._fail(key, "must be true or false in [tool.alembic]")
        return bool(raw)

    def _toml_interpolate(self, key: str, value: str) -> str:
        assert self.toml_path is not None
        try:
            return value % {"here": self.toml_path.parent.as_posix()}
        except (KeyError, ValueError, TypeError):
            raise ScriptConfigError(
                ScriptProblem(
                    "config-invalid",
                    f"Option '{key}' in [tool.alembic] cannot be interpolated; write a literal "
                    "'%' as '%%' and use only the %(here)s token.",
                    self.toml_path,
                )
            ) from None

    def _fail(self, key: str, what: str) -> Any:
        in_ini = self.parser is not None and self._ini_get(key) is not None
        path = self.ini_path if in_ini else (self.toml_path or self.ini_path)
        raise ScriptConfigError(
            ScriptProblem(
                "config-invalid",
                f"Option '{key}' {what}.",
                path,
                self.line_of(key) if in_ini else None,
            )
        )

    def build(self, base: Path) -> ScriptConfig:
        config_file = self.ini_path or self.toml_path
        location = self.get("script_location")
        if not location:
            raise ScriptConfigError(
                ScriptProblem(
                    "config-invalid",
                    f"No 'script_location' in [{self.section}] of {config_file}; add "
                    "'script_location = %(here)s/migrations' (the folder holding env.py).",
                    config_file,
                )
            )
        script_location = self._resolve_location(location, base, "script_location")
        if not script_location.is_dir():
            raise ScriptConfigError(
                ScriptProblem(
                    "missing-script-location",
                    f"Migrations folder {script_location} (script_location) does not exist; "
                    "fix the path or run 'alembic init' to create it.",
                    config_file,
                    self.line_of("script_location"),
                )
            )
        tsl_text = self.get("truncate_slug_length")
        truncate = DEFAULT_TRUNCATE_SLUG_LENGTH
        if tsl_text:
            try:
                truncate = int(tsl_text)
            except ValueError:
                self._fail("truncate_slug_length", f"must be a whole number, not {tsl_text!r}")
            if truncate <= 0:
                truncate = DEFAULT_TRUNCATE_SLUG_LENGTH
        file_template = self.get("file_template") or DEFAULT_FILE_TEMPLATE
        _check_file_template(file_template, self, config_file)
        versions = tuple(
            self._resolve_location(item, base, "version_locations")
            for item in self.get_list("version_locations") or ()
        )
        sys_paths = tuple(
            _absolute(Path(item), base) for item in self.get_list("prepend_sys_path") or ()
        )
        timezone = (self.get("timezone") or "").strip() or None
        return ScriptConfig(
            script_location=script_location,
            version_locations=versions,
            file_template=file_template,
            truncate_slug_length=truncate,
            timezone=timezone,
            sqlalchemy_url=self.get("sqlalchemy.url") or None,
            revision_environment=self.get_bool("revision_environment"),
            recursive_version_locations=self.get_bool("recursive_version_locations"),
            output_encoding=self.get("output_encoding") or "utf-8",
            prepend_sys_path=sys_paths,
            post_write_hooks=self._hooks(),
            config_file=config_file,
            main_options=self._main_options(),
            sections=self._other_sections(),
        )

    def _main_options(self) -> dict[str, str]:
        options: dict[str, str] = {}
        for key, raw in self.toml.items():
            if isinstance(raw, (str, int, bool)):
                value = self.get(key)
                if value is not None:
                    options[key] = value
        if self.parser is not None:
            for key in self.parser.options(self.section):
                if key != "here":
                    value = self._ini_get(key)
                    if value is not None:
                        options[key] = value
        return options

    def _hooks(self) -> tuple[PostWriteHook, ...]:
        """Hooks from ``[post_write_hooks]`` (ini) or ``post_write_hooks`` (toml), like Alembic."""
        if self.parser is not None and self.parser.has_section("post_write_hooks"):
            section = self._other_sections()["post_write_hooks"]
            hooks = []
            for name in _LEGACY_SPLIT.split(section.get("hooks", "")):
                if not name:
                    continue
                prefix = name + "."
                options = {k[len(prefix) :]: v for k, v in section.items() if k.startswith(prefix)}
                hooks.append(PostWriteHook(name, options.pop("type", None), options))
            return tuple(hooks)
        raw = self.toml.get("post_write_hooks", [])
        if not isinstance(raw, list) or not all(isinstance(item, dict) for item in raw):
            self._fail("post_write_hooks", "must be a list of tables in [tool.alembic]")
        hooks = []
        for item in raw:
            options = {
                str(k): self._toml_interpolate("post_write_hooks", str(v)) for k, v in item.items()
            }
            name = options.pop("name", None)
            if not name:
                self._fail("post_write_hooks", "entries need a 'name'")
            hooks.append(PostWriteHook(str(name), options.pop("type", None), options))
        return tuple(hooks)

    def _other_sections(self) -> dict[str, dict[str, str]]:
        if self.parser is None:
            return {}
        sections: dict[str, dict[str, str]] = {}
        for name in self.parser.sections():
            values: dict[str, str] = {}
            for key in self.parser.options(name):
                if key == "here":
                    continue
                try:
                    values[key] = self.parser.get(name, key)
                except configparser.InterpolationError:
                    values[key] = self.parser.get(name, key, raw=True)
            sections[name] = values
        return sections

    def _resolve_location(self, location: str, base: Path, key: str) -> Path:
        if not os.path.isabs(location) and ":" in location:
            return self._resolve_package_location(location, key)
        return _absolute(Path(location), base)

    def _resolve_package_location(self, location: str, key: str) -> Path:
        """Resolve Alembic's ``package:folder`` form without importing the package."""
        package, *parts = location.split(":")
        top, *subpackages = package.split(".")
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        roots = list(spec.submodule_search_locations or ()) if spec is not None else []
        for root in roots:
            candidate = Path(root, *subpackages, *parts)
            if candidate.exists():
                return candidate.absolute()
        return self._fail(
            key,
            f"names package resource {location!r}, but package {package!r} was not found on "
            "the Python path; install the package or use a filesystem path",
        )


def _absolute(path: Path, base: Path) -> Path:
    return path if path.is_absolute() else (base / path)


def _check_file_template(template: str, source: _OptionSource, where: Path | None) -> None:
    sample = {
        "rev": "abc",
        "slug": "slug",
        "epoch": 0,
        "year": 2000,
        "month": 1,
        "day": 1,
        "hour": 0,
        "minute": 0,
        "second": 0,
    }
    try:
        template % sample
    except (KeyError, ValueError, TypeError) as exc:
        source._fail(
            "file_template",
            f"is not a valid file name template ({exc!r}); use tokens such as %%(rev)s, "
            "%%(slug)s, %%(year)d, %%(month).2d, %%(day).2d, %%(hour).2d, %%(minute).2d, "
            "%%(second).2d, %%(epoch)s (in alembic.ini each '%' is written '%%')",
        )


def _toml_alembic_table(path: Path) -> dict[str, Any] | None:
    """The ``[tool.alembic]`` table of a pyproject file, or None if absent/unreadable."""
    if sys.version_info < (3, 11):
        return None
    import tomllib

    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    tool = data.get("tool")
    table = tool.get("alembic") if isinstance(tool, dict) else None
    return table if isinstance(table, dict) else None
