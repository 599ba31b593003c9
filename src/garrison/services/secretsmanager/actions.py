"""Secrets Manager's authorisation table, after AWS's Service Authorization Reference
("Actions, resources, and condition keys for AWS Secrets Manager").

Every action but ListSecrets, GetRandomPassword and BatchGetSecretValue acts on
the ``Secret`` resource,
``arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>``, whose
condition keys are ``aws:ResourceTag/${TagKey}`` and
``secretsmanager:ResourceTag/${TagKey}`` (the secret's tags) and
``secretsmanager:SecretId`` (the ARN). BatchGetSecretValue also asks
``secretsmanager:GetSecretValue`` for every secret it returns, as AWS does.
Reading a value is authorised by KMS too: ``kms:Decrypt`` on the secret's key,
as the caller, with ``kms:ViaService`` ``secretsmanager.<region>.amazonaws.com``.
"""

from __future__ import annotations

from garrison.iam.actions import OperationAuth, table

_TAG = ("aws:ResourceTag/${TagKey}", "secretsmanager:ResourceTag/${TagKey}")
_SECRET = ("secret", "|", *_TAG, "secretsmanager:SecretId")
_REQUEST_TAGS = ("aws:RequestTag/${TagKey}", "aws:TagKeys")

ACTIONS: dict[str, OperationAuth] = table(
    "secretsmanager",
    {
        "CreateSecret": (
            "secret",
            "|",
            *_TAG,
            *_REQUEST_TAGS,
            "secretsmanager:Name",
            "secretsmanager:Description",
            "secretsmanager:KmsKeyId",
            "secretsmanager:AddReplicaRegions",
            "secretsmanager:ForceOverwriteReplicaSecret",
        ),
        "GetSecretValue": (*_SECRET, "secretsmanager:VersionId", "secretsmanager:VersionStage"),
        "BatchGetSecretValue": (),
        "PutSecretValue": _SECRET,
        "UpdateSecret": (*_SECRET, "secretsmanager:Description", "secretsmanager:KmsKeyId"),
        "UpdateSecretVersionStage": (*_SECRET, "secretsmanager:VersionStage"),
        "ListSecretVersionIds": _SECRET,
        "DescribeSecret": _SECRET,
        "ListSecrets": (),
        "DeleteSecret": (
            *_SECRET,
            "secretsmanager:RecoveryWindowInDays",
            "secretsmanager:ForceDeleteWithoutRecovery",
        ),
        "RestoreSecret": _SECRET,
        "GetRandomPassword": (),
        "TagResource": (*_SECRET, *_REQUEST_TAGS),
        "UntagResource": (*_SECRET, "aws:TagKeys"),
        "PutResourcePolicy": (*_SECRET, "secretsmanager:BlockPublicPolicy"),
        "GetResourcePolicy": _SECRET,
        "DeleteResourcePolicy": _SECRET,
        "ValidateResourcePolicy": _SECRET,
        # built next (issue 6: rotation / replication); listed so the table is whole
        "RotateSecret": (
            *_SECRET,
            "secretsmanager:RotationLambdaARN",
            "secretsmanager:ModifyRotationRules",
            "secretsmanager:RotateImmediately",
        ),
        "CancelRotateSecret": _SECRET,
        "ReplicateSecretToRegions": (
            *_SECRET,
            "secretsmanager:AddReplicaRegions",
            "secretsmanager:ForceOverwriteReplicaSecret",
        ),
        "RemoveRegionsFromReplication": _SECRET,
        "StopReplicationToReplica": _SECRET,
    },
)
