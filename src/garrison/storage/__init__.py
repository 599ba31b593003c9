"""Persistence: SQLAlchemy Core on SQLite (default) or PostgreSQL.

Only this package imports SQLAlchemy. Services write their `store.py` against
`garrison.storage.sql` (the query builders) and `garrison.storage.schema` (the
tables), and run inside a `Tx` handed to them by the group-commit `Writer`.
Sensitive columns pass through the `Barrier`.
"""
