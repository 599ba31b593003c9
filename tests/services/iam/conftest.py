"""An IAM provider over a real SQLite store, driven handler by handler (no HTTP).

`IamHarness.call` runs one handler as the pipeline does (see tests/inprocess.py);
it counts the authorizer invalidations the provider asks for.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from garrison.clock import FixedClock
from garrison.iam.authorizer import Authorizer
from garrison.iam.credentials import CredentialStore, create_root_access_key, forget_keys
from garrison.services.iam.provider import IamProvider
from garrison.storage.database import Database
from tests.inprocess import ACCOUNT, ROOT, HandlerHarness, fresh_database

__all__ = ["ACCOUNT", "ROOT", "IamHarness", "iam"]


class IamHarness(HandlerHarness):
    service = "iam"

    def __init__(self, db: Database, clock: FixedClock) -> None:
        self.credentials = CredentialStore(db.barrier, db.read)
        self.invalidations = 0
        self.authorizer = Authorizer()
        original = self.authorizer.invalidate

        def counted() -> None:
            self.invalidations += 1
            original()

        self.authorizer.invalidate = counted  # type: ignore[method-assign]
        self.provider = IamProvider(self.authorizer, lambda ids: forget_keys(self.credentials, ids))
        super().__init__(db, self.provider.handlers(), clock)


@pytest.fixture
def iam(tmp_path: Path) -> Iterator[IamHarness]:
    with fresh_database(tmp_path, accounts=[ACCOUNT]) as db:
        harness = IamHarness(db, FixedClock())
        db.writer.run_sync(
            lambda tx: create_root_access_key(tx, ACCOUNT, "AKIAROOTROOTROOTROOT", "s" * 40, 0.0)
        )
        db.writer.run_sync(harness.provider.seed)
        yield harness
