"""The MariaDB reader rebuilds SHOW CREATE TABLE from the catalog, byte for byte, and so
returns exactly what SQLAlchemy's Inspector returns, in a fixed number of statements."""

from __future__ import annotations

import difflib
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from benchmarks.schema_gen import make_metadata
from schema_lsp.reflect import ReflectedSchema, inspector, mysql, reflect_schema
from tests.databases import is_read_only, record_statements

pytestmark = pytest.mark.backends("mariadb")

#: Every common MariaDB construct; ``{other}`` is a second database (cross-schema FKs).
CORPUS = [
    """CREATE TABLE parent (id INT AUTO_INCREMENT PRIMARY KEY, code VARCHAR(10) NOT NULL,
       UNIQUE KEY uq_code (code)) COMMENT 'parent''s table'""",
    """CREATE TABLE nums (a TINYINT, b TINYINT(1) NOT NULL DEFAULT 1, c SMALLINT UNSIGNED,
       d MEDIUMINT ZEROFILL, e INT(5) UNSIGNED ZEROFILL DEFAULT 7, f BIGINT NOT NULL DEFAULT -3,
       g DECIMAL(10,2) DEFAULT 1.50, h DECIMAL(5,0) UNSIGNED, i FLOAT, j FLOAT(7,3) DEFAULT 2.5,
       k DOUBLE DEFAULT 0, l DOUBLE(10,4), m REAL, n BIT(1) DEFAULT b'1',
       o BIT(8) NOT NULL DEFAULT b'101', p BOOL DEFAULT TRUE, q NUMERIC(3,1) DEFAULT -0.5,
       r INT DEFAULT NULL, s INT NOT NULL, t BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
       PRIMARY KEY (t)) ENGINE=InnoDB""",
    """CREATE TABLE strs (id INT NOT NULL, a CHAR(3), b CHAR(5) NOT NULL DEFAULT '',
       c VARCHAR(20) DEFAULT 'it''s', d VARCHAR(20) CHARACTER SET latin1 DEFAULT 'x',
       e VARCHAR(20) COLLATE utf8mb4_bin,
       f VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci,
       g VARCHAR(10) CHARACTER SET ascii COLLATE ascii_bin, h TEXT, i TINYTEXT,
       j MEDIUMTEXT CHARACTER SET latin1, k LONGTEXT COLLATE utf8mb4_bin, l TEXT DEFAULT 'abc',
       m BLOB, n TINYBLOB, o MEDIUMBLOB, p LONGBLOB, q BINARY(16),
       r VARBINARY(255) DEFAULT 'x\\\\y', s ENUM('a','b''c','d,e') DEFAULT 'a',
       t SET('x','y','z') NOT NULL DEFAULT 'x,y', u ENUM('one','two') CHARACTER SET latin1,
       v JSON, w VARCHAR(30) DEFAULT 'back\\\\slash', x VARCHAR(30) DEFAULT 'new\\nline',
       y VARCHAR(5) DEFAULT '"q"', z CHAR(1) DEFAULT '0', PRIMARY KEY (id))
       DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci
       COMMENT='strings, with ''quotes'' and \\\\ backslash'""",
    """CREATE TABLE times (id INT NOT NULL AUTO_INCREMENT, a DATE, b DATE DEFAULT '2020-01-01',
       c DATETIME, d DATETIME(3) DEFAULT CURRENT_TIMESTAMP(3),
       e DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
       f TIMESTAMP NULL,
       g TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP,
       h TIMESTAMP(2) NULL DEFAULT NULL, i TIMESTAMP NOT NULL DEFAULT '2000-01-01 00:00:00',
       j TIME, k TIME(3) DEFAULT '12:00:00.000', l YEAR, m YEAR(4) DEFAULT 2024,
       n DATETIME DEFAULT NOW(), o TIMESTAMP NULL DEFAULT CURRENT_TIMESTAMP,
       p DATETIME ON UPDATE CURRENT_TIMESTAMP, PRIMARY KEY (id)) ENGINE=InnoDB AUTO_INCREMENT=42""",
    """CREATE TABLE gens (id INT PRIMARY KEY, a INT, b INT AS (a + 1) VIRTUAL,
       c INT GENERATED ALWAYS AS (a * 2) STORED, d VARCHAR(20) AS (concat('x', a)) PERSISTENT,
       e VARCHAR(36) DEFAULT (uuid()), f INT DEFAULT (1 + 2), g DATE DEFAULT (curdate()),
       h VARCHAR(20) DEFAULT (concat('a','b')) COMMENT 'expr default',
       i INT COMMENT 'it''s a \\\\ comment', j INT DEFAULT 0 COMMENT 'zero',
       k VARCHAR(20) AS (upper(d)) VIRTUAL COMMENT 'gen comment', KEY ix_c (c))""",
    """CREATE TABLE keyed (id INT NOT NULL, tenant INT NOT NULL, name VARCHAR(100), body TEXT,
       code CHAR(8), score INT, payload BLOB, PRIMARY KEY (tenant, id),
       UNIQUE KEY uq_name_code (name, code), UNIQUE KEY (code), KEY ix_multi (name, score),
       KEY ix_prefix (name(10)), KEY ix_prefix_multi (body(20), code),
       KEY ix_desc (score DESC, name ASC), FULLTEXT KEY ft_body (body),
       FULLTEXT KEY ft_two (name, body), KEY ix_blob (payload(32)),
       KEY ix_using (score) USING BTREE, KEY ix_comment (code) COMMENT 'index comment',
       UNIQUE KEY uq_blob (payload)) ENGINE=InnoDB""",
    """CREATE TABLE child (id INT PRIMARY KEY, parent_id INT, pcode VARCHAR(10), k_tenant INT,
       k_id INT, other_id INT,
       CONSTRAINT zz_fk_parent FOREIGN KEY (parent_id) REFERENCES parent (id)
         ON DELETE CASCADE ON UPDATE SET NULL,
       CONSTRAINT aa_fk_code FOREIGN KEY (pcode) REFERENCES parent (code) ON UPDATE CASCADE,
       CONSTRAINT mm_fk_keyed FOREIGN KEY (k_tenant, k_id) REFERENCES keyed (tenant, id)
         ON DELETE RESTRICT,
       FOREIGN KEY (other_id) REFERENCES parent (id) ON DELETE SET NULL ON UPDATE NO ACTION,
       CONSTRAINT ck_named CHECK (id > 0), CHECK (k_id <> id),
       CONSTRAINT `ck odd` CHECK (k_tenant <> 3 or id <> 'x''y'))""",
    """CREATE TABLE checks (id INT PRIMARY KEY, a INT CHECK (a > 0),
       b VARCHAR(10) CHECK (b <> ''), c JSON NOT NULL, d INT,
       CONSTRAINT ck_ad CHECK (a < d), CHECK (d between 1 and 10))""",
    """CREATE TABLE `odd ``name``` (`id` INT PRIMARY KEY, `sp ace` VARCHAR(5),
       `back``tick` INT, `ünï` INT, KEY `ix ``x``` (`sp ace`))""",
    """CREATE TABLE myisam_t (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, t TEXT,
       FULLTEXT KEY ft (t)) ENGINE=MyISAM DEFAULT CHARSET=latin1""",
    "CREATE TABLE aria_t (id INT PRIMARY KEY, v VARCHAR(5)) ENGINE=Aria",
    """CREATE TABLE mem_t (id INT PRIMARY KEY, v VARCHAR(5), KEY ix_v (v) USING BTREE,
       KEY ix_h (id) USING HASH) ENGINE=MEMORY""",
    "CREATE TABLE opts (id INT PRIMARY KEY) ENGINE=InnoDB ROW_FORMAT=COMPACT",
    "CREATE TABLE opts2 (id INT PRIMARY KEY) ENGINE=InnoDB STATS_PERSISTENT=1 CHECKSUM=1",
    """CREATE TABLE opts3 (id INT PRIMARY KEY) ENGINE=InnoDB MAX_ROWS=100 MIN_ROWS=1
       PACK_KEYS=1 STATS_AUTO_RECALC=0 STATS_SAMPLE_PAGES=5 ROW_FORMAT=DYNAMIC
       AVG_ROW_LENGTH=10""",
    """CREATE TABLE myisam2 (id INT PRIMARY KEY, v VARCHAR(3)) ENGINE=MyISAM
       DELAY_KEY_WRITE=1 CHECKSUM=1""",
    """CREATE TABLE latin (id INT PRIMARY KEY, a VARCHAR(10),
       b VARCHAR(10) CHARACTER SET utf8mb4, c VARCHAR(10) COLLATE latin1_bin,
       d VARCHAR(10) CHARACTER SET utf8mb3) DEFAULT CHARSET=latin1""",
    """CREATE TABLE generalci (id INT PRIMARY KEY, a VARCHAR(10),
       b VARCHAR(10) COLLATE utf8mb4_unicode_ci, c VARCHAR(10) COLLATE utf8mb4_bin)
       DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci""",
    "CREATE TABLE nopk (a INT, b INT, KEY (a), KEY (a, b))",
    "CREATE TABLE uuids (id UUID PRIMARY KEY, ip INET6, ip4 INET4 DEFAULT '1.2.3.4')",
    """CREATE TABLE geo (id INT PRIMARY KEY, g GEOMETRY NOT NULL, p POINT,
       SPATIAL KEY sp_g (g))""",
    "CREATE TABLE invis (id INT PRIMARY KEY, h INT INVISIBLE DEFAULT 3 COMMENT 'hidden')",
    "CREATE TABLE versioned (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING",
    "CREATE TABLE parted (id INT NOT NULL, PRIMARY KEY (id)) PARTITION BY HASH (id) PARTITIONS 3",
    "CREATE TABLE ignored_ix (id INT PRIMARY KEY, a INT, KEY ix_a (a) IGNORED)",
    """CREATE TABLE xref (id INT PRIMARY KEY, ext_id INT, CONSTRAINT fk_ext
       FOREIGN KEY (ext_id) REFERENCES `{other}`.ext (id) ON DELETE CASCADE)""",
    """CREATE TABLE cmt_chk (id INT PRIMARY KEY, e INT COMMENT 'c' CHECK (e > 1),
       n INT NOT NULL INVISIBLE DEFAULT 1, m VARCHAR(5) COMMENT 'line1\\nline2\\ttab\\rcr',
       KEY ix_ci (e) COMMENT 'cmt' IGNORED) COMMENT 'multi\\nline'""",
    """CREATE TABLE fkcase (id INT PRIMARY KEY, a INT, b INT, c INT,
       CONSTRAINT Zeta FOREIGN KEY (a) REFERENCES parent (id),
       CONSTRAINT alpha FOREIGN KEY (b) REFERENCES parent (id),
       CONSTRAINT `Beta` FOREIGN KEY (c) REFERENCES parent (id) ON DELETE NO ACTION)""",
    """CREATE TABLE mem2 (id INT, v INT, PRIMARY KEY (id) USING BTREE, KEY ix_v (v))
       ENGINE=MEMORY""",
    """CREATE TABLE selfref (id INT PRIMARY KEY, parent INT, CONSTRAINT fk_self
       FOREIGN KEY (parent) REFERENCES selfref (id) ON DELETE CASCADE)""",
    """CREATE TABLE nodefault (id INT PRIMARY KEY, a TEXT NOT NULL, b BLOB NOT NULL,
       c VARCHAR(3) NOT NULL, d DATETIME NOT NULL, e TIMESTAMP NOT NULL,
       f ENUM('x','y') NOT NULL)""",
    """CREATE TABLE defaults (id INT PRIMARY KEY COMMENT '', a INT DEFAULT '5',
       b VARCHAR(5) DEFAULT 5, c DECIMAL(4,2) DEFAULT '1', d FLOAT DEFAULT 1e10,
       e DOUBLE DEFAULT -1.5e-3, f BIT(3) DEFAULT 2, g VARCHAR(5) DEFAULT NULL,
       h INT DEFAULT (-1), i VARCHAR(10) DEFAULT (''), j VARCHAR(64) DEFAULT (sha2('a', 256)),
       k BOOLEAN NOT NULL DEFAULT FALSE)""",
    """CREATE TABLE fkorder (id INT PRIMARY KEY, a INT, b INT, c INT, d INT, e INT, f INT,
       CONSTRAINT `éfk` FOREIGN KEY (a) REFERENCES parent (id),
       CONSTRAINT zfk FOREIGN KEY (b) REFERENCES parent (id),
       CONSTRAINT `_fk` FOREIGN KEY (c) REFERENCES parent (id),
       CONSTRAINT `1fk` FOREIGN KEY (d) REFERENCES parent (id),
       CONSTRAINT `Afk` FOREIGN KEY (e) REFERENCES parent (id),
       CONSTRAINT `a fk` FOREIGN KEY (f) REFERENCES parent (id))""",
    "CREATE VIEW parent_codes AS SELECT id, code FROM parent",
    "CREATE SEQUENCE seq_one",
    """CREATE TABLE compressed (id INT PRIMARY KEY, v VARCHAR(10)) ENGINE=InnoDB
       ROW_FORMAT=COMPRESSED KEY_BLOCK_SIZE=8 COMMENT 'squeezed'""",
    """CREATE TABLE aliases (s SERIAL, d DECIMAL, dp DOUBLE PRECISION, nc NATIONAL CHAR(3),
       lv LONG VARCHAR, vb VARCHAR(9) BINARY, i1 INT1, i8 INT8 UNSIGNED, f4 FLOAT4, r REAL(5,2),
       n NUMERIC, dt DATETIME(0), b BOOLEAN DEFAULT 0, ch CHARACTER(2) ASCII)""",
    "CREATE TABLE `Mixed` (id INT PRIMARY KEY, upper_only INT)",
    "CREATE TABLE mixed (id INT PRIMARY KEY, lower_only VARCHAR(3), KEY ix_l (lower_only))",
]
#: Tables whose text the catalog cannot rebuild; they are read with SHOW CREATE TABLE.
FALLBACK = {"aria_t", "versioned", "parted"}

