"""The scheduler's "secretsmanager-deletion" job: secrets deleted at their DeletionDate.

DeleteSecret with a recovery window sets `deletion_date`; once it has passed,
the secret, its versions (values), stages, tags and resource policy are
deleted, each secret in its own unit (after `run.hold`: the lease is ours).
RestoreSecret clears the date first, so a restored secret is never taken.
"""

from __future__ import annotations

from garrison.scheduler.runner import JobRun
from garrison.services.secretsmanager import store
from garrison.storage.database import Database
from garrison.storage.writer import Tx

JOB_NAME = "secretsmanager-deletion"


def run_deletions(db: Database, run: JobRun) -> int:
    due = db.read(lambda tx: store.due_deletions(tx, run.now))
    deleted = 0
    for secret_id in due:

        def unit(tx: Tx, secret_id: str = secret_id) -> bool:
            if not run.hold(tx) or not store.is_due(tx, secret_id, run.now):
                return False
            store.delete_secret(tx, secret_id)
            tx.mark_changed()
            return True

        if db.write(unit):
            deleted += 1
    return deleted
