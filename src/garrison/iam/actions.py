"""The authorisation table's vocabulary: what each operation of each service asks IAM.

Every service declares, per operation of its botocore model, the IAM action it
needs, the resource types it acts on and the condition keys it supports, after
AWS's Service Authorization Reference, in one `ACTIONS` table of its own
(``services/<name>/actions.py``). Handlers authorise with the action named
there, through `garrison.iam.authorizer.Authorizer`, and the docs list the
condition keys from the same tables, so what is enforced and what is
documented cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OperationAuth:
    """One row of a service's authorisation table."""

    action: str  # "iam:CreateUser"; "" for operations AWS never authorises (GetCallerIdentity)
    resource_types: tuple[str, ...] = ()  # "user", "role", "key", ...; () for "*"
    condition_keys: tuple[str, ...] = ()  # beyond the global aws:* keys


ActionTable = Mapping[str, OperationAuth]


def table(service_prefix: str, rows: Mapping[str, tuple[str, ...]]) -> dict[str, OperationAuth]:
    """Build a table whose actions are named after their operations.

    `rows` maps an operation name to its resource types followed, after a
    ``"|"`` marker, by its condition keys: ``{"CreateUser": ("user", "|",
    "aws:RequestTag/${TagKey}", "aws:TagKeys")}``.
    """
    out: dict[str, OperationAuth] = {}
    for operation, row in rows.items():
        cut = row.index("|") if "|" in row else len(row)
        out[operation] = OperationAuth(
            f"{service_prefix}:{operation}", tuple(row[:cut]), tuple(row[cut + 1 :])
        )
    return out