FIELDS = (
    "columns",
    "primary_key",
    "foreign_keys",
    "indexes",
    "unique_constraints",
    "check_constraints",
    "comment",
    "options",
)


def _plain(value: object) -> str:
    """Reflection output as text: SQL expressions by their SQL, types by class and every
    attribute (a repr shows only some)."""

    def default(o: object) -> object:
        if isinstance(o, sa.types.TypeEngine):
            return [type(o).__name__, {k: repr(v) for k, v in sorted(vars(o).items())}]
        return getattr(o, "text", repr(o))

    return json.dumps(value, sort_keys=True, default=default)


@contextmanager
def _quiet() -> Iterator[None]:
    # SQLAlchemy warns about types it does not know (uuid, inet6) on both paths alike.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sa.exc.SAWarning)
        yield


def _create(engine: Engine, statements: list[str], other: str = "") -> None:
    with engine.begin() as conn:
        if other:
            conn.exec_driver_sql(f"CREATE TABLE `{other}`.ext (id INT PRIMARY KEY)")
        for stmt in statements:
            conn.exec_driver_sql(stmt.format(other=other).replace("%", "%%"))


@pytest.fixture
def corpus(engine: Engine, schema_name: str) -> Iterator[str]:
    """The corpus in the test database, ``ext`` in ``schema_name``; yields that name."""
    _create(engine, CORPUS, schema_name)
    yield schema_name
    with engine.begin() as conn:  # the cross-database reference would block DROP DATABASE
        conn.exec_driver_sql("DROP TABLE xref")


