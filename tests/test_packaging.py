"""pyproject.toml declares what the code imports on every supported Python."""

from __future__ import annotations

import re
import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # the dependency this file checks for
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_tomli_is_a_dependency_where_tomllib_is_missing() -> None:
    """server/config.py reads pyproject.toml with tomli before Python 3.11."""
    assert "import tomli as tomllib" in (ROOT / "schema_lsp/server/config.py").read_text()
    assert PYPROJECT["project"]["requires-python"] == ">=3.10"
    deps = [d.replace(" ", "") for d in PYPROJECT["project"]["dependencies"]]
    assert "tomli>=2;python_version<'3.11'" in deps


def test_build_backend_understands_an_spdx_license() -> None:
    """``license = "MIT"`` (a PEP 639 expression) needs setuptools 77 or later to build."""
    assert isinstance(PYPROJECT["project"]["license"], str)
    (setuptools,) = [r for r in PYPROJECT["build-system"]["requires"] if "setuptools" in r]
    match = re.fullmatch(r"setuptools>=(\d+)(\.\d+)*", setuptools.replace(" ", ""))
    assert match and int(match.group(1)) >= 77
