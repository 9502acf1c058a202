"""Unit tests of default normalisation and type signatures (no database)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import mysql, postgresql, sqlite

from schema_lsp.autogenerate.compare.server_defaults import (
    kind_of,
    normalize_default,
    render_metadata_default,
)
from schema_lsp.autogenerate.compare.types import type_signature, types_differ

PG = postgresql.dialect()
MY = mysql.dialect()
LITE = sqlite.dialect()


@pytest.mark.parametrize(
    ("db", "model", "dialect", "kind"),
    [
        ("'hello'::character varying", "'hello'", "postgresql", "string"),
        ("''::character varying", "''", "postgresql", "string"),
        ("'it''s'::text", "'it''s'", "postgresql", "string"),
        ("'a::b'::character varying", "'a::b'", "postgresql", "string"),
        ("'{}'::jsonb", "'{}'::jsonb", "postgresql", None),
        ("'{}'::text[]", "'{}'", "postgresql", None),
        ("'-3'::integer", "-3", "postgresql", "number"),
        (
            "'2020-01-01 10:00:00'::timestamp without time zone",
            "'2020-01-01 10:00:00'",
            "postgresql",
            None,
        ),
        ("(now() AT TIME ZONE 'utc'::text)", "(now() at time zone 'utc')", "postgresql", None),
        ("timezone('utc'::text, now())", "timezone('utc', now())", "postgresql", None),
        ("CURRENT_TIMESTAMP", "now()", "postgresql", None),
        ("now()", "CURRENT_TIMESTAMP", "postgresql", None),
        ("('a'::text || 'b'::text)", "'a' || 'b'", "postgresql", None),
        ("true", "true", "postgresql", "boolean"),
        ("1.50", "1.5", "postgresql", "number"),
        ("'9000000000'::bigint", "9000000000", "postgresql", "number"),
        ("NULL::character varying", None, "postgresql", "string"),
        ("current_timestamp()", "now()", "mariadb", None),
        ("current_timestamp(6)", "now(6)", "mariadb", None),
        (
            "current_timestamp() ON UPDATE current_timestamp()",
            "CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP",
            "mariadb",
            None,
        ),
        ("uuid()", "(uuid())", "mariadb", None),
        ("'x'", "('x')", "mariadb", "string"),
        ("2.50", "'2.5'", "mariadb", "number"),
        ("1", "true", "mariadb", "boolean"),
        ("0", "false", "mariadb", "boolean"),
        ("b'1'", "1", "mariadb", "number"),
        ("concat('a','b')", "(concat('a', 'b'))", "mariadb", "string"),
        ("'a\\nb'", "'a\nb'", "mariadb", "string"),
        ("'a\\\\b'", "'a\\\\b'", "mariadb", "string"),
        ("'1000'::numeric", "1e3", "postgresql", "number"),
        ("''", "''", "sqlite", "string"),
        ("(datetime('now'))", "datetime('now')", "sqlite", None),
        ("CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP", "sqlite", None),
        ("'-12'", "-12", "sqlite", "number"),
        ("NULL", None, "sqlite", None),
    ],
)
def test_same_default(db: str, model: str | None, dialect: str, kind: Any) -> None:
    assert normalize_default(db, dialect, kind) == normalize_default(model, dialect, kind)


@pytest.mark.parametrize(
    ("a", "b", "dialect", "kind"),
    [
        ("'1'", "'1.0'", "postgresql", "string"),  # strings keep their spelling
        ("'x'", "'X'", "sqlite", "string"),
        ("1", "2", "mariadb", "number"),
        ("true", "false", "postgresql", "boolean"),
        ("now()", "CURRENT_DATE", "postgresql", None),
        ("LOCALTIMESTAMP", "now()", "postgresql", None),  # not the same value on PostgreSQL
        ("''", None, "sqlite", "string"),
        ("'a'", "'a '", "mariadb", "string"),
        ("(now() AT TIME ZONE 'utc'::text)", "(now() at time zone 'cet')", "postgresql", None),
        ("'Abc'", "'abc'", "mariadb", None),
    ],
)
def test_different_default(a: str, b: str | None, dialect: str, kind: Any) -> None:
    assert normalize_default(a, dialect, kind) != normalize_default(b, dialect, kind)


def test_normalize_forms() -> None:
    assert normalize_default(None, "postgresql") is None
    assert normalize_default("  NOW( ) ", "postgresql") == "current_timestamp"
    assert normalize_default("'1.500'", "mariadb", "number") == "1.5"
    assert normalize_default("(-0.25)", "sqlite", "number") == "-0.25"
    assert normalize_default("'it''s'", "sqlite", "string") == "'it''s'"


def test_render_metadata_default_escapes_per_dialect() -> None:
    backslash = sa.DefaultClause("a\\b")
    assert render_metadata_default(backslash, MY) == "'a\\\\b'"
    assert render_metadata_default(sa.DefaultClause("it's"), PG) == "'it''s'"
    assert render_metadata_default(sa.DefaultClause(sa.text("now()")), PG) == "now()"
    assert render_metadata_default(sa.DefaultClause(sa.true()), LITE) == "1"
    assert render_metadata_default(sa.Computed("a + 1"), PG) is None
    assert render_metadata_default(sa.DefaultClause("100%"), MY) == "'100%'"
    assert render_metadata_default(sa.DefaultClause(sa.func.lower("A%")), MY) == "lower('A%')"


def test_kind_of() -> None:
    assert kind_of(sa.Boolean()) == "boolean"
    assert kind_of(sa.Numeric(8, 2)) == "number"
    assert kind_of(sa.BigInteger()) == "number"
    assert kind_of(sa.Float()) == "number"
    assert kind_of(sa.Double()) == "number"
    assert kind_of(mysql.BIT(1)) == "number"
    assert kind_of(sa.String(5)) == "string"
    assert kind_of(sa.Enum("a", "b")) == "string"
    assert kind_of(sa.DateTime()) is None


@pytest.mark.parametrize(
    ("dialect", "a", "b"),
    [
        (PG, postgresql.DOUBLE_PRECISION(), sa.Float()),
        (PG, postgresql.REAL(), sa.Float(precision=24)),
        (PG, postgresql.DOUBLE_PRECISION(), sa.Float(precision=53)),
        (PG, sa.CHAR(4), sa.NCHAR(4)),
        (PG, postgresql.ARRAY(sa.TEXT()), sa.ARRAY(sa.Text(), dimensions=2)),
        (PG, postgresql.TIMESTAMP(), sa.DateTime()),
        (PG, sa.Integer(), sa.Integer()),
        (MY, mysql.TINYINT(1), sa.Boolean()),
        (MY, mysql.DOUBLE(), sa.REAL()),
        (MY, mysql.TINYBLOB(), sa.LargeBinary(100)),
        (MY, mysql.BLOB(), sa.LargeBinary(1000)),
        (MY, mysql.VARCHAR(10, charset="utf8mb3"), sa.NVARCHAR(10)),
        (MY, mysql.VARCHAR(10, charset="utf8mb3"), mysql.VARCHAR(10, charset="utf8")),
        (MY, mysql.INTEGER(display_width=11), sa.Integer()),
        (MY, mysql.DECIMAL(10, 2), sa.Numeric(10, 2)),
        (MY, mysql.LONGTEXT(), sa.JSON()),
        (LITE, sa.TEXT(), sa.CLOB()),
        (LITE, sa.INTEGER(), sa.Integer()),
    ],
)
def test_same_type(dialect: Any, a: Any, b: Any) -> None:
    assert not types_differ(dialect, a, b)


@pytest.mark.parametrize(
    ("dialect", "a", "b"),
    [
        (PG, postgresql.ARRAY(sa.INTEGER()), sa.Integer()),
        (PG, postgresql.REAL(), sa.Float(precision=53)),
        (PG, postgresql.TIMESTAMP(), sa.DateTime(timezone=True)),
        (PG, sa.VARCHAR(10), sa.String(11)),
        (PG, sa.NUMERIC(10, 2), sa.Numeric(10, 3)),
        (PG, sa.INTEGER(), sa.BigInteger()),
        (PG, postgresql.ENUM("a", "b", name="e"), sa.Enum("a", "b", "c", name="e")),
        (MY, mysql.INTEGER(), mysql.INTEGER(unsigned=True)),
        (MY, mysql.TINYINT(1), sa.Integer()),
        (MY, mysql.VARCHAR(10, charset="latin1"), mysql.VARCHAR(10, charset="utf8mb4")),
        (MY, mysql.ENUM("a", "b"), sa.Enum("a", "c")),
        (MY, mysql.TINYBLOB(), sa.LargeBinary(1000)),
        (LITE, sa.VARCHAR(10), sa.String(20)),
        (LITE, sa.INTEGER(), sa.Text()),
    ],
)
def test_different_type(dialect: Any, a: Any, b: Any) -> None:
    assert types_differ(dialect, a, b)


def test_type_signature_shape() -> None:
    sig = type_signature(MY, mysql.VARCHAR(30, charset="latin1", collation="latin1_bin"))
    assert sig is not None
    assert (sig.name, sig.args) == ("varchar", ("30",))
    assert sig.modifiers == ("character set latin1", "collate latin1_bin")
    sig = type_signature(PG, postgresql.TIMESTAMP(timezone=True, precision=3))
    assert sig is not None and (sig.name, sig.args) == ("timestamp with time zone", ("3",))
    assert type_signature(LITE, postgresql.TSVECTOR()) is None  # can't compile there