def _show_create(conn: Connection, name: str, schema: str | None = None) -> str:
    full = f"`{name.replace('`', '``')}`"
    if schema:
        full = f"`{schema}`.{full}"
    return str(conn.exec_driver_sql(f"SHOW CREATE TABLE {full}").one()[1])


def _assert_texts_match(conn: Connection, schema: str | None, fallback: set[str]) -> int:
    texts = mysql.create_tables(conn, schema)
    assert set(texts) == set(sa.inspect(conn).get_table_names(schema=schema))
    assert {n for n, t in texts.items() if t is None} == fallback
    diffs = []
    for name, rebuilt in sorted(texts.items()):
        if rebuilt is None:
            continue
        real = _show_create(conn, name, schema)
        if mysql.normalised(real) != mysql.normalised(rebuilt):
            diffs.extend(difflib.unified_diff(real.split("\n"), rebuilt.split("\n"), name, ""))
    assert not diffs, "\n".join(diffs)
    return len(texts)


def _assert_records_match(conn: Connection, schema: str | None) -> ReflectedSchema:
    names = sa.inspect(conn).get_table_names(schema=schema)
    fast = ReflectedSchema("mysql", None, (schema,))
    slow = ReflectedSchema("mysql", None, (schema,))
    with _quiet():
        mysql.read_tables(conn, fast, schema, names, all_tables=True)
        inspector.read_tables(conn, slow, schema, names, all_tables=True)
    assert set(fast.tables) == set(slow.tables) == {(schema, n) for n in names}
    for key, table in slow.tables.items():
        for name in FIELDS:
            assert _plain(getattr(fast.tables[key], name)) == _plain(getattr(table, name)), (
                key,
                name,
            )
    return fast


