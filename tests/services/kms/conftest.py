"""A KMS provider over a real SQLite store, driven handler by handler (no HTTP).

`KmsHarness.call` runs one handler as the pipeline does (see tests/inprocess.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from garrison.clock import FixedClock
from garrison.services.kms.provider import KmsProvider
from garrison.storage.database import Database
from tests.inprocess import ACCOUNT, REGION, ROOT, HandlerHarness, fresh_database

__all__ = ["ACCOUNT", "REGION", "ROOT", "KmsHarness", "harness"]


class KmsHarness(HandlerHarness):
    service = "kms"

    def __init__(self, db: Database, provider: KmsProvider, clock: FixedClock) -> None:
        super().__init__(db, provider.handlers(), clock)
        self.provider = provider

    def call(self, op: str, request: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        return self.run_in(self.ctx(op, **kw), request)

    def run(self, fn: Any) -> Any:
        return self.db.writer.run_sync(fn)

    def now(self) -> datetime:
        return self.clock.now()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[KmsHarness]:
    with fresh_database(tmp_path) as db:
        clock = FixedClock()
        yield KmsHarness(db, KmsProvider(clock), clock)
