"""Imported key material (Origin EXTERNAL): GetParametersForImport, ImportKeyMaterial,
DeleteImportedKeyMaterial, and the expiry of material at its ValidTo.

AWS's "Importing key material" is the specification. A key created with Origin
EXTERNAL starts in PendingImport with no material. GetParametersForImport
issues an RSA wrapping key (its private half sealed by the barrier) and an
import token valid for 24 hours; the caller wraps 256 bits of symmetric
material under the public key and sends it with the token to
ImportKeyMaterial, which unwraps it, stores it sealed and turns the key
Enabled. The material's id is an HMAC of the key id under the material (AWS:
"based on the KMS key ID and the imported key material"), so the same
material always gets the same id and only the same material can be imported
again: after DeleteImportedKeyMaterial or expiry (state PendingImport again)
a re-import of it restores every ciphertext; different material is
IncorrectKeyMaterialException.

This release imports symmetric encryption material only (asymmetric and HMAC
keys cannot be created EXTERNAL), one material per key: ImportType
NEW_KEY_MATERIAL on a key that already has material (on-demand rotation of
imported material) is refused as unsupported.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from garrison.api import Call
from garrison.crypto.wrapping import (
    WRAPPING_ALGORITHMS,
    WRAPPING_KEY_SPECS,
    UnwrapError,
    new_wrapping_key,
    unwrap,
)
from garrison.services.kms import import_store, store
from garrison.services.kms.access import KeyAccess, Target, audit_key
from garrison.services.kms.cache import KmsCache
from garrison.services.kms.domain import (
    ORIGIN_EXTERNAL,
    SYMMETRIC_DEFAULT,
    Key,
)
from garrison.services.kms.errors import (
    ExpiredImportTokenException,
    IncorrectKeyMaterialException,
    InvalidCiphertextException,
    InvalidImportTokenException,
    NotFoundException,
    UnsupportedOperationException,
    ValidationException,
)
from garrison.services.kms.jobs import DoneOnKey
from garrison.storage.writer import Tx

PARAMETERS_VALID_FOR = timedelta(hours=24)
# An expired token is kept this long so it is reported as expired, not as unknown.
TOKEN_RETENTION = timedelta(days=7)
MAX_VALID_TO = timedelta(days=365)
SYMMETRIC_MATERIAL_BYTES = 32
KEY_MATERIAL_EXPIRES = "KEY_MATERIAL_EXPIRES"
KEY_MATERIAL_DOES_NOT_EXPIRE = "KEY_MATERIAL_DOES_NOT_EXPIRE"
NEW_KEY_MATERIAL = "NEW_KEY_MATERIAL"
EXISTING_KEY_MATERIAL = "EXISTING_KEY_MATERIAL"
_TOKEN_PREFIX = b"gimp1:"  # version of the token blob; the rest is 32 random bytes
_RETIRED = {
    "RSAES_PKCS1_V1_5": "RSAES_PKCS1_V1_5 is no longer offered for importing key material "
    "(AWS retired it); use RSAES_OAEP_SHA_256 or RSA_AES_KEY_WRAP_SHA_256.",
    "SM2PKE": "SM2PKE wrapping is offered in China Regions only.",
    "SM2": "SM2 wrapping keys are offered in China Regions only.",
}


@dataclass(frozen=True, slots=True)
class ImportParameters:
    key_arn: str
    import_token: bytes
    public_key: bytes  # DER SubjectPublicKeyInfo
    valid_to: datetime


def material_id_of(key_id: str, material: bytes) -> str:
    """The key material id: an HMAC of the key id under the material (hex)."""
    return hmac.digest(material, key_id.encode(), "sha256").hex()


def _token_id(blob: bytes) -> str | None:
    raw = blob[len(_TOKEN_PREFIX) :]
    if not blob.startswith(_TOKEN_PREFIX) or len(raw) != 32:
        return None
    return raw.hex()


def require_external(key: Key, operation: str) -> None:
    if key.origin != ORIGIN_EXTERNAL:
        raise UnsupportedOperationException(
            f"{key.arn} has Origin {key.origin}; {operation} applies to KMS keys with "
            f"Origin {ORIGIN_EXTERNAL} only."
        )


def remove_material(tx: Tx, cache: KmsCache, key: Key) -> Key:
    """Delete a key's imported material: PendingImport until the same material returns."""
    import_store.drop_material(tx, key.key_id, key.current_version)
    removed = key.material_removed()
    store.update_key(tx, removed)
    cache.invalidate_key(tx, key.key_id, material=True)
    tx.mark_changed()
    return removed