def test_rebuilt_text_is_show_create_table(engine: Engine, corpus: str) -> None:
    with engine.connect() as conn:
        assert _assert_texts_match(conn, None, FALLBACK) == len(CORPUS) - 2


def test_corpus_records_match_inspector(engine: Engine, corpus: str) -> None:
    with engine.connect() as conn:
        fast = _assert_records_match(conn, None)
    child = fast.tables[(None, "child")]
    assert [fk["name"] for fk in child.foreign_keys] == [
        "aa_fk_code",
        "child_ibfk_1",
        "mm_fk_keyed",
        "zz_fk_parent",
    ]
    assert fast.tables[(None, "xref")].foreign_keys[0]["referred_schema"] == corpus
    assert fast.tables[(None, "times")].column("g")["default"] == (  # type: ignore[index]
        "current_timestamp() ON UPDATE current_timestamp()"
    )


def test_other_schema_records_match_inspector(engine: Engine, schema_name: str) -> None:
    statements = [
        s.replace("CREATE TABLE ", f"CREATE TABLE `{schema_name}`.", 1)
        .replace("CREATE VIEW ", f"CREATE VIEW `{schema_name}`.", 1)
        .replace("CREATE SEQUENCE ", f"CREATE SEQUENCE `{schema_name}`.", 1)
        .replace("FROM parent", f"FROM `{schema_name}`.parent")
        for s in CORPUS
    ]
    # References inside the other schema stay inside it; xref points back to the main one.
    statements = [
        s.replace("REFERENCES parent", f"REFERENCES `{schema_name}`.parent")
        .replace("REFERENCES keyed", f"REFERENCES `{schema_name}`.keyed")
        .replace("REFERENCES selfref", f"REFERENCES `{schema_name}`.selfref")
        for s in statements
    ]
    main = engine.url.database
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE ext (id INT PRIMARY KEY)")
    _create(engine, [s.replace("`{other}`", f"`{main}`") for s in statements])
    try:
        with engine.connect() as conn:
            _assert_texts_match(conn, schema_name, FALLBACK)
            fast = _assert_records_match(conn, schema_name)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f"DROP TABLE `{schema_name}`.xref")
    assert fast.tables[(schema_name, "xref")].foreign_keys[0]["referred_schema"] == main


