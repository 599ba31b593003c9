"""GetAccountSummary: the account's IAM entity counts beside IAM's quotas.

Counts of things Garrison does not have (MFA devices, server certificates,
instance profiles, identity providers, signing certificates) are zero; the
quotas are the ones `limits` enforces, or AWS's defaults where nothing here
enforces one.
"""

from __future__ import annotations

from garrison.api import Call
from garrison.services.iam import policy_store, store
from garrison.services.iam.access import IamAccess
from garrison.services.iam.domain import Kind
from garrison.services.iam.limits import (
    ACCESS_KEYS_PER_USER,
    ATTACHED_POLICIES,
    GROUPS_PER_USER,
    INLINE_POLICY_SIZE,
    MANAGED_POLICY_SIZE,
    POLICY_VERSIONS,
    TRUST_POLICY_SIZE,
)


def account_summary(call: Call, access: IamAccess) -> dict[str, int]:
    access.check(call, "GetAccountSummary", "*")
    account = call.ctx.account_id
    tx = call.tx
    root_keys = store.access_keys_of(tx, account, None)
    return {
        "Users": store.count(tx, "users", account),
        "UsersQuota": 5000,
        "Groups": store.count(tx, "groups", account),
        "GroupsQuota": 300,
        "Roles": store.count(tx, "roles", account),
        "RolesQuota": 1000,
        "Policies": policy_store.count_policies(tx, account),
        "PoliciesQuota": 1500,
        "PolicyVersionsInUse": sum(u.attachments for u in policy_store.usage(tx, account).values()),
        "PolicyVersionsInUseQuota": 10000,
        "VersionsPerPolicyQuota": POLICY_VERSIONS,
        "PolicySizeQuota": MANAGED_POLICY_SIZE,
        "UserPolicySizeQuota": INLINE_POLICY_SIZE[Kind.USER],
        "GroupPolicySizeQuota": INLINE_POLICY_SIZE[Kind.GROUP],
        "RolePolicySizeQuota": INLINE_POLICY_SIZE[Kind.ROLE],
        "AssumeRolePolicySizeQuota": TRUST_POLICY_SIZE,
        "AttachedPoliciesPerUserQuota": ATTACHED_POLICIES[Kind.USER],
        "AttachedPoliciesPerGroupQuota": ATTACHED_POLICIES[Kind.GROUP],
        "AttachedPoliciesPerRoleQuota": ATTACHED_POLICIES[Kind.ROLE],
        "GroupsPerUserQuota": GROUPS_PER_USER,
        "AccessKeysPerUserQuota": ACCESS_KEYS_PER_USER,
        "AccountAccessKeysPresent": int(bool(root_keys)),
        "AccountMFAEnabled": 0,
        "AccountPasswordPresent": 0,
        "AccountSigningCertificatesPresent": 0,
        "MFADevices": 0,
        "MFADevicesInUse": 0,
        "ServerCertificates": 0,
        "ServerCertificatesQuota": 20,
        "SigningCertificatesPerUserQuota": 2,
        "InstanceProfiles": 0,
        "InstanceProfilesQuota": 1000,
        "Providers": 0,
        "GlobalEndpointTokenVersion": 1,
    }
