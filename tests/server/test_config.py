"""Configuration resolution: precedence, environment expansion, spellings, roots, errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from schema_lsp.server.config import (
    ConfigError,
    mask_url,
    normalize_settings,
    resolve_config,
)


def write(root: Path, name: str, text: str) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text, encoding="utf-8")


ALEMBIC_INI = """[alembic]
script_location = %(here)s/migrations
sqlalchemy.url = postgresql://ini@localhost/ini_db
"""


def test_defaults_without_any_file(tmp_path: Path) -> None:
    cfg = resolve_config(tmp_path, {}, env={})
    assert cfg.models == ()
    assert cfg.database_url is None
    assert cfg.check_interval == 30.0
    assert cfg.compare_type is True
    assert cfg.compare_server_default is False
    assert cfg.include_schemas is False
    assert cfg.preview_on_save is False
    assert cfg.python == sys.executable
    assert cfg.severity_for("add_column") == "warning"
    assert not cfg.enabled


def test_alembic_ini_is_the_lowest_layer(tmp_path: Path) -> None:
    write(tmp_path, "alembic.ini", ALEMBIC_INI)
    cfg = resolve_config(tmp_path, {}, env={})
    assert cfg.database_url == "postgresql://ini@localhost/ini_db"
    assert cfg.migrations == f"{tmp_path}/migrations"

    write(tmp_path, "pyproject.toml", '[tool.schema-lsp]\ndatabase_url = "sqlite:////x.db"\n')
    cfg = resolve_config(tmp_path, {}, env={})
    assert cfg.database_url == "sqlite:////x.db"
    assert cfg.migrations == f"{tmp_path}/migrations"  # not overridden, still from the ini

    cfg = resolve_config(tmp_path, {"databaseUrl": "mysql+pymysql://lsp@h/db"}, env={})
    assert cfg.database_url == "mysql+pymysql://lsp@h/db"
    assert cfg.sources["database_url"].startswith("LSP settings")


def test_alembic_template_placeholder_is_not_a_url(tmp_path: Path) -> None:
    write(
        tmp_path, "alembic.ini", "[alembic]\nsqlalchemy.url = driver://user:pass@localhost/dbname\n"
    )
    assert resolve_config(tmp_path, {}, env={}).database_url is None


def test_camel_and_snake_case_agree(tmp_path: Path) -> None:
    camel = {
        "models": ["a.b:Base"],
        "databaseUrl": "sqlite:////tmp/a.db",
        "checkInterval": 5,
        "compareType": False,
        "compareServerDefault": True,
        "includeSchemas": ["sales"],
        "excludeTables": ["tmp_*"],
        "previewOnSave": True,
    }
    snake = {
        "models": ["a.b:Base"],
        "database_url": "sqlite:////tmp/a.db",
        "check_interval": 5,
        "compare_type": False,
        "compare_server_default": True,
        "include_schemas": ["sales"],
        "exclude_tables": ["tmp_*"],
        "preview_on_save": True,
    }
    a = resolve_config(tmp_path, camel, env={})
    b = resolve_config(tmp_path, snake, env={})
    assert (a.check_interval, a.compare_type, a.include_schemas) == (5.0, False, ("sales",))
    assert a.exclude_tables == ("tmp_*",) and a.preview_on_save and a.compare_server_default
    assert {k: v for k, v in vars(a).items() if k != "sources"} == {
        k: v for k, v in vars(b).items() if k != "sources"
    }


def test_none_values_from_the_editor_mean_unset(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.schema-lsp]\ncheck_interval = 7\n")
    assert normalize_settings({"checkInterval": None}) == {}
    assert resolve_config(tmp_path, {"checkInterval": None}, env={}).check_interval == 7.0


def test_environment_expansion(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgresql://u:secret@db/app", "HOST": "h1"}
    cfg = resolve_config(tmp_path, {"databaseUrl": "${DATABASE_URL}"}, env=env)
    assert cfg.database_url == env["DATABASE_URL"]
    cfg = resolve_config(tmp_path, {"databaseUrl": "mysql://${HOST}/${DB:-fallback}"}, env=env)
    assert cfg.database_url == "mysql://h1/fallback"


def test_missing_environment_variable_is_one_clear_error(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.schema-lsp]\ndatabase_url = "${NOPE_URL}"\n')
    with pytest.raises(ConfigError) as info:
        resolve_config(tmp_path, {}, env={})
    message = str(info.value)
    assert "NOPE_URL" in message and "pyproject.toml" in message and "Set NOPE_URL" in message


def test_relative_sqlite_path_is_relative_to_the_root(tmp_path: Path) -> None:
    cfg = resolve_config(tmp_path, {"databaseUrl": "sqlite:///shop.db"}, env={})
    assert cfg.database_url == f"sqlite:///{tmp_path.as_posix()}/shop.db"
    assert (
        resolve_config(tmp_path, {"databaseUrl": "sqlite://"}, env={}).database_url == "sqlite://"
    )


def test_multi_root_each_reads_its_own_files(tmp_path: Path) -> None:
    write(tmp_path / "a", "pyproject.toml", '[tool.schema-lsp]\nmodels = "a.models:Base"\n')
    write(tmp_path / "b", "pyproject.toml", '[tool.schema-lsp]\nmodels = ["b.models:meta"]\n')
    a = resolve_config(tmp_path / "a", {}, env={})
    b = resolve_config(tmp_path / "b", {}, env={})
    assert a.models == ("a.models:Base",) and a.root == tmp_path / "a"
    assert b.models == ("b.models:meta",) and b.root == tmp_path / "b"


def test_workspace_venv_is_the_default_interpreter(tmp_path: Path) -> None:
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    assert resolve_config(tmp_path, {}, env={}).python == str(python)
    explicit = resolve_config(tmp_path, {"python": sys.executable}, env={})
    assert explicit.python == sys.executable


@pytest.mark.parametrize(
    ("settings", "fragment"),
    [
        ({"models": "no_colon"}, "package.module:attribute"),
        ({"checkInterval": -1}, "positive number"),
        ({"checkInterval": True}, "positive number"),
        ({"compareType": "yes"}, "true or false"),
        ({"severity": {"add_column": "fatal"}}, "error, warning"),
        ({"includeSchemas": "sales"}, "list of schema names"),
        ({"python": "/does/not/exist/python"}, "does not exist"),
        ({"colour": "blue"}, "unknown configuration key"),
    ],
)
def test_invalid_values_say_what_where_and_how(
    tmp_path: Path, settings: dict[str, object], fragment: str
) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_config(tmp_path, settings, env={})
    assert fragment in str(info.value)
    assert "LSP settings" in info.value.where


def test_invalid_toml_points_at_the_file(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", "[tool.schema-lsp\n")
    with pytest.raises(ConfigError) as info:
        resolve_config(tmp_path, {}, env={})
    assert str(tmp_path / "pyproject.toml") in str(info.value)


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    write(tmp_path, "pyproject.toml", '[tool.schema-lsp]\nmodels = ["a.b:Base"]\nseverity = {\n')
    with pytest.raises(ConfigError) as info:
        resolve_config(tmp_path, {}, env={})
    assert "line 3" in str(info.value) and "not valid TOML" in str(info.value)


def test_severity_per_kind_with_default(tmp_path: Path) -> None:
    cfg = resolve_config(tmp_path, {"severity": {"add_column": "Error", "default": "hint"}}, env={})
    assert cfg.severity_for("add_column") == "error"
    assert cfg.severity_for("modify_type") == "hint"


def test_mask_url_hides_the_password() -> None:
    masked = mask_url("postgresql://alice:s3cr3t@db:5432/app")
    assert "s3cr3t" not in masked and "alice" in masked and "db:5432/app" in masked