class ImportUseCases:
    def __init__(self, access: KeyAccess, cache: KmsCache) -> None:
        self.access = access
        self.cache = cache

    def _target(
        self, call: Call, key_id: str, action: str, extra: dict[str, tuple[str, ...]]
    ) -> Target:
        target = self.access.find(call, key_id, aliases=False, fresh=True)
        self.access.authorize(call, target, action, extra)
        return target

    # -- GetParametersForImport ---------------------------------------------------
    def get_parameters_for_import(
        self, call: Call, key_id: str, *, wrapping_algorithm: str, wrapping_key_spec: str
    ) -> ImportParameters:
        target = self._target(
            call,
            key_id,
            "kms:GetParametersForImport",
            {
                "kms:WrappingAlgorithm": (wrapping_algorithm,),
                "kms:WrappingKeySpec": (wrapping_key_spec,),
            },
        )
        key = target.key
        require_external(key, "GetParametersForImport")
        key.require("GetParametersForImport")
        for requested in (wrapping_algorithm, wrapping_key_spec):
            if requested in _RETIRED:
                raise UnsupportedOperationException(_RETIRED[requested])
        if wrapping_algorithm not in WRAPPING_ALGORITHMS:
            raise ValidationException(f"WrappingAlgorithm {wrapping_algorithm} is not valid.")
        if wrapping_key_spec not in WRAPPING_KEY_SPECS:
            raise ValidationException(f"WrappingKeySpec {wrapping_key_spec} is not valid.")
        now = call.ctx.now
        raw = secrets.token_bytes(32)
        token = import_store.ImportToken(
            token_id=raw.hex(),
            key_id=key.key_id,
            wrapping_algorithm=wrapping_algorithm,
            wrapping_key_spec=wrapping_key_spec,
            created_at=now,
            expires_at=now + PARAMETERS_VALID_FOR,
        )
        private_der, public_der = new_wrapping_key(wrapping_key_spec)
        import_store.delete_expired_tokens(call.tx, now - TOKEN_RETENTION)
        import_store.insert_token(call.tx, token, private_der)
        audit_key(call, key.arn)
        return ImportParameters(key.arn, _TOKEN_PREFIX + raw, public_der, token.expires_at)

    # -- ImportKeyMaterial ----------------------------------------------------------
    def import_key_material(
        self,
        call: Call,
        key_id: str,
        *,
        import_token: bytes,
        encrypted_key_material: bytes,
        valid_to: datetime | None = None,
        expiration_model: str | None = None,
        import_type: str | None = None,
        key_material_description: str | None = None,
        key_material_id: str | None = None,
    ) -> tuple[Key, str]:
        """Import (or re-import) material; the key and the material's id."""
        model = expiration_model or KEY_MATERIAL_EXPIRES
        extra: dict[str, tuple[str, ...]] = {"kms:ExpirationModel": (model,)}
        if valid_to is not None:
            extra["kms:ValidTo"] = (str(int(valid_to.timestamp())),)
        key = self._target(call, key_id, "kms:ImportKeyMaterial", extra).key
        require_external(key, "ImportKeyMaterial")
        key.require("ImportKeyMaterial")
        if key.key_spec != SYMMETRIC_DEFAULT:  # cannot happen: CreateKey refuses them
            raise UnsupportedOperationException(
                "This Garrison release imports symmetric encryption key material only."
            )
        now = call.ctx.now
        expires_at = _check_expiry(model, valid_to, now)

        token_id = _token_id(import_token)
        found = import_store.get_token(call.tx, token_id) if token_id else None
        if found is None or found[0].key_id != key.key_id:
            raise InvalidImportTokenException()
        token, private_der = found
        if token.expires_at <= now:
            raise ExpiredImportTokenException()
        try:
            material = unwrap(private_der, token.wrapping_algorithm, encrypted_key_material)
        except UnwrapError:
            raise InvalidCiphertextException() from None
        if len(material) != SYMMETRIC_MATERIAL_BYTES:
            raise IncorrectKeyMaterialException(
                "The key material in the request is invalid: symmetric encryption key "
                f"material is {SYMMETRIC_MATERIAL_BYTES * 8} bits ({SYMMETRIC_MATERIAL_BYTES} "
                "bytes)."
            )

        current = import_store.get_material(call.tx, key.key_id, key.current_version)
        assert current is not None  # every EXTERNAL key has its material row
        digest = hmac.digest(material, key.key_id.encode(), "sha256")
        ever_imported = current.digest is not None
        kind = import_type or (EXISTING_KEY_MATERIAL if ever_imported else NEW_KEY_MATERIAL)
        _check_import_type(kind, ever_imported, key_material_id)
        if current.digest is not None and not hmac.compare_digest(digest, current.digest):
            raise IncorrectKeyMaterialException(
                "The key material in the request is not the same key material that was "
                "previously imported into this KMS key."
            )
        if key_material_id is not None and not hmac.compare_digest(key_material_id, digest.hex()):
            raise IncorrectKeyMaterialException(
                f"Key material {key_material_id} is not the key material in the request."
            )
        imported = replace(
            current,
            material_id=digest.hex(),
            expiration_model=model,
            valid_to=expires_at,
            description=(
                key_material_description
                if key_material_description is not None
                else current.description
            ),
            digest=digest,
        )
        import_store.put_material(call.tx, imported, material)
        updated = replace(
            key.material_imported(model, expires_at), current_material_id=digest.hex()
        )
        store.update_key(call.tx, updated)
        self.cache.invalidate_key(call.tx, key.key_id, material=True)
        call.tx.mark_changed()
        audit_key(call, key.arn)
        return updated, digest.hex()

    # -- ListKeyRotations' import facts --------------------------------------------
    @staticmethod
    def material_facts(call: Call, key: Key, version: int) -> import_store.ImportedMaterial | None:
        """The import facts of one material of an EXTERNAL key (None for other keys)."""
        if key.origin != ORIGIN_EXTERNAL:
            return None
        return import_store.get_material(call.tx, key.key_id, version)

    # -- DeleteImportedKeyMaterial -------------------------------------------------
    def delete_imported_key_material(
        self, call: Call, key_id: str, *, key_material_id: str | None = None
    ) -> tuple[Key, str | None]:
        """Delete the key's material; the key and the id of the deleted material."""
        key = self._target(call, key_id, "kms:DeleteImportedKeyMaterial", {}).key
        require_external(key, "DeleteImportedKeyMaterial")
        key.require("DeleteImportedKeyMaterial")
        current = import_store.get_material(call.tx, key.key_id, key.current_version)
        assert current is not None
        if key_material_id is not None and key_material_id != current.material_id:
            raise NotFoundException(
                f"Key material {key_material_id} is not associated with {key.arn}."
            )
        audit_key(call, key.arn)
        if current.import_state == import_store.PENDING_IMPORT:
            return key, current.material_id or None  # nothing to delete: AWS succeeds
        return remove_material(call.tx, self.cache, key), current.material_id


