<%doc>
    schema-lsp's default revision template, used when the project has no
    script.py.mako of its own. It receives the same variables as Alembic's
    templates, so the generated files run under Alembic unchanged.
</%doc>\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

# revision identifiers, used by Alembic.
revision: str = ${repr(up_revision)}
down_revision: str | Sequence[str] | None = ${repr(down_revision)}
branch_labels: str | Sequence[str] | None = ${repr(branch_labels)}
depends_on: str | Sequence[str] | None = ${repr(depends_on)}


def upgrade() -> None:
    """Apply this revision's schema changes."""
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    """Revert this revision's schema changes."""
    ${downgrades if downgrades else "pass"}
