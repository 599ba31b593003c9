"""STS's errors, with the codes and HTTP statuses of its botocore model.

AwsError
 ├── ValidationError           400  STS's generic bad-input error (query protocol)
 ├── MalformedPolicyDocument   400  a session policy AWS would refuse
 ├── PackedPolicyTooLarge      400  session policies + tags over the packed limit
 └── AccessDeniedException     (garrison.errors; the query protocol says AccessDenied)
"""

from __future__ import annotations

from garrison.errors import AccessDeniedException, AwsError


class ValidationError(AwsError):
    code = "ValidationError"


class MalformedPolicyDocumentException(AwsError):
    code = "MalformedPolicyDocument"


class PackedPolicyTooLargeException(AwsError):
    code = "PackedPolicyTooLarge"


__all__ = [
    "AccessDeniedException",
    "MalformedPolicyDocumentException",
    "PackedPolicyTooLargeException",
    "ValidationError",
]
