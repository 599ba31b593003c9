"""Secrets Manager's errors, with the codes of its botocore model (all HTTP 400).

AwsError
 ├── AccessDeniedException          (garrison.errors) IAM, or KMS's refusal with its text
 ├── ValidationException            (garrison.errors, the protocol) the model's constraints
 ├── ResourceNotFoundException      no such secret, version or staging label
 ├── ResourceExistsException        the name is taken; a version id reused for another value
 ├── InvalidParameterException      names, values, labels, tags, windows, filters, passwords,
 │                                  rotation rules; writes to a replica (AWS's code for them)
 ├── InvalidRequestException        pending deletion; a rotation in progress; not a replica
 ├── InvalidNextTokenException      a NextToken Garrison did not hand out
 ├── LimitExceededException         more than 20 staging labels on a secret
 ├── MalformedPolicyDocumentException   a resource policy the policy engine refuses
 ├── PublicPolicyException          BlockPublicPolicy and a policy granting broad access
 ├── EncryptionFailure              a KMS key that cannot encrypt (missing, disabled, ...)
 └── DecryptionFailure              a KMS key that cannot decrypt
"""

from __future__ import annotations

from garrison.errors import AccessDeniedException, AwsError

__all__ = [
    "AccessDeniedException",
    "DecryptionFailure",
    "EncryptionFailure",
    "InvalidNextTokenException",
    "InvalidParameterException",
    "InvalidRequestException",
    "LimitExceededException",
    "MalformedPolicyDocumentException",
    "PublicPolicyException",
    "ResourceExistsException",
    "ResourceNotFoundException",
]


class ResourceNotFoundException(AwsError):
    code = "ResourceNotFoundException"


class ResourceExistsException(AwsError):
    code = "ResourceExistsException"


class InvalidParameterException(AwsError):
    code = "InvalidParameterException"


class InvalidRequestException(AwsError):
    code = "InvalidRequestException"


class LimitExceededException(AwsError):
    code = "LimitExceededException"


class MalformedPolicyDocumentException(AwsError):
    code = "MalformedPolicyDocumentException"


class PublicPolicyException(AwsError):
    code = "PublicPolicyException"


class InvalidNextTokenException(AwsError):
    code = "InvalidNextTokenException"


class EncryptionFailure(AwsError):
    code = "EncryptionFailure"


class DecryptionFailure(AwsError):
    code = "DecryptionFailure"