def test_generated_benchmark_schema(engine: Engine) -> None:
    make_metadata(200, "mariadb").create_all(engine)
    with engine.connect() as conn:
        assert _assert_texts_match(conn, None, set()) == 200
        _assert_records_match(conn, None)


def test_columns_beyond_group_concat_max_len_fall_back(engine: Engine) -> None:
    # The columns of a table come as one JSON_ARRAYAGG, cut at group_concat_max_len.
    _create(engine, CORPUS[:4])
    with engine.connect() as conn:
        conn.exec_driver_sql("SET SESSION group_concat_max_len = 600")
        texts = mysql.create_tables(conn, None)
        assert texts["parent"] is not None
        assert texts["strs"] is None
        _assert_records_match(conn, None)


def test_statements_are_few_and_read_only(engine: Engine) -> None:
    _create(
        engine,
        [
            f"CREATE TABLE t{i} (id INT PRIMARY KEY, v VARCHAR(5), KEY ix_v{i} (v))"
            for i in range(40)
        ]
        + ["CREATE TABLE p (id INT PRIMARY KEY) PARTITION BY HASH (id) PARTITIONS 2"],
    )
    with record_statements(engine) as statements, engine.connect() as conn:
        reflected = reflect_schema(conn)
    assert len(reflected.tables) == 41
    # (The read-only transaction around the reading is set up with SET SESSION ...)
    assert all(is_read_only(s) for s in statements if not s.startswith("SET ")), statements
    catalog = [s for s in statements if "information_schema" in s]
    show_create = [s for s in statements if s.startswith("SHOW CREATE TABLE")]
    assert len(catalog) == 1, statements
    # The partitioned table, and one table checking the printer against the server.
    assert len(show_create) == 2, show_create
    assert len(statements) < 15, statements


