"""SecureString values through KMS, as the caller, the way AWS's SSM calls KMS.

Each SecureString is encrypted under its KeyId (default the AWS managed key
``alias/aws/ssm``, created on first use) with the encryption context
``{"PARAMETER_ARN": <the parameter's ARN>}``, and decrypted with the same
context. Both calls are made for the caller through
`garrison.services.common.via.via_service`: KMS authorises them with the
caller's permissions and ``kms:ViaService`` = ``ssm.<region>.amazonaws.com``,
and each is audited as its own KMS event with ``invokedBy`` ssm.amazonaws.com.
The plaintext never reaches those events: their requestParameters carry the
encryption context, the key id and the algorithm only.

KMS's errors become SSM's: a key KMS cannot find or use is InvalidKeyId; a
denial stays AccessDeniedException, with KMS's text and the service suffix AWS
adds to it.
"""

from __future__ import annotations

from garrison.api import Call
from garrison.errors import AwsError
from garrison.services.common.via import via_service
from garrison.services.kms.service import KmsService
from garrison.services.ssm.domain import AWS_MANAGED_KEY_SERVICE, CONTEXT_KEY, DEFAULT_KEY_ID
from garrison.services.ssm.errors import AccessDeniedException, InvalidKeyId

_ALGORITHM = "SYMMETRIC_DEFAULT"
_KEY_ERRORS = frozenset(
    {
        "NotFoundException",
        "DisabledException",
        "KMSInvalidStateException",
        "InvalidKeyUsageException",
    }
)


class SecureStrings:
    def __init__(self, kms: KmsService) -> None:
        self.kms = kms

    def encrypt(self, call: Call, arn: str, key_id: str | None, plaintext: str) -> bytes:
        """KMS's ciphertext of `plaintext` under `key_id` (or the AWS managed key)."""
        key = key_id or DEFAULT_KEY_ID
        if key == DEFAULT_KEY_ID:
            ctx = call.ctx
            self.kms.get_or_create_aws_managed_key(
                call.tx, ctx.account_id, ctx.region, AWS_MANAGED_KEY_SERVICE, ctx.now
            )
        context = {CONTEXT_KEY: arn}
        request = {"encryptionContext": context, "keyId": key, "encryptionAlgorithm": _ALGORITHM}
        try:
            with via_service(
                call, service="kms", operation="Encrypt", read_only=True, request_parameters=request
            ) as inner:
                sealed = self.kms.crypto.encrypt(
                    inner, key, plaintext.encode(), encryption_context=context
                )
        except AwsError as err:
            raise _as_ssm_error(call, err, key) from None
        return sealed.ciphertext

    def decrypt(self, call: Call, arn: str, key_id: str | None, ciphertext: bytes) -> str:
        """The plaintext of a SecureString's ciphertext."""
        context = {CONTEXT_KEY: arn}
        request = {"encryptionContext": context, "encryptionAlgorithm": _ALGORITHM}
        try:
            with via_service(
                call, service="kms", operation="Decrypt", read_only=True, request_parameters=request
            ) as inner:
                opened = self.kms.crypto.decrypt(inner, ciphertext, encryption_context=context)
        except AwsError as err:
            raise _as_ssm_error(call, err, key_id or DEFAULT_KEY_ID) from None
        return opened.plaintext.decode()


def _as_ssm_error(call: Call, err: AwsError, key_id: str) -> AwsError:
    if err.code == "AccessDeniedException":
        return AccessDeniedException(
            f"{err.message} (Service: AWSKMS; Status Code: 400; Error Code: "
            f"AccessDeniedException; Request ID: {call.ctx.request_id}; Proxy: null)"
        )
    if err.code in _KEY_ERRORS:
        return InvalidKeyId(f"Invalid KeyId {key_id}: {err.message}".rstrip(": "))
    return err
