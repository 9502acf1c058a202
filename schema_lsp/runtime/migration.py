"""``MigrationContext``: what one comparison is configured with.

Mirrors Alembic's ``MigrationContext.configure`` so ``env.py``-style code and plugins keep
working, but it never executes DDL: schema-lsp only reads the database.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, inspect, select
from sqlalchemy.engine import Connection, Dialect, make_url

DEFAULT_VERSION_TABLE = "alembic_version"

#: Option names accepted by ``configure(opts=...)``; anything else is kept but unused.
KNOWN_OPTIONS = frozenset(
    {
        "target_metadata",
        "compare_type",
        "compare_server_default",
        "include_object",
        "include_name",
        "include_schemas",
        "render_as_batch",
        "render_item",
        "process_revision_directives",
        "user_module_prefix",
        "sqlalchemy_module_prefix",
        "alembic_module_prefix",
        "upgrade_token",
        "downgrade_token",
        "version_table",
        "version_table_schema",
        "template_args",
    }
)


class MigrationContext:
    """Connection, dialect and options of a comparison (Alembic's shape, read-only)."""

    def __init__(
        self,
        dialect: Dialect,
        connection: Connection | None,
        opts: Mapping[str, Any],
    ) -> None:
        self.dialect = dialect
        self.bind = connection
        self.connection = connection
        self.opts: dict[str, Any] = dict(opts)
        self.as_sql = False
        self.script = None
        self.version_table: str = self.opts.get("version_table", DEFAULT_VERSION_TABLE)
        self.version_table_schema: str | None = self.opts.get("version_table_schema")
        self._user_compare_type: bool | Callable[..., bool | None] = self.opts.get(
            "compare_type", True
        )
        self._user_compare_server_default: bool | Callable[..., bool | None] = self.opts.get(
            "compare_server_default", False
        )

    @classmethod
    def configure(
        cls,
        connection: Connection | None = None,
        url: str | None = None,
        dialect_name: str | None = None,
        dialect: Dialect | None = None,
        environment_context: Any = None,
        dialect_opts: Mapping[str, Any] | None = None,
        opts: Mapping[str, Any] | None = None,
    ) -> MigrationContext:
        """Build a context from a connection, a URL, a dialect name or a dialect."""
        if connection is not None:
            dialect = connection.dialect
        elif dialect is None:
            if url is not None:
                dialect_cls = make_url(url).get_dialect()
            elif dialect_name is not None:
                dialect_cls = make_url(f"{dialect_name}://").get_dialect()
            else:
                raise ValueError("Connection, url, or dialect_name is required.")
            dialect = dialect_cls(**dict(dialect_opts or {}))
        return cls(dialect, connection, opts or {})

    def get_current_heads(self) -> tuple[str, ...]:
        """The revisions recorded in the version table (empty when it does not exist)."""
        if self.bind is None:
            return ()
        if not inspect(self.bind).has_table(self.version_table, schema=self.version_table_schema):
            return ()
        table = Table(
            self.version_table,
            MetaData(),
            Column("version_num", String(32)),
            schema=self.version_table_schema,
        )
        rows = self.bind.execute(select(table.c.version_num)).scalars().all()
        return tuple(r for r in rows if r)

    def get_current_revision(self) -> str | None:
        heads = self.get_current_heads()
        if len(heads) > 1:
            raise ValueError(
                "Version table has more than one head present; use get_current_heads()"
            )
        return heads[0] if heads else None
