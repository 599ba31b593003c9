"""Resolving references against the services, through botocore like any AWS client.

The endpoint, credentials and region are found by botocore itself, exactly as the
AWS CLI and the SDKs find them: `--endpoint-url`, else `AWS_ENDPOINT_URL_SSM`, else
`AWS_ENDPOINT_URL`, else `endpoint_url` in the profile's `services` section or the
profile; credentials from the environment, the shared credentials and config files
(`--profile`, `AWS_PROFILE`), SSO, process credentials, ...; region from `--region`,
`AWS_REGION`, `AWS_DEFAULT_REGION` or the profile. botocore itself reads only
`AWS_DEFAULT_REGION`; `AWS_REGION` (which the AWS CLI v2 and the other SDKs read first)
is the one setting looked up here.

    Resolvers                 one per command: clients made on first use, dispatch by type
      +-- SsmResolver         `ssm` / `ssm-secure` references and paths (GetParameter,
                              GetParametersByPath with every page)
      +-- SecretsResolver     `secretsmanager` references (GetSecretValue; the JSON key,
                              if one is named, picked out here)

Secrets Manager's endpoint is found the same way (`AWS_ENDPOINT_URL_SECRETS_MANAGER`,
else `AWS_ENDPOINT_URL`, ...).

A service error becomes a `ResolveError` naming the reference and AWS's error code and
message (never the value); botocore's own failures (no credentials, no region, a
connection refused) likewise.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from garrison.cli.references import (
    Reference,
    ResolveError,
    SecretReference,
    SsmReference,
    Syntax,
)

USER_AGENT = "garrison-cli"


@dataclass(frozen=True)
class ClientOptions:
    """What the user said on the command line; None lets botocore decide."""

    profile: str | None = None
    region: str | None = None
    endpoint_url: str | None = None
    user_agent: str = USER_AGENT


def _describe(err: Exception) -> str:
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = error.get("Code", "Error")
        message = error.get("Message", "")
        return f"{code}: {message}" if message else str(code)
    return str(err) or type(err).__name__


class SsmResolver:
    """Parameter Store: single parameters and every parameter under a path."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def resolve(self, reference: SsmReference) -> str:
        # a template's plain `ssm` reference never asks for a decrypted value
        decrypt = reference.secure or reference.syntax is Syntax.ENV
        try:
            parameter = self._client.get_parameter(
                Name=reference.selected_name, WithDecryption=decrypt
            )["Parameter"]
        except (ClientError, BotoCoreError) as err:
            raise ResolveError(f"{reference.text}: {_describe(err)}") from None
        kind = parameter.get("Type")
        if reference.secure and kind != "SecureString":
            raise ResolveError(
                f"{reference.text}: {reference.name} is a {kind}, not a SecureString; "
                "reference it with ssm: instead of ssm-secure:"
            )
        if reference.syntax is Syntax.TEMPLATE and not reference.secure and kind == "SecureString":
            raise ResolveError(
                f"{reference.text}: {reference.name} is a SecureString; "
                "reference it with ssm-secure: (ssm: reads String and StringList only)"
            )
        return str(parameter["Value"])

    def under_path(self, path: str) -> list[tuple[str, str]]:
        """(name, decrypted value) of every parameter under `path`, recursively, in
        the order the service lists them."""
        found: list[tuple[str, str]] = []
        try:
            pages = self._client.get_paginator("get_parameters_by_path").paginate(
                Path=path, Recursive=True, WithDecryption=True
            )
            for page in pages:
                for parameter in page.get("Parameters", []):
                    found.append((str(parameter["Name"]), str(parameter["Value"])))
        except (ClientError, BotoCoreError) as err:
            raise ResolveError(f"--path {path}: {_describe(err)}") from None
        return found


class SecretsResolver:
    """Secrets Manager: a secret's SecretString, or one key of it as a JSON object."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def resolve(self, reference: SecretReference) -> str:
        request: dict[str, str] = {"SecretId": reference.secret_id}
        if reference.version_stage is not None:
            request["VersionStage"] = reference.version_stage
        if reference.version_id is not None:
            request["VersionId"] = reference.version_id
        try:
            answer = self._client.get_secret_value(**request)
        except (ClientError, BotoCoreError) as err:
            raise ResolveError(f"{reference.text}: {_describe(err)}") from None
        text = answer.get("SecretString")
        if not isinstance(text, str):
            raise ResolveError(
                f"{reference.text}: the secret's value is a SecretBinary; only SecretString "
                "values can be referenced"
            )
        if reference.json_key is None:
            return text
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        # the messages below never quote the value, nor the keys it has
        if not isinstance(document, dict):
            raise ResolveError(
                f"{reference.text}: the secret's value is not a JSON object, so it has no "
                f"key {reference.json_key!r}"
            )
        if reference.json_key not in document:
            raise ResolveError(
                f"{reference.text}: the secret's JSON has no key {reference.json_key!r}"
            )
        value = document[reference.json_key]
        # a string as it is; a number, boolean, null, list or object as its JSON text
        if isinstance(value, str):
            return value
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class Resolvers:
    """The resolvers one command uses, each with its client made on first use."""

    def __init__(self, options: ClientOptions) -> None:
        self._options = options
        self._session: botocore.session.Session | None = None
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            try:
                if self._session is None:
                    self._session = botocore.session.Session(profile=self._options.profile)
                self._clients[service] = self._session.create_client(
                    service,
                    region_name=self._options.region or os.environ.get("AWS_REGION") or None,
                    endpoint_url=self._options.endpoint_url,
                    config=Config(user_agent_extra=self._options.user_agent),
                )
            except BotoCoreError as err:
                raise ResolveError(f"cannot make a {service} client: {_describe(err)}") from None
        return self._clients[service]

    @property
    def ssm(self) -> SsmResolver:
        return SsmResolver(self.client("ssm"))

    @property
    def secretsmanager(self) -> SecretsResolver:
        return SecretsResolver(self.client("secretsmanager"))

    def resolve(self, reference: Reference) -> str:
        if isinstance(reference, SsmReference):
            return self.ssm.resolve(reference)
        if isinstance(reference, SecretReference):
            return self.secretsmanager.resolve(reference)
        raise ResolveError(f"{reference.text}: no resolver for this reference")  # pragma: no cover

    def resolve_all(self, references: list[Reference]) -> dict[str, str]:
        """Each distinct reference (by its text) resolved once."""
        values: dict[str, str] = {}
        for reference in references:
            if reference.text not in values:
                values[reference.text] = self.resolve(reference)
        return values
