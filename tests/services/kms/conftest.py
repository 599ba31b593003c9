"""A KMS provider over a real SQLite store, driven handler by handler (no HTTP).

`KmsHarness.call` runs one handler as the pipeline does: inside a writer unit,
in a savepoint that is rolled back if the handler raises, with the unit's
after-commit hooks run once the batch commits.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from garrison.api import Call
from garrison.clock import FixedClock
from garrison.context import Principal, RequestContext
from garrison.errors import AwsError
from garrison.services.kms.provider import KmsProvider
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.writer import Tx

ACCOUNT = "111122223333"
REGION = "us-east-1"
ROOT = Principal(
    arn=f"arn:aws:iam::{ACCOUNT}:root", account_id=ACCOUNT, type="Root", user_id=ACCOUNT
)


class KmsHarness:
    def __init__(self, db: Database, provider: KmsProvider, clock: FixedClock) -> None:
        self.db = db
        self.provider = provider
        self.clock = clock
        self.handlers = provider.handlers()
        self.last_call: Call | None = None
        self.requests = 0

    def ctx(
        self,
        op: str,
        principal: Principal = ROOT,
        region: str = REGION,
        event_id: str = "",
        **extra: str,
    ) -> RequestContext:
        self.requests += 1
        return RequestContext(
            request_id=f"req-{self.requests}",
            service="kms",
            operation=op,
            region=region,
            principal=principal,
            now=self.clock.now(),
            event_id=event_id,
            extra=dict(extra),
        )

    def call(self, op: str, request: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        ctx = self.ctx(op, **kw)
        handler = self.handlers[op]

        def unit(tx: Tx) -> dict[str, Any] | AwsError:
            call = Call(ctx, tx)
            self.last_call = call
            savepoint = tx.savepoint()
            try:
                out = handler(call, dict(request or {})) or {}
                savepoint.commit()
                return out
            except AwsError as err:
                savepoint.rollback()
                return err

        outcome = self.db.writer.run_sync(unit)
        if isinstance(outcome, AwsError):
            raise outcome
        return outcome

    def run(self, fn: Any) -> Any:
        return self.db.writer.run_sync(fn)

    def now(self) -> datetime:
        return self.clock.now()


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[KmsHarness]:
    db = Database("sqlite:///" + str(tmp_path / "t.db"))
    schema.metadata.create_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(schema.state_version.insert(), {"id": 1, "version": 0})
    db.barrier.load({1: bytes(32)})
    clock = FixedClock()
    yield KmsHarness(db, KmsProvider(clock), clock)
    db.close()
