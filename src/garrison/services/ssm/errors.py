"""SSM Parameter Store's errors, with the codes and HTTP statuses of its botocore model.

AwsError
 ├── ValidationException                    400  (garrison.errors) names, values, tiers
 ├── AccessDeniedException                  400  (garrison.errors) IAM, or KMS for a SecureString
 ├── ParameterNotFound                      400
 ├── ParameterVersionNotFound               400  `name:version` / `name:label`, labels
 ├── ParameterAlreadyExists                 400  PutParameter without Overwrite
 ├── ParameterLimitExceeded                 400  the per-tier quota of the account and Region
 ├── ParameterMaxVersionLimitExceeded       400  100 versions, the oldest one labelled
 ├── ParameterVersionLabelLimitExceeded     400  10 labels on one version
 ├── ParameterPatternMismatchException      400  a value AllowedPattern refuses
 ├── InvalidAllowedPatternException         400  an AllowedPattern that is no regex
 ├── HierarchyLevelLimitExceededException   400  more than 15 levels
 ├── HierarchyTypeMismatchException         400  to or from SecureString on overwrite
 ├── InvalidKeyId                           400  a KeyId KMS cannot use
 ├── InvalidPolicyTypeException             400  parameter policies ...
 ├── InvalidPolicyAttributeException        400
 ├── IncompatiblePolicyException            400
 ├── PoliciesLimitExceededException         400
 ├── InvalidFilterKey / InvalidFilterOption / InvalidFilterValue   400
 ├── InvalidNextToken                       400
 ├── TooManyUpdates                         400  another node wrote the parameter first
 ├── InvalidResourceType / InvalidResourceId / TooManyTagsError   400  tag operations
 └── ResourceNotFoundException, ResourcePolicyConflictException,
     ResourcePolicyInvalidParameterException, ResourcePolicyLimitExceededException,
     ResourcePolicyNotFoundException, MalformedResourcePolicyDocumentException
                                            400  resource policies (sharing.py)
"""

from __future__ import annotations

from garrison.errors import (
    AccessDeniedException,
    AwsError,
    UnsupportedOperationException,
    ValidationException,
)


class ParameterNotFound(AwsError):
    code = "ParameterNotFound"


class ParameterVersionNotFound(AwsError):
    code = "ParameterVersionNotFound"


class ParameterAlreadyExists(AwsError):
    code = "ParameterAlreadyExists"


class ParameterLimitExceeded(AwsError):
    code = "ParameterLimitExceeded"


class ParameterMaxVersionLimitExceeded(AwsError):
    code = "ParameterMaxVersionLimitExceeded"


class ParameterVersionLabelLimitExceeded(AwsError):
    code = "ParameterVersionLabelLimitExceeded"


class ParameterPatternMismatchException(AwsError):
    code = "ParameterPatternMismatchException"


class InvalidAllowedPatternException(AwsError):
    code = "InvalidAllowedPatternException"


class HierarchyLevelLimitExceededException(AwsError):
    code = "HierarchyLevelLimitExceededException"


class HierarchyTypeMismatchException(AwsError):
    code = "HierarchyTypeMismatchException"


class InvalidKeyId(AwsError):
    code = "InvalidKeyId"


class InvalidPolicyTypeException(AwsError):
    code = "InvalidPolicyTypeException"


class InvalidPolicyAttributeException(AwsError):
    code = "InvalidPolicyAttributeException"


class IncompatiblePolicyException(AwsError):
    code = "IncompatiblePolicyException"


class PoliciesLimitExceededException(AwsError):
    code = "PoliciesLimitExceededException"


class InvalidFilterKey(AwsError):
    code = "InvalidFilterKey"


class InvalidFilterOption(AwsError):
    code = "InvalidFilterOption"


class InvalidFilterValue(AwsError):
    code = "InvalidFilterValue"


class InvalidNextToken(AwsError):
    code = "InvalidNextToken"


class TooManyUpdates(AwsError):
    code = "TooManyUpdates"


__all__ = [
    "AccessDeniedException",
    "HierarchyLevelLimitExceededException",
    "HierarchyTypeMismatchException",
    "IncompatiblePolicyException",
    "InvalidAllowedPatternException",
    "InvalidFilterKey",
    "InvalidFilterOption",
    "InvalidFilterValue",
    "InvalidKeyId",
    "InvalidNextToken",
    "InvalidPolicyAttributeException",
    "InvalidPolicyTypeException",
    "ParameterAlreadyExists",
    "ParameterLimitExceeded",
    "ParameterMaxVersionLimitExceeded",
    "ParameterNotFound",
    "ParameterPatternMismatchException",
    "ParameterVersionLabelLimitExceeded",
    "ParameterVersionNotFound",
    "PoliciesLimitExceededException",
    "TooManyUpdates",
    "UnsupportedOperationException",
    "ValidationException",
]


# -- tags and resource policies (DescribeParameters' part of Parameter Store) ------------
class InvalidResourceType(AwsError):
    code = "InvalidResourceType"


class InvalidResourceId(AwsError):
    code = "InvalidResourceId"


class TooManyTagsError(AwsError):
    code = "TooManyTagsError"


class ResourceNotFoundException(AwsError):
    code = "ResourceNotFoundException"


class ResourcePolicyConflictException(AwsError):
    code = "ResourcePolicyConflictException"


class ResourcePolicyInvalidParameterException(AwsError):
    code = "ResourcePolicyInvalidParameterException"


class ResourcePolicyLimitExceededException(AwsError):
    code = "ResourcePolicyLimitExceededException"


class ResourcePolicyNotFoundException(AwsError):
    code = "ResourcePolicyNotFoundException"


class MalformedResourcePolicyDocumentException(AwsError):
    code = "MalformedResourcePolicyDocumentException"
