"""A cheap query that changes whenever the catalog of the watched schemas changes.

The language server runs it before each periodic check and skips reflection when it is the
same as last time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection

_POSTGRESQL = text(
    """
SELECT md5(coalesce(string_agg(x, ',' ORDER BY x), '')) FROM (
  SELECT c.oid::text || ':' || c.xmin::text AS x
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = ANY(:schemas)
  UNION ALL
  SELECT a.attrelid::text || '.' || a.attnum::text || ':' || a.xmin::text
    FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = ANY(:schemas) AND a.attnum > 0
  UNION ALL
  SELECT 'k' || k.oid::text || ':' || k.xmin::text
    FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_namespace n ON n.oid = k.connamespace
   WHERE n.nspname = ANY(:schemas)
  UNION ALL
  SELECT 'd' || d.oid::text || ':' || d.xmin::text
    FROM pg_catalog.pg_attrdef d JOIN pg_catalog.pg_class c ON c.oid = d.adrelid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = ANY(:schemas)
  UNION ALL
  SELECT 'c' || d.objoid::text || '.' || d.objsubid::text || ':' || d.xmin::text
    FROM pg_catalog.pg_description d JOIN pg_catalog.pg_class c ON c.oid = d.objoid
    JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = ANY(:schemas)
  UNION ALL
  SELECT 'e' || e.oid::text || ':' || e.xmin::text
    FROM pg_catalog.pg_enum e JOIN pg_catalog.pg_type t ON t.oid = e.enumtypid
    JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace
   WHERE n.nspname = ANY(:schemas)
) s
"""
)

_MYSQL = text(
    """
SELECT
 (SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME,
     ORDINAL_POSITION, COLUMN_TYPE, IS_NULLABLE, COALESCE(COLUMN_DEFAULT, '<null>'), EXTRA,
     COLUMN_COMMENT, COALESCE(GENERATION_EXPRESSION, ''), COALESCE(COLLATION_NAME, '')))), 0)
    FROM information_schema.COLUMNS WHERE TABLE_SCHEMA IN :schemas),
 (SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', TABLE_SCHEMA, TABLE_NAME, INDEX_NAME, NON_UNIQUE,
     SEQ_IN_INDEX, COALESCE(COLUMN_NAME, ''), COALESCE(SUB_PART, '')))), 0)
    FROM information_schema.STATISTICS WHERE TABLE_SCHEMA IN :schemas),
 (SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', TABLE_SCHEMA, TABLE_NAME, TABLE_COMMENT,
     COALESCE(CREATE_OPTIONS, '')))), 0)
    FROM information_schema.TABLES WHERE TABLE_SCHEMA IN :schemas),
 (SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', CONSTRAINT_SCHEMA, TABLE_NAME, CONSTRAINT_NAME,
     COLUMN_NAME, COALESCE(REFERENCED_TABLE_SCHEMA, ''), COALESCE(REFERENCED_TABLE_NAME, ''),
     COALESCE(REFERENCED_COLUMN_NAME, '')))), 0)
    FROM information_schema.KEY_COLUMN_USAGE WHERE CONSTRAINT_SCHEMA IN :schemas),
 (SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', CONSTRAINT_SCHEMA, CONSTRAINT_NAME, UPDATE_RULE,
     DELETE_RULE))), 0)
    FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA IN :schemas),
 (SELECT COALESCE(SUM(CRC32(CONCAT_WS('|', CONSTRAINT_SCHEMA, CONSTRAINT_NAME,
     CHECK_CLAUSE))), 0)
    FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA IN :schemas)
"""
).bindparams(bindparam("schemas", expanding=True))


def fingerprint(connection: Connection, schemas: Sequence[str | None] = (None,)) -> str:
    """One query whose result changes when any table, column, index, constraint, default,
    comment (or PostgreSQL enum) of ``schemas`` changes. ``None`` is the default schema."""
    dialect = connection.dialect
    default = dialect.default_schema_name
    names = sorted({s if s is not None else (default or "") for s in schemas})
    if dialect.name == "sqlite":
        # SQLite bumps schema_version on every schema change of the main database.
        parts = [str(connection.exec_driver_sql("PRAGMA schema_version").scalar())]
        for name in names:
            if name and name != "main":
                parts.append(
                    str(connection.exec_driver_sql(f'PRAGMA "{name}".schema_version').scalar())
                )
        row: tuple[object, ...] = tuple(parts)
    elif dialect.name == "postgresql":
        row = (connection.execute(_POSTGRESQL, {"schemas": names}).scalar(),)
    elif dialect.name in ("mysql", "mariadb"):
        found = connection.execute(_MYSQL, {"schemas": names}).one()
        row = tuple(found)
    else:
        raise NotImplementedError(f"no catalog fingerprint for dialect {dialect.name!r}")
    return hashlib.sha1(repr(row).encode()).hexdigest()
