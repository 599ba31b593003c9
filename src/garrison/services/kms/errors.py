"""KMS's own errors, with the codes and HTTP statuses AWS KMS answers with.

    AwsError (garrison.errors)
     ├── AccessDeniedException, ValidationException   shared, from garrison.errors
     ├── NotFoundException              key, alias or policy name unknown
     ├── DisabledException              key is Disabled (crypto, rotation)
     ├── KMSInvalidStateException       key state forbids the operation
     ├── InvalidCiphertextException     blob malformed, altered or wrong context
     ├── IncorrectKeyException          KeyId is not the key the blob names
     ├── InvalidKeyUsageException       algorithm or usage does not fit the key
     ├── AlreadyExistsException         alias name taken
     ├── InvalidAliasNameException
     ├── NotAuthorizedException         alias/aws/ is reserved for AWS managed keys
     ├── InvalidArnException
     ├── InvalidMarkerException         pagination marker not ours
     ├── MalformedPolicyDocumentException
     ├── TagException
     ├── LimitExceededException         quotas (keys, aliases, tags, rotations)
     ├── UnsupportedOperationException  not in this release, or not for this key
     ├── CustomKeyStoreNotFoundException
     ├── DryRunOperationException       412: every check passed, DryRun was set
     └── KMSInternalException           500

Every module of the package raises these; none renders a wire body.
"""

from __future__ import annotations

from garrison.errors import (
    AccessDeniedException,
    AwsError,
    UnsupportedOperationException,
    ValidationException,
)

__all__ = [
    "AccessDeniedException",
    "AlreadyExistsException",
    "CustomKeyStoreNotFoundException",
    "DisabledException",
    "DryRunOperationException",
    "IncorrectKeyException",
    "InvalidAliasNameException",
    "InvalidArnException",
    "InvalidCiphertextException",
    "InvalidKeyUsageException",
    "InvalidMarkerException",
    "KMSInternalException",
    "KMSInvalidStateException",
    "LimitExceededException",
    "MalformedPolicyDocumentException",
    "NotAuthorizedException",
    "NotFoundException",
    "TagException",
    "UnsupportedOperationException",
    "ValidationException",
]


# The exception's documented meaning, the same text for every cause.
CIPHERTEXT_MESSAGE = (
    "The request was rejected because the specified ciphertext, or additional authenticated "
    "data incorporated into the ciphertext, such as the encryption context, is corrupted, "
    "missing, or otherwise invalid."
)


class NotFoundException(AwsError):
    code = "NotFoundException"


class DisabledException(AwsError):
    code = "DisabledException"


class KMSInvalidStateException(AwsError):
    code = "KMSInvalidStateException"


class InvalidCiphertextException(AwsError):
    """One opaque error for every blob that does not open: it says nothing of why."""

    code = "InvalidCiphertextException"

    def __init__(self) -> None:
        super().__init__(CIPHERTEXT_MESSAGE)


class IncorrectKeyException(AwsError):
    code = "IncorrectKeyException"

    def __init__(self) -> None:
        super().__init__(
            "The key ID in the request does not identify a CMK that can perform this operation."
        )


class InvalidKeyUsageException(AwsError):
    code = "InvalidKeyUsageException"


class AlreadyExistsException(AwsError):
    code = "AlreadyExistsException"


class InvalidAliasNameException(AwsError):
    code = "InvalidAliasNameException"


class NotAuthorizedException(AwsError):
    """AWS's answer to an attempt on a reserved ``alias/aws/`` name.

    AWS sends it without a message; Garrison says why, every error having one.
    """

    code = "NotAuthorizedException"

    def __init__(self) -> None:
        super().__init__(
            "Alias names that begin with alias/aws/ are reserved for AWS managed keys."
        )


class InvalidArnException(AwsError):
    code = "InvalidArnException"


class InvalidMarkerException(AwsError):
    code = "InvalidMarkerException"

    def __init__(self) -> None:
        super().__init__("The marker is not valid for this request.")


class MalformedPolicyDocumentException(AwsError):
    code = "MalformedPolicyDocumentException"


class TagException(AwsError):
    code = "TagException"


class LimitExceededException(AwsError):
    code = "LimitExceededException"


class CustomKeyStoreNotFoundException(AwsError):
    code = "CustomKeyStoreNotFoundException"


class DryRunOperationException(AwsError):
    code = "DryRunOperationException"
    status = 412

    def __init__(self) -> None:
        super().__init__("The request would have succeeded, but the DryRun option is set.")


class KMSInternalException(AwsError):
    code = "KMSInternalException"
    status = 500
    sender_fault = False


class KMSInvalidSignatureException(AwsError):
    """Verify: the signature is not valid for the message, key and algorithm."""

    code = "KMSInvalidSignatureException"

    def __init__(self) -> None:
        super().__init__(
            "The request was rejected because the signature verification failed. Signature "
            "verification fails when it cannot confirm that signature was produced by signing "
            "the specified message with the specified KMS key and signing algorithm."
        )


class KMSInvalidMacException(AwsError):
    """VerifyMac: the MAC is not valid for the message, key and algorithm."""

    code = "KMSInvalidMacException"

    def __init__(self) -> None:
        super().__init__(
            "The request was rejected because the HMAC verification failed. HMAC verification "
            "fails when the HMAC computed by using the specified message, HMAC KMS key, and MAC "
            "algorithm does not match the HMAC specified in the request."
        )


# -- grants (CreateGrant, RetireGrant, RevokeGrant, ListGrants) --------------------------
class InvalidGrantTokenException(AwsError):
    """A grant token that is not one KMS issued (malformed)."""

    code = "InvalidGrantTokenException"

    def __init__(self) -> None:
        super().__init__("The grant token is not valid.")


class InvalidGrantIdException(AwsError):
    """A GrantId that is not a grant id, or names no grant of the key."""

    code = "InvalidGrantIdException"


# -- imported key material (GetParametersForImport, ImportKeyMaterial) -------------------
class IncorrectKeyMaterialException(AwsError):
    """Material that is not the key's (a re-import of different material), or unusable."""

    code = "IncorrectKeyMaterialException"


class InvalidImportTokenException(AwsError):
    """An ImportToken KMS did not issue, or issued for another key."""

    code = "InvalidImportTokenException"

    def __init__(self) -> None:
        super().__init__(
            "The request was rejected because the provided import token is invalid or is "
            "associated with a different KMS key."
        )


class ExpiredImportTokenException(AwsError):
    code = "ExpiredImportTokenException"

    def __init__(self) -> None:
        super().__init__(
            "The request was rejected because the specified import token is expired. Use "
            "GetParametersForImport to get a new import token and public key, use the new "
            "public key to encrypt the key material, and then try the request again."
        )
