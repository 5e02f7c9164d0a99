"""Alembic's environment for hanprompt: always handed an open connection by the runner.

Users never run Alembic themselves; ``hanprompt.store.migrations.upgrade`` calls it when a
database is opened, inside one transaction that it has already begun.
"""
from alembic import context

from hanprompt.store.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("hanprompt's migrations run through hanprompt.store.migrations.upgrade(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,  # SQLite cannot alter constraints: batch mode rebuilds the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
