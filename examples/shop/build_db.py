"""Rebuild ``shop.db`` by running the migrations with Alembic.

The committed ``shop.db`` is what ``python build_db.py`` produces: the schema as
of the last migration, which the models in ``shop/models.py`` have since
drifted from, and three users without a name.  Alembic is only needed to
(re)build it.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def build_database(target: Path, configure_logging: bool = False) -> Path:
    """Create (or replace) the SQLite database at ``target`` at migration head.

    Logging is left alone unless ``configure_logging`` (alembic.ini's logging
    setup would otherwise reconfigure the caller's root logger).
    """
    from alembic import command
    from alembic.config import Config

    target = target.resolve()
    target.unlink(missing_ok=True)
    config = Config(str(HERE / "alembic.ini"))
    config.set_main_option("script_location", str(HERE / "migrations"))
    config.set_main_option("prepend_sys_path", str(HERE))
    config.set_main_option("sqlalchemy.url", f"sqlite:///{target}")
    config.attributes["configure_logger"] = configure_logging
    command.upgrade(config, "head")
    conn = sqlite3.connect(target)
    try:
        with conn:
            conn.executemany(
                "INSERT INTO users (id, email, name, created_at) VALUES (?, ?, NULL, ?)",
                [(i, f"customer{i}@example.com", SEEDED_AT) for i in (1, 2, 3)],
            )
        # VACUUM gives a compact file whose bytes do not depend on migration history.
        conn.execute("VACUUM")
    finally:
        conn.close()
    return target


SEEDED_AT = "2026-01-01 00:00:00"
"""Three customers who never gave their name: the models' ``users.name NOT NULL`` has work
to do (a fixed time, so the file's bytes are the same on every build)."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("target", nargs="?", type=Path, default=HERE / "shop.db")
    args = parser.parse_args(argv)
    print(f"built {build_database(args.target, configure_logging=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
