"""The AWS managed policies Garrison ships, as real rows under account ``aws``.

Seeded idempotently at start-up and after a dev reset: a policy already there
is left as it is (another node may have seeded it first). Their documents are
AWS's own where AWS's is short (AdministratorAccess, PowerUserAccess,
IAMFullAccess, IAMReadOnlyAccess) and an honest short form otherwise:
ReadOnlyAccess names the read actions of the services Garrison serves rather
than AWS's list of several hundred.
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from garrison.services.iam import policy_store
from garrison.services.iam.domain import AWS_ACCOUNT, ManagedPolicy, PolicyVersion
from garrison.storage.sql import IntegrityError
from garrison.storage.writer import Tx

# AWS's creation dates for these policies (what GetPolicy shows as CreateDate).
_CREATED = datetime(2015, 2, 6, 18, 39, 46, tzinfo=UTC)


def _doc(*statements: dict[str, object]) -> str:
    return orjson.dumps({"Version": "2012-10-17", "Statement": list(statements)}).decode()


# name -> (path, policy id, description, document)
AWS_MANAGED: dict[str, tuple[str, str, str, str]] = {
    "AdministratorAccess": (
        "/",
        "ANPAIWMBCKSKIEE64ZLYK",
        "Provides full access to AWS services and resources.",
        _doc({"Effect": "Allow", "Action": "*", "Resource": "*"}),
    ),
    "PowerUserAccess": (
        "/",
        "ANPAJYRXTHIB4FOVS3ZXS",
        "Provides full access to AWS services and resources, but does not allow management of "
        "Users and groups.",
        _doc(
            {
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "iam:CreateServiceLinkedRole",
                    "iam:DeleteServiceLinkedRole",
                    "iam:ListRoles",
                    "organizations:DescribeOrganization",
                    "account:ListRegions",
                    "account:GetAccountInformation",
                ],
                "Resource": "*",
            },
        ),
    ),
    "ReadOnlyAccess": (
        "/",
        "ANPAILL3HVNFSB6DCOWYQ",
        "Provides read-only access to AWS services and resources.",
        _doc(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:Get*",
                    "iam:List*",
                    "iam:Generate*",
                    "iam:Simulate*",
                    "kms:Describe*",
                    "kms:Get*",
                    "kms:List*",
                    "sts:GetCallerIdentity",
                    "organizations:Describe*",
                    "organizations:List*",
                    "cloudtrail:Describe*",
                    "cloudtrail:Get*",
                    "cloudtrail:List*",
                    "cloudtrail:LookupEvents",
                ],
                "Resource": "*",
            }
        ),
    ),
    "IAMFullAccess": (
        "/",
        "ANPAI7XKCFMBPM3QQRRVQ",
        "Provides full access to IAM via the AWS Management Console.",
        _doc(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:*",
                    "organizations:DescribeAccount",
                    "organizations:DescribeOrganization",
                    "organizations:DescribeOrganizationalUnit",
                    "organizations:DescribePolicy",
                    "organizations:ListChildren",
                    "organizations:ListParents",
                    "organizations:ListPoliciesForTarget",
                    "organizations:ListRoots",
                    "organizations:ListPolicies",
                    "organizations:ListTargetsForPolicy",
                ],
                "Resource": "*",
            }
        ),
    ),
    "IAMReadOnlyAccess": (
        "/",
        "ANPAJKSO7NDY4T57MWDSQ",
        "Provides read only access to IAM via the AWS Management Console.",
        _doc(
            {
                "Effect": "Allow",
                "Action": [
                    "iam:GenerateCredentialReport",
                    "iam:GenerateServiceLastAccessedDetails",
                    "iam:Get*",
                    "iam:List*",
                    "iam:SimulateCustomPolicy",
                    "iam:SimulatePrincipalPolicy",
                ],
                "Resource": "*",
            }
        ),
    ),
    "AWSKeyManagementServicePowerUser": (
        "/",
        "ANPAJNPP7PPPPMJRV2SA4",
        "Provides access to AWS Key Management Service (KMS).",
        _doc(
            {
                "Effect": "Allow",
                "Action": [
                    "kms:CreateAlias",
                    "kms:CreateKey",
                    "kms:DeleteAlias",
                    "kms:Describe*",
                    "kms:GenerateRandom",
                    "kms:Get*",
                    "kms:List*",
                    "kms:TagResource",
                    "kms:UntagResource",
                    "iam:ListGroups",
                    "iam:ListRoles",
                    "iam:ListUsers",
                ],
                "Resource": "*",
            }
        ),
    ),
}


def aws_managed_arn(name: str) -> str:
    return f"arn:aws:iam::{AWS_ACCOUNT}:policy/{name}"


def seed_aws_managed_policies(tx: Tx) -> int:
    """Insert the AWS managed policies that are missing; returns how many were added."""
    added = 0
    for name, (path, policy_id, description, document) in AWS_MANAGED.items():
        arn = aws_managed_arn(name) if path == "/" else f"arn:aws:iam::aws:policy{path}{name}"
        if policy_store.get_policy(tx, arn) is not None:
            continue
        policy = ManagedPolicy(
            policy_id, AWS_ACCOUNT, name, path, arn, description, "v1", 2, _CREATED, _CREATED
        )
        savepoint = tx.savepoint()
        try:
            policy_store.insert_policy(
                tx, policy, PolicyVersion(policy_id, "v1", document, _CREATED)
            )
            savepoint.commit()
            added += 1
        except IntegrityError:
            savepoint.rollback()  # another node seeded it in the meantime
    if added:
        tx.mark_changed()
    return added
