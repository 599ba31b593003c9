"""The KMS provider: AWS KMS's wire shapes in, use cases called, wire shapes out.

The pipeline has authenticated the caller and validated the request against
botocore's KMS model; each handler here maps the request dict (model member
names) onto a `KmsService` use case and builds the response dict. Wire shapes
live only in this module (and asymmetric_wire.py, its part for asymmetric keys).

Every request member of an operation is handled (`HANDLED`). A member the
pinned model has but this table does not (a newer model) is refused with
UnsupportedOperationException naming it, never dropped. Operations of the model
that are not in `handlers()` (grants, custom key stores, import, multi-Region)
are answered by the pipeline as unsupported. The asymmetric and HMAC key
operations' wire shapes are in asymmetric_wire.py.

For the scheduler and other services the provider also exposes the jobs (bound
to its cache), `get_or_create_aws_managed_key` and `clear_caches`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from garrison.api import Call, Handler, Request, Response
from garrison.clock import Clock
from garrison.iam.authorizer import Authorizer
from garrison.services.common.handlers import guarded_handlers
from garrison.services.kms import importing, jobs
from garrison.services.kms.access import Target
from garrison.services.kms.asymmetric_wire import AsymmetricHandlers
from garrison.services.kms.domain import (
    SYMMETRIC_DEFAULT,
    Alias,
    Key,
    KeyState,
    key_algorithms,
    public_key_id,
)
from garrison.services.kms.grant_domain import Grant
from garrison.services.kms.grants import DEFAULT_MAX_GRANTS_PER_KEY, check_grant_tokens
from garrison.services.kms.import_store import ImportedMaterial
from garrison.services.kms.import_wire import ImportHandlers
from garrison.services.kms.keypolicy import aws_managed_key_policy
from garrison.services.kms.keys import Page
from garrison.services.kms.multiregion import MultiRegionConfiguration, configuration
from garrison.services.kms.multiregion_store import is_multi_region
from garrison.services.kms.multiregion_wire import MultiRegionHandlers
from garrison.services.kms.quotas import RequestQuotas, RequestThrottle
from garrison.services.kms.rotation import DEFAULT_MAX_ON_DEMAND_ROTATIONS
from garrison.services.kms.service import (
    DEFAULT_MAX_ALIASES,
    DEFAULT_MAX_KEYS,
    AwsManagedPolicy,
    KmsService,
)
from garrison.storage.writer import Tx

# The request members each operation honours (the pinned model's, all of them).
HANDLED: dict[str, frozenset[str]] = {
    name: frozenset(members.split())
    for name, members in {
        "CreateKey": "Policy Description KeyUsage CustomerMasterKeySpec KeySpec Origin "
        "CustomKeyStoreId BypassPolicyLockoutSafetyCheck Tags MultiRegion XksKeyId",
        "DescribeKey": "KeyId GrantTokens",
        # multi-Region keys (multiregion_wire.py)
        "ReplicateKey": "KeyId ReplicaRegion Policy BypassPolicyLockoutSafetyCheck Description "
        "Tags",
        "UpdatePrimaryRegion": "KeyId PrimaryRegion",
        "ListKeys": "Limit Marker",
        "EnableKey": "KeyId",
        "DisableKey": "KeyId",
        "ScheduleKeyDeletion": "KeyId PendingWindowInDays",
        "CancelKeyDeletion": "KeyId",
        "UpdateKeyDescription": "KeyId Description",
        "Encrypt": "KeyId Plaintext EncryptionContext GrantTokens EncryptionAlgorithm DryRun",
        "Decrypt": "CiphertextBlob EncryptionContext GrantTokens KeyId EncryptionAlgorithm "
        "Recipient DryRun DryRunModifiers",
        "ReEncrypt": "CiphertextBlob SourceEncryptionContext SourceKeyId DestinationKeyId "
        "DestinationEncryptionContext SourceEncryptionAlgorithm "
        "DestinationEncryptionAlgorithm GrantTokens DryRun DryRunModifiers",
        "GenerateDataKey": "KeyId EncryptionContext NumberOfBytes KeySpec GrantTokens "
        "Recipient DryRun",
        "GenerateDataKeyWithoutPlaintext": "KeyId EncryptionContext KeySpec NumberOfBytes "
        "GrantTokens DryRun",
        "GenerateRandom": "NumberOfBytes CustomKeyStoreId Recipient",
        "GetKeyLastUsage": "KeyId",
        "CreateAlias": "AliasName TargetKeyId",
        "UpdateAlias": "AliasName TargetKeyId",
        "DeleteAlias": "AliasName",
        "ListAliases": "KeyId Limit Marker",
        "TagResource": "KeyId Tags",
        "UntagResource": "KeyId TagKeys",
        "ListResourceTags": "KeyId Limit Marker",
        "GetKeyPolicy": "KeyId PolicyName",
        "PutKeyPolicy": "KeyId PolicyName Policy BypassPolicyLockoutSafetyCheck",
        "ListKeyPolicies": "KeyId Limit Marker",
        "EnableKeyRotation": "KeyId RotationPeriodInDays",
        "DisableKeyRotation": "KeyId",
        "GetKeyRotationStatus": "KeyId",
        "RotateKeyOnDemand": "KeyId",
        "ListKeyRotations": "KeyId IncludeKeyMaterial Limit Marker",
        # grants (grants.py)
        "CreateGrant": "KeyId GranteePrincipal RetiringPrincipal Operations Constraints "
        "GrantTokens Name DryRun",
        "ListGrants": "Limit Marker KeyId GrantId GranteePrincipal",
        "ListRetirableGrants": "Limit Marker RetiringPrincipal",
        "RetireGrant": "GrantToken KeyId GrantId DryRun",
        "RevokeGrant": "KeyId GrantId DryRun",
        # asymmetric and HMAC keys (asymmetric.py, asymmetric_wire.py)
        "GetPublicKey": "KeyId GrantTokens",
        "Sign": "KeyId Message MessageType GrantTokens SigningAlgorithm DryRun",
        "Verify": "KeyId Message MessageType Signature SigningAlgorithm GrantTokens DryRun",
        "GenerateMac": "Message KeyId MacAlgorithm GrantTokens DryRun",
        "VerifyMac": "Message KeyId MacAlgorithm Mac GrantTokens DryRun",
        "GenerateDataKeyPair": "EncryptionContext KeyId KeyPairSpec GrantTokens Recipient DryRun",
        "GenerateDataKeyPairWithoutPlaintext": "EncryptionContext KeyId KeyPairSpec GrantTokens "
        "DryRun",
        "DeriveSharedSecret": "KeyId KeyAgreementAlgorithm PublicKey GrantTokens DryRun Recipient",
        # imported key material (importing.py, import_wire.py)
        "GetParametersForImport": "KeyId WrappingAlgorithm WrappingKeySpec",
        "ImportKeyMaterial": "KeyId ImportToken EncryptedKeyMaterial ValidTo ExpirationModel "
        "ImportType KeyMaterialDescription KeyMaterialId",
        "DeleteImportedKeyMaterial": "KeyId KeyMaterialId",
    }.items()
}

# CloudTrail's readOnly: Describe*, List*, Get*, and the cryptographic operations.
READ_ONLY = frozenset(
    {
        "DescribeKey", "ListKeys", "ListAliases", "ListResourceTags", "ListKeyPolicies",
        "ListKeyRotations", "GetKeyPolicy", "GetKeyRotationStatus", "GetKeyLastUsage",
        "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey",
        "GenerateDataKeyWithoutPlaintext", "GenerateRandom",
        "GetPublicKey", "Sign", "Verify", "GenerateMac", "VerifyMac", "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext", "DeriveSharedSecret",
    }
)  # fmt: skip


def key_metadata(key: Key, multi_region: MultiRegionConfiguration | None = None) -> dict[str, Any]:
    """KeyMetadata as DescribeKey and CreateKey return it (`multi_region`: the
    configuration of a multi-Region key, multiregion.configuration)."""
    md: dict[str, Any] = {
        "AWSAccountId": key.account_id,
        "KeyId": key.public_id,
        "Arn": key.arn,
        "CreationDate": key.created_at,
        "Enabled": key.enabled,
        "Description": key.description,
        "KeyUsage": key.key_usage,
        "KeyState": key.state.value,
        "Origin": key.origin,
        "KeyManager": key.key_manager.value,
        "CustomerMasterKeySpec": key.key_spec,
        "KeySpec": key.key_spec,
        "MultiRegion": is_multi_region(key.key_id),
        "CurrentKeyMaterialId": key.current_material_id,
    }
    # AWS lists only the algorithm kinds a key has (HMAC keys: MacAlgorithms only).
    algorithms = key_algorithms(key.key_spec, key.key_usage)
    for member, values in (
        ("EncryptionAlgorithms", algorithms.encryption),
        ("SigningAlgorithms", algorithms.signing),
        ("MacAlgorithms", algorithms.mac),
        ("KeyAgreementAlgorithms", algorithms.key_agreement),
    ):
        if values:
            md[member] = list(values)
    if multi_region is not None:
        md["MultiRegionConfiguration"] = multi_region_configuration(multi_region)
    # imported key material: no id before the first import; ExpirationModel (and
    # ValidTo) while material is present
    if not key.current_material_id:
        del md["CurrentKeyMaterialId"]
    if key.expiration_model is not None:
        md["ExpirationModel"] = key.expiration_model
    if key.valid_to is not None:
        md["ValidTo"] = key.valid_to
    if key.state is KeyState.PENDING_REPLICA_DELETION:  # multi-Region primary
        md["PendingDeletionWindowInDays"] = key.pending_window_days
    if key.state is KeyState.PENDING_DELETION:
        # PendingDeletionWindowInDays is only for multi-Region primaries in
        # PendingReplicaDeletion, as AWS documents; a plain key shows DeletionDate.
        md["DeletionDate"] = key.deletion_date
    return md


def multi_region_configuration(config: MultiRegionConfiguration) -> dict[str, Any]:
    """KeyMetadata's MultiRegionConfiguration (multiregion.py)."""
    return {
        "MultiRegionKeyType": config.key_type,
        "PrimaryKey": {"Arn": config.primary.arn, "Region": config.primary.region},
        "ReplicaKeys": [{"Arn": r.arn, "Region": r.region} for r in config.replicas],
    }


