"""Resource policies that share Advanced parameters with other accounts.

    PutResourcePolicy(ResourceArn, Policy[, PolicyId, PolicyHash]) -> PolicyId, PolicyHash
    GetResourcePolicies(ResourceArn) -> [{PolicyId, PolicyHash, Policy}]
    DeleteResourcePolicy(ResourceArn, PolicyId, PolicyHash)

AWS's rules ("Working with shared parameters", PutResourcePolicy): only a
parameter the caller's account owns, in the Advanced tier, may be shared; a
SecureString only when its key is a customer managed key (an AWS managed key
cannot be shared, so the consumer could never decrypt it). The consumer gets
read-only access: the actions a policy may grant are those of AWS RAM's two
permission sets for parameters — ``ssm:GetParameter``, ``ssm:GetParameters``,
``ssm:DescribeParameters`` and ``ssm:GetParameterHistory`` — to AWS accounts
(``"123456789012"`` or ``arn:aws:iam::123456789012:root``). A policy is at most
1024 bytes (ResourcePolicyLimitExceededException).

Updates are optimistic: PolicyHash is the hash of the policy the caller last
read; another writer's change in between makes the call fail with
ResourcePolicyConflictException, never overwrite it.

How a shared parameter is read: the consumer names it by its full ARN; every
policy of the parameter, merged into one, is the resource policy the authorizer
weighs (`policy_of`), and as for any cross-account request both the owner's
resource policy and the consumer's identity policies must allow. Decrypting a
shared SecureString is KMS's decision on the owner's key policy.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from garrison.api import Call
from garrison.iam.arn import is_account_id
from garrison.iam.policy import Policy, PolicyError, compile_policy
from garrison.services.ssm import store
from garrison.services.ssm.domain import ADVANCED, DEFAULT_KEY_ID, Parameter
from garrison.services.ssm.errors import (
    MalformedResourcePolicyDocumentException,
    ResourceNotFoundException,
    ResourcePolicyConflictException,
    ResourcePolicyInvalidParameterException,
    ResourcePolicyLimitExceededException,
    ResourcePolicyNotFoundException,
)
from garrison.services.ssm.names import parse_reference, spellings
from garrison.services.ssm.paging import next_token_after, read_token
from garrison.storage.writer import Tx

MAX_POLICY_BYTES = 1024
SHAREABLE_ACTIONS = (
    "ssm:DescribeParameters",
    "ssm:GetParameter",
    "ssm:GetParameterHistory",
    "ssm:GetParameters",
)
_SHAREABLE = {a.lower(): a for a in SHAREABLE_ACTIONS}
_BAD_ARN = (
    "ResourceArn is not the ARN of a parameter: arn:aws:ssm:<region>:<account>:parameter/<name>."
)


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    policy_id: str
    policy_hash: str
    policy: str


def policy_hash(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def policy_of(tx: Tx, parameter: Parameter) -> Policy | None:
    """Every resource policy of `parameter` as one policy (None: it has none).

    Only Advanced parameters can have one, so a Standard parameter costs no read.
    """
    if parameter.tier != ADVANCED:
        return None
    documents = [doc for _, _, doc in store.resource_policies(tx, parameter.parameter_id)]
    if not documents:
        return None
    if len(documents) == 1:
        return compile_policy(documents[0])
    statements: list[Any] = []
    for doc in documents:
        found = orjson.loads(doc)["Statement"]
        statements.extend(found if isinstance(found, list) else [found])
    merged = orjson.dumps({"Version": "2012-10-17", "Statement": statements}).decode()
    return compile_policy(merged)


def check_document(document: str, parameter_arn: str) -> None:
    """AWS's rules for a parameter's resource policy (see the module doc)."""
    size = len(document.encode())
    if size > MAX_POLICY_BYTES:
        raise ResourcePolicyLimitExceededException(
            f"The policy is {size} bytes; a resource policy can't be greater than "
            f"{MAX_POLICY_BYTES} bytes in size."
        )
    try:
        compile_policy(document, resource_policy=True)
    except PolicyError as err:
        raise MalformedResourcePolicyDocumentException(err.reason) from None
    raw = orjson.loads(document)
    statements = raw["Statement"] if isinstance(raw["Statement"], list) else [raw["Statement"]]
    for n, statement in enumerate(statements, start=1):
        _check_statement(n, statement, parameter_arn)


def _check_statement(n: int, statement: dict[str, Any], parameter_arn: str) -> None:
    def malformed(why: str) -> MalformedResourcePolicyDocumentException:
        return MalformedResourcePolicyDocumentException(f"Statement {n}: {why}")

    if "NotAction" in statement or "NotPrincipal" in statement or "NotResource" in statement:
        raise malformed(
            "NotAction, NotPrincipal and NotResource can't be used in a parameter's policy."
        )
    actions = statement["Action"]
    for action in [actions] if isinstance(actions, str) else actions:
        if action.lower() not in _SHAREABLE:
            raise malformed(
                f"the action {action} can't be shared. A parameter's policy can grant only "
                f"{', '.join(SHAREABLE_ACTIONS)}."
            )
    principal = statement["Principal"]
    if not isinstance(principal, dict) or set(principal) != {"AWS"}:
        raise malformed('the Principal must name AWS accounts: {"AWS": ["<account id>"]}.')
    accounts = principal["AWS"]
    for who in [accounts] if isinstance(accounts, str) else accounts:
        account = who.removeprefix("arn:aws:iam::").removesuffix(":root")
        if not is_account_id(account):
            raise malformed(
                f"the principal {who} is not an AWS account. Parameters are shared with "
                "accounts (an account id or arn:aws:iam::<account id>:root)."
            )
    resources = statement.get("Resource", parameter_arn)
    for resource in [resources] if isinstance(resources, str) else resources:
        if resource != parameter_arn:
            raise malformed(f"the Resource must be the parameter's ARN, {parameter_arn}.")


class Sharing:
    """PutResourcePolicy, GetResourcePolicies and DeleteResourcePolicy on parameters."""

    def __init__(self, parameters: Any) -> None:
        # the ParameterStore: its lookups and authorisation (Any: no import cycle)
        self.parameters = parameters

    def _parameter(self, call: Call, operation: str, resource_arn: str) -> Parameter:
        """The parameter `resource_arn` names, once `operation` is authorised on it."""
        ref = parse_reference(resource_arn, selectors=False)
        if ref is None or ref.account_id is None or not resource_arn.startswith("arn:"):
            raise ResourcePolicyInvalidParameterException(_BAD_ARN)
        ctx = call.ctx
        found = None
        if ref.account_id == ctx.account_id and ref.region == ctx.region:
            found = store.find(call.tx, ctx.account_id, ctx.region, spellings(ref.name))
        arn = found.arn if found is not None else resource_arn
        self.parameters.authorize_on(call, operation, arn, found)
        if found is None:
            raise ResourceNotFoundException(
                f"The specified parameter to be shared could not be found: {resource_arn}"
            )
        call.audit_resource("AWS::SSM::Parameter", arn)
        return found

    def put(
        self,
        call: Call,
        resource_arn: str,
        document: str,
        policy_id: str | None,
        given_hash: str | None,
    ) -> tuple[str, str]:
        parameter = self._parameter(call, "PutResourcePolicy", resource_arn)
        if parameter.tier != ADVANCED:
            raise ResourcePolicyInvalidParameterException(
                f"Parameter {parameter.name} is in the standard-parameter tier. Only "
                "advanced parameters can be shared: change the parameter to the "
                "advanced-parameter tier first."
            )
        latest = store.get_version(call.tx, parameter)
        key_id = latest.key_id if latest is not None else None
        if key_id is not None and (key_id == DEFAULT_KEY_ID or key_id.startswith("alias/aws/")):
            raise ResourcePolicyInvalidParameterException(
                f"Parameter {parameter.name} is a SecureString encrypted with the AWS managed "
                "key, which can't be shared. Encrypt it with a customer managed key (and share "
                "that key through its key policy) to share it."
            )
        check_document(document, parameter.arn)
        new_hash = policy_hash(document)
        pid = parameter.parameter_id
        if policy_id is None:
            if given_hash is not None:
                raise ResourcePolicyInvalidParameterException(
                    "PolicyHash is given without PolicyId: to update a policy give both."
                )
            new_id = str(uuid.uuid4())
            store.insert_resource_policy(
                call.tx, pid, new_id, new_hash, document, call.ctx.now.timestamp()
            )
            return new_id, new_hash
        if given_hash is None:
            raise ResourcePolicyInvalidParameterException(
                "PolicyHash is required to update a policy: give the hash GetResourcePolicies "
                "returned for it."
            )
        self._current(call, pid, policy_id, given_hash)
        if not store.update_resource_policy(
            call.tx, pid, policy_id, given_hash, new_hash, document
        ):
            raise _conflict()
        return policy_id, new_hash

    def _current(self, call: Call, parameter_id: str, policy_id: str, given_hash: str) -> None:
        for found_id, found_hash, _ in store.resource_policies(call.tx, parameter_id):
            if found_id == policy_id:
                if found_hash != given_hash:
                    raise _conflict()
                return
        raise ResourcePolicyNotFoundException(
            f"No policies with the specified policy ID {policy_id} and hash could be found."
        )

    def list(
        self, call: Call, resource_arn: str, max_results: int, next_token: str | None
    ) -> tuple[Sequence[StoredPolicy], str | None]:
        parameter = self._parameter(call, "GetResourcePolicies", resource_arn)
        after = read_token(next_token)
        policies = [
            StoredPolicy(*row) for row in store.resource_policies(call.tx, parameter.parameter_id)
        ]
        if after is not None:
            ids = [p.policy_id for p in policies]
            policies = policies[ids.index(after) + 1 :] if after in ids else []
        if len(policies) > max_results:
            return policies[:max_results], next_token_after(policies[max_results - 1].policy_id)
        return policies, None

    def delete(self, call: Call, resource_arn: str, policy_id: str, given_hash: str) -> None:
        parameter = self._parameter(call, "DeleteResourcePolicy", resource_arn)
        pid = parameter.parameter_id
        self._current(call, pid, policy_id, given_hash)
        if not store.delete_resource_policy(call.tx, pid, policy_id, given_hash):
            raise _conflict()


def _conflict() -> ResourcePolicyConflictException:
    return ResourcePolicyConflictException(
        "The hash provided in the call doesn't match the stored hash: the policy was "
        "changed since it was read. Get the policy again and retry with its current hash."
    )