def test_a_few_named_tables_use_show_create(engine: Engine) -> None:
    _create(engine, [f"CREATE TABLE t{i} (id INT PRIMARY KEY)" for i in range(10)])
    with record_statements(engine) as statements, engine.connect() as conn:
        reflected = reflect_schema(conn, include_table=lambda name, schema: name in {"t1", "t2"})
    assert set(reflected.tables) == {(None, "t1"), (None, "t2")}
    assert not [s for s in statements if "information_schema" in s]


def test_some_named_tables_read_only_theirs(engine: Engine) -> None:
    _create(engine, [s for s in CORPUS if "{other}" not in s])
    wanted = {"strs", "times", "keyed", "child", "Mixed", "aria_t"}
    with record_statements(engine) as statements, engine.connect() as conn:
        reflected = reflect_schema(conn, include_table=lambda name, schema: name in wanted)
    assert set(reflected.tables) == {(None, n) for n in wanted}
    catalog = [s for s in statements if "information_schema" in s]
    assert len(catalog) == 1 and "TABLE_NAME IN" in catalog[0], statements
    with engine.connect() as conn:
        slow = ReflectedSchema("mysql", None, (None,))
        inspector.read_tables(conn, slow, None, sorted(wanted))
    for key, table in slow.tables.items():
        for name in FIELDS:
            assert _plain(getattr(reflected.tables[key], name)) == _plain(getattr(table, name))


def test_printer_mismatch_falls_back_to_show_create(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    _create(engine, CORPUS[:3])
    original = mysql.Catalog.create_table

    def wrong(self: mysql.Catalog, name: str) -> str:
        return original(self, name).replace("DEFAULT NULL", "DEFAULT 'NULL'")

    monkeypatch.setattr(mysql.Catalog, "create_table", wrong)
    with engine.connect() as conn, pytest.warns(UserWarning, match="differently"):
        fast = _assert_records_match(conn, None)
    assert fast.tables[(None, "strs")].column("a")["default"] is None  # type: ignore[index]
