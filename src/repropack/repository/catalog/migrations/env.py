"""Alembic's entry: migrations run on the connection ``database.upgrade_catalog`` hands over."""

from alembic import context

from repropack.repository.catalog.tables import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
