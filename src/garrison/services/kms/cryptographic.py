"""Cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey(WithoutPlaintext),
GenerateRandom. The hot path.

Order of checks, the same in each: find the key (cache), authorise (key
policy with the encryption context as condition keys), check the key state and
algorithm, then either stop with DryRunOperationException or do the work and
record the key's last usage. With everything cached an operation reads nothing
from the database and runs no statement: the last usage for GetKeyLastUsage is
one UPDATE of ``kms_keys`` per key per writer batch (`Tx.coalesce`, the batch's
last use wins; not a state change, so other nodes' caches are not dropped for
it). Figures in docs/performance.md.

Grants are honoured by `KeyAccess.authorize` (services/kms/grants.py); grant
tokens are checked for form by the provider's handler wrapper, and a grant is
effective as soon as CreateGrant commits, so a token adds nothing here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from garrison.api import Call
from garrison.crypto.aead import random_bytes
from garrison.services.kms import store
from garrison.services.kms.access import KeyAccess, Target
from garrison.services.kms.cache import KmsCache
from garrison.services.kms.ciphertext import BlobHeader, MaterialCipher, read_header
from garrison.services.kms.domain import ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT, LastUsage
from garrison.services.kms.errors import (
    CustomKeyStoreNotFoundException,
    DryRunOperationException,
    IncorrectKeyException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    KMSInternalException,
    UnsupportedOperationException,
    ValidationException,
)
from garrison.services.kms.keypolicy import encryption_context
from garrison.storage.writer import Tx

if TYPE_CHECKING:
    from garrison.services.kms.asymmetric import AsymmetricUseCases

IGNORE_CIPHERTEXT = "IGNORE_CIPHERTEXT"
DATA_KEY_BYTES = {"AES_256": 32, "AES_128": 16}

EncryptionContext = Mapping[str, str]


# Sealed and Opened, one per Encrypt or Decrypt, are named tuples: as immutable as a
# frozen dataclass, built without one object.__setattr__ per field (0.6 -> 0.2 us).
class Sealed(NamedTuple):
    """What Encrypt and GenerateDataKey return (plaintext only for GenerateDataKey)."""

    ciphertext: bytes
    key_arn: str
    material_id: str
    plaintext: bytes | None = None


class Opened(NamedTuple):
    plaintext: bytes
    key_arn: str
    material_id: str


@dataclass(frozen=True, slots=True)
class ReEncrypted:
    ciphertext: bytes
    source_key_arn: str
    source_material_id: str
    key_arn: str
    material_id: str
    source_algorithm: str = SYMMETRIC_DEFAULT
    algorithm: str = SYMMETRIC_DEFAULT


def _unsupported_recipient() -> UnsupportedOperationException:
    return UnsupportedOperationException(
        "Recipient (AWS Nitro Enclaves attestation) is not supported by this Garrison release."
    )


def _check_algorithm(algorithm: str | None) -> None:
    if algorithm is not None and algorithm != SYMMETRIC_DEFAULT:
        raise InvalidKeyUsageException(
            f"Algorithm {algorithm} is incompatible with key spec {SYMMETRIC_DEFAULT}."
        )


def _check_usable(target: Target, operation: str) -> None:
    """AWS's error when the key cannot do `operation` (a symmetric operation whose
    state rule is ENABLED: Encrypt, Decrypt, ReEncrypt, GenerateDataKey*)."""
    if target.view.symmetric_ready:  # enabled, ENCRYPT_DECRYPT, SYMMETRIC_DEFAULT
        return
    key = target.view.key
    key.require(operation)
    if key.key_usage != ENCRYPT_DECRYPT:
        raise InvalidKeyUsageException(
            f"{key.arn} key usage is {key.key_usage} which is not valid for {operation}."
        )
    if key.key_spec != SYMMETRIC_DEFAULT:
        # RSA ENCRYPT_DECRYPT keys: Encrypt/Decrypt go to asymmetric.py (the provider
        # dispatches); data keys and ReEncrypt need a symmetric key here.
        raise InvalidKeyUsageException(
            f"{key.arn} key spec is {key.key_spec} which is not valid for {operation}."
        )


def _context(ec: EncryptionContext | None, algorithm: str | None) -> dict[str, Sequence[str]]:
    out: dict[str, Sequence[str]] = dict(encryption_context(ec))
    out["kms:EncryptionAlgorithm"] = (algorithm or SYMMETRIC_DEFAULT,)
    return out


# Encrypt's and Decrypt's condition keys without an encryption context or algorithm
# (the common call), built once: `KeyAccess.authorize` only reads what it is given
# (0.33 -> 0.06 us a call).
_PLAIN_CONTEXT: Mapping[str, Sequence[str]] = MappingProxyType(_context(None, None))


class CryptoUseCases:
    def __init__(self, access: KeyAccess, cache: KmsCache, rsa: AsymmetricUseCases) -> None:
        self.access = access
        self.cache = cache
        self.rsa = rsa  # RSA ENCRYPT_DECRYPT keys, for ReEncrypt

    # -- shared steps ------------------------------------------------------------
    def _current_cipher(self, call: Call, target: Target) -> MaterialCipher:
        key = target.view.key
        cipher = self.cache.cipher(call.tx, key.key_id, key.current_version)
        if cipher is None:  # a key row without its current material: never written so
            raise KMSInternalException("The key material of this key is unavailable.")
        return cipher

    def _record_usage(self, call: Call, target: Target, operation: str) -> None:
        ctx = call.ctx
        key_id = target.view.key.key_id

        def write(tx: Tx) -> None:
            usage = LastUsage(operation, ctx.now, ctx.request_id)
            store.record_usage(tx, key_id, usage, ctx.event_id or None)

        # One UPDATE per key per batch, the batch's last use (GetKeyLastUsage is
        # approximate in AWS too): an UPDATE per call made 3,750 of 8,400 Encrypts/s.
        call.tx.coalesce(("kms-last-usage", key_id), write)

    def _found(self, call: Call, key: str | Target) -> Target:
        """The key a KeyId names, unless the caller (the provider) has found it."""
        return key if isinstance(key, Target) else self.access.find(call, key, aliases=True)

    def _source(
        self,
        call: Call,
        blob: bytes | None,
        key_id: str | Target | None,
        *,
        ignore_ciphertext: bool,
        member: str,
    ) -> tuple[Target, BlobHeader | None]:
        """The key a ciphertext belongs to, checked against the KeyId the caller named."""
        requested = self._found(call, key_id) if key_id else None
        header: BlobHeader | None = None
        if blob is None:
            if not ignore_ciphertext:
                raise ValidationException(
                    f"1 validation error detected: Value null at '{member}' failed to "
                    "satisfy constraint: Member must not be null"
                )
        elif requested is not None and requested.key.key_spec != SYMMETRIC_DEFAULT:
            # an RSA ciphertext has no header: it belongs to the key the caller named
            return requested, None
        else:
            try:
                header = read_header(blob)
            except InvalidCiphertextException:
                if not ignore_ciphertext:
                    raise
        if header is not None:
            # related multi-Region keys share the key id a blob names (public_id)
            if requested is not None and requested.key.public_id != header.key_id:
                raise IncorrectKeyException()
            found = requested or self.access.find_id(call, header.key_id)
            if found is None:
                raise InvalidCiphertextException()
            return found, header
        if requested is None:
            raise InvalidCiphertextException()
        return requested, None

    def _open(
        self, call: Call, target: Target, header: BlobHeader, blob: bytes, ec: Any
    ) -> tuple[bytes, str]:
        cipher = self.cache.cipher(call.tx, target.key.key_id, header.version)
        if cipher is None:
            raise InvalidCiphertextException()
        return cipher.open(blob, ec), cipher.material_id

    # -- Encrypt -------------------------------------------------------------------
    def encrypt(
        self,
        call: Call,
        key_id: str | Target,
        plaintext: bytes,
        *,
        encryption_context: EncryptionContext | None = None,
        encryption_algorithm: str | None = None,
        grant_tokens: Sequence[str] | None = None,
        dry_run: bool = False,
    ) -> Sealed:
        target = self._found(call, key_id)
        extra = _PLAIN_CONTEXT
        if encryption_context or encryption_algorithm:
            extra = _context(encryption_context, encryption_algorithm)
        self.access.authorize(call, target, "kms:Encrypt", extra)
        _check_usable(target, "Encrypt")
        if encryption_algorithm is not None:
            _check_algorithm(encryption_algorithm)
        if dry_run:
            raise DryRunOperationException()
        cipher = self._current_cipher(call, target)
        blob = cipher.seal(plaintext, encryption_context)
        self._record_usage(call, target, "Encrypt")
        return Sealed(blob, target.view.arn, cipher.material_id)

    # -- Decrypt -------------------------------------------------------------------
    def decrypt(
        self,
        call: Call,
        ciphertext: bytes | None,
        *,
        key_id: str | Target | None = None,
        encryption_context: EncryptionContext | None = None,
        encryption_algorithm: str | None = None,
        grant_tokens: Sequence[str] | None = None,
        recipient: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        dry_run_modifiers: Sequence[str] | None = None,
    ) -> Opened:
        if recipient is not None:
            raise _unsupported_recipient()
        ignore = dry_run and IGNORE_CIPHERTEXT in (dry_run_modifiers or ())
        target, header = self._source(
            call, ciphertext, key_id, ignore_ciphertext=ignore, member="ciphertextBlob"
        )
        extra = _PLAIN_CONTEXT
        if encryption_context or encryption_algorithm:
            extra = _context(encryption_context, encryption_algorithm)
        self.access.authorize(call, target, "kms:Decrypt", extra)
        _check_usable(target, "Decrypt")
        if encryption_algorithm is not None:
            _check_algorithm(encryption_algorithm)
        if ignore:
            raise DryRunOperationException()
        assert header is not None and ciphertext is not None
        plaintext, material_id = self._open(call, target, header, ciphertext, encryption_context)
        if dry_run:
            raise DryRunOperationException()
        self._record_usage(call, target, "Decrypt")
        return Opened(plaintext, target.view.arn, material_id)

    # -- ReEncrypt -----------------------------------------------------------------
    def re_encrypt(
        self,
        call: Call,
        ciphertext: bytes | None,
        destination_key_id: str,
        *,
        source_key_id: str | None = None,
        source_encryption_context: EncryptionContext | None = None,
        destination_encryption_context: EncryptionContext | None = None,
        source_encryption_algorithm: str | None = None,
        destination_encryption_algorithm: str | None = None,
        grant_tokens: Sequence[str] | None = None,
        dry_run: bool = False,
        dry_run_modifiers: Sequence[str] | None = None,
    ) -> ReEncrypted:
        ignore = dry_run and IGNORE_CIPHERTEXT in (dry_run_modifiers or ())
        source, header = self._source(
            call, ciphertext, source_key_id, ignore_ciphertext=ignore, member="ciphertextBlob"
        )
        destination = self.access.find(call, destination_key_id, aliases=True)
        same = "true" if source.key.key_id == destination.key.key_id else "false"
        from_context = _context(source_encryption_context, source_encryption_algorithm)
        from_context["kms:ReEncryptOnSameKey"] = (same,)
        to_context = _context(destination_encryption_context, destination_encryption_algorithm)
        to_context["kms:ReEncryptOnSameKey"] = (same,)
        self.access.authorize(call, source, "kms:ReEncryptFrom", from_context)
        self.access.authorize(call, destination, "kms:ReEncryptTo", to_context)
        if (
            source.key.key_spec != SYMMETRIC_DEFAULT
            or destination.key.key_spec != SYMMETRIC_DEFAULT
        ):
            return self._re_encrypt_asymmetric(
                call,
                ciphertext,
                source,
                header,
                destination,
                source_context=source_encryption_context,
                destination_context=destination_encryption_context,
                source_algorithm=source_encryption_algorithm,
                destination_algorithm=destination_encryption_algorithm,
                ignore=ignore,
                dry_run=dry_run,
            )
        _check_usable(source, "ReEncrypt")
        _check_usable(destination, "ReEncrypt")
        _check_algorithm(source_encryption_algorithm)
        _check_algorithm(destination_encryption_algorithm)
        if ignore:
            raise DryRunOperationException()
        assert header is not None and ciphertext is not None
        plaintext, source_material = self._open(
            call, source, header, ciphertext, source_encryption_context
        )
        if dry_run:
            raise DryRunOperationException()
        cipher = self._current_cipher(call, destination)
        blob = cipher.seal(plaintext, destination_encryption_context)
        self._record_usage(call, source, "ReEncrypt")
        if destination.key.key_id != source.key.key_id:
            self._record_usage(call, destination, "ReEncrypt")
        return ReEncrypted(
            blob, source.key.arn, source_material, destination.key.arn, cipher.material_id
        )

    def _re_encrypt_asymmetric(
        self,
        call: Call,
        ciphertext: bytes | None,
        source: Target,
        header: BlobHeader | None,
        destination: Target,
        *,
        source_context: EncryptionContext | None,
        destination_context: EncryptionContext | None,
        source_algorithm: str | None,
        destination_algorithm: str | None,
        ignore: bool,
        dry_run: bool,
    ) -> ReEncrypted:
        """ReEncrypt from and/or to an RSA ENCRYPT_DECRYPT key (kept off the symmetric path)."""
        rsa = self.rsa
        rsa_source = source.key.key_spec != SYMMETRIC_DEFAULT
        rsa_destination = destination.key.key_spec != SYMMETRIC_DEFAULT
        if rsa_source:
            from_algorithm = rsa.re_encrypt_algorithm(source, source_algorithm, source_context)
        else:
            _check_usable(source, "ReEncrypt")
            _check_algorithm(source_algorithm)
            from_algorithm = SYMMETRIC_DEFAULT
        if rsa_destination:
            to_algorithm = rsa.re_encrypt_algorithm(
                destination, destination_algorithm, destination_context
            )
        else:
            _check_usable(destination, "ReEncrypt")
            _check_algorithm(destination_algorithm)
            to_algorithm = SYMMETRIC_DEFAULT
        if ignore:
            raise DryRunOperationException()
        assert ciphertext is not None
        if rsa_source:
            plaintext = rsa.open_rsa(call, source, from_algorithm, ciphertext)
            source_material = source.key.current_material_id
        else:
            assert header is not None
            plaintext, source_material = self._open(
                call, source, header, ciphertext, source_context
            )
        if rsa_destination:
            blob = rsa.seal_rsa(call, destination, to_algorithm, plaintext)
            material = destination.key.current_material_id
        else:
            cipher = self._current_cipher(call, destination)
            blob = cipher.seal(plaintext, destination_context)
            material = cipher.material_id
        if dry_run:
            raise DryRunOperationException()
        self._record_usage(call, source, "ReEncrypt")
        if destination.key.key_id != source.key.key_id:
            self._record_usage(call, destination, "ReEncrypt")
        return ReEncrypted(
            blob,
            source.key.arn,
            source_material,
            destination.key.arn,
            material,
            from_algorithm,
            to_algorithm,
        )

    # -- GenerateDataKey, GenerateDataKeyWithoutPlaintext ------------------------------
    def generate_data_key(
        self,
        call: Call,
        key_id: str,
        *,
        with_plaintext: bool,
        key_spec: str | None = None,
        number_of_bytes: int | None = None,
        encryption_context: EncryptionContext | None = None,
        grant_tokens: Sequence[str] | None = None,
        recipient: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> Sealed:
        operation = "GenerateDataKey" if with_plaintext else "GenerateDataKeyWithoutPlaintext"
        if recipient is not None:
            raise _unsupported_recipient()
        if (key_spec is None) == (number_of_bytes is None):
            raise ValidationException("Please specify either number of bytes or key spec.")
        length = DATA_KEY_BYTES[key_spec] if key_spec is not None else number_of_bytes
        assert length is not None
        target = self.access.find(call, key_id, aliases=True)
        self.access.authorize(call, target, f"kms:{operation}", _context(encryption_context, None))
        _check_usable(target, operation)
        if dry_run:
            raise DryRunOperationException()
        cipher = self._current_cipher(call, target)
        data_key = random_bytes(length)
        blob = cipher.seal(data_key, encryption_context)
        self._record_usage(call, target, operation)
        shown = data_key if with_plaintext else None
        return Sealed(blob, target.key.arn, cipher.material_id, shown)

    # -- GenerateRandom --------------------------------------------------------------
    def generate_random(
        self,
        call: Call,
        number_of_bytes: int | None,
        *,
        custom_key_store_id: str | None = None,
        recipient: Mapping[str, Any] | None = None,
    ) -> bytes:
        self.access.authorize_identity(call, "kms:GenerateRandom")
        if custom_key_store_id is not None:
            raise CustomKeyStoreNotFoundException(
                f"Custom key store '{custom_key_store_id}' does not exist."
            )
        if recipient is not None:
            raise _unsupported_recipient()
        if number_of_bytes is None:
            raise ValidationException("NumberOfBytes is required.")
        return random_bytes(number_of_bytes)
