"""Alembic environment: runs on the connection :func:`release_gate.store.migrate.upgrade` passes."""

from __future__ import annotations

from alembic import context

from release_gate.store.schema import Base


def _run() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `release-gate db upgrade`")
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        context.run_migrations()
    if connection.in_transaction():
        connection.commit()


_run()
