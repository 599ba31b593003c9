"""IAM's wire shapes, built from domain values (the only place they are).

Policy documents leave URL-encoded, as AWS sends them (botocore's
``json_decode_policies`` turns them back into dicts for boto3 users).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from garrison.services.iam.domain import (
    AccessKeyInfo,
    Group,
    ManagedPolicy,
    PolicyVersion,
    Principal,
    Role,
    Tag,
    User,
)
from garrison.services.iam.policies import PolicyView

Shape = dict[str, Any]


def encoded(document: str) -> str:
    return quote(document, safe="")


def tags(values: list[Tag] | tuple[Tag, ...]) -> list[Shape]:
    return [{"Key": t.key, "Value": t.value} for t in values]


def _boundary(arn: str | None) -> Shape | None:
    if arn is None:
        return None
    return {"PermissionsBoundaryType": "PermissionsBoundaryPolicy", "PermissionsBoundaryArn": arn}


def user(value: User, tag_list: list[Tag] | None = None) -> Shape:
    out: Shape = {
        "Path": value.path,
        "UserName": value.name,
        "UserId": value.user_id,
        "Arn": value.arn,
        "CreateDate": value.created_at,
    }
    boundary = _boundary(value.permissions_boundary)
    if boundary is not None:
        out["PermissionsBoundary"] = boundary
    if tag_list:
        out["Tags"] = tags(tag_list)
    return out


def group(value: Group) -> Shape:
    return {
        "Path": value.path,
        "GroupName": value.name,
        "GroupId": value.group_id,
        "Arn": value.arn,
        "CreateDate": value.created_at,
    }


def role(value: Role, tag_list: list[Tag] | None = None, *, detail: bool = False) -> Shape:
    """A Role; `detail` (GetRole, CreateRole) adds boundary, tags and last use."""
    out: Shape = {
        "Path": value.path,
        "RoleName": value.name,
        "RoleId": value.role_id,
        "Arn": value.arn,
        "CreateDate": value.created_at,
        "AssumeRolePolicyDocument": encoded(value.trust_policy),
        "MaxSessionDuration": value.max_session_duration,
    }
    if value.description:
        out["Description"] = value.description
    if detail:
        boundary = _boundary(value.permissions_boundary)
        if boundary is not None:
            out["PermissionsBoundary"] = boundary
        if tag_list:
            out["Tags"] = tags(tag_list)
        last: Shape = {}
        if value.last_used_at is not None:
            last = {"LastUsedDate": value.last_used_at, "Region": value.last_used_region}
        out["RoleLastUsed"] = last
    return out


def policy(view: PolicyView, *, detail: bool = False) -> Shape:
    p: ManagedPolicy = view.policy
    out: Shape = {
        "PolicyName": p.name,
        "PolicyId": p.policy_id,
        "Arn": p.arn,
        "Path": p.path,
        "DefaultVersionId": p.default_version_id,
        "AttachmentCount": view.usage.attachments,
        "PermissionsBoundaryUsageCount": view.usage.boundaries,
        "IsAttachable": True,
        "CreateDate": p.created_at,
        "UpdateDate": p.updated_at,
    }
    if detail and p.description:
        out["Description"] = p.description
    if view.tags:
        out["Tags"] = tags(view.tags)
    return out


def version(p: ManagedPolicy, v: PolicyVersion, *, document: bool) -> Shape:
    out: Shape = {
        "VersionId": v.version_id,
        "IsDefaultVersion": v.version_id == p.default_version_id,
        "CreateDate": v.created_at,
    }
    if document:
        out["Document"] = encoded(v.document)
    return out


def attached(p: ManagedPolicy) -> Shape:
    return {"PolicyName": p.name, "PolicyArn": p.arn}


def access_key(key: AccessKeyInfo) -> Shape:
    out: Shape = {
        "AccessKeyId": key.access_key_id,
        "Status": key.status.value,
        "CreateDate": key.created_at,
    }
    if key.user_name:
        out["UserName"] = key.user_name
    return out


def last_used(key: AccessKeyInfo) -> Shape:
    if key.last_used_at is None:
        return {"ServiceName": "N/A", "Region": "N/A"}
    return {
        "LastUsedDate": key.last_used_at,
        "ServiceName": key.last_used_service or "N/A",
        "Region": key.last_used_region or "N/A",
    }


def entity(p: Principal) -> Shape:
    kind = p.kind.title
    return {f"{kind}Name": p.name, f"{kind}Id": p.id}
