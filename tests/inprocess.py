"""In-process harness: a real SQLite store, and provider handlers run as the pipeline runs them.

The provider tests (tests/services/*) and the authorizer tests (tests/iam) share
it, so that "a fresh store" and "one call" mean the same thing everywhere:

- `fresh_database` builds the schema, the state-version row and a loaded barrier
  (and, if asked, `accounts` rows) in a temporary SQLite file;
- `HandlerHarness.call` runs one handler inside a writer unit, in a savepoint
  rolled back if the handler raises, with the unit's after-commit hooks run
  once the batch commits; the AwsError it raised is re-raised to the test;
- `in_process_pipeline` is the whole request path (tests/test_pipeline*.py): a
  migrated store, writer, audit trail, credential store and SigV4 verifier in
  front of the providers a test plugs in.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from garrison.api import Call, Handler
from garrison.audit.trail import AuditTrail
from garrison.bootstrap import create_first_account, load_signer
from garrison.clock import FixedClock, SystemClock
from garrison.context import Principal, RequestContext
from garrison.errors import AwsError
from garrison.iam.credentials import CredentialStore
from garrison.pipeline import HttpRequest, HttpResponse, Pipeline
from garrison.protocol.sigv4 import SigV4Verifier
from garrison.protocol.specs import SpecRegistry
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import select
from garrison.storage.writer import Tx

ACCOUNT = "111122223333"
REGION = "us-east-1"


def root_of(account: str) -> Principal:
    """The root user of `account`, as a request signed with its keys would carry."""
    return Principal(
        arn=f"arn:aws:iam::{account}:root", account_id=account, type="Root", user_id=account
    )


ROOT = root_of(ACCOUNT)


@contextmanager
def fresh_database(tmp_path: Path, accounts: Iterable[str] = ()) -> Iterator[Database]:
    """A new SQLite store with every table, the barrier unsealed, and `accounts` rows."""
    db = Database("sqlite:///" + str(tmp_path / "t.db"))
    schema.metadata.create_all(db.engine)
    with db.engine.begin() as conn:
        conn.execute(schema.state_version.insert(), {"id": 1, "version": 0})
        for account in accounts:
            conn.execute(
                schema.accounts.insert(),
                {"account_id": account, "name": "test", "created_at": 0.0},
            )
    db.barrier.load({1: bytes(32)})
    try:
        yield db
    finally:
        db.close()


class HandlerHarness:
    """Runs one service's handlers by operation name; subclasses add the shortcuts."""

    service = ""

    def __init__(self, db: Database, handlers: Mapping[str, Handler], clock: FixedClock) -> None:
        self.db = db
        self.clock = clock
        self.handlers = handlers
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
            service=self.service,
            operation=op,
            region=region,
            principal=principal,
            now=self.clock.now(),
            event_id=event_id,
            extra=dict(extra),
        )

    def run_in(self, ctx: RequestContext, request: dict[str, Any] | None) -> dict[str, Any]:
        """Run the handler of `ctx.operation` with `request` as one writer unit."""
        handler = self.handlers[ctx.operation]

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

    def call(
        self, op: str, request: dict[str, Any] | None = None, principal: Principal = ROOT
    ) -> dict[str, Any]:
        return self.run_in(self.ctx(op, principal), request)

    def error(self, op: str, request: dict[str, Any] | None = None, **kw: Any) -> AwsError:
        """The AwsError calling `op` raises (the test fails if it raises none)."""
        with pytest.raises(AwsError) as caught:
            self.call(op, request, **kw)
        return caught.value


# -- the whole request path -----------------------------------------------------------


@contextmanager
def in_process_pipeline(
    tmp_path: Path,
    services: list[str],
    providers: Mapping[str, Any],
    *,
    access_key_id: str,
    secret: str,
) -> Iterator[tuple[Pipeline, Database]]:
    """A `Pipeline` over a migrated store with its writer, audit trail and SigV4 verifier.

    The first account (ACCOUNT) signs with `access_key_id` / `secret`.
    """
    db = Database("sqlite:///" + str(tmp_path / "pipeline.db"))
    db.migrate()
    db.barrier.load({1: bytes(32)})
    clock = SystemClock()
    create_first_account(
        db, clock.time(), account_id=ACCOUNT, access_key_id=access_key_id, secret_access_key=secret
    )
    signer = load_signer(db)
    trail = AuditTrail("node-1", lambda: signer, clock.time)
    db.writer.participants.append(trail)
    db.read(trail.load)
    credentials = CredentialStore(db.barrier, db.read)
    db.writer.start()
    try:
        yield (
            Pipeline(
                registry=SpecRegistry(services),
                providers=dict(providers),
                verifier=SigV4Verifier(credentials.secret_for, clock),
                credentials=credentials,
                writer=db.writer,
                trail=trail,
                clock=clock,
            ),
            db,
        )
    finally:
        db.writer.stop()
        db.close()


def handle(pipeline: Pipeline, request: HttpRequest) -> HttpResponse:
    return asyncio.run(pipeline.handle(request))


def audit_events(db: Database) -> list[dict[str, Any]]:
    """Every audit event the trail holds, oldest first."""
    rows = db.read(
        lambda tx: tx.execute(
            select(schema.audit_events.c.body).order_by(schema.audit_events.c.seq)
        ).all()
    )
    return [json.loads(row[0]) for row in rows]
