"""Who may call what: the caller's organization, IAM, and the management-account rule.

Every handler starts here. `Gate.enter` finds the organization of the caller's
account, asks IAM (through the injected Authorizer) for the operation's action
on the resource(s) it names, and refuses a member account an operation only the
management account may call, with the errors AWS gives in that order:

    IAM refuses              -> AccessDeniedException (the authorizer's message;
                                on ``*`` when the account is in no organization)
    no organization          -> AWSOrganizationsNotInUseException
    member, management-only  -> AccessDeniedException "You don't have permissions
                                to access this resource."

Organizations' resources are authorised as the caller's own (identity policies
and SCPs decide; the organization has no resource policy), so a member
account's principals are never treated as cross-account callers.

Also here: the NextToken codec shared by every List operation.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import orjson

from garrison.api import Call
from garrison.iam.authorizer import Authorizer, Context
from garrison.services.organizations import store
from garrison.services.organizations.actions import ACTIONS
from garrison.services.organizations.domain import (
    FULL_AWS_ACCESS_ARN,
    FULL_AWS_ACCESS_ID,
    SCP,
    Organization,
    account_arn,
    ou_arn,
    policy_arn,
    root_arn,
)
from garrison.services.organizations.errors import (
    InvalidInputException,
    management_only,
    not_in_use,
)

DEFAULT_PAGE = 20


@dataclass(frozen=True, slots=True)
class Scope:
    """The caller's organization, once the call is allowed."""

    org: Organization
    caller_account: str

    @property
    def mgmt(self) -> str:
        return self.org.management_account_id

    @property
    def org_id(self) -> str:
        return self.org.org_id

    def arn_of(self, target_id: str, policy_type: str = SCP) -> str:
        """The ARN of a root, OU, account or policy id (whether or not it exists)."""
        if target_id.startswith("r-"):
            return root_arn(self.mgmt, self.org_id, target_id)
        if target_id.startswith("ou-"):
            return ou_arn(self.mgmt, self.org_id, target_id)
        if target_id == FULL_AWS_ACCESS_ID:
            return FULL_AWS_ACCESS_ARN
        if target_id.startswith("p-"):
            return policy_arn(self.mgmt, self.org_id, policy_type, target_id)
        return account_arn(self.mgmt, self.org_id, target_id)


ResourceFn = Callable[[Scope], Sequence[str]]


class Gate:
    def __init__(self, authorizer: Authorizer) -> None:
        self.authorizer = authorizer

    def enter(
        self,
        call: Call,
        resources: ResourceFn | None = None,
        *,
        management: bool = True,
        context: Context | None = None,
    ) -> Scope:
        """Authorise `call` (its operation's action) and return the caller's scope."""
        action = ACTIONS[call.ctx.operation].action
        account = call.ctx.account_id
        org = store.org_of_account(call.tx, account)
        if org is None:
            self.authorizer.authorize(call, action, "*", context)
            raise not_in_use()
        scope = Scope(org, account)
        arns = list(resources(scope)) if resources is not None else ["*"]
        for arn in arns:
            self.authorizer.authorize(
                call, action, arn, context, resource_account=call.ctx.account_id
            )
        if management and account != org.management_account_id:
            raise management_only()
        return scope

    def also(self, call: Call, scope: Scope, action: str, arn: str, context: Context) -> None:
        """A second action the call needs (tags on create need organizations:TagResource)."""
        del scope
        self.authorizer.authorize(call, action, arn, context, resource_account=call.ctx.account_id)

    def changed(self, call: Call) -> None:
        """The tree, the SCPs or their attachments changed: every node's authorizer
        reloads them (this batch's later units at once, others after the commit)."""
        call.tx.mark_changed()
        self.authorizer.changed(call.tx)


# -- pagination -----------------------------------------------------------------------
def encode_token(operation: str, after: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([operation, after])).decode()


def decode_token(operation: str, token: str | None) -> str | None:
    """The id the previous page ended at; InvalidInputException if not ours."""
    if token is None:
        return None
    try:
        op, after = orjson.loads(base64.urlsafe_b64decode(token.encode()))
    except (ValueError, TypeError, binascii.Error, orjson.JSONDecodeError):
        op, after = None, None
    if op != operation or not isinstance(after, str):
        raise InvalidInputException(
            "INVALID_NEXT_TOKEN", "You specified an invalid value for nextToken."
        )
    return after


def page_size(max_results: int | None) -> int:
    return max_results or DEFAULT_PAGE


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_token: str | None


def paged(operation: str, rows: list[T], limit: int, key: Callable[[T], str]) -> Page[T]:
    """`rows` fetched with ``limit + 1``: the extra one says another page exists."""
    if len(rows) > limit:
        rows = rows[:limit]
        return Page(rows, encode_token(operation, key(rows[-1])))
    return Page(rows, None)
