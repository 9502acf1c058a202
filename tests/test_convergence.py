"""Generated migrations are proven by running them.

For each scenario of ``tests/convergence_scenarios.py`` (every kind of change the
comparison corpus covers) on each backend it applies to: create the "before" schema,
compare it with the "after" models, render the upgrade (batch mode on SQLite, as SQLite
needs) and execute it with Alembic's real ``op`` runtime; comparing again must report
nothing. Then the rendered downgrade must bring back the "before" schema, again with
nothing to report.

A case that cannot converge is listed in ``CANNOT_CONVERGE`` with its reason and the
failure it must show, so the list stays honest: a listed case that starts converging fails
and asks to be removed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext as AlembicMigrationContext
from alembic.operations import Operations
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.engine import Engine

from schema_lsp.autogenerate import compare_metadata, produce_migrations, render_python_code
from schema_lsp.runtime.migration import MigrationContext
from tests.autogenerate.differential import build_database
from tests.convergence_scenarios import SCENARIOS, Env, Scenario

Stage = Literal[
    "upgrade fails", "upgrade leaves drift", "downgrade fails", "downgrade leaves drift"
]


@dataclass(frozen=True)
class CannotConverge:
    """Why a case can't converge, and the failure that proves it (``match``: a regex
    searched in the failure's message)."""

    stage: Stage
    match: str
    reason: str


_UNNAMED = (
    "an unnamed constraint can't be dropped by name: the database invents it (only a naming "
    "convention helps)"
)

CANNOT_CONVERGE: dict[tuple[str, str], CannotConverge] = {
    ("postgresql", "pg-enum-value-added"): CannotConverge(
        "upgrade leaves drift",
        r"modify_type', None, 't', 'a'",
        "alter_column(type_=sa.Enum) doesn't touch an existing PostgreSQL enum type (Alembic "
        "renders the same); needs ALTER TYPE e1 ADD VALUE 'z'.",
    ),
    ("postgresql", "pg-enum-value-removed"): CannotConverge(
        "upgrade leaves drift",
        r"modify_type', None, 't', 'b'",
        "PostgreSQL can't drop an enum value; needs a new type and ALTER COLUMN ... USING.",
    ),
    ("postgresql", "json-to-text"): CannotConverge(
        "downgrade fails",
        r"cannot be cast automatically to type json",
        "TEXT -> JSON has no assignment cast on PostgreSQL; needs postgresql_using='a::json'.",
    ),
    ("postgresql", "identity-added"): CannotConverge(
        "upgrade fails",
        r"must be declared NOT NULL before identity can be added",
        "an identity implies NOT NULL, but nullability changes of identity columns are "
        "ignored (as Alembic does), so ADD GENERATED runs on a nullable column.",
    ),
    ("postgresql", "identity-removed"): CannotConverge(
        "upgrade fails",
        r'column "c" of relation "t" is an identity column',
        "without existing_server_default=sa.Identity(...) Alembic's runtime emits DROP DEFAULT, "
        "not DROP IDENTITY (Alembic renders the same).",
    ),
    ("postgresql", "identity-start-changed"): CannotConverge(
        "upgrade fails",
        r"is already an identity column",
        "without existing_server_default=sa.Identity(...) Alembic's runtime emits ADD GENERATED, "
        "not SET START (Alembic renders the same).",
    ),
    ("sqlite", "computed-column-nullability"): CannotConverge(
        "upgrade fails",
        r'cannot INSERT into generated column "c"',
        "Alembic's batch mode copies every column, generated ones included, into the new table.",
    ),
    ("sqlite", "unnamed-unique-constraints"): CannotConverge(
        "upgrade fails", r"Constraint must have a name", f"batch mode: {_UNNAMED}."
    ),
    ("postgresql", "unnamed-unique-constraints"): CannotConverge(
        "downgrade fails", r"it has no name", f"the downgrade drops the added one: {_UNNAMED}."
    ),
    ("mariadb", "unnamed-unique-constraints"): CannotConverge(
        "downgrade fails", r"AssertionError", f"the downgrade drops the added one: {_UNNAMED}."
    ),
    ("sqlite", "unnamed-primary-key-change"): CannotConverge(
        "upgrade fails", r"Constraint must have a name", f"batch mode: {_UNNAMED}."
    ),
    ("postgresql", "unnamed-primary-key-change"): CannotConverge(
        "downgrade fails", r"it has no name", f"the downgrade drops the added one: {_UNNAMED}."
    ),
}


