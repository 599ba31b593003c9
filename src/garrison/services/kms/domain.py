"""KMS keys, their key material versions and aliases, as frozen values.

A key's life is a small state machine; every transition is a method that
returns the next `Key` or raises the error AWS gives for it:

    Enabled           ── disable() ──────────────────> Disabled
    Disabled          ── enable() ───────────────────> Enabled
    Enabled, Disabled ── schedule_deletion(now, days) ─> PendingDeletion
    PendingDeletion   ── cancel_deletion() ──────────> Disabled   (AWS does not re-enable)
    PendingDeletion   ── deletion date passed ───────> deleted    (jobs.py)
    PendingImport     ── material_imported() ────────> Enabled    (Origin EXTERNAL, importing.py)
    Enabled, Disabled ── material_removed() ─────────> PendingImport (deleted or expired)

Which operations a state admits follows AWS's "key states" table
(`OPERATION_STATES`): cryptographic operations need Enabled (Disabled ->
DisabledException, PendingDeletion -> KMSInvalidStateException); most
management operations work on Enabled and Disabled keys; CancelKeyDeletion
needs PendingDeletion; reading operations (DescribeKey, GetKeyPolicy,
ListResourceTags, ...) work in every state.

Rotation is orthogonal to the state: a key has a current key material version
(`current_version`); rotating adds a version and makes it current, and every
earlier version keeps decrypting what it encrypted.
"""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from garrison.services.kms.errors import DisabledException, KMSInvalidStateException

SYMMETRIC_DEFAULT = "SYMMETRIC_DEFAULT"
ENCRYPT_DECRYPT = "ENCRYPT_DECRYPT"
ORIGIN_AWS_KMS = "AWS_KMS"
ORIGIN_EXTERNAL = "EXTERNAL"  # imported key material (importing.py)
ENCRYPTION_ALGORITHMS = (SYMMETRIC_DEFAULT,)

DEFAULT_PENDING_WINDOW_DAYS = 30
MIN_PENDING_WINDOW_DAYS = 7
MAX_PENDING_WINDOW_DAYS = 30
DEFAULT_ROTATION_PERIOD_DAYS = 365
AWS_MANAGED_ROTATION_DAYS = 365

ALIAS_PREFIX = "alias/"
AWS_ALIAS_PREFIX = "alias/aws/"

_KEY_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_MRK_ID = re.compile(r"mrk-[0-9a-f]{32}")


