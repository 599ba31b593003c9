"""IAM's own errors, with the query-protocol codes and statuses of botocore's IAM model.

    AwsError (garrison.errors)
     ├── NoSuchEntity                   404  user, group, role, policy, key unknown
     ├── EntityAlreadyExists            409  name taken (case-insensitively, per account)
     ├── DeleteConflict                 409  the entity still has what must go first
     ├── LimitExceeded                  409  quotas: keys, versions, attachments, sizes, tags
     ├── MalformedPolicyDocument        400  a policy AWS would refuse
     ├── InvalidInput                   400  a value the model allows but IAM refuses
     ├── ValidationError                400  IAM's generic refusal (GetUser as a role, markers)
     ├── PolicyNotAttachable            400
     └── UnmodifiableEntity             400

The codes are the model's ``awsQueryError`` codes (``NoSuchEntity``, not
``NoSuchEntityException``): that is what the query protocol puts in ``<Code>``
and what boto3 raises as ``ClientError.response["Error"]["Code"]``.
"""

from __future__ import annotations

from garrison.errors import AwsError


class _IamError(AwsError):
    """An IAM error whose code is its class name; `status` is given with the class."""

    def __init_subclass__(cls, status: int = 400) -> None:
        super().__init_subclass__()
        cls.code = cls.__name__
        cls.status = status


class NoSuchEntity(_IamError, status=404): ...


class EntityAlreadyExists(_IamError, status=409): ...


class DeleteConflict(_IamError, status=409): ...


class LimitExceeded(_IamError, status=409): ...


class MalformedPolicyDocument(_IamError): ...


class InvalidInput(_IamError): ...


class ValidationError(_IamError): ...


class PolicyNotAttachable(_IamError): ...


class UnmodifiableEntity(_IamError): ...
