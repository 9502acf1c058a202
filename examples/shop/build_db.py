"""Rebuild ``shop.db`` by running the migrations with Alembic.

The committed ``shop.db`` is what ``python build_db.py`` produces: the schema as
of the last migration, which the models in ``shop/models.py`` have since
drifted from.  Alembic is only needed to (re)build it.
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
    # VACUUM gives a compact file whose bytes do not depend on migration history.
    conn = sqlite3.connect(target)
    try:
        conn.execute("VACUUM")
    finally:
        conn.close()
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("target", nargs="?", type=Path, default=HERE / "shop.db")
    args = parser.parse_args(argv)
    print(f"built {build_database(args.target, configure_logging=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