def _check_expiry(model: str, valid_to: datetime | None, now: datetime) -> datetime | None:
    if model == KEY_MATERIAL_DOES_NOT_EXPIRE:
        if valid_to is not None:
            raise ValidationException(
                "ValidTo is not valid when ExpirationModel is KEY_MATERIAL_DOES_NOT_EXPIRE."
            )
        return None
    if valid_to is None:
        raise ValidationException(
            "A ValidTo date is required when ExpirationModel is KEY_MATERIAL_EXPIRES."
        )
    if valid_to <= now or valid_to > now + MAX_VALID_TO:
        raise ValidationException(
            "ValidTo must be a future date and time at most 365 days from the request date."
        )
    return valid_to


def _check_import_type(kind: str, ever_imported: bool, key_material_id: str | None) -> None:
    if kind == NEW_KEY_MATERIAL:
        if key_material_id is not None:
            raise ValidationException(
                "You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL."
            )
        if ever_imported:
            raise UnsupportedOperationException(
                "Importing new key material into a KMS key that already has key material "
                "(on-demand rotation of imported key material) is not supported by this "
                "Garrison release yet; re-import the same key material with ImportType "
                "EXISTING_KEY_MATERIAL."
            )
    elif not ever_imported:
        raise ValidationException(
            "No key material has been imported into this KMS key yet; use ImportType "
            "NEW_KEY_MATERIAL for the first import."
        )


# -- expiry (the scheduler) ---------------------------------------------------------


def _when(now: datetime | float) -> datetime:
    return now if isinstance(now, datetime) else datetime.fromtimestamp(now, UTC)


def keys_with_expired_material(tx: Tx, now: datetime | float, limit: int = 100) -> list[str]:
    return import_store.keys_with_expired_material(tx, _when(now), limit)


def expire_material_if_due(
    tx: Tx, key_id: str, now: datetime | float, cache: KmsCache
) -> DoneOnKey | None:
    """Delete the key's imported material if its ValidTo has passed (CloudTrail's
    ``DeleteExpiredKeyMaterial``); None if it is not due (any more)."""
    when = _when(now)
    key = store.get_key(tx, key_id)
    if key is None or key.origin != ORIGIN_EXTERNAL:
        return None
    current = import_store.get_material(tx, key_id, key.current_version)
    if (
        current is None
        or current.import_state != import_store.IMPORTED
        or current.valid_to is None
        or current.valid_to > when
    ):
        return None
    import_store.delete_expired_tokens(tx, when - TOKEN_RETENTION)
    remove_material(tx, cache, key)
    return DoneOnKey("DeleteExpiredKeyMaterial", key.account_id, key.region, key.key_id, key.arn)
