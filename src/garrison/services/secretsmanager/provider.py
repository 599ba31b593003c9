"""The Secrets Manager provider: its wire shapes in, use cases called, wire shapes out.

Served: CreateSecret, GetSecretValue, BatchGetSecretValue, PutSecretValue,
UpdateSecret, UpdateSecretVersionStage, ListSecretVersionIds, DescribeSecret,
ListSecrets, DeleteSecret, RestoreSecret, GetRandomPassword, TagResource,
UntagResource, Put/Get/Delete/ValidateResourcePolicy, RotateSecret and
CancelRotateSecret (rotation.py, rotation_wire.py), ReplicateSecretToRegions,
RemoveRegionsFromReplication and StopReplicationToReplica (replication.py,
replication_provider.py): every operation of the model.

Every request member of a served operation is handled (`HANDLED`); a member not
listed (Type, RotationToken: later parts) is refused with its name, never
dropped. SecretString, SecretBinary and RandomPassword are `sensitive` in the
model, so the protocol's redaction keeps values out of the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from garrison.api import Call, Handler, Request, Response
from garrison.clock import Clock
from garrison.iam.authorizer import Authorizer
from garrison.services.common.handlers import guarded_handlers
from garrison.services.kms.service import KmsService
from garrison.services.secretsmanager import replication_provider as replication
from garrison.services.secretsmanager import rotation_wire
from garrison.services.secretsmanager.actions import ACTIONS
from garrison.services.secretsmanager.domain import Opened, to_datetime, value_of
from garrison.services.secretsmanager.passwords import random_password
from garrison.services.secretsmanager.rotation import RotationApi
from garrison.services.secretsmanager.rotation_functions import FunctionRegistry, NoFunctions
from garrison.services.secretsmanager.service import SecretsManager
from garrison.services.secretsmanager.store import Secret

HANDLED: dict[str, frozenset[str]] = (
    {
        name: frozenset(members.split())
        for name, members in {
            "CreateSecret": "Name ClientRequestToken Description KmsKeyId SecretBinary "
            "SecretString Tags AddReplicaRegions ForceOverwriteReplicaSecret",
            "GetSecretValue": "SecretId VersionId VersionStage",
            "BatchGetSecretValue": "SecretIdList Filters MaxResults NextToken",
            "PutSecretValue": "SecretId ClientRequestToken SecretBinary SecretString VersionStages",
            "UpdateSecret": "SecretId ClientRequestToken Description KmsKeyId SecretBinary "
            "SecretString",
            "UpdateSecretVersionStage": "SecretId VersionStage RemoveFromVersionId MoveToVersionId",
            "ListSecretVersionIds": "SecretId MaxResults NextToken IncludeDeprecated",
            "DescribeSecret": "SecretId",
            "ListSecrets": "IncludePlannedDeletion MaxResults NextToken Filters SortOrder SortBy",
            "DeleteSecret": "SecretId RecoveryWindowInDays ForceDeleteWithoutRecovery",
            "RestoreSecret": "SecretId",
            "GetRandomPassword": "PasswordLength ExcludeCharacters ExcludeNumbers "
            "ExcludePunctuation ExcludeUppercase ExcludeLowercase IncludeSpace "
            "RequireEachIncludedType",
            "TagResource": "SecretId Tags",
            "UntagResource": "SecretId TagKeys",
            "PutResourcePolicy": "SecretId ResourcePolicy BlockPublicPolicy",
            "GetResourcePolicy": "SecretId",
            "DeleteResourcePolicy": "SecretId",
            "ValidateResourcePolicy": "SecretId ResourcePolicy",
        }.items()
    }
    | replication.HANDLED
    | rotation_wire.HANDLED
)

READ_ONLY = frozenset(
    {"GetSecretValue", "BatchGetSecretValue", "ListSecretVersionIds", "DescribeSecret"}
    | {"ListSecrets", "GetRandomPassword", "GetResourcePolicy", "ValidateResourcePolicy"}
)


class SecretsManagerProvider:
    service = "secretsmanager"
    event_source = "secretsmanager.amazonaws.com"

    def __init__(
        self,
        clock: Clock,
        authorizer: Authorizer,
        kms: KmsService,
        functions: FunctionRegistry | None = None,
    ) -> None:
        self.clock = clock
        self.authorizer = authorizer
        self.secrets = SecretsManager(authorizer, kms)
        self.rotation = RotationApi(self.secrets, functions or NoFunctions())
        self._handlers: dict[str, Callable[[Call, Request], Response | None]] = {
            "CreateSecret": self.create_secret,
            "GetSecretValue": self.get_secret_value,
            "BatchGetSecretValue": self.batch_get_secret_value,
            "PutSecretValue": self.put_secret_value,
            "UpdateSecret": self.update_secret,
            "UpdateSecretVersionStage": self.update_secret_version_stage,
            "ListSecretVersionIds": self.list_secret_version_ids,
            "DescribeSecret": self.describe_secret,
            "ListSecrets": self.list_secrets,
            "DeleteSecret": self.delete_secret,
            "RestoreSecret": self.restore_secret,
            "GetRandomPassword": self.get_random_password,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "PutResourcePolicy": self.put_resource_policy,
            "GetResourcePolicy": self.get_resource_policy,
            "DeleteResourcePolicy": self.delete_resource_policy,
            "ValidateResourcePolicy": self.validate_resource_policy,
            "ReplicateSecretToRegions": lambda c, r: replication.replicate_secret_to_regions(
                self.secrets, c, r
            ),
            "RemoveRegionsFromReplication": lambda c, r: (
                replication.remove_regions_from_replication(self.secrets, c, r)
            ),
            "StopReplicationToReplica": lambda c, r: replication.stop_replication_to_replica(
                self.secrets, c, r
            ),
            "RotateSecret": lambda c, r: rotation_wire.rotate_secret(self.rotation, c, r),
            "CancelRotateSecret": lambda c, r: rotation_wire.cancel_rotate_secret(
                self.rotation, c, r
            ),
        }

    # -- the Provider protocol -----------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        # read-only calls audited without responseElements, as CloudTrail records them
        return guarded_handlers(self._handlers, HANDLED, self.is_read_only)

    def is_read_only(self, operation: str) -> bool:
        return operation in READ_ONLY

    def clear_caches(self) -> None:
        """Another node changed state: forget every cached secret (cache.py)."""
        self.secrets.cache.clear()

    # -- operations ------------------------------------------------------------------------
    def create_secret(self, call: Call, r: Request) -> Response:
        secret, version_id = self.secrets.create(
            call,
            r["Name"],
            r.get("ClientRequestToken"),
            value_of(r.get("SecretString"), r.get("SecretBinary")),
            description=r.get("Description"),
            kms_key_id=r.get("KmsKeyId"),
            tags=[(t.get("Key", ""), t.get("Value", "")) for t in r.get("Tags") or ()],
            replica_regions=r.get("AddReplicaRegions") or (),
            force_overwrite_replica=bool(r.get("ForceOverwriteReplicaSecret")),
        )
        out: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name}
        if version_id is not None:
            out["VersionId"] = version_id
        if r.get("AddReplicaRegions"):
            out["ReplicationStatus"] = self.secrets.replication.status(call, secret)
        return out

    def get_secret_value(self, call: Call, r: Request) -> Response:
        opened = self.secrets.get_value(
            call, r["SecretId"], r.get("VersionId"), r.get("VersionStage")
        )
        return value_entry(opened)

    def batch_get_secret_value(self, call: Call, r: Request) -> Response:
        found, errors, token = self.secrets.batch_get(
            call,
            r.get("SecretIdList"),
            r.get("Filters"),
            r.get("MaxResults"),
            r.get("NextToken"),
        )
        out: dict[str, Any] = {"SecretValues": [value_entry(o) for o in found], "Errors": errors}
        if token is not None:
            out["NextToken"] = token
        return out

    def put_secret_value(self, call: Call, r: Request) -> Response:
        secret, version_id, stages = self.secrets.put_value(
            call,
            r["SecretId"],
            r.get("ClientRequestToken"),
            value_of(r.get("SecretString"), r.get("SecretBinary")),
            r.get("VersionStages"),
        )
        return {
            "ARN": secret.arn,
            "Name": secret.name,
            "VersionId": version_id,
            "VersionStages": stages,
        }

    def update_secret(self, call: Call, r: Request) -> Response:
        secret, version_id = self.secrets.update(
            call,
            r["SecretId"],
            r.get("ClientRequestToken"),
            value_of(r.get("SecretString"), r.get("SecretBinary")),
            r.get("Description"),
            r.get("KmsKeyId"),
        )
        out: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name}
        if version_id is not None:
            out["VersionId"] = version_id
        return out

    def update_secret_version_stage(self, call: Call, r: Request) -> Response:
        secret = self.secrets.move_stage(
            call,
            r["SecretId"],
            r["VersionStage"],
            r.get("RemoveFromVersionId"),
            r.get("MoveToVersionId"),
        )
        return {"ARN": secret.arn, "Name": secret.name}

    def list_secret_version_ids(self, call: Call, r: Request) -> Response:
        secret, page, token = self.secrets.list_versions(
            call,
            r["SecretId"],
            bool(r.get("IncludeDeprecated")),
            r.get("MaxResults"),
            r.get("NextToken"),
        )
        versions = []
        for version, stages in page:
            entry: dict[str, Any] = {
                "VersionId": version.version_id,
                "CreatedDate": to_datetime(version.created_at),
            }
            if stages:
                entry["VersionStages"] = stages
            if version.last_accessed is not None:
                entry["LastAccessedDate"] = to_datetime(version.last_accessed)
            if version.kms_key_arn is not None:
                entry["KmsKeyIds"] = [version.kms_key_arn]
            versions.append(entry)
        out: dict[str, Any] = {"Versions": versions, "ARN": secret.arn, "Name": secret.name}
        if token is not None:
            out["NextToken"] = token
        return out

    def describe_secret(self, call: Call, r: Request) -> Response:
        secret = self.secrets.describe(call, r["SecretId"])
        out = self._metadata(call, secret)
        out["VersionIdsToStages"] = out.pop("SecretVersionsToStages")
        return out

    def list_secrets(self, call: Call, r: Request) -> Response:
        page, token = self.secrets.list_secrets(
            call,
            r.get("Filters") or (),
            bool(r.get("IncludePlannedDeletion")),
            r.get("SortOrder"),
            r.get("SortBy"),
            r.get("MaxResults"),
            r.get("NextToken"),
        )
        out: dict[str, Any] = {"SecretList": [self._metadata(call, s) for s in page]}
        if token is not None:
            out["NextToken"] = token
        return out

    def _metadata(self, call: Call, secret: Secret) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ARN": secret.arn,
            "Name": secret.name,
            "RotationEnabled": secret.rotation_enabled,
            "LastChangedDate": to_datetime(secret.last_changed),
            "CreatedDate": to_datetime(secret.created_at),
            "SecretVersionsToStages": self.secrets.stages_of(call, secret),
        }
        if secret.description is not None:
            out["Description"] = secret.description
        if secret.kms_key_id is not None:
            out["KmsKeyId"] = secret.kms_key_id
        if secret.last_accessed is not None:
            out["LastAccessedDate"] = to_datetime(secret.last_accessed)
        if secret.deleted_at is not None:
            out["DeletedDate"] = to_datetime(secret.deleted_at)
        if secret.rotation_lambda_arn is not None:
            out["RotationLambdaARN"] = secret.rotation_lambda_arn
        if secret.rotation_rules is not None:
            out["RotationRules"] = orjson.loads(secret.rotation_rules)
        if secret.last_rotated is not None:
            out["LastRotatedDate"] = to_datetime(secret.last_rotated)
        if secret.next_rotation is not None:
            out["NextRotationDate"] = to_datetime(secret.next_rotation)
        if secret.owning_service is not None:
            out["OwningService"] = secret.owning_service
        if secret.primary_arn is not None:
            out["PrimaryRegion"] = secret.primary_arn.split(":")[3]
        replicas = self.secrets.replication.status(call, secret)
        if replicas:
            out["PrimaryRegion"] = secret.region
            out["ReplicationStatus"] = replicas
        tags = self.secrets.tags_of(call, secret)
        if tags:
            out["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return out

    def delete_secret(self, call: Call, r: Request) -> Response:
        secret, when = self.secrets.delete(
            call,
            r["SecretId"],
            r.get("RecoveryWindowInDays"),
            r.get("ForceDeleteWithoutRecovery"),
        )
        return {"ARN": secret.arn, "Name": secret.name, "DeletionDate": to_datetime(when)}

    def restore_secret(self, call: Call, r: Request) -> Response:
        secret = self.secrets.restore(call, r["SecretId"])
        return {"ARN": secret.arn, "Name": secret.name}

    def get_random_password(self, call: Call, r: Request) -> Response:
        self.authorizer.authorize(call, ACTIONS["GetRandomPassword"].action, "*", {})
        password = random_password(
            r.get("PasswordLength"),
            r.get("ExcludeCharacters") or "",
            bool(r.get("ExcludeNumbers")),
            bool(r.get("ExcludePunctuation")),
            bool(r.get("ExcludeUppercase")),
            bool(r.get("ExcludeLowercase")),
            bool(r.get("IncludeSpace")),
            r.get("RequireEachIncludedType", True) is not False,
        )
        return {"RandomPassword": password}

    def tag_resource(self, call: Call, r: Request) -> Response:
        tags = [(t.get("Key", ""), t.get("Value", "")) for t in r["Tags"]]
        self.secrets.tag(call, r["SecretId"], tags)
        return {}

    def untag_resource(self, call: Call, r: Request) -> Response:
        self.secrets.untag(call, r["SecretId"], r["TagKeys"])
        return {}

    def put_resource_policy(self, call: Call, r: Request) -> Response:
        secret = self.secrets.put_policy(
            call, r["SecretId"], r["ResourcePolicy"], r.get("BlockPublicPolicy")
        )
        return {"ARN": secret.arn, "Name": secret.name}

    def get_resource_policy(self, call: Call, r: Request) -> Response:
        secret, document = self.secrets.get_policy(call, r["SecretId"])
        out: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name}
        if document is not None:
            out["ResourcePolicy"] = document
        return out

    def delete_resource_policy(self, call: Call, r: Request) -> Response:
        secret = self.secrets.delete_policy(call, r["SecretId"])
        return {"ARN": secret.arn, "Name": secret.name}

    def validate_resource_policy(self, call: Call, r: Request) -> Response:
        errors = self.secrets.validate_policy(call, r.get("SecretId"), r["ResourcePolicy"])
        return {"PolicyValidationPassed": not errors, "ValidationErrors": errors}


def value_entry(opened: Opened) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ARN": opened.secret.arn,
        "Name": opened.secret.name,
        "VersionId": opened.version.version_id,
        "VersionStages": opened.stages,
        "CreatedDate": to_datetime(opened.version.created_at),
    }
    if opened.value.kind == "binary":
        out["SecretBinary"] = opened.value.data
    else:
        out["SecretString"] = opened.value.data.decode()
    return out
