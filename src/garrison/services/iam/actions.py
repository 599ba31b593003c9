"""IAM's authorisation table: the action, resource types and condition keys of each operation.

After AWS's Service Authorization Reference for IAM. Every handler authorises
with the row of its operation (`garrison.iam.actions.OperationAuth`); the
resource is the ARN of the user, group, role or policy acted on, ``*`` for the
listings that have no resource type.
"""

from __future__ import annotations

from garrison.iam.actions import ActionTable, table

_TAGS = ("aws:RequestTag/${TagKey}", "aws:TagKeys")
_BOUNDARY = "iam:PermissionsBoundary"
_POLICY_ARN = "iam:PolicyARN"
_RES_TAG = "iam:ResourceTag/${TagKey}"

ACTIONS: ActionTable = table(
    "iam",
    {
        "CreateUser": ("user", "|", _BOUNDARY, *_TAGS),
        "GetUser": ("user", "|", _RES_TAG),
        "UpdateUser": ("user", "|", _RES_TAG),
        "DeleteUser": ("user", "|", _RES_TAG),
        "ListUsers": (),
        "CreateGroup": ("group",),
        "GetGroup": ("group",),
        "UpdateGroup": ("group",),
        "DeleteGroup": ("group",),
        "ListGroups": (),
        "AddUserToGroup": ("group",),
        "RemoveUserFromGroup": ("group",),
        "ListGroupsForUser": ("user",),
        "CreateRole": ("role", "|", _BOUNDARY, *_TAGS),
        "GetRole": ("role", "|", _RES_TAG),
        "UpdateRole": ("role", "|", _RES_TAG),
        "UpdateRoleDescription": ("role", "|", _RES_TAG),
        "UpdateAssumeRolePolicy": ("role", "|", _RES_TAG),
        "DeleteRole": ("role", "|", _BOUNDARY, _RES_TAG),
        "ListRoles": (),
        "CreatePolicy": ("policy", "|", *_TAGS),
        "GetPolicy": ("policy", "|", _RES_TAG),
        "GetPolicyVersion": ("policy", "|", _RES_TAG),
        "CreatePolicyVersion": ("policy", "|", _RES_TAG),
        "SetDefaultPolicyVersion": ("policy", "|", _RES_TAG),
        "DeletePolicyVersion": ("policy", "|", _RES_TAG),
        "DeletePolicy": ("policy", "|", _RES_TAG),
        "ListPolicies": (),
        "ListPolicyVersions": ("policy", "|", _RES_TAG),
        "ListEntitiesForPolicy": ("policy", "|", _RES_TAG),
        "AttachUserPolicy": ("user", "|", _POLICY_ARN, _BOUNDARY, _RES_TAG),
        "AttachGroupPolicy": ("group", "|", _POLICY_ARN),
        "AttachRolePolicy": ("role", "|", _POLICY_ARN, _BOUNDARY, _RES_TAG),
        "DetachUserPolicy": ("user", "|", _POLICY_ARN, _BOUNDARY, _RES_TAG),
        "DetachGroupPolicy": ("group", "|", _POLICY_ARN),
        "DetachRolePolicy": ("role", "|", _POLICY_ARN, _BOUNDARY, _RES_TAG),
        "ListAttachedUserPolicies": ("user", "|", _RES_TAG),
        "ListAttachedGroupPolicies": ("group",),
        "ListAttachedRolePolicies": ("role", "|", _RES_TAG),
        "PutUserPolicy": ("user", "|", _BOUNDARY, _RES_TAG),
        "PutGroupPolicy": ("group",),
        "PutRolePolicy": ("role", "|", _BOUNDARY, _RES_TAG),
        "GetUserPolicy": ("user", "|", _RES_TAG),
        "GetGroupPolicy": ("group",),
        "GetRolePolicy": ("role", "|", _RES_TAG),
        "DeleteUserPolicy": ("user", "|", _BOUNDARY, _RES_TAG),
        "DeleteGroupPolicy": ("group",),
        "DeleteRolePolicy": ("role", "|", _BOUNDARY, _RES_TAG),
        "ListUserPolicies": ("user", "|", _RES_TAG),
        "ListGroupPolicies": ("group",),
        "ListRolePolicies": ("role", "|", _RES_TAG),
        "PutUserPermissionsBoundary": ("user", "|", _BOUNDARY, _RES_TAG),
        "PutRolePermissionsBoundary": ("role", "|", _BOUNDARY, _RES_TAG),
        "DeleteUserPermissionsBoundary": ("user", "|", _BOUNDARY, _RES_TAG),
        "DeleteRolePermissionsBoundary": ("role", "|", _BOUNDARY, _RES_TAG),
        "CreateAccessKey": ("user", "|", _RES_TAG),
        "ListAccessKeys": ("user", "|", _RES_TAG),
        "UpdateAccessKey": ("user", "|", _RES_TAG),
        "DeleteAccessKey": ("user", "|", _RES_TAG),
        "GetAccessKeyLastUsed": ("user", "|", _RES_TAG),
        "TagUser": ("user", "|", *_TAGS, _RES_TAG),
        "UntagUser": ("user", "|", "aws:TagKeys", _RES_TAG),
        "ListUserTags": ("user", "|", _RES_TAG),
        "TagRole": ("role", "|", *_TAGS, _RES_TAG),
        "UntagRole": ("role", "|", "aws:TagKeys", _RES_TAG),
        "ListRoleTags": ("role", "|", _RES_TAG),
        "TagPolicy": ("policy", "|", *_TAGS, _RES_TAG),
        "UntagPolicy": ("policy", "|", "aws:TagKeys", _RES_TAG),
        "ListPolicyTags": ("policy", "|", _RES_TAG),
        "GetAccountSummary": (),
        "SimulatePrincipalPolicy": ("user", "group", "role"),
        "SimulateCustomPolicy": (),
    },
)
