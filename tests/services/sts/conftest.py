"""An STS provider over a real SQLite store, driven handler by handler (no HTTP).

Roles are inserted straight into `iam_roles` (the IAM service owns creating
them); the authorizer is a stand-in that evaluates only the trust policy and
records what it was asked, so these tests pin STS's own decisions.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from garrison.api import Call
from garrison.clock import FixedClock
from garrison.context import Principal
from garrison.errors import AccessDeniedException
from garrison.iam.authorizer import Authorizer, Context, denied_message
from garrison.iam.credentials import CredentialStore
from garrison.iam.policy import AuthzRequest, Decision, Policy
from garrison.services.sts.provider import StsProvider
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import insert
from tests.inprocess import ACCOUNT, ROOT, HandlerHarness, fresh_database

__all__ = ["ACCOUNT", "ROOT", "StsHarness", "sts", "trust"]


def trust(*principals: str, condition: dict[str, Any] | None = None) -> str:
    import json

    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"AWS": list(principals)},
        "Action": ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"],
    }
    if condition:
        statement["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class TrustOnlyAuthorizer(Authorizer):
    """Allows exactly what the resource policy allows; records every question."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, dict[str, list[str]]]] = []

    def authorize(  # type: ignore[override]
        self,
        call: Call,
        action: str,
        resource: str,
        context: Context | None = None,
        **options: Any,  # only resource_policy matters here
    ) -> None:
        resource_policy: Policy | None = options.get("resource_policy")
        ctx = {k: list(v) for k, v in (context or {}).items()}
        self.asked.append((action, resource, ctx))
        if resource_policy is None:
            if call.ctx.principal.is_root:
                return
        else:
            req = AuthzRequest.for_principal(call.ctx.principal, action, resource, ctx)
            if resource_policy.evaluate(req).decision is Decision.ALLOW:
                return
        raise AccessDeniedException(
            denied_message(call.ctx.principal.arn, action, resource, "(test authorizer)")
        )

    def invalidate(self) -> None:
        pass


class StsHarness(HandlerHarness):
    service = "sts"

    def __init__(self, db: Database, clock: FixedClock) -> None:
        self.authorizer = TrustOnlyAuthorizer()
        self.provider = StsProvider(clock, self.authorizer)
        super().__init__(db, self.provider.handlers(), clock)
        self.credentials = CredentialStore(db.barrier, db.read)
        self.roles = 0

    def add_role(
        self,
        name: str,
        trust_policy: str | None = None,
        *,
        max_session_duration: int = 3600,
        path: str = "/",
        account: str = ACCOUNT,
    ) -> str:
        self.roles += 1
        role_id = f"AROA{self.roles:017d}"
        arn = f"arn:aws:iam::{account}:role{path}{name}"
        row = {
            "role_id": role_id,
            "account_id": account,
            "role_name": name,
            "name_lower": name.lower(),
            "path": path,
            "arn": arn,
            "trust_policy": trust_policy or trust(f"arn:aws:iam::{ACCOUNT}:root"),
            "description": "",
            "max_session_duration": max_session_duration,
            "permissions_boundary": None,
            "created_at": self.clock.time(),
            "last_used_at": None,
            "last_used_region": None,
        }
        self.db.writer.run_sync(lambda tx: tx.execute(insert(schema.iam_roles), row))
        return arn

    def assume(self, role_arn: str, principal: Principal = ROOT, **members: Any) -> dict[str, Any]:
        request = {"RoleArn": role_arn, "RoleSessionName": "s1", **members}
        return self.call("AssumeRole", request, principal)

    def principal_of(self, response: dict[str, Any]) -> Principal:
        """The principal a request signed with AssumeRole's credentials would have."""
        key = self.credentials.get(response["Credentials"]["AccessKeyId"])
        assert key is not None
        return key.principal


@pytest.fixture
def sts(tmp_path: Path) -> Iterator[StsHarness]:
    with fresh_database(tmp_path) as db:
        yield StsHarness(db, FixedClock())
