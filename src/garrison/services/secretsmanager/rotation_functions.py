"""Rotation functions as Secrets Manager sees them: a Lambda-style ARN, an event, a client.

    arn:aws:lambda:<region>:<account>:function:<name>
        -> FunctionRegistry.function(name)       built-in (garrison.rotation.builtin),
                                                 a Python callable (entry point group
                                                 "garrison.rotators" or configuration),
                                                 an HTTP webhook (configuration)
        -> fn(event, client)                     once per step, as Lambda invokes it:
             event  = {"Step": "createSecret" | "setSecret" | "testSecret" | "finishSecret",
                       "SecretId": <secret ARN>, "ClientRequestToken": <AWSPENDING version>}
             client = RotationClient: the Secrets Manager calls a rotation function makes,
                      with boto3's method and member names, each made by the service
                      principal secretsmanager.amazonaws.com and audited.

A function signals a failed step by raising; anything it raises fails the step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any, Protocol

from garrison.services.secretsmanager.errors import (
    AccessDeniedException,
    InvalidParameterException,
    InvalidRequestException,
    ResourceExistsException,
    ResourceNotFoundException,
)

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
FUNCTION_ARN = re.compile(
    r"arn:aws[a-z-]*:lambda:([a-z0-9-]+):(\d{12}):function:([A-Za-z0-9_-]{1,64})"
)
CANNOT_INVOKE = (
    "Secrets Manager cannot invoke the specified Lambda function. Ensure that the function "
    "policy grants access to the principal secretsmanager.amazonaws.com."
)

# What a rotation function catches, as boto3's `client.exceptions.X`.
EXCEPTIONS = SimpleNamespace(
    ResourceNotFoundException=ResourceNotFoundException,
    ResourceExistsException=ResourceExistsException,
    InvalidParameterException=InvalidParameterException,
    InvalidRequestException=InvalidRequestException,
    AccessDeniedException=AccessDeniedException,
)


class RotationClient(Protocol):
    """The Secrets Manager API a rotation function calls (boto3's names and members)."""

    exceptions: Any

    def describe_secret(self, *, SecretId: str) -> dict[str, Any]: ...  # noqa: N803

    def get_secret_value(
        self,
        *,
        SecretId: str,  # noqa: N803
        VersionId: str | None = None,  # noqa: N803
        VersionStage: str | None = None,  # noqa: N803
    ) -> dict[str, Any]: ...

    def put_secret_value(
        self,
        *,
        SecretId: str,  # noqa: N803
        ClientRequestToken: str,  # noqa: N803
        VersionStages: list[str],  # noqa: N803
        SecretString: str | None = None,  # noqa: N803
        SecretBinary: bytes | None = None,  # noqa: N803
    ) -> dict[str, Any]: ...

    def update_secret_version_stage(
        self,
        *,
        SecretId: str,  # noqa: N803
        VersionStage: str,  # noqa: N803
        MoveToVersionId: str | None = None,  # noqa: N803
        RemoveFromVersionId: str | None = None,  # noqa: N803
    ) -> dict[str, Any]: ...

    def get_random_password(self, **options: Any) -> dict[str, Any]: ...


RotationFunction = Callable[[Mapping[str, str], RotationClient], None]


class FunctionRegistry(Protocol):
    """The rotation functions a node knows, by Lambda function name."""

    def function(self, name: str) -> RotationFunction | None: ...


class NoFunctions:
    def function(self, name: str) -> RotationFunction | None:
        return None


def function_name(arn: str, region: str, account_id: str) -> str | None:
    """The function name of `arn` when it is a function of this account and Region."""
    m = FUNCTION_ARN.fullmatch(arn)
    if m is None or m.group(1) != region or m.group(2) != account_id:
        return None
    return m.group(3)
