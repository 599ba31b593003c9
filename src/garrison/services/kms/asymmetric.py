"""Asymmetric and HMAC key use cases: GetPublicKey, Sign, Verify, RSA Encrypt/Decrypt,
GenerateMac, VerifyMac, GenerateDataKeyPair(WithoutPlaintext), DeriveSharedSecret.

The same order of checks as the symmetric operations (cryptographic.py): find
the key, authorise (with the operation's condition keys: kms:SigningAlgorithm,
kms:MessageType, kms:MacAlgorithm, kms:KeyAgreementAlgorithm, ...), check the
key state, its usage and the algorithm for its spec, then stop for DryRun or
do the work and record the key's last usage.

A key's private key (PKCS#8 DER) or HMAC key is its version-1 material, sealed
by the barrier like symmetric material. These keys never rotate (AWS), so an
opened key is cached by (key id, version) forever once the unit that read it
has committed; a deleted key is never found, so its entry is never served.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from garrison.api import Call
from garrison.crypto.asymmetric import (
    DIGEST_BYTES,
    HMAC_KEY_BYTES,
    AsymmetricDecryptionError,
    PrivateKey,
    encrypt_with_public,
    generate_key_pair,
    hmac_tag,
    hmac_verify,
    new_hmac_key,
    rsa_oaep_max_plaintext,
    signing_hash,
)
from garrison.services.kms import store
from garrison.services.kms.access import KeyAccess, Target
from garrison.services.kms.cache import KmsCache
from garrison.services.kms.domain import (
    ECDH,
    ED25519_SIGNING_ALGORITHMS,
    ENCRYPT_DECRYPT,
    GENERATE_VERIFY_MAC,
    KEY_AGREEMENT,
    ML_DSA_SHAKE_256,
    SIGN_VERIFY,
    SYMMETRIC_DEFAULT,
    LastUsage,
    key_algorithms,
)
from garrison.services.kms.errors import (
    DryRunOperationException,
    InvalidCiphertextException,
    InvalidKeyUsageException,
    KMSInternalException,
    KMSInvalidMacException,
    KMSInvalidSignatureException,
    UnsupportedOperationException,
    ValidationException,
)
from garrison.services.kms.keypolicy import encryption_context as context_keys
from garrison.storage.writer import Tx

RAW = "RAW"
DIGEST = "DIGEST"
EXTERNAL_MU = "EXTERNAL_MU"
DATA_KEY_PAIR_SPECS = frozenset(
    {
        "RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384",
        "ECC_NIST_P521", "ECC_SECG_P256K1", "ECC_NIST_EDWARDS25519",
    }
)  # fmt: skip
_MAX_CACHED = 4096


def new_key_material(spec: str) -> bytes:
    """The first (and only) key material of an asymmetric or HMAC key."""
    if spec in HMAC_KEY_BYTES:
        return new_hmac_key(spec)
    return generate_key_pair(spec).private_der


@dataclass(frozen=True, slots=True)
class PublicKeyInfo:
    key_arn: str
    key_spec: str
    key_usage: str
    public_key: bytes
    encryption_algorithms: tuple[str, ...]
    signing_algorithms: tuple[str, ...]
    key_agreement_algorithms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DataKeyPair:
    key_arn: str
    material_id: str
    public_key: bytes
    private_ciphertext: bytes
    private_plaintext: bytes | None


def _unsupported_recipient() -> UnsupportedOperationException:
    return UnsupportedOperationException(
        "Recipient (AWS Nitro Enclaves attestation) is not supported by this Garrison release."
    )


def _wrong_usage(target: Target, operation: str) -> InvalidKeyUsageException:
    key = target.key
    return InvalidKeyUsageException(
        f"{key.arn} key usage is {key.key_usage} which is not valid for {operation}."
    )


def _incompatible(algorithm: str, spec: str) -> InvalidKeyUsageException:
    return InvalidKeyUsageException(f"Algorithm {algorithm} is incompatible with key spec {spec}.")


def _check_size(target: Target, private: PrivateKey, algorithm: str, plaintext: bytes) -> None:
    limit = rsa_oaep_max_plaintext(private.rsa_bytes, algorithm)
    if len(plaintext) > limit:
        raise ValidationException(
            f"Plaintext is {len(plaintext)} bytes; {target.key.key_spec} with {algorithm} "
            f"encrypts at most {limit} bytes."
        )


class AsymmetricUseCases:
    def __init__(self, access: KeyAccess, cache: KmsCache) -> None:
        self.access = access
        self.cache = cache
        self._lock = threading.Lock()
        self._private: dict[tuple[str, int], PrivateKey] = {}
        self._secret: dict[tuple[str, int], bytes] = {}

    def clear(self) -> None:
        with self._lock:
            self._private.clear()
            self._secret.clear()

    # -- shared steps ------------------------------------------------------------
    def _target(
        self,
        call: Call,
        key_id: str | Target,
        action: str,
        operation: str,
        usage: str | tuple[str, ...],
        extra: Mapping[str, Sequence[str]] | None = None,
    ) -> Target:
        # the provider's Encrypt and Decrypt have found the key (to choose RSA-OAEP)
        if isinstance(key_id, Target):
            target = key_id
        else:
            target = self.access.find(call, key_id, aliases=True)
        self.access.authorize(call, target, action, extra)
        target.key.require(operation)
        usages = (usage,) if isinstance(usage, str) else usage
        if target.key.key_usage not in usages:
            raise _wrong_usage(target, operation)
        return target

    def _material(self, call: Call, target: Target) -> bytes:
        key = target.key
        found = store.load_material(call.tx, key.key_id, key.current_version)
        if found is None:  # a key row without its material: never written so
            raise KMSInternalException("The key material of this key is unavailable.")
        return found[1]

    def _private_key(self, call: Call, target: Target) -> PrivateKey:
        entry = (target.key.key_id, target.key.current_version)
        cached = self._private.get(entry)
        if cached is not None:
            return cached
        loaded = PrivateKey(self._material(call, target))
        call.tx.after_commit(lambda: self._keep(self._private, entry, loaded))
        return loaded

    def _hmac_key(self, call: Call, target: Target) -> bytes:
        entry = (target.key.key_id, target.key.current_version)
        cached = self._secret.get(entry)
        if cached is not None:
            return cached
        loaded = self._material(call, target)
        call.tx.after_commit(lambda: self._keep(self._secret, entry, loaded))
        return loaded

    def _keep(self, table: dict[tuple[str, int], Any], entry: tuple[str, int], value: Any) -> None:
        with self._lock:
            if len(table) >= _MAX_CACHED:
                table.clear()
            table[entry] = value

    def _record_usage(self, call: Call, target: Target, operation: str) -> None:
        ctx = call.ctx
        key_id = target.key.key_id

        def write(tx: Tx) -> None:
            store.record_usage(
                tx, key_id, LastUsage(operation, ctx.now, ctx.request_id), ctx.event_id or None
            )

        call.tx.coalesce(("kms-last-usage", key_id), write)

    # -- GetPublicKey ----------------------------------------------------------------
    def get_public_key(self, call: Call, key_id: str) -> PublicKeyInfo:
        target = self.access.find(call, key_id, aliases=True)
        self.access.authorize(call, target, "kms:GetPublicKey")
        key = target.key
        key.require("GetPublicKey")
        if key.key_spec == SYMMETRIC_DEFAULT or key.key_usage == GENERATE_VERIFY_MAC:
            raise UnsupportedOperationException(
                f"{key.arn} key usage is {key.key_usage}, which has no public key."
            )
        public = self._private_key(call, target).public_der
        algorithms = key_algorithms(key.key_spec, key.key_usage)
        self._record_usage(call, target, "GetPublicKey")
        return PublicKeyInfo(
            key.arn,
            key.key_spec,
            key.key_usage,
            public,
            algorithms.encryption,
            algorithms.signing,
            algorithms.key_agreement,
        )

    # -- Sign, Verify --------------------------------------------------------------------
    def _signing(
        self,
        call: Call,
        operation: str,
        key_id: str,
        message: bytes,
        message_type: str | None,
        algorithm: str,
    ) -> tuple[Target, bool]:
        kind = message_type or RAW
        target = self._target(
            call,
            key_id,
            f"kms:{operation}",
            operation,
            SIGN_VERIFY,
            {"kms:SigningAlgorithm": (algorithm,), "kms:MessageType": (kind,)},
        )
        spec = target.key.key_spec
        if algorithm not in key_algorithms(spec, SIGN_VERIFY).signing:
            raise _incompatible(algorithm, spec)
        if algorithm == ML_DSA_SHAKE_256:
            if kind == EXTERNAL_MU:
                raise UnsupportedOperationException(
                    "MessageType EXTERNAL_MU is not supported by this Garrison release; "
                    "ML-DSA keys sign RAW messages."
                )
            if kind != RAW:
                raise ValidationException(
                    f"ML_DSA_SHAKE_256 signs RAW or EXTERNAL_MU messages, not {kind}."
                )
        elif kind not in (RAW, DIGEST):
            raise InvalidKeyUsageException(
                f"MessageType {kind} is not valid with signing algorithm {algorithm}."
            )
        elif algorithm in ED25519_SIGNING_ALGORITHMS:
            if algorithm == "ED25519_PH_SHA_512":
                raise UnsupportedOperationException(
                    "ED25519_PH_SHA_512 (Ed25519ph) is not supported by this Garrison release; "
                    "use ED25519_SHA_512."
                )
            if kind != RAW:
                raise ValidationException(
                    "ED25519_SHA_512 signs raw messages only: MessageType must be RAW."
                )
        elif kind == DIGEST and len(message) != DIGEST_BYTES[signing_hash(algorithm)]:
            raise ValidationException(f"Digest is invalid length for algorithm {algorithm}.")
        return target, kind == DIGEST

    def sign(
        self,
        call: Call,
        key_id: str,
        message: bytes,
        *,
        message_type: str | None,
        signing_algorithm: str,
        dry_run: bool = False,
    ) -> tuple[str, bytes]:
        """(key ARN, signature)."""
        target, digest = self._signing(
            call, "Sign", key_id, message, message_type, signing_algorithm
        )
        if dry_run:
            raise DryRunOperationException()
        signature = self._private_key(call, target).sign(signing_algorithm, message, digest=digest)
        self._record_usage(call, target, "Sign")
        return target.key.arn, signature

    def verify(
        self,
        call: Call,
        key_id: str,
        message: bytes,
        signature: bytes,
        *,
        message_type: str | None,
        signing_algorithm: str,
        dry_run: bool = False,
    ) -> str:
        """The key ARN; KMSInvalidSignatureException unless the signature is valid."""
        target, digest = self._signing(
            call, "Verify", key_id, message, message_type, signing_algorithm
        )
        if dry_run:
            raise DryRunOperationException()
        private = self._private_key(call, target)
        valid = private.verify(signing_algorithm, message, signature, digest=digest)
        self._record_usage(call, target, "Verify")
        if not valid:
            raise KMSInvalidSignatureException()
        return target.key.arn

    # -- RSA Encrypt / Decrypt ---------------------------------------------------------------
    def _rsa(
        self,
        call: Call,
        operation: str,
        key_id: str | Target,
        context: Mapping[str, str] | None,
        algorithm: str | None,
    ) -> tuple[Target, str]:
        chosen = algorithm or SYMMETRIC_DEFAULT
        extra: dict[str, Sequence[str]] = dict(context_keys(context))
        extra["kms:EncryptionAlgorithm"] = (chosen,)
        target = self._target(call, key_id, f"kms:{operation}", operation, ENCRYPT_DECRYPT, extra)
        spec = target.key.key_spec
        if chosen not in key_algorithms(spec, ENCRYPT_DECRYPT).encryption:
            raise _incompatible(chosen, spec)
        if context:
            raise ValidationException(
                "EncryptionContext is not supported with asymmetric KMS keys."
            )
        return target, chosen

    def encrypt(
        self,
        call: Call,
        key_id: str | Target,
        plaintext: bytes,
        *,
        encryption_context: Mapping[str, str] | None,
        encryption_algorithm: str | None,
        dry_run: bool = False,
    ) -> tuple[str, bytes, str]:
        """(key ARN, ciphertext, algorithm) with the RSA key's public key."""
        target, algorithm = self._rsa(
            call, "Encrypt", key_id, encryption_context, encryption_algorithm
        )
        private = self._private_key(call, target)
        _check_size(target, private, algorithm, plaintext)
        if dry_run:
            raise DryRunOperationException()
        blob = encrypt_with_public(private.public_der, algorithm, plaintext)
        self._record_usage(call, target, "Encrypt")
        return target.key.arn, blob, algorithm

    def decrypt(
        self,
        call: Call,
        key_id: str | Target,
        ciphertext: bytes | None,
        *,
        encryption_context: Mapping[str, str] | None,
        encryption_algorithm: str | None,
        dry_run: bool = False,
    ) -> tuple[str, bytes, str, str]:
        """(key ARN, plaintext, algorithm, key material id)."""
        target, algorithm = self._rsa(
            call, "Decrypt", key_id, encryption_context, encryption_algorithm
        )
        if ciphertext is None:
            raise ValidationException(
                "1 validation error detected: Value null at 'ciphertextBlob' failed to "
                "satisfy constraint: Member must not be null"
            )
        if dry_run:
            raise DryRunOperationException()
        try:
            plaintext = self._private_key(call, target).decrypt(algorithm, ciphertext)
        except AsymmetricDecryptionError:
            raise InvalidCiphertextException() from None
        self._record_usage(call, target, "Decrypt")
        return target.key.arn, plaintext, algorithm, target.key.current_material_id

    # -- ReEncrypt from and to RSA keys (cryptographic.py runs the operation) -------------
    def re_encrypt_algorithm(
        self, target: Target, algorithm: str | None, context: Mapping[str, str] | None
    ) -> str:
        """The OAEP algorithm ReEncrypt uses with this RSA key, after AWS's checks."""
        key = target.key
        key.require("ReEncrypt")
        if key.key_usage != ENCRYPT_DECRYPT:
            raise _wrong_usage(target, "ReEncrypt")
        chosen = algorithm or SYMMETRIC_DEFAULT
        if chosen not in key_algorithms(key.key_spec, ENCRYPT_DECRYPT).encryption:
            raise _incompatible(chosen, key.key_spec)
        if context:
            raise ValidationException(
                "EncryptionContext is not supported with asymmetric KMS keys."
            )
        return chosen

    def open_rsa(self, call: Call, target: Target, algorithm: str, ciphertext: bytes) -> bytes:
        try:
            return self._private_key(call, target).decrypt(algorithm, ciphertext)
        except AsymmetricDecryptionError:
            raise InvalidCiphertextException() from None

    def seal_rsa(self, call: Call, target: Target, algorithm: str, plaintext: bytes) -> bytes:
        private = self._private_key(call, target)
        _check_size(target, private, algorithm, plaintext)
        return encrypt_with_public(private.public_der, algorithm, plaintext)

    # -- GenerateMac, VerifyMac ------------------------------------------------------------
    def _mac(self, call: Call, operation: str, key_id: str, algorithm: str) -> Target:
        target = self._target(
            call,
            key_id,
            f"kms:{operation}",
            operation,
            GENERATE_VERIFY_MAC,
            {"kms:MacAlgorithm": (algorithm,)},
        )
        spec = target.key.key_spec
        if algorithm not in key_algorithms(spec, GENERATE_VERIFY_MAC).mac:
            raise _incompatible(algorithm, spec)
        return target

    def generate_mac(
        self, call: Call, key_id: str, message: bytes, algorithm: str, *, dry_run: bool = False
    ) -> tuple[str, bytes]:
        target = self._mac(call, "GenerateMac", key_id, algorithm)
        if dry_run:
            raise DryRunOperationException()
        tag = hmac_tag(self._hmac_key(call, target), algorithm, message)
        self._record_usage(call, target, "GenerateMac")
        return target.key.arn, tag

    def verify_mac(
        self,
        call: Call,
        key_id: str,
        message: bytes,
        algorithm: str,
        mac: bytes,
        *,
        dry_run: bool = False,
    ) -> str:
        target = self._mac(call, "VerifyMac", key_id, algorithm)
        if dry_run:
            raise DryRunOperationException()
        valid = hmac_verify(self._hmac_key(call, target), algorithm, message, mac)
        self._record_usage(call, target, "VerifyMac")
        if not valid:
            raise KMSInvalidMacException()
        return target.key.arn

    # -- GenerateDataKeyPair(WithoutPlaintext) ------------------------------------------------
    def generate_data_key_pair(
        self,
        call: Call,
        key_id: str,
        key_pair_spec: str,
        *,
        with_plaintext: bool,
        encryption_context: Mapping[str, str] | None = None,
        recipient: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> DataKeyPair:
        operation = (
            "GenerateDataKeyPair" if with_plaintext else "GenerateDataKeyPairWithoutPlaintext"
        )
        if recipient is not None:
            raise _unsupported_recipient()
        extra: dict[str, Sequence[str]] = dict(context_keys(encryption_context))
        extra["kms:DataKeyPairSpec"] = (key_pair_spec,)
        extra["kms:EncryptionAlgorithm"] = (SYMMETRIC_DEFAULT,)  # the private key's wrapping
        target = self._target(call, key_id, f"kms:{operation}", operation, ENCRYPT_DECRYPT, extra)
        if target.key.key_spec != SYMMETRIC_DEFAULT:
            raise InvalidKeyUsageException(
                f"{target.key.arn} is an asymmetric key; {operation} needs a symmetric "
                "encryption KMS key."
            )
        if key_pair_spec not in DATA_KEY_PAIR_SPECS:
            raise UnsupportedOperationException(
                f"KeyPairSpec {key_pair_spec} is not supported by this Garrison release."
            )
        if dry_run:
            raise DryRunOperationException()
        key = target.key
        cipher = self.cache.cipher(call.tx, key.key_id, key.current_version)
        if cipher is None:
            raise KMSInternalException("The key material of this key is unavailable.")
        pair = generate_key_pair(key_pair_spec)
        blob = cipher.seal(pair.private_der, encryption_context)
        self._record_usage(call, target, operation)
        shown = pair.private_der if with_plaintext else None
        return DataKeyPair(key.arn, cipher.material_id, pair.public_der, blob, shown)

    # -- DeriveSharedSecret -------------------------------------------------------------------
    def derive_shared_secret(
        self,
        call: Call,
        key_id: str,
        algorithm: str,
        public_key: bytes,
        *,
        recipient: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> tuple[str, bytes, str]:
        """(key ARN, shared secret, key origin)."""
        if recipient is not None:
            raise _unsupported_recipient()
        target = self._target(
            call,
            key_id,
            "kms:DeriveSharedSecret",
            "DeriveSharedSecret",
            KEY_AGREEMENT,
            {"kms:KeyAgreementAlgorithm": (algorithm,)},
        )
        if algorithm != ECDH:
            raise _incompatible(algorithm, target.key.key_spec)
        if dry_run:
            raise DryRunOperationException()
        try:
            secret = self._private_key(call, target).derive_shared_secret(public_key)
        except ValueError:
            raise ValidationException(
                "PublicKey must be a DER-encoded X.509 SubjectPublicKeyInfo public key on the "
                f"curve of the KMS key ({target.key.key_spec})."
            ) from None
        self._record_usage(call, target, "DeriveSharedSecret")
        return target.key.arn, secret, target.key.origin
