"""Key policy documents for tests: the account root allowed, plus whatever denies a test adds."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import ACCOUNT_ID

ROOT = f"arn:aws:iam::{ACCOUNT_ID}:root"

ALLOW_ROOT: dict[str, Any] = {
    "Sid": "Root",
    "Effect": "Allow",
    "Principal": {"AWS": ROOT},
    "Action": "kms:*",
    "Resource": "*",
}


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def deny(action: str | list[str], principal: Any = None, **condition: Any) -> dict[str, Any]:
    """A Deny statement for `principal` (the root by default), with an optional Condition."""
    statement: dict[str, Any] = {
        "Effect": "Deny",
        "Principal": principal if principal is not None else {"AWS": ROOT},
        "Action": action,
        "Resource": "*",
    }
    if condition:
        statement["Condition"] = condition
    return statement
