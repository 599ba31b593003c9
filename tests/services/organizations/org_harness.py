"""An Organizations provider over a real SQLite store, driven handler by handler.

(A module of its own, not conftest.py: test directories share the module name
``conftest``, so `from conftest import` would find another directory's.)

`OrgHarness.call` runs one handler as the pipeline does: inside a writer unit,
in a savepoint rolled back if the handler raises. Callers in any account are
made up directly (`root_of(account)`), which is how member accounts are
exercised before STS credentials exist for them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from garrison.clock import FixedClock
from garrison.context import Principal
from garrison.iam.authorizer import Authorizer
from garrison.services.organizations.provider import OrganizationsProvider
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.writer import Tx
from tests.inprocess import ACCOUNT as MGMT
from tests.inprocess import HandlerHarness, fresh_database, root_of

__all__ = ["MGMT", "OrgHarness", "harness", "root_of"]


class OrgHarness(HandlerHarness):
    service = "organizations"

    def __init__(self, db: Database, provider: OrganizationsProvider, clock: FixedClock) -> None:
        super().__init__(db, provider.handlers(), clock)
        self.provider = provider

    def call(  # type: ignore[override]
        self,
        op: str,
        request: dict[str, Any] | None = None,
        *,
        account: str = MGMT,
        principal: Principal | None = None,
    ) -> dict[str, Any]:
        return self.run_in(self.ctx(op, principal or root_of(account)), request)

    def rows(self, table: Any, **where: Any) -> list[Any]:
        def read(tx: Tx) -> list[Any]:
            q = table.select()
            for name, value in where.items():
                q = q.where(table.c[name] == value)
            return list(tx.execute(q))

        result: list[Any] = self.db.read(read)
        return result

    # -- shortcuts -------------------------------------------------------------------
    def organization(self, account: str = MGMT, **request: Any) -> dict[str, Any]:
        self.add_account_row(account)
        return self.call("CreateOrganization", request, account=account)["Organization"]

    def root_id(self, account: str = MGMT) -> str:
        return str(self.call("ListRoots", account=account)["Roots"][0]["Id"])

    def new_account(self, email: str, name: str = "member", account: str = MGMT) -> str:
        car = self.call("CreateAccount", {"Email": email, "AccountName": name}, account=account)
        status = self.call(
            "DescribeCreateAccountStatus",
            {"CreateAccountRequestId": car["CreateAccountStatus"]["Id"]},
            account=account,
        )["CreateAccountStatus"]
        assert status["State"] == "SUCCEEDED", status
        return str(status["AccountId"])

    def add_account_row(self, account: str) -> None:
        def unit(tx: Tx) -> None:
            if (
                tx.execute(
                    schema.accounts.select().where(schema.accounts.c.account_id == account)
                ).first()
                is None
            ):
                tx.execute(
                    schema.accounts.insert(),
                    {"account_id": account, "name": f"acct-{account}", "created_at": 0.0},
                )

        self.db.writer.run_sync(unit)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[OrgHarness]:
    with fresh_database(tmp_path) as db:
        clock = FixedClock()
        yield OrgHarness(db, OrganizationsProvider(clock, Authorizer()), clock)
