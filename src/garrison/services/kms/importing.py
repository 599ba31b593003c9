"""Imported key material (Origin EXTERNAL): GetParametersForImport, ImportKeyMaterial,
DeleteImportedKeyMaterial, on-demand rotation of imported material, and its expiry.

AWS's "Importing key material" is the specification. A key created with Origin
EXTERNAL starts in PendingImport with no material. GetParametersForImport
issues an RSA wrapping key (its private half sealed by the barrier) and an
import token valid for 24 hours; the caller wraps the material under the public
key and sends it with the token to ImportKeyMaterial, which unwraps it, checks
it is material of the key's spec (import_material.py), stores it sealed and
turns the key Enabled. A material's id is an HMAC of the key id under the
material (AWS: "based on the KMS key ID and the imported key material"), so the
same material always gets the same id and is recognised when it comes back.

Symmetric encryption keys can hold several materials (import_store.py: one
version row each):

    ImportType NEW_KEY_MATERIAL, first import ──> CURRENT
    ImportType NEW_KEY_MATERIAL, later ─────────> PENDING_ROTATION (at most one)
        (multi-Region primary: PENDING_MULTI_REGION_IMPORT_AND_ROTATION until every
         replica has imported it with EXISTING_KEY_MATERIAL)
    RotateKeyOnDemand ─> the pending material becomes CURRENT, the current NON_CURRENT

ImportType EXISTING_KEY_MATERIAL re-imports one of the key's materials (after
DeleteImportedKeyMaterial or expiry, or to change its expiry). The key is
Enabled only while every material permanently associated with it (current and
non-current) is imported; deleting or expiring any of them makes it
PendingImport. A pending material is not permanently associated: deleting it
forgets it. Asymmetric and HMAC keys take one material, imported once and then
only re-imported.

Multi-Region keys (multiregion.py) share their materials: the primary imports
new material, each replica imports the same material (EXISTING_KEY_MATERIAL),
and RotateKeyOnDemand on the primary rotates the whole set.
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
from garrison.services.kms.import_material import canonical_material, check_wrapping
from garrison.services.kms.imported import remove_material, settle_state
from garrison.services.kms.jobs import DoneOnKey
from garrison.services.kms.multiregion import is_replica, related_keys
from garrison.storage.writer import Tx

PARAMETERS_VALID_FOR = timedelta(hours=24)
# An expired token is kept this long so it is reported as expired, not as unknown.
TOKEN_RETENTION = timedelta(days=7)
MAX_VALID_TO = timedelta(days=365)
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
        check_wrapping(key.key_spec, wrapping_algorithm, wrapping_key_spec)
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
        """Import new material or re-import one of the key's; the key and the material's id."""
        model = expiration_model or KEY_MATERIAL_EXPIRES
        extra: dict[str, tuple[str, ...]] = {"kms:ExpirationModel": (model,)}
        if valid_to is not None:
            extra["kms:ValidTo"] = (str(int(valid_to.timestamp())),)
        key = self._target(call, key_id, "kms:ImportKeyMaterial", extra).key
        require_external(key, "ImportKeyMaterial")
        key.require("ImportKeyMaterial")
        tx, now = call.tx, call.ctx.now
        expires_at = _check_expiry(model, valid_to, now)
        if key.key_spec != SYMMETRIC_DEFAULT:
            for member, value in (
                ("KeyMaterialDescription", key_material_description),
                ("KeyMaterialId", key_material_id),
            ):
                if value is not None:
                    raise ValidationException(
                        f"{member} is only valid for symmetric encryption KMS keys; "
                        f"{key.arn} has key spec {key.key_spec}."
                    )

        token_id = _token_id(import_token)
        found = import_store.get_token(tx, token_id) if token_id else None
        if found is None or found[0].key_id != key.key_id:
            raise InvalidImportTokenException()
        token, private_der = found
        if token.expires_at <= now:
            raise ExpiredImportTokenException()
        try:
            material = unwrap(private_der, token.wrapping_algorithm, encrypted_key_material)
        except UnwrapError:
            raise InvalidCiphertextException() from None
        material = canonical_material(key.key_spec, material)

        rows = import_store.list_materials(tx, key.key_id)
        digest = hmac.digest(material, key.public_id.encode(), "sha256")
        material_id = digest.hex()
        match = next(
            (r for r in rows if r.digest is not None and hmac.compare_digest(r.digest, digest)),
            None,
        )
        ever_imported = any(r.digest is not None for r in rows)
        kind = import_type or (EXISTING_KEY_MATERIAL if ever_imported else NEW_KEY_MATERIAL)
        replica = is_replica(tx, key)
        if kind == NEW_KEY_MATERIAL:
            if key_material_id is not None:
                raise ValidationException(
                    "You cannot specify a KeyMaterialId with ImportType NEW_KEY_MATERIAL."
                )
            if replica:
                raise UnsupportedOperationException(
                    f"{key.arn} is a multi-Region replica key: import new key material into "
                    "its primary key, then the same material into each replica with "
                    "ImportType EXISTING_KEY_MATERIAL."
                )
            if match is not None:
                raise ValidationException(
                    f"This key material is already associated with {key.arn} (key material "
                    f"{material_id}); re-import it with ImportType EXISTING_KEY_MATERIAL."
                )
            facts = replace(
                _facts(key, rows, ever_imported),
                material_id=material_id,
                import_state=import_store.IMPORTED,
                expiration_model=model,
                valid_to=expires_at,
                description=key_material_description,
                digest=digest,
            )
            if ever_imported:
                import_store.insert_material_row(tx, facts, now, material)
            else:
                import_store.put_material(tx, facts, material)
            self._share_with_replicas(tx, key, facts, now, first=not ever_imported)
        else:
            if not ever_imported:
                raise ValidationException(
                    "No key material has been imported into this KMS key yet; use ImportType "
                    "NEW_KEY_MATERIAL for the first import"
                    + (" (into its primary key: this is a replica)." if replica else ".")
                )
            if match is None:
                raise IncorrectKeyMaterialException(
                    "The key material in the request is not key material that was previously "
                    f"imported into {key.arn}."
                )
            if key_material_id is not None and not hmac.compare_digest(
                key_material_id, material_id
            ):
                raise IncorrectKeyMaterialException(
                    f"Key material {key_material_id} is not the key material in the request."
                )
            facts = replace(
                match,
                import_state=import_store.IMPORTED,
                expiration_model=model,
                valid_to=expires_at,
                description=(
                    key_material_description
                    if key_material_description is not None
                    else match.description
                ),
            )
            import_store.put_material(tx, facts, material)
        updated = settle_state(tx, self.cache, key)
        audit_key(call, key.arn)
        return updated, material_id

    def _share_with_replicas(
        self, tx: Tx, key: Key, facts: import_store.ImportedMaterial, now: datetime, *, first: bool
    ) -> None:
        """A multi-Region primary's new material: each replica learns its id and digest
        (not the material: the replica imports that itself)."""
        assert facts.digest is not None
        for related in related_keys(tx, key):
            if first:
                import_store.set_identity(
                    tx, related.key_id, facts.version, facts.material_id, facts.digest
                )
            else:
                placeholder = replace(
                    facts,
                    key_id=related.key_id,
                    import_state=import_store.PENDING_IMPORT,
                    expiration_model=None,
                    valid_to=None,
                )
                import_store.insert_material_row(tx, placeholder, now, None)
            self.cache.invalidate_key(tx, related.key_id, material=True)

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
        """Delete one of the key's materials (the current one by default); the key and
        the id of the deleted material."""
        key = self._target(call, key_id, "kms:DeleteImportedKeyMaterial", {}).key
        require_external(key, "DeleteImportedKeyMaterial")
        key.require("DeleteImportedKeyMaterial")
        rows = import_store.list_materials(call.tx, key.key_id)
        if key_material_id is None:
            row = next(r for r in rows if r.version == key.current_version)
        else:
            found = [r for r in rows if r.material_id and r.material_id == key_material_id]
            if not found:
                raise NotFoundException(
                    f"Key material {key_material_id} is not associated with {key.arn}."
                )
            row = found[0]
        audit_key(call, key.arn)
        if not row.imported:
            return key, row.material_id or None  # nothing to delete: AWS succeeds
        return remove_material(call.tx, self.cache, key, row), row.material_id


def _facts(
    key: Key, rows: list[import_store.ImportedMaterial], ever_imported: bool
) -> import_store.ImportedMaterial:
    """The row new material goes into: the key's first row on its first import, else
    a new pending row after the current one (at most one may wait)."""
    if not ever_imported:
        return next(r for r in rows if r.version == key.current_version)
    if key.key_spec != SYMMETRIC_DEFAULT:
        raise UnsupportedOperationException(
            f"{key.arn} has key spec {key.key_spec}: the key material of asymmetric and HMAC "
            "KMS keys cannot change after the first import; re-import the same material with "
            "ImportType EXISTING_KEY_MATERIAL."
        )
    pending = [r for r in rows if r.version > key.current_version]
    if pending:
        raise ValidationException(
            f"{key.arn} already has key material {pending[0].material_id} pending rotation: "
            "rotate to it (RotateKeyOnDemand) or delete it (DeleteImportedKeyMaterial) before "
            "importing other new key material."
        )
    version = max(r.version for r in rows) + 1
    return import_store.ImportedMaterial(
        key.key_id, version, "", import_store.PENDING_IMPORT, None, None, None, None
    )


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


# -- expiry (the scheduler) ---------------------------------------------------------


def _when(now: datetime | float) -> datetime:
    return now if isinstance(now, datetime) else datetime.fromtimestamp(now, UTC)


def keys_with_expired_material(tx: Tx, now: datetime | float, limit: int = 100) -> list[str]:
    return import_store.keys_with_expired_material(tx, _when(now), limit)


def expire_material_if_due(
    tx: Tx, key_id: str, now: datetime | float, cache: KmsCache
) -> DoneOnKey | None:
    """Delete the key's imported materials whose ValidTo has passed (CloudTrail's
    ``DeleteExpiredKeyMaterial``); None if none is due (any more)."""
    when = _when(now)
    key = store.get_key(tx, key_id)
    if key is None or key.origin != ORIGIN_EXTERNAL:
        return None
    due = [
        row
        for row in import_store.list_materials(tx, key_id)
        if row.imported and row.valid_to is not None and row.valid_to <= when
    ]
    if not due:
        return None
    import_store.delete_expired_tokens(tx, when - TOKEN_RETENTION)
    for row in due:
        key = remove_material(tx, cache, key, row)
    return DoneOnKey("DeleteExpiredKeyMaterial", key.account_id, key.region, key.key_id, key.arn)