class NotConverged(AssertionError):
    """A migration step failed or left drift; ``stage`` says which."""

    def __init__(self, stage: Stage, detail: str, code: str) -> None:
        super().__init__(f"{stage}: {detail}\n--- rendered ---\n{code}")
        self.stage = stage
        self.detail = detail


def _execute(engine: Engine, code: str) -> None:
    """Run rendered ``upgrade()``/``downgrade()`` body text with Alembic's runtime."""
    body = "\n".join(line[4:] if line.startswith("    ") else line for line in code.splitlines())
    with engine.begin() as conn:
        op = Operations(AlembicMigrationContext.configure(conn))
        namespace: dict[str, Any] = {
            "op": op,
            "sa": sa,
            "postgresql": postgresql,
            "mysql": mysql,
            "sqlite": sqlite,
        }
        exec(compile(body, "<rendered migration>", "exec"), namespace)


def _drift(engine: Engine, metadata: sa.MetaData, opts: dict[str, Any]) -> list[Any]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn, opts=opts), metadata))


def _step(
    engine: Engine,
    code: str,
    target: sa.MetaData,
    opts: dict[str, Any],
    stages: tuple[Stage, Stage],
) -> None:
    """Execute one rendered direction and check that it reached ``target``."""
    fails, leaves_drift = stages
    try:
        _execute(engine, code)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise NotConverged(fails, f"{type(exc).__name__}: {first}", code) from exc
    left = _drift(engine, target, opts)
    if left:
        raise NotConverged(leaves_drift, repr(left), code)


def _migrate(engine: Engine, backend: str, scenario: Scenario, env: Env) -> None:
    """Upgrade to the "after" models and downgrade back; raise NotConverged on failure."""
    before, after = scenario.before(env), scenario.after(env)
    opts = {"compare_type": True, "compare_server_default": True, **scenario.opts(env)}
    build_database(engine, before)
    assert _drift(engine, before, opts) == [], "the starting schema must compare clean"

    batch = backend == "sqlite"
    with engine.connect() as conn:
        script = produce_migrations(MigrationContext.configure(conn, opts=opts), after)
        context = MigrationContext.configure(conn, opts=opts)
    assert script.upgrade_ops is not None and script.downgrade_ops is not None
    assert not script.upgrade_ops.is_empty(), "the scenario must drift"
    upgrade = render_python_code(
        script.upgrade_ops, render_as_batch=batch, migration_context=context
    )
    downgrade = render_python_code(
        script.downgrade_ops, render_as_batch=batch, migration_context=context
    )
    _step(engine, upgrade, after, opts, ("upgrade fails", "upgrade leaves drift"))
    _step(engine, downgrade, before, opts, ("downgrade fails", "downgrade leaves drift"))


CASES = [(backend, s) for s in SCENARIOS for backend in s.backends]


def test_scenario_names_are_unique() -> None:
    names = [s.name for s in SCENARIOS]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)


def test_known_failures_name_real_cases() -> None:
    cases = {(backend, s.name) for backend, s in CASES}
    unknown = sorted(set(CANNOT_CONVERGE) - cases)
    assert not unknown, f"CANNOT_CONVERGE names cases that don't exist: {unknown}"


@pytest.mark.parametrize(
    "backend,scenario",
    CASES,
    ids=[f"{backend}-{s.name}" for backend, s in CASES],
    indirect=["backend"],
)
def test_upgrade_converges_and_downgrade_restores(
    request: pytest.FixtureRequest, engine: Engine, backend: str, scenario: Scenario
) -> None:
    schema = request.getfixturevalue("schema_name") if scenario.needs_schema else None
    env = Env(backend, engine.url.database, schema)
    known = CANNOT_CONVERGE.get((backend, scenario.name))
    if known is None:
        _migrate(engine, backend, scenario, env)
        return
    try:
        _migrate(engine, backend, scenario, env)
    except NotConverged as failure:
        assert failure.stage == known.stage, f"expected {known.stage!r}, got {failure}"
        assert re.search(known.match, failure.detail), (
            f"expected a failure matching {known.match!r}, got {failure}"
        )
    else:
        pytest.fail(
            f"{backend}/{scenario.name} now converges: remove it from CANNOT_CONVERGE "
            f"(listed because: {known.reason})"
        )
