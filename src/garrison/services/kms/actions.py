"""KMS's authorisation table: the IAM action, resource types and condition keys of
each operation, after AWS's Service Authorization Reference ("Actions, resources,
and condition keys for AWS Key Management Service").

The use cases authorise with ``ACTIONS[operation].action``; docs/authorization.md
lists the condition keys from this table. `KEY_CONDITION_KEYS` are the keys of
the ``key`` resource type, present on every request that acts on a key.
`CROSS_ACCOUNT` are the operations AWS lets a principal of another account
perform on a key (by key ARN or alias ARN), given the key policy allows it.
"""

from __future__ import annotations

from garrison.iam.actions import OperationAuth, table

KEY_CONDITION_KEYS = (
    "aws:ResourceTag/${TagKey}",
    "kms:KeyOrigin",
    "kms:KeySpec",
    "kms:KeyUsage",
    "kms:MultiRegion",
    "kms:MultiRegionKeyType",
    "kms:ResourceAliases",
)
_CALLER = ("kms:CallerAccount", "kms:ViaService")
_CRYPTO = (
    *_CALLER,
    "kms:EncryptionAlgorithm",
    "kms:EncryptionContext:${EncryptionContextKey}",
    "kms:EncryptionContextKeys",
    "kms:RequestAlias",
)
_TAGS = ("aws:RequestTag/${TagKey}", "aws:TagKeys")

ACTIONS: dict[str, OperationAuth] = table(
    "kms",
    {
        "CancelKeyDeletion": ("key", "|", *_CALLER),
        "CreateAlias": ("alias", "key", "|", *_CALLER),
        "CreateKey": (
            "|", *_TAGS, "kms:BypassPolicyLockoutSafetyCheck", *_CALLER, "kms:KeyOrigin",
            "kms:KeySpec", "kms:KeyUsage", "kms:MultiRegion",
        ),
        "Decrypt": ("key", "|", *_CRYPTO),
        "DeleteAlias": ("alias", "key", "|", *_CALLER),
        "DescribeKey": ("key", "|", *_CALLER, "kms:RequestAlias"),
        "DisableKey": ("key", "|", *_CALLER),
        "DisableKeyRotation": ("key", "|", *_CALLER),
        "EnableKey": ("key", "|", *_CALLER),
        "EnableKeyRotation": ("key", "|", *_CALLER, "kms:RotationPeriodInDays"),
        "Encrypt": ("key", "|", *_CRYPTO),
        "GenerateDataKey": ("key", "|", *_CRYPTO),
        "GenerateDataKeyWithoutPlaintext": ("key", "|", *_CRYPTO),
        "GenerateRandom": (),
        "GetKeyLastUsage": ("key", "|", *_CALLER),
        "GetKeyPolicy": ("key", "|", *_CALLER),
        "GetKeyRotationStatus": ("key", "|", *_CALLER),
        "ListAliases": (),
        "ListKeyPolicies": ("key", "|", *_CALLER),
        "ListKeyRotations": ("key", "|", *_CALLER),
        "ListKeys": (),
        "ListResourceTags": ("key", "|", *_CALLER),
        "PutKeyPolicy": ("key", "|", "kms:BypassPolicyLockoutSafetyCheck", *_CALLER),
        "ReEncryptFrom": (
            "key", "|", *_CRYPTO, "kms:ReEncryptOnSameKey",
        ),
        "ReEncryptTo": (
            "key", "|", *_CRYPTO, "kms:ReEncryptOnSameKey",
        ),
        "RotateKeyOnDemand": ("key", "|", *_CALLER),
        "ScheduleKeyDeletion": (
            "key", "|", *_CALLER, "kms:ScheduleKeyDeletionPendingWindowInDays",
        ),
        "TagResource": ("key", "|", *_TAGS, *_CALLER),
        "UntagResource": ("key", "|", "aws:TagKeys", *_CALLER),
        "UpdateAlias": ("alias", "key", "|", *_CALLER),
        "UpdateKeyDescription": ("key", "|", *_CALLER),
        # asymmetric and HMAC keys
        "DeriveSharedSecret": ("key", "|", *_CALLER, "kms:KeyAgreementAlgorithm",
                               "kms:RequestAlias"),
        "GenerateDataKeyPair": ("key", "|", *_CRYPTO, "kms:DataKeyPairSpec"),
        "GenerateDataKeyPairWithoutPlaintext": ("key", "|", *_CRYPTO, "kms:DataKeyPairSpec"),
        "GenerateMac": ("key", "|", *_CALLER, "kms:MacAlgorithm", "kms:RequestAlias"),
        "GetPublicKey": ("key", "|", *_CALLER, "kms:RequestAlias"),
        "Sign": ("key", "|", *_CALLER, "kms:MessageType", "kms:RequestAlias",
                 "kms:SigningAlgorithm"),
        "Verify": ("key", "|", *_CALLER, "kms:MessageType", "kms:RequestAlias",
                   "kms:SigningAlgorithm"),
        "VerifyMac": ("key", "|", *_CALLER, "kms:MacAlgorithm", "kms:RequestAlias"),
        # grants
        "CreateGrant": ("key", "|", *_CALLER, "kms:EncryptionContext:${EncryptionContextKey}",
                        "kms:EncryptionContextKeys", "kms:GrantConstraintType",
                        "kms:GranteePrincipal", "kms:GrantIsForAWSResource",
                        "kms:GrantOperations", "kms:RetiringPrincipal"),
        "ListGrants": ("key", "|", *_CALLER, "kms:GrantIsForAWSResource"),
        "ListRetirableGrants": (),
        "RetireGrant": ("key", "|", *_CALLER),
        "RevokeGrant": ("key", "|", *_CALLER, "kms:GrantIsForAWSResource"),
        # imported key material (importing.py)
        "DeleteImportedKeyMaterial": ("key", "|", *_CALLER),
        "GetParametersForImport": ("key", "|", *_CALLER, "kms:WrappingAlgorithm",
                                   "kms:WrappingKeySpec"),
        "ImportKeyMaterial": ("key", "|", *_CALLER, "kms:ExpirationModel", "kms:ValidTo"),
        # multi-Region keys (multiregion.py)
        "ReplicateKey": ("key", "|", *_CALLER, "kms:BypassPolicyLockoutSafetyCheck",
                         "kms:ReplicaRegion"),
        "UpdatePrimaryRegion": ("key", "|", *_CALLER, "kms:PrimaryRegion"),
    },
)  # fmt: skip

# AWS: "cross-account use" is allowed for these operations only (Decrypt without a
# KeyId finds the key in the ciphertext, wherever it lives).
CROSS_ACCOUNT = frozenset(
    {
        "Decrypt", "DescribeKey", "Encrypt", "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext", "ReEncrypt",
        # asymmetric and HMAC keys (AWS's cross-account column)
        "DeriveSharedSecret", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext",
        "GenerateMac", "GetPublicKey", "Sign", "Verify", "VerifyMac",
        # grants
        "CreateGrant", "ListGrants", "RetireGrant", "RevokeGrant",
    }
)  # fmt: skip
