"""The ``config`` object revision templates see, backed by a :class:`ScriptConfig`.

Alembic hands templates its ``Config`` so that, for example, the ``multidb``
template can read ``config.get_main_option("databases")``. This offers the
same read-only methods over the options schema-lsp already parsed.
"""

from __future__ import annotations

from schema_lsp.script.config import ScriptConfig


class TemplateConfig:
    """Read-only option access with the method names Alembic's ``Config`` uses."""

    def __init__(self, config: ScriptConfig) -> None:
        self.script_config = config

    def get_main_option(self, name: str, default: str | None = None) -> str | None:
        """An option of the main (``[alembic]``) section."""
        return self.script_config.main_options.get(name, default)

    def get_alembic_option(self, name: str, default: str | None = None) -> str | None:
        """Same as :meth:`get_main_option` (ini first, then ``[tool.alembic]``)."""
        return self.get_main_option(name, default)

    def get_section(self, name: str) -> dict[str, str] | None:
        """All options of another ini section, or None when it does not exist."""
        section = self.script_config.sections.get(name)
        return dict(section) if section is not None else None

    def get_section_option(self, section: str, name: str, default: str | None = None) -> str | None:
        """One option of another ini section."""
        return self.script_config.sections.get(section, {}).get(name, default)