def imported_material_entry(imported: ImportedMaterial) -> dict[str, Any]:
    """ListKeyRotations' members for imported key material (importing.py)."""
    out: dict[str, Any] = {"ImportState": imported.import_state}
    if imported.expiration_model is not None:
        out["ExpirationModel"] = imported.expiration_model
    if imported.valid_to is not None:
        out["ValidTo"] = imported.valid_to
    if imported.description is not None:
        out["KeyMaterialDescription"] = imported.description
    return out


def _paged(name: str, page: Page[Any], items: list[Any]) -> Response:
    out: Response = {name: items, "Truncated": page.next_marker is not None}
    if page.next_marker is not None:
        out["NextMarker"] = page.next_marker
    return out


def _alias_entry(alias: Alias) -> dict[str, Any]:
    return {
        "AliasName": alias.name,
        "AliasArn": alias.arn,
        "TargetKeyId": public_key_id(alias.target_key_id),
        "CreationDate": alias.created_at,
        "LastUpdatedDate": alias.updated_at,
    }


class KmsProvider:
    service = "kms"
    event_source = "kms.amazonaws.com"

    def __init__(
        self,
        clock: Clock,
        *,
        authorizer: Authorizer | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
        max_aliases: int = DEFAULT_MAX_ALIASES,
        max_on_demand_rotations: int = DEFAULT_MAX_ON_DEMAND_ROTATIONS,
        aws_managed_policy: AwsManagedPolicy = aws_managed_key_policy,
        quotas: RequestQuotas | None = None,
        max_grants_per_key: int = DEFAULT_MAX_GRANTS_PER_KEY,
    ) -> None:
        self.clock = clock
        self.kms = KmsService(
            authorizer=authorizer,
            max_keys=max_keys,
            max_aliases=max_aliases,
            max_on_demand_rotations=max_on_demand_rotations,
            aws_managed_policy=aws_managed_policy,
            max_grants_per_key=max_grants_per_key,
        )
        self.throttle = RequestThrottle(quotas or RequestQuotas(), clock.time, self.kms.cache)
        self._handlers: dict[str, Callable[[Call, Request], Response | None]] = {
            "CreateKey": self.create_key,
            "DescribeKey": self.describe_key,
            "ListKeys": self.list_keys,
            "EnableKey": self.enable_key,
            "DisableKey": self.disable_key,
            "ScheduleKeyDeletion": self.schedule_key_deletion,
            "CancelKeyDeletion": self.cancel_key_deletion,
            "UpdateKeyDescription": self.update_key_description,
            "Encrypt": self.encrypt,
            "Decrypt": self.decrypt,
            "ReEncrypt": self.re_encrypt,
            "GenerateDataKey": self.generate_data_key,
            "GenerateDataKeyWithoutPlaintext": self.generate_data_key_without_plaintext,
            "GenerateRandom": self.generate_random,
            "GetKeyLastUsage": self.get_key_last_usage,
            "CreateAlias": self.create_alias,
            "UpdateAlias": self.update_alias,
            "DeleteAlias": self.delete_alias,
            "ListAliases": self.list_aliases,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListResourceTags": self.list_resource_tags,
            "GetKeyPolicy": self.get_key_policy,
            "PutKeyPolicy": self.put_key_policy,
            "ListKeyPolicies": self.list_key_policies,
            "EnableKeyRotation": self.enable_key_rotation,
            "DisableKeyRotation": self.disable_key_rotation,
            "GetKeyRotationStatus": self.get_key_rotation_status,
            "RotateKeyOnDemand": self.rotate_key_on_demand,
            "ListKeyRotations": self.list_key_rotations,
            # grants
            "CreateGrant": self.create_grant,
            "ListGrants": self.list_grants,
            "ListRetirableGrants": self.list_retirable_grants,
            "RetireGrant": self.retire_grant,
            "RevokeGrant": self.revoke_grant,
        }
        # asymmetric and HMAC keys: GetPublicKey, Sign, Verify, MACs, key pairs, ECDH
        self._handlers.update(AsymmetricHandlers(self.kms).handlers())
        # multi-Region keys: ReplicateKey, UpdatePrimaryRegion
        self._handlers.update(MultiRegionHandlers(self.kms, key_metadata).handlers())
        # imported key material: GetParametersForImport, Import/DeleteImportedKeyMaterial
        self._handlers.update(ImportHandlers(self.kms).handlers())

    # -- the Provider protocol ---------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        # One wrapper per operation: every call first charges its request quota
        # (ThrottlingException past it), then its members are checked, a malformed
        # grant token refused (InvalidGrantTokenException; a well-formed one needs
        # nothing more). CloudTrail records no responseElements for read-only calls.
        return guarded_handlers(
            self._handlers,
            HANDLED,
            self.is_read_only,
            before=self.throttle.charge_for,
            member_checks={"GrantTokens": check_grant_tokens},
        )

    def is_read_only(self, operation: str) -> bool:
        return operation in READ_ONLY or operation in ("ListGrants", "ListRetirableGrants")

    # -- for the scheduler, the node and other services ---------------------------------
    def clear_caches(self) -> None:
        self.kms.clear_caches()

    def keys_due_for_deletion(self, tx: Tx, now: datetime | float) -> list[str]:
        return jobs.keys_due_for_deletion(tx, now)

    def delete_key_if_due(
        self, tx: Tx, key_id: str, now: datetime | float
    ) -> jobs.DoneOnKey | None:
        return jobs.delete_key_if_due(tx, key_id, now, self.kms.cache)

    def delete_due_keys(self, tx: Tx, now: datetime | float) -> list[jobs.DoneOnKey]:
        return jobs.delete_due_keys(tx, now, self.kms.cache)

    def keys_due_for_rotation(self, tx: Tx, now: datetime | float) -> list[str]:
        return jobs.keys_due_for_rotation(tx, now)

    def rotate_key_if_due(
        self, tx: Tx, key_id: str, now: datetime | float
    ) -> jobs.DoneOnKey | None:
        return jobs.rotate_key_if_due(tx, key_id, now, self.kms.cache)

    def rotate_due_keys(self, tx: Tx, now: datetime | float) -> list[jobs.DoneOnKey]:
        return jobs.rotate_due_keys(tx, now, self.kms.cache)

    # imported key material that reached its ValidTo (importing.py)
    def keys_with_expired_material(self, tx: Tx, now: datetime | float) -> list[str]:
        return importing.keys_with_expired_material(tx, now)

    def expire_material_if_due(
        self, tx: Tx, key_id: str, now: datetime | float
    ) -> jobs.DoneOnKey | None:
        return importing.expire_material_if_due(tx, key_id, now, self.kms.cache)

    def get_or_create_aws_managed_key(
        self, tx: Tx, account_id: str, region: str, service_name: str, now: datetime | None = None
    ) -> Key:
        return self.kms.get_or_create_aws_managed_key(
            tx, account_id, region, service_name, now or self.clock.now()
        )

    # -- keys ----------------------------------------------------------------------------
    def create_key(self, call: Call, r: Request) -> Response:
        key = self.kms.keys.create_key(
            call,
            description=r.get("Description", ""),
            key_usage=r.get("KeyUsage"),
            key_spec=r.get("KeySpec"),
            customer_master_key_spec=r.get("CustomerMasterKeySpec"),
            origin=r.get("Origin"),
            custom_key_store_id=r.get("CustomKeyStoreId"),
            xks_key_id=r.get("XksKeyId"),
            multi_region=r.get("MultiRegion"),
            policy=r.get("Policy"),
            bypass_policy_lockout_safety_check=bool(r.get("BypassPolicyLockoutSafetyCheck")),
            tags=r.get("Tags"),
        )
        return {"KeyMetadata": key_metadata(key, configuration(call.tx, key))}

    def describe_key(self, call: Call, r: Request) -> Response:
        key = self.kms.keys.describe_key(call, r["KeyId"])
        return {"KeyMetadata": key_metadata(key, configuration(call.tx, key))}

    def list_keys(self, call: Call, r: Request) -> Response:
        page = self.kms.keys.list_keys(call, limit=r.get("Limit"), marker=r.get("Marker"))
        entries = [{"KeyId": arn.rpartition("/")[2], "KeyArn": arn} for arn in page.items]
        return _paged("Keys", page, entries)

    def enable_key(self, call: Call, r: Request) -> None:
        self.kms.keys.enable_key(call, r["KeyId"])

    def disable_key(self, call: Call, r: Request) -> None:
        self.kms.keys.disable_key(call, r["KeyId"])

    def schedule_key_deletion(self, call: Call, r: Request) -> Response:
        key = self.kms.keys.schedule_key_deletion(call, r["KeyId"], r.get("PendingWindowInDays"))
        return {
            "KeyId": key.arn,
            "DeletionDate": key.deletion_date,
            "KeyState": key.state.value,
            "PendingWindowInDays": key.pending_window_days,
        }

    def cancel_key_deletion(self, call: Call, r: Request) -> Response:
        return {"KeyId": self.kms.keys.cancel_key_deletion(call, r["KeyId"]).arn}

    def update_key_description(self, call: Call, r: Request) -> None:
        self.kms.keys.update_key_description(call, r["KeyId"], r["Description"])

    def get_key_last_usage(self, call: Call, r: Request) -> Response:
        key, usage, event_id = self.kms.keys.get_key_last_usage(call, r["KeyId"])
        out: Response = {
            "KeyId": key.public_id,
            "KeyCreationDate": key.created_at,
            "TrackingStartDate": key.created_at,  # Garrison tracks every key from its creation
            "KeyLastUsage": {},
        }
        if usage is not None:
            last: dict[str, Any] = {
                "Operation": usage.operation,
                "Timestamp": usage.at,
                "KmsRequestId": usage.request_id,
            }
            if event_id:
                last["CloudTrailEventId"] = event_id
            out["KeyLastUsage"] = last
        return out

    # -- cryptographic operations ----------------------------------------------------------
    # Encrypt and Decrypt find the key once here, to choose symmetric or RSA-OAEP, and
    # hand the found key to the use case (a second find was a memo hit per call).
    def encrypt(self, call: Call, r: Request) -> Response:
        target = self.kms.access.find(call, r["KeyId"], aliases=True)
        if target.key.key_spec != SYMMETRIC_DEFAULT:
            arn, blob, algorithm = self.kms.asymmetric.encrypt(
                call,
                target,
                r["Plaintext"],
                encryption_context=r.get("EncryptionContext"),
                encryption_algorithm=r.get("EncryptionAlgorithm"),
                dry_run=bool(r.get("DryRun")),
            )
            return {"CiphertextBlob": blob, "KeyId": arn, "EncryptionAlgorithm": algorithm}
        sealed = self.kms.crypto.encrypt(
            call,
            target,
            r["Plaintext"],
            encryption_context=r.get("EncryptionContext"),
            encryption_algorithm=r.get("EncryptionAlgorithm"),
            dry_run=bool(r.get("DryRun")),
        )
        return {
            "CiphertextBlob": sealed.ciphertext,
            "KeyId": sealed.key_arn,
            "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
        }

    def decrypt(self, call: Call, r: Request) -> Response:
        text: str | None = r.get("KeyId")
        key_id: str | Target | None = text
        recipient = r.get("Recipient")
        # with a Recipient the use case refuses the call before looking for any key
        if text and recipient is None:
            key_id = target = self.kms.access.find(call, text, aliases=True)
            if target.key.key_spec != SYMMETRIC_DEFAULT:
                arn, plaintext, algorithm, material_id = self.kms.asymmetric.decrypt(
                    call,
                    target,
                    r.get("CiphertextBlob"),
                    encryption_context=r.get("EncryptionContext"),
                    encryption_algorithm=r.get("EncryptionAlgorithm"),
                    dry_run=bool(r.get("DryRun")),
                )
                return {
                    "KeyId": arn,
                    "Plaintext": plaintext,
                    "EncryptionAlgorithm": algorithm,
                    "KeyMaterialId": material_id,
                }
        opened = self.kms.crypto.decrypt(
            call,
            r.get("CiphertextBlob"),
            key_id=key_id,
            encryption_context=r.get("EncryptionContext"),
            encryption_algorithm=r.get("EncryptionAlgorithm"),
            recipient=recipient,
            dry_run=bool(r.get("DryRun")),
            dry_run_modifiers=r.get("DryRunModifiers"),
        )
        return {
            "KeyId": opened.key_arn,
            "Plaintext": opened.plaintext,
            "EncryptionAlgorithm": SYMMETRIC_DEFAULT,
            "KeyMaterialId": opened.material_id,
        }

    def re_encrypt(self, call: Call, r: Request) -> Response:
        done = self.kms.crypto.re_encrypt(
            call,
            r.get("CiphertextBlob"),
            r["DestinationKeyId"],
            source_key_id=r.get("SourceKeyId"),
            source_encryption_context=r.get("SourceEncryptionContext"),
            destination_encryption_context=r.get("DestinationEncryptionContext"),
            source_encryption_algorithm=r.get("SourceEncryptionAlgorithm"),
            destination_encryption_algorithm=r.get("DestinationEncryptionAlgorithm"),
            grant_tokens=r.get("GrantTokens"),
            dry_run=bool(r.get("DryRun")),
            dry_run_modifiers=r.get("DryRunModifiers"),
        )
        return {
            "CiphertextBlob": done.ciphertext,
            "SourceKeyId": done.source_key_arn,
            "KeyId": done.key_arn,
            "SourceEncryptionAlgorithm": done.source_algorithm,
            "DestinationEncryptionAlgorithm": done.algorithm,
            "SourceKeyMaterialId": done.source_material_id,
            "DestinationKeyMaterialId": done.material_id,
        }

    def _data_key(self, call: Call, r: Request, *, with_plaintext: bool) -> Response:
        sealed = self.kms.crypto.generate_data_key(
            call,
            r["KeyId"],
            with_plaintext=with_plaintext,
            key_spec=r.get("KeySpec"),
            number_of_bytes=r.get("NumberOfBytes"),
            encryption_context=r.get("EncryptionContext"),
            grant_tokens=r.get("GrantTokens"),
            recipient=r.get("Recipient"),
            dry_run=bool(r.get("DryRun")),
        )
        out: Response = {
            "CiphertextBlob": sealed.ciphertext,
            "KeyId": sealed.key_arn,
            "KeyMaterialId": sealed.material_id,
        }
        if with_plaintext:
            out["Plaintext"] = sealed.plaintext
        return out

    def generate_data_key(self, call: Call, r: Request) -> Response:
        return self._data_key(call, r, with_plaintext=True)

    def generate_data_key_without_plaintext(self, call: Call, r: Request) -> Response:
        return self._data_key(call, r, with_plaintext=False)

    def generate_random(self, call: Call, r: Request) -> Response:
        data = self.kms.crypto.generate_random(
            call,
            r.get("NumberOfBytes"),
            custom_key_store_id=r.get("CustomKeyStoreId"),
            recipient=r.get("Recipient"),
        )
        return {"Plaintext": data}

    # -- aliases --------------------------------------------------------------------------
    def create_alias(self, call: Call, r: Request) -> None:
        self.kms.aliases.create_alias(call, r["AliasName"], r["TargetKeyId"])

    def update_alias(self, call: Call, r: Request) -> None:
        self.kms.aliases.update_alias(call, r["AliasName"], r["TargetKeyId"])

    def delete_alias(self, call: Call, r: Request) -> None:
        self.kms.aliases.delete_alias(call, r["AliasName"])

    def list_aliases(self, call: Call, r: Request) -> Response:
        page = self.kms.aliases.list_aliases(
            call, key_id=r.get("KeyId"), limit=r.get("Limit"), marker=r.get("Marker")
        )
        return _paged("Aliases", page, [_alias_entry(a) for a in page.items])

    # -- tags -----------------------------------------------------------------------------
    def tag_resource(self, call: Call, r: Request) -> None:
        self.kms.keys.tag_resource(call, r["KeyId"], r["Tags"])

    def untag_resource(self, call: Call, r: Request) -> None:
        self.kms.keys.untag_resource(call, r["KeyId"], r["TagKeys"])

    def list_resource_tags(self, call: Call, r: Request) -> Response:
        page = self.kms.keys.list_resource_tags(
            call, r["KeyId"], limit=r.get("Limit"), marker=r.get("Marker")
        )
        tags = [{"TagKey": k, "TagValue": v} for k, v in page.items]
        return _paged("Tags", page, tags)

    # -- key policies -----------------------------------------------------------------------
    def get_key_policy(self, call: Call, r: Request) -> Response:
        policy = self.kms.keys.get_key_policy(call, r["KeyId"], r.get("PolicyName"))
        return {"Policy": policy, "PolicyName": "default"}

    def put_key_policy(self, call: Call, r: Request) -> None:
        self.kms.keys.put_key_policy(
            call,
            r["KeyId"],
            policy=r["Policy"],
            policy_name=r.get("PolicyName"),
            bypass_policy_lockout_safety_check=bool(r.get("BypassPolicyLockoutSafetyCheck")),
        )

    def list_key_policies(self, call: Call, r: Request) -> Response:
        page = self.kms.keys.list_key_policies(
            call, r["KeyId"], limit=r.get("Limit"), marker=r.get("Marker")
        )
        return _paged("PolicyNames", page, list(page.items))

    # -- rotation -----------------------------------------------------------------------------
    def enable_key_rotation(self, call: Call, r: Request) -> None:
        self.kms.rotation.enable_key_rotation(call, r["KeyId"], r.get("RotationPeriodInDays"))

    def disable_key_rotation(self, call: Call, r: Request) -> None:
        self.kms.rotation.disable_key_rotation(call, r["KeyId"])

    def get_key_rotation_status(self, call: Call, r: Request) -> Response:
        key = self.kms.rotation.get_key_rotation_status(call, r["KeyId"])
        out: Response = {"KeyRotationEnabled": key.rotation_enabled, "KeyId": key.arn}
        if key.rotation_enabled:
            out["RotationPeriodInDays"] = key.rotation_period_days
            out["NextRotationDate"] = key.next_rotation_at
        return out

    def rotate_key_on_demand(self, call: Call, r: Request) -> Response:
        return {"KeyId": self.kms.rotation.rotate_key_on_demand(call, r["KeyId"]).public_id}

    def list_key_rotations(self, call: Call, r: Request) -> Response:
        key, page = self.kms.rotation.list_key_rotations(
            call,
            r["KeyId"],
            include_key_material=r.get("IncludeKeyMaterial"),
            limit=r.get("Limit"),
            marker=r.get("Marker"),
        )
        entries = []
        for entry in page.items:
            version = entry.version
            item: dict[str, Any] = {
                "KeyId": key.public_id,
                "KeyMaterialId": version.material_id,
                "KeyMaterialState": entry.state,
            }
            if version.rotation_type is not None:
                item["RotationDate"] = version.created_at
                item["RotationType"] = version.rotation_type.value
            # imported key material (importing.py): its import state and expiry
            imported = self.kms.importing.material_facts(call, key, version.version)
            if imported is not None:
                item.update(imported_material_entry(imported))
                if not version.material_id:  # nothing imported yet
                    del item["KeyMaterialId"]
            entries.append(item)
        return _paged("Rotations", page, entries)

    # -- grants (grants.py) ------------------------------------------------------------------
    def create_grant(self, call: Call, r: Request) -> Response:
        grant, token = self.kms.grants.create_grant(
            call,
            r["KeyId"],
            grantee_principal=r["GranteePrincipal"],
            operations=r["Operations"],
            retiring_principal=r.get("RetiringPrincipal"),
            constraints=r.get("Constraints"),
            grant_tokens=r.get("GrantTokens"),
            name=r.get("Name"),
            dry_run=bool(r.get("DryRun")),
        )
        return {"GrantToken": token, "GrantId": grant.grant_id}

    def list_grants(self, call: Call, r: Request) -> Response:
        page = self.kms.grants.list_grants(
            call,
            r["KeyId"],
            grant_id=r.get("GrantId"),
            grantee_principal=r.get("GranteePrincipal"),
            limit=r.get("Limit"),
            marker=r.get("Marker"),
        )
        return _paged("Grants", page, [grant_entry(g) for g in page.items])

    def list_retirable_grants(self, call: Call, r: Request) -> Response:
        page = self.kms.grants.list_retirable_grants(
            call, r["RetiringPrincipal"], limit=r.get("Limit"), marker=r.get("Marker")
        )
        return _paged("Grants", page, [grant_entry(g) for g in page.items])

    def retire_grant(self, call: Call, r: Request) -> None:
        self.kms.grants.retire_grant(
            call,
            grant_token=r.get("GrantToken"),
            key_id=r.get("KeyId"),
            grant_id=r.get("GrantId"),
            dry_run=bool(r.get("DryRun")),
        )

    def revoke_grant(self, call: Call, r: Request) -> None:
        self.kms.grants.revoke_grant(call, r["KeyId"], r["GrantId"], dry_run=bool(r.get("DryRun")))


def grant_entry(grant: Grant) -> dict[str, Any]:
    """GrantListEntry as ListGrants and ListRetirableGrants return it."""
    entry: dict[str, Any] = {
        "KeyId": grant.key_arn,
        "GrantId": grant.grant_id,
        "CreationDate": grant.created_at,
        "GranteePrincipal": grant.grantee_principal,
        "IssuingAccount": f"arn:aws:iam::{grant.issuing_account}:root",
        "Operations": list(grant.operations),
    }
    if grant.name is not None:
        entry["Name"] = grant.name
    if grant.retiring_principal is not None:
        entry["RetiringPrincipal"] = grant.retiring_principal
    if grant.constraint is not None:
        entry["Constraints"] = {grant.constraint.kind.value: dict(grant.constraint.context)}
    return entry
