"""Amazon Resource Names: parse, format, and the ARNs Garrison builds itself.

    arn:<partition>:<service>:<region>:<account-id>:<resource>

The resource part is everything after the fifth colon, so it may itself contain
colons (``arn:aws:logs:us-east-1:111122223333:log-group:my-group:*``) or slashes
(``arn:aws:kms:us-east-1:111122223333:key/1234abcd-...``). `parse_arn` checks the
shape only; whether an ARN names something that exists is its owner's question.
Wildcard ARN *patterns* (``arn:aws:s3:::bucket/*``) belong to the policy language
(`garrison.iam.policy`), not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARTITION = re.compile(r"[a-z][a-z0-9-]*")
_SERVICE = re.compile(r"[a-z0-9][a-z0-9-]*")
_REGION = re.compile(r"[a-z0-9-]*")
_ACCOUNT = re.compile(r"[A-Za-z0-9-]*")  # 12 digits, "aws" (managed policies) or empty
_ACCOUNT_ID = re.compile(r"[0-9]{12}")


@dataclass(frozen=True, slots=True)
class Arn:
    """One parsed ARN; `str()` gives back the canonical text."""

    partition: str
    service: str
    region: str
    account: str
    resource: str

    def __str__(self) -> str:
        return f"arn:{self.partition}:{self.service}:{self.region}:{self.account}:{self.resource}"

    @property
    def resource_type(self) -> str:
        """``key`` for ``key/1234``, ``log-group`` for ``log-group:x``; empty for ``root``."""
        match = re.search(r"[/:]", self.resource)
        return self.resource[: match.start()] if match else ""

    @property
    def resource_id(self) -> str:
        """``1234`` for ``key/1234``; the whole resource when there is no type."""
        match = re.search(r"[/:]", self.resource)
        return self.resource[match.end() :] if match else self.resource


def parse_arn(text: str) -> Arn:
    """Split an ARN into its six components; ValueError if it is not one."""
    if not isinstance(text, str):
        raise ValueError(f"An ARN must be a string, not {type(text).__name__}")
    parts = text.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn":
        raise ValueError(f"'{text}' is not an ARN (expected arn:partition:service:...)")
    _, partition, service, region, account, resource = parts
    if not _PARTITION.fullmatch(partition):
        raise ValueError(f"ARN '{text}' has an invalid partition '{partition}'")
    if not _SERVICE.fullmatch(service):
        raise ValueError(f"ARN '{text}' has an invalid service '{service}'")
    if not _REGION.fullmatch(region):
        raise ValueError(f"ARN '{text}' has an invalid region '{region}'")
    if not _ACCOUNT.fullmatch(account):
        raise ValueError(f"ARN '{text}' has an invalid account '{account}'")
    if not resource:
        raise ValueError(f"ARN '{text}' has no resource")
    return Arn(partition, service, region, account, resource)


def is_account_id(text: str) -> bool:
    """True for a 12-digit AWS account id."""
    return isinstance(text, str) and _ACCOUNT_ID.fullmatch(text) is not None


def root_arn(account_id: str, *, partition: str = "aws") -> str:
    """The ARN of an account's root user: ``arn:aws:iam::123456789012:root``."""
    if not is_account_id(account_id):
        raise ValueError(f"'{account_id}' is not a 12-digit account id")
    return str(Arn(partition, "iam", "", account_id, "root"))
