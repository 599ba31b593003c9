"""STS's authorisation table (AWS's Service Authorization Reference for ``sts:``).

GetCallerIdentity has no action: AWS never authorises it ("no permissions are
required ... an explicit deny does not stop it"). Operations Garrison does not
implement yet are listed too, so the table documents the whole service.
"""

from __future__ import annotations

from garrison.iam.actions import OperationAuth, table

_ASSUME_ROLE_KEYS = (
    "aws:RequestTag/${TagKey}",
    "aws:TagKeys",
    "sts:ExternalId",
    "sts:RoleSessionName",
    "sts:SourceIdentity",
    "sts:TransitiveTagKeys",
)

ACTIONS: dict[str, OperationAuth] = {
    **table(
        "sts",
        {
            "AssumeRole": ("role", "|", *_ASSUME_ROLE_KEYS),
            "AssumeRoleWithSAML": ("role", "|", "saml:aud", "sts:SourceIdentity"),
            "AssumeRoleWithWebIdentity": ("role", "|", "sts:RoleSessionName"),
            "AssumeRoot": ("root",),
            "DecodeAuthorizationMessage": (),
            "GetAccessKeyInfo": (),
            "GetDelegatedAccessToken": (),
            "GetFederationToken": ("user", "|", "aws:RequestTag/${TagKey}", "aws:TagKeys"),
            "GetSessionToken": (),
            "GetWebIdentityToken": (),
        },
    ),
    "GetCallerIdentity": OperationAuth(""),
}

# Actions asked besides an operation's own: passing session tags needs
# sts:TagSession, setting a source identity sts:SetSourceIdentity, on the role.
TAG_SESSION = "sts:TagSession"
SET_SOURCE_IDENTITY = "sts:SetSourceIdentity"
