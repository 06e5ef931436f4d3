"""Schedules: saved jobs fired on a cron, and the link from a run to the schedule that fired it.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("source", sa.Text),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("cron", sa.String(200), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("missed", sa.String(16), nullable=False),
        sa.Column("overlap", sa.String(16), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("next_fire_at", sa.Float),
        sa.Column("executor", sa.String(64), nullable=False),
        sa.Column("instance_type", sa.String(64), nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("job", sa.JSON, nullable=False),
        sa.Column("owner", sa.String(128)),
        sa.Column("last_run_id", sa.String(32)),
        sa.Column("last_fired_at", sa.Float),
        sa.Column("skipped", sa.JSON, nullable=False),
        sa.Column("skipped_count", sa.Integer, nullable=False),
    )
    op.create_index("ix_schedules_next_fire_at", "schedules", ["next_fire_at"])
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("schedule_id", sa.String(32)))
        batch.create_index("ix_runs_schedule_id", ["schedule_id"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_schedule_id")
        batch.drop_column("schedule_id")
    op.drop_table("schedules")
