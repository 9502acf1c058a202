"""Reading alembic.ini / pyproject.toml into a ScriptConfig, and its error messages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from schema_lsp.script import (
    DEFAULT_FILE_TEMPLATE,
    ScriptConfig,
    ScriptConfigError,
    discover_config,
    find_config_file,
    load_config,
    validate_config,
)


def write_ini(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ini = folder / "alembic.ini"
    ini.write_text(body)
    return ini


def test_reads_alembic_section_with_here_interpolation(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    ini = write_ini(
        tmp_path,
        "[alembic]\n"
        "script_location = %(here)s/migrations\n"
        "sqlalchemy.url = sqlite:///%(here)s/app.db\n"
        "file_template = %%(year)d_%%(month).2d_%%(rev)s_%%(slug)s\n"
        "truncate_slug_length = 12\n"
        "timezone = UTC\n"
        "revision_environment = true\n"
        "path_separator = os\n"
        f"version_locations = %(here)s/a{__import__('os').pathsep}%(here)s/b\n"
        "databases = engine1, engine2\n",
    )
    config = load_config(ini)
    assert config.script_location == tmp_path / "migrations"
    assert config.sqlalchemy_url == f"sqlite:///{tmp_path.as_posix()}/app.db"
    assert config.file_template == "%(year)d_%(month).2d_%(rev)s_%(slug)s"
    assert config.truncate_slug_length == 12
    assert config.timezone == "UTC"
    assert config.revision_environment is True
    assert config.version_locations == (tmp_path / "a", tmp_path / "b")
    assert config.versions_dirs == (tmp_path / "a", tmp_path / "b")
    assert config.config_file == ini
    assert config.main_options["databases"] == "engine1, engine2"


def test_defaults_when_options_are_absent(tmp_path: Path) -> None:
    (tmp_path / "migrations").mkdir()
    config = load_config(write_ini(tmp_path, "[alembic]\nscript_location = migrations\n"))
    assert config.script_location == tmp_path / "migrations"
    assert config.file_template == DEFAULT_FILE_TEMPLATE == "%(rev)s_%(slug)s"
    assert config.truncate_slug_length == 40
    assert config.timezone is None
    assert config.sqlalchemy_url is None
    assert config.revision_environment is False
    assert config.versions_dirs == (tmp_path / "migrations" / "versions",)
    assert config.template_file == tmp_path / "migrations" / "script.py.mako"


def test_legacy_version_locations_split_on_spaces_and_commas(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    ini = write_ini(
        tmp_path, "[alembic]\nscript_location = m\nversion_locations = one, two three\n"
    )
    assert load_config(ini).version_locations == tuple(
        tmp_path / name for name in ("one", "two", "three")
    )


def test_relative_paths_resolve_against_given_cwd(tmp_path: Path) -> None:
    (tmp_path / "elsewhere" / "migrations").mkdir(parents=True)
    ini = write_ini(tmp_path / "conf", "[alembic]\nscript_location = migrations\n")
    config = load_config(ini, cwd=tmp_path / "elsewhere")
    assert config.script_location == tmp_path / "elsewhere" / "migrations"


def test_directly_constructed_config_needs_no_ini(tmp_path: Path) -> None:
    config = ScriptConfig(script_location=tmp_path)
    assert config.config_file is None
    assert config.versions_dirs == (tmp_path / "versions",)
    assert validate_config(config) == []
    missing = ScriptConfig(script_location=tmp_path / "nope")
    [problem] = validate_config(missing)
    assert problem.code == "missing-script-location"
    assert "nope" in problem.message


def test_missing_ini_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScriptConfigError) as info:
        load_config(tmp_path / "alembic.ini")
    assert info.value.problem.code == "config-not-found"
    assert info.value.problem.path == tmp_path / "alembic.ini"
    assert "alembic init" in str(info.value)


def test_missing_section_and_key_are_reported(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, "[other]\nx = 1\n")
    with pytest.raises(ScriptConfigError, match=r"no \[alembic\] section"):
        load_config(ini)
    ini.write_text("[alembic]\nsqlalchemy.url = sqlite://\n")
    with pytest.raises(ScriptConfigError, match="No 'script_location'"):
        load_config(ini)


def test_invalid_ini_syntax_reports_line(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, "[alembic]\nscript_location = m\nthis line is not an option\n")
    with pytest.raises(ScriptConfigError) as info:
        load_config(ini)
    assert info.value.problem.path == ini
    assert info.value.problem.line == 3


def test_missing_script_location_folder_points_at_the_key(tmp_path: Path) -> None:
    ini = write_ini(tmp_path, "[alembic]\n# comment\nscript_location = %(here)s/gone\n")
    with pytest.raises(ScriptConfigError) as info:
        load_config(ini)
    problem = info.value.problem
    assert problem.code == "missing-script-location"
    assert (problem.path, problem.line) == (ini, 3)
    assert str(tmp_path / "gone") in problem.message


def test_unescaped_percent_in_file_template_explains_escaping(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    ini = write_ini(tmp_path, "[alembic]\nscript_location = m\nfile_template = %(rev)s_x\n")
    with pytest.raises(ScriptConfigError) as info:
        load_config(ini)
    assert info.value.problem.line == 3
    assert "%%" in str(info.value)


def test_file_template_with_unknown_token_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    ini = write_ini(tmp_path, "[alembic]\nscript_location = m\nfile_template = %%(nope)s\n")
    with pytest.raises(ScriptConfigError, match="file_template") as info:
        load_config(ini)
    assert info.value.problem.line == 3


def test_bad_truncate_slug_length_reports_line(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    ini = write_ini(tmp_path, "[alembic]\nscript_location = m\ntruncate_slug_length = lots\n")
    with pytest.raises(ScriptConfigError, match="whole number") as info:
        load_config(ini)
    assert info.value.problem.line == 3


def test_find_config_file_walks_up_from_a_document(tmp_path: Path) -> None:
    (tmp_path / "migrations" / "versions").mkdir(parents=True)
    ini = write_ini(tmp_path, "[alembic]\nscript_location = %(here)s/migrations\n")
    document = tmp_path / "migrations" / "versions" / "abc_rev.py"
    document.write_text("")
    assert find_config_file(document) == ini
    assert discover_config(document).script_location == tmp_path / "migrations"


def test_discover_config_without_any_config_says_so(tmp_path: Path) -> None:
    with pytest.raises(ScriptConfigError) as info:
        discover_config(tmp_path)
    assert info.value.problem.code == "config-not-found"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="pyproject support needs tomllib")
def test_pyproject_tool_alembic_alone_and_under_an_ini(tmp_path: Path) -> None:
    (tmp_path / "mig").mkdir()
    toml = tmp_path / "pyproject.toml"
    toml.write_text(
        "[tool.alembic]\n"
        'script_location = "%(here)s/mig"\n'
        'file_template = "%%(rev)s"\n'
        "truncate_slug_length = 20\n"
    )
    assert find_config_file(tmp_path) == toml
    config = load_config(toml)
    assert config.script_location == tmp_path / "mig"
    assert config.file_template == "%(rev)s"
    assert config.truncate_slug_length == 20
    ini = write_ini(tmp_path, "[alembic]\nsqlalchemy.url = sqlite://\ntruncate_slug_length = 5\n")
    merged = load_config(ini)
    assert merged.script_location == tmp_path / "mig"
    assert merged.truncate_slug_length == 5
    assert merged.sqlalchemy_url == "sqlite://"
