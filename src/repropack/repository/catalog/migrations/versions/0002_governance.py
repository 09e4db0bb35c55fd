"""Governance: the durable state of policy runs (``govern_runs``, ``govern_tasks``) and what the history and
the regressions read from each governed run (cause kind, base image and its id, the environment's image and
whether it was rebuilt, a diff summary, the record's blob, the policy run it belongs to).

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "govern_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=32), nullable=False),
        sa.Column("policy_name", sa.Text(), nullable=False),
        sa.Column("policy_sha256", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("host", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("public_id"),
    )
    with op.batch_alter_table("govern_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_govern_runs_policy_name"), ["policy_name"], unique=False)

    with op.batch_alter_table("governed_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cause_kind", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("base_image", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("base_image_id", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("image_id", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("image_reused", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("diff_summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("record_blob", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("govern_run_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_governed_runs_govern_run_id"), ["govern_run_id"], unique=False)
        batch_op.create_foreign_key("fk_governed_runs_govern_run_id", "govern_runs", ["govern_run_id"], ["id"])

    op.create_table(
        "govern_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("governed_run_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["govern_runs.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["versions.id"]),
        sa.ForeignKeyConstraint(["governed_run_id"], ["governed_runs.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key"),
        sa.UniqueConstraint("run_id", "version_id"),
    )
    with op.batch_alter_table("govern_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_govern_tasks_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_govern_tasks_version_id"), ["version_id"], unique=False)


def downgrade() -> None:
    op.drop_table("govern_tasks")
    with op.batch_alter_table("governed_runs", schema=None) as batch_op:
        batch_op.drop_constraint("fk_governed_runs_govern_run_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_governed_runs_govern_run_id"))
        for column in (
            "govern_run_id",
            "record_blob",
            "diff_summary",
            "image_reused",
            "image_id",
            "base_image_id",
            "base_image",
            "cause_kind",
        ):
            batch_op.drop_column(column)
    op.drop_table("govern_runs")
