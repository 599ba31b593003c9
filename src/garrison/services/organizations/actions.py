"""What each Organizations operation asks IAM, after AWS's Service Authorization Reference.

Resource types: ``account``, ``organizationalunit``, ``policy``, ``root`` (the
ARNs of `domain`); operations with none are authorised on ``*``. Condition keys
beyond the global ones: ``organizations:PolicyType`` and the request-tag keys.
"""

from __future__ import annotations

from garrison.iam.actions import OperationAuth, table

_TAGS = ("aws:RequestTag/${TagKey}", "aws:TagKeys")
_TYPE = ("organizations:PolicyType",)
_TARGETS = ("account", "organizationalunit", "root")

ACTIONS: dict[str, OperationAuth] = table(
    "organizations",
    {
        "CreateOrganization": (),
        "DescribeOrganization": (),
        "DeleteOrganization": (),
        "CreateAccount": ("account", "|", *_TAGS),
        "DescribeCreateAccountStatus": (),
        "ListCreateAccountStatus": (),
        "DescribeAccount": ("account",),
        "ListAccounts": (),
        "ListAccountsForParent": ("organizationalunit", "root"),
        "ListRoots": (),
        "ListParents": ("account", "organizationalunit"),
        "ListChildren": ("organizationalunit", "root"),
        "CreateOrganizationalUnit": ("organizationalunit", "root", "|", *_TAGS),
        "DescribeOrganizationalUnit": ("organizationalunit",),
        "UpdateOrganizationalUnit": ("organizationalunit",),
        "DeleteOrganizationalUnit": ("organizationalunit",),
        "ListOrganizationalUnitsForParent": ("organizationalunit", "root"),
        "MoveAccount": ("account", "organizationalunit", "root"),
        "RemoveAccountFromOrganization": ("account",),
        "LeaveOrganization": (),
        "EnablePolicyType": ("root", "|", *_TYPE),
        "DisablePolicyType": ("root", "|", *_TYPE),
        "CreatePolicy": ("policy", "|", *_TAGS, *_TYPE),
        "DescribePolicy": ("policy", "|", *_TYPE),
        "UpdatePolicy": ("policy", "|", *_TYPE),
        "DeletePolicy": ("policy", "|", *_TYPE),
        "ListPolicies": ("|", *_TYPE),
        "ListPoliciesForTarget": (*_TARGETS, "|", *_TYPE),
        "ListTargetsForPolicy": ("policy", "|", *_TYPE),
        "AttachPolicy": ("policy", *_TARGETS, "|", *_TYPE),
        "DetachPolicy": ("policy", *_TARGETS, "|", *_TYPE),
        "TagResource": ("account", "organizationalunit", "policy", "root", "|", *_TAGS),
        "UntagResource": ("account", "organizationalunit", "policy", "root", "|", "aws:TagKeys"),
        "ListTagsForResource": ("account", "organizationalunit", "policy", "root"),
    },
)