class KeyState(enum.Enum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    PENDING_DELETION = "PendingDeletion"
    # a multi-Region primary scheduled for deletion while it has replicas (multiregion.py)
    PENDING_REPLICA_DELETION = "PendingReplicaDeletion"
    PENDING_IMPORT = "PendingImport"  # Origin EXTERNAL, no usable material (importing.py)


_PENDING_DELETION_STATES = (KeyState.PENDING_DELETION, KeyState.PENDING_REPLICA_DELETION)


class KeyManager(enum.Enum):
    CUSTOMER = "CUSTOMER"
    AWS = "AWS"


class RotationType(enum.Enum):
    AUTOMATIC = "AUTOMATIC"
    ON_DEMAND = "ON_DEMAND"


class StateRule(enum.Enum):
    """What key states an operation admits (AWS's key-states table, by column)."""

    ANY = "any"
    ENABLED = "enabled"  # Disabled -> DisabledException
    NOT_PENDING_DELETION = "not-pending-deletion"
    PENDING_DELETION = "pending-deletion"


OPERATION_STATES: dict[str, StateRule] = {
    # cryptographic operations
    "Encrypt": StateRule.ENABLED,
    "Decrypt": StateRule.ENABLED,
    "ReEncrypt": StateRule.ENABLED,
    "GenerateDataKey": StateRule.ENABLED,
    "GenerateDataKeyWithoutPlaintext": StateRule.ENABLED,
    # rotation of key material needs a usable key
    "EnableKeyRotation": StateRule.ENABLED,
    "DisableKeyRotation": StateRule.ENABLED,
    "RotateKeyOnDemand": StateRule.ENABLED,
    # management
    "EnableKey": StateRule.NOT_PENDING_DELETION,
    "DisableKey": StateRule.NOT_PENDING_DELETION,
    "ScheduleKeyDeletion": StateRule.NOT_PENDING_DELETION,
    "UpdateKeyDescription": StateRule.NOT_PENDING_DELETION,
    "TagResource": StateRule.NOT_PENDING_DELETION,
    "UntagResource": StateRule.NOT_PENDING_DELETION,
    "CreateAlias": StateRule.NOT_PENDING_DELETION,
    # multi-Region keys: the primary (and the replica that becomes primary)
    "ReplicateKey": StateRule.NOT_PENDING_DELETION,
    "UpdatePrimaryRegion": StateRule.NOT_PENDING_DELETION,
    "UpdateAlias": StateRule.NOT_PENDING_DELETION,  # the new target; the old one may be any
    "CancelKeyDeletion": StateRule.PENDING_DELETION,
    # reading, and what AWS lets you fix on a key scheduled for deletion
    "DescribeKey": StateRule.ANY,
    "GetKeyPolicy": StateRule.ANY,
    "PutKeyPolicy": StateRule.ANY,
    "ListKeyPolicies": StateRule.ANY,
    "ListResourceTags": StateRule.ANY,
    "GetKeyRotationStatus": StateRule.ANY,
    "ListKeyRotations": StateRule.ANY,
    "GetKeyLastUsage": StateRule.ANY,
    "DeleteAlias": StateRule.ANY,
    "ListAliases": StateRule.ANY,
    # grants (AWS's key-states table): a grant can be made on a disabled key, and
    # listed, retired or revoked in any state
    "CreateGrant": StateRule.NOT_PENDING_DELETION,
    "ListGrants": StateRule.ANY,
    "RetireGrant": StateRule.ANY,
    "RevokeGrant": StateRule.ANY,
    # imported key material (importing.py): a key scheduled for deletion gets no new
    # material; its imported material may still be deleted
    "GetParametersForImport": StateRule.NOT_PENDING_DELETION,
    "ImportKeyMaterial": StateRule.NOT_PENDING_DELETION,
    "DeleteImportedKeyMaterial": StateRule.ANY,
}

# What a key in PendingImport refuses with KMSInvalidStateException (AWS's key-states
# table): everything that needs usable material, and turning it on or off.
PENDING_IMPORT_REFUSES = frozenset({"EnableKey", "DisableKey"})


def new_key_id() -> str:
    return str(uuid.uuid4())


def is_key_id(text: str) -> bool:
    """A key id as KMS issues them (UUID, or ``mrk-`` + 32 hex for multi-Region keys)."""
    return bool(_KEY_ID.fullmatch(text) or _MRK_ID.fullmatch(text))


def key_arn(account_id: str, region: str, key_id: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:key/{public_key_id(key_id)}"


# -- multi-Region keys (garrison.services.kms.multiregion) -----------------------------
# Related multi-Region keys share one key id in several Regions, and the KMS tables
# identify a key by its id alone, so a multi-Region key's store id ("row id") is
# ``mrk-<32 hex>@<region>``. `Key.key_id` is that row id (what the store, cache,
# aliases and grants use); `Key.public_id` and `Key.arn` are what AWS shows.
ROW_REGION_SEPARATOR = "@"
MRK_PREFIX = "mrk-"
# store ids are at most 64 characters: mrk- + 32 hex + @ leave 27 for the Region's name
# (AWS's longest Region names have 14)
MAX_MULTI_REGION_REGION_LENGTH = 64 - 37


def new_multi_region_key_id() -> str:
    """``mrk-`` and 32 random lowercase hex digits, as KMS issues them."""
    return MRK_PREFIX + uuid.uuid4().hex


def public_key_id(row_id: str) -> str:
    """The key id AWS shows for a key's store id (the same for single-Region keys)."""
    return row_id.partition(ROW_REGION_SEPARATOR)[0]


def row_key_id(key_id: str, region: str) -> str:
    """The store id of the key `key_id` names in `region` (``mrk-...@region`` for
    multi-Region keys; single-Region key ids are their own store ids)."""
    if key_id.startswith(MRK_PREFIX) and ROW_REGION_SEPARATOR not in key_id:
        return f"{key_id}{ROW_REGION_SEPARATOR}{region}"
    return key_id


def alias_arn(account_id: str, region: str, alias_name: str) -> str:
    return f"arn:aws:kms:{region}:{account_id}:{alias_name}"


@dataclass(frozen=True, slots=True)
class Key:
    key_id: str
    account_id: str
    region: str
    description: str
    key_usage: str
    key_spec: str
    origin: str
    key_manager: KeyManager
    state: KeyState
    created_at: datetime
    policy: str
    current_version: int
    current_material_id: str
    deletion_date: datetime | None = None
    pending_window_days: int | None = None
    rotation_period_days: int | None = None  # None: automatic rotation is off
    next_rotation_at: datetime | None = None
    # imported key material (Origin EXTERNAL): of the current material, None otherwise
    expiration_model: str | None = None
    valid_to: datetime | None = None

    @property
    def arn(self) -> str:
        return key_arn(self.account_id, self.region, self.key_id)

    @property
    def public_id(self) -> str:
        """The KeyId AWS shows (`key_id` is the store id, see `row_key_id`)."""
        return public_key_id(self.key_id)

    @property
    def enabled(self) -> bool:
        return self.state is KeyState.ENABLED

    @property
    def aws_managed(self) -> bool:
        return self.key_manager is KeyManager.AWS

    @property
    def rotation_enabled(self) -> bool:
        return self.rotation_period_days is not None

    # -- the state machine ---------------------------------------------------
    def require(self, operation: str) -> None:
        """Raise AWS's error when this key's state does not admit `operation`."""
        rule = OPERATION_STATES.get(operation, StateRule.ENABLED)
        state = self.state
        if rule is StateRule.ANY:
            return
        if rule is StateRule.PENDING_DELETION:
            if state not in _PENDING_DELETION_STATES:
                raise KMSInvalidStateException(f"{self.arn} is not pending deletion.")
            return
        if state is KeyState.PENDING_DELETION:
            raise KMSInvalidStateException(f"{self.arn} is pending deletion.")
        if state is KeyState.PENDING_REPLICA_DELETION:
            raise KMSInvalidStateException(f"{self.arn} is pending replica deletion.")
        if state is KeyState.PENDING_IMPORT and (
            rule is StateRule.ENABLED or operation in PENDING_IMPORT_REFUSES
        ):
            raise KMSInvalidStateException(f"{self.arn} is pending import.")
        if rule is StateRule.ENABLED and state is KeyState.DISABLED:
            raise DisabledException(f"{self.arn} is disabled.")

    def enable(self) -> Key:
        self.require("EnableKey")
        return replace(self, state=KeyState.ENABLED)

    def disable(self) -> Key:
        self.require("DisableKey")
        return replace(self, state=KeyState.DISABLED)

    def schedule_deletion(self, now: datetime, days: int) -> Key:
        self.require("ScheduleKeyDeletion")
        return replace(
            self,
            state=KeyState.PENDING_DELETION,
            deletion_date=now + timedelta(days=days),
            pending_window_days=days,
        )

    def pending_replica_deletion(self) -> Key:
        """A multi-Region primary with replicas waits for them to be deleted; its own
        waiting period (`pending_window_days`) starts when the last one is (AWS)."""
        return replace(self, state=KeyState.PENDING_REPLICA_DELETION, deletion_date=None)

    def replicas_deleted(self, now: datetime) -> Key:
        """PendingReplicaDeletion -> PendingDeletion, its waiting period starting now."""
        days = self.pending_window_days or DEFAULT_PENDING_WINDOW_DAYS
        return replace(
            self,
            state=KeyState.PENDING_DELETION,
            deletion_date=now + timedelta(days=days),
            pending_window_days=days,
        )

    def cancel_deletion(self, *, materials_imported: bool = True) -> Key:
        """AWS leaves a key whose deletion was cancelled Disabled, not Enabled; an
        EXTERNAL key missing any of its imported materials waits for them again."""
        self.require("CancelKeyDeletion")
        no_material = self.origin == ORIGIN_EXTERNAL and not materials_imported
        state = KeyState.PENDING_IMPORT if no_material else KeyState.DISABLED
        return replace(self, state=state, deletion_date=None, pending_window_days=None)

    # -- imported key material (importing.py) ----------------------------------------
    def material_imported(self) -> Key:
        """AWS: an import that leaves every key material of the key imported turns a
        PendingImport key Enabled; other states stay."""
        state = KeyState.ENABLED if self.state is KeyState.PENDING_IMPORT else self.state
        return replace(self, state=state)

    def material_removed(self) -> Key:
        """A key material of the key deleted or expired: PendingImport (a pending
        deletion stays)."""
        state = self.state
        if state not in _PENDING_DELETION_STATES:
            state = KeyState.PENDING_IMPORT
        return replace(self, state=state)

    def due_for_deletion(self, now: datetime) -> bool:
        return (
            self.state is KeyState.PENDING_DELETION
            and self.deletion_date is not None
            and self.deletion_date <= now
        )

    # -- other changes ---------------------------------------------------------
    def with_description(self, description: str) -> Key:
        self.require("UpdateKeyDescription")
        return replace(self, description=description)

    def with_policy(self, policy: str) -> Key:
        return replace(self, policy=policy)

    def enable_rotation(self, now: datetime, period_days: int) -> Key:
        """Turn automatic rotation on, or change its period.

        A first enablement schedules the rotation `period_days` from now. A new
        period on a key that already rotates counts from the start of the
        current period (the last rotation, or when rotation was enabled), and a
        date already past means the next run of the rotation job.
        """
        self.require("EnableKeyRotation")
        if self.rotation_period_days is not None and self.next_rotation_at is not None:
            start = self.next_rotation_at - timedelta(days=self.rotation_period_days)
            next_at = max(start + timedelta(days=period_days), now)
        else:
            next_at = now + timedelta(days=period_days)
        return replace(self, rotation_period_days=period_days, next_rotation_at=next_at)

    def disable_rotation(self) -> Key:
        self.require("DisableKeyRotation")
        return replace(self, rotation_period_days=None, next_rotation_at=None)

    def rotated(self, version: KeyVersion, *, automatic: bool) -> Key:
        """The key with `version` as its current material.

        An automatic rotation moves the schedule a period on; an on-demand one
        leaves it as it was (AWS: on-demand rotations do not change the schedule).
        """
        next_at = self.next_rotation_at
        if automatic and self.rotation_period_days is not None:
            next_at = version.created_at + timedelta(days=self.rotation_period_days)
        return replace(
            self,
            current_version=version.version,
            current_material_id=version.material_id,
            next_rotation_at=next_at,
        )

    def due_for_rotation(self, now: datetime) -> bool:
        return (
            self.state is KeyState.ENABLED
            and self.next_rotation_at is not None
            and self.next_rotation_at <= now
        )


@dataclass(frozen=True, slots=True)
class KeyVersion:
    """One generation of a key's material (the material itself stays sealed in the store)."""

    key_id: str
    version: int
    material_id: str
    created_at: datetime
    rotation_type: RotationType | None  # None for the material the key was created with


@dataclass(frozen=True, slots=True)
class Alias:
    account_id: str
    region: str
    name: str
    target_key_id: str
    created_at: datetime
    updated_at: datetime

    @property
    def arn(self) -> str:
        return alias_arn(self.account_id, self.region, self.name)


@dataclass(frozen=True, slots=True)
class LastUsage:
    """The last successful cryptographic operation on a key (GetKeyLastUsage)."""

    operation: str
    at: datetime
    request_id: str


# -- asymmetric and HMAC key specs (AWS's "key spec reference") -----------------------
# Which key usages each KeySpec admits, and the algorithms DescribeKey lists for it.
SIGN_VERIFY = "SIGN_VERIFY"
GENERATE_VERIFY_MAC = "GENERATE_VERIFY_MAC"
KEY_AGREEMENT = "KEY_AGREEMENT"
RSA_SPECS = ("RSA_2048", "RSA_3072", "RSA_4096")
ECC_SIGNING = {
    "ECC_NIST_P256": "ECDSA_SHA_256",
    "ECC_NIST_P384": "ECDSA_SHA_384",
    "ECC_NIST_P521": "ECDSA_SHA_512",
    "ECC_SECG_P256K1": "ECDSA_SHA_256",
}
ECC_NIST_SPECS = ("ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521")
EDWARDS25519 = "ECC_NIST_EDWARDS25519"
HMAC_SPECS = {
    "HMAC_224": "HMAC_SHA_224",
    "HMAC_256": "HMAC_SHA_256",
    "HMAC_384": "HMAC_SHA_384",
    "HMAC_512": "HMAC_SHA_512",
}
RSA_ENCRYPTION_ALGORITHMS = ("RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256")
RSA_SIGNING_ALGORITHMS = (
    "RSASSA_PKCS1_V1_5_SHA_256",
    "RSASSA_PKCS1_V1_5_SHA_384",
    "RSASSA_PKCS1_V1_5_SHA_512",
    "RSASSA_PSS_SHA_256",
    "RSASSA_PSS_SHA_384",
    "RSASSA_PSS_SHA_512",
)
ED25519_SIGNING_ALGORITHMS = ("ED25519_PH_SHA_512", "ED25519_SHA_512")
ECDH = "ECDH"
ML_DSA_SPECS = ("ML_DSA_44", "ML_DSA_65", "ML_DSA_87")
ML_DSA_SHAKE_256 = "ML_DSA_SHAKE_256"

KEY_SPEC_USAGES: dict[str, tuple[str, ...]] = {
    SYMMETRIC_DEFAULT: (ENCRYPT_DECRYPT,),
    **{spec: (ENCRYPT_DECRYPT, SIGN_VERIFY) for spec in RSA_SPECS},
    **{spec: (SIGN_VERIFY, KEY_AGREEMENT) for spec in ECC_NIST_SPECS},
    "ECC_SECG_P256K1": (SIGN_VERIFY,),
    EDWARDS25519: (SIGN_VERIFY,),
    **{spec: (GENERATE_VERIFY_MAC,) for spec in HMAC_SPECS},
    **{spec: (SIGN_VERIFY,) for spec in ML_DSA_SPECS},
}
# Specs of the pinned model this release does not create (yet), with the reason.
UNSUPPORTED_KEY_SPECS = {
    "SM2": "SM2 keys are offered in China Regions only",
}


@dataclass(frozen=True, slots=True)
class KeyAlgorithms:
    """The algorithm lists DescribeKey and GetPublicKey show for a key."""

    encryption: tuple[str, ...] = ()
    signing: tuple[str, ...] = ()
    mac: tuple[str, ...] = ()
    key_agreement: tuple[str, ...] = ()


def key_algorithms(spec: str, usage: str) -> KeyAlgorithms:
    """What a key of this spec and usage can do (empty lists are left out by AWS)."""
    if spec == SYMMETRIC_DEFAULT:
        return KeyAlgorithms(encryption=ENCRYPTION_ALGORITHMS)
    if spec in HMAC_SPECS:
        return KeyAlgorithms(mac=(HMAC_SPECS[spec],))
    if usage == ENCRYPT_DECRYPT and spec in RSA_SPECS:
        return KeyAlgorithms(encryption=RSA_ENCRYPTION_ALGORITHMS)
    if usage == KEY_AGREEMENT:
        return KeyAlgorithms(key_agreement=(ECDH,))
    if spec in RSA_SPECS:
        return KeyAlgorithms(signing=RSA_SIGNING_ALGORITHMS)
    if spec in ECC_SIGNING:
        return KeyAlgorithms(signing=(ECC_SIGNING[spec],))
    if spec == EDWARDS25519:
        return KeyAlgorithms(signing=ED25519_SIGNING_ALGORITHMS)
    if spec in ML_DSA_SPECS:
        return KeyAlgorithms(signing=(ML_DSA_SHAKE_256,))
    return KeyAlgorithms()
