"""Secret values through KMS, as the caller, the way AWS's Secrets Manager calls KMS.

Each version's value is envelope-encrypted: a fresh 256-bit data key from
``GenerateDataKey`` (KeySpec AES_256) under the secret's key (default the AWS
managed key ``alias/aws/secretsmanager``, created on first use), with the
encryption context ``{"SecretARN": <arn>, "SecretVersionId": <version id>}``;
the value is sealed with AES-256-GCM under that data key outside KMS and the
plaintext data key dropped. Reading a version calls ``Decrypt`` on the
encrypted data key with the same context. Both calls are made for the caller
through `garrison.services.common.via.via_service` (``kms:ViaService`` =
``secretsmanager.<region>.amazonaws.com``) and audited as their own KMS events,
whose requestParameters carry the key id, the key spec and the context only.

The envelope stored (then sealed again by the barrier) is
``len(encrypted data key) (2 bytes) || encrypted data key || AES-GCM blob``.

`digest` is the keyed digest ``value_digest`` stores: a random per-version
HMAC-SHA256 key followed by the HMAC of the value, the whole sealed by the
barrier, so only the server can recompute it and a retried ClientRequestToken's
value is compared without keeping the value.
"""

from __future__ import annotations

import hmac
import struct

from garrison.api import Call
from garrison.crypto.aead import DecryptionError, open_once, random_bytes, seal_once
from garrison.errors import AwsError
from garrison.services.common.via import via_service
from garrison.services.kms.service import KmsService
from garrison.services.secretsmanager.errors import (
    AccessDeniedException,
    DecryptionFailure,
    EncryptionFailure,
)

AWS_MANAGED_KEY_SERVICE = "secretsmanager"
DEFAULT_KEY_ID = "alias/aws/secretsmanager"
_KEY_ERRORS = frozenset(
    {
        "NotFoundException",
        "DisabledException",
        "KMSInvalidStateException",
        "InvalidKeyUsageException",
        "InvalidCiphertextException",
        "IncorrectKeyException",
    }
)
_LEN = struct.Struct(">H")


def _aad(arn: str, version_id: str) -> bytes:
    return f"{arn}\x00{version_id}".encode()


def context_of(arn: str, version_id: str) -> dict[str, str]:
    return {"SecretARN": arn, "SecretVersionId": version_id}


def digest(value: bytes) -> bytes:
    key = random_bytes(32)
    return key + hmac.digest(key, value, "sha256")


def same_value(stored_digest: bytes | None, value: bytes) -> bool:
    if stored_digest is None or len(stored_digest) != 64:
        return False
    key, tag = stored_digest[:32], stored_digest[32:]
    return hmac.compare_digest(hmac.digest(key, value, "sha256"), tag)


class SecretValues:
    def __init__(self, kms: KmsService) -> None:
        self.kms = kms

    def encrypt(
        self, call: Call, arn: str, version_id: str, key_id: str | None, value: bytes
    ) -> tuple[bytes, str]:
        """(the envelope of `value`, the ARN of the KMS key that protects it)."""
        key = key_id or DEFAULT_KEY_ID
        if key == DEFAULT_KEY_ID:
            ctx = call.ctx
            self.kms.get_or_create_aws_managed_key(
                call.tx, ctx.account_id, ctx.region, AWS_MANAGED_KEY_SERVICE, ctx.now
            )
        context = context_of(arn, version_id)
        request = {"keyId": key, "keySpec": "AES_256", "encryptionContext": context}
        try:
            with via_service(
                call,
                service="kms",
                operation="GenerateDataKey",
                read_only=True,
                request_parameters=request,
            ) as inner:
                sealed = self.kms.crypto.generate_data_key(
                    inner, key, with_plaintext=True, key_spec="AES_256", encryption_context=context
                )
        except AwsError as err:
            raise _as_sm_error(call, err, key, EncryptionFailure) from None
        assert sealed.plaintext is not None
        blob = seal_once(sealed.plaintext, value, _aad(arn, version_id))
        return _LEN.pack(len(sealed.ciphertext)) + sealed.ciphertext + blob, sealed.key_arn

    def decrypt(
        self, call: Call, arn: str, version_id: str, key_id: str | None, envelope: bytes
    ) -> bytes:
        (size,) = _LEN.unpack_from(envelope)
        encrypted_key = envelope[_LEN.size : _LEN.size + size]
        blob = envelope[_LEN.size + size :]
        context = context_of(arn, version_id)
        request = {"encryptionContext": context, "encryptionAlgorithm": "SYMMETRIC_DEFAULT"}
        try:
            with via_service(
                call, service="kms", operation="Decrypt", read_only=True, request_parameters=request
            ) as inner:
                opened = self.kms.crypto.decrypt(inner, encrypted_key, encryption_context=context)
        except AwsError as err:
            raise _as_sm_error(call, err, key_id or DEFAULT_KEY_ID, DecryptionFailure) from None
        try:
            return open_once(opened.plaintext, blob, _aad(arn, version_id))
        except DecryptionError:
            raise DecryptionFailure(
                "Secrets Manager can't decrypt the protected secret text using the provided "
                "KMS key."
            ) from None


def _as_sm_error(call: Call, err: AwsError, key_id: str, failure: type[AwsError]) -> AwsError:
    if err.code == "AccessDeniedException":
        return AccessDeniedException(
            f"{err.message} (Service: AWSKMS; Status Code: 400; Error Code: "
            f"AccessDeniedException; Request ID: {call.ctx.request_id}; Proxy: null)"
        )
    if err.code in _KEY_ERRORS:
        if failure is EncryptionFailure:
            return EncryptionFailure(
                "Secrets Manager can't encrypt the protected secret text using the provided KMS "
                f"key {key_id}. Check that the KMS key is available, enabled, and not in an "
                "invalid state."
            )
        return DecryptionFailure(
            "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
        )
    return err
