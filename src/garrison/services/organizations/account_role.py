"""What CreateAccount makes outside the org_* tables: the account and its access role.

A new member account gets a row in `accounts` and no root credentials (as in AWS,
where the new account's root has no password until someone resets it); it is
reached by assuming the role CreateAccount puts in it (RoleName, by default
OrganizationAccountAccessRole). That role trusts the management account's root,
so any principal of the management account that IAM allows sts:AssumeRole on
the role's ARN may assume it, and it has AdministratorAccess attached, as AWS
sets it up.
"""

from __future__ import annotations

import secrets
import string

import orjson

from garrison.iam.arn import root_arn
from garrison.storage import schema
from garrison.storage.sql import insert
from garrison.storage.writer import Tx

ADMINISTRATOR_ACCESS_ARN = "arn:aws:iam::aws:policy/AdministratorAccess"
ROLE_MAX_SESSION_DURATION = 3600
_ID_ALPHABET = string.ascii_uppercase + string.digits


def new_role_id() -> str:
    """``AROA`` + 17 characters, IAM's unique-id format for roles."""
    return "AROA" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(17))


def trust_policy(management_account_id: str) -> str:
    """The role's trust policy: the management account (through its IAM) may assume it."""
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": root_arn(management_account_id)},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    return orjson.dumps(document).decode()


def create_account_record(tx: Tx, account_id: str, name: str, now: float) -> None:
    tx.execute(insert(schema.accounts), {"account_id": account_id, "name": name, "created_at": now})


def create_access_role(
    tx: Tx, account_id: str, role_name: str, management_account_id: str, now: float
) -> str:
    """Create the cross-account access role in the new account; return its ARN."""
    role_id = new_role_id()
    arn = f"arn:aws:iam::{account_id}:role/{role_name}"
    tx.execute(
        insert(schema.iam_roles),
        {
            "role_id": role_id,
            "account_id": account_id,
            "role_name": role_name,
            "name_lower": role_name.lower(),
            "path": "/",
            "arn": arn,
            "trust_policy": trust_policy(management_account_id),
            "description": "",
            "max_session_duration": ROLE_MAX_SESSION_DURATION,
            "permissions_boundary": None,
            "created_at": now,
            "last_used_at": None,
            "last_used_region": None,
        },
    )
    tx.execute(
        insert(schema.iam_attachments),
        {
            "principal_kind": "role",
            "principal_id": role_id,
            "policy_arn": ADMINISTRATOR_ACCESS_ARN,
            "attached_at": now,
        },
    )
    return arn
