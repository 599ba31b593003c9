"""IAM's policy simulator: SimulatePrincipalPolicy and SimulateCustomPolicy.

    simulate_principal_policy(call, request, authorizer) -> response dict
    simulate_custom_policy(call, request, authorizer=None) -> response dict

(`request`: the validated request dict in the model's member names; the response
dict is SimulatePolicyResponse: EvaluationResults, IsTruncated, Marker.) Both
authorise the caller first (iam:SimulatePrincipalPolicy on the PolicySourceArn,
iam:SimulateCustomPolicy on ``*``); without an authorizer only the account root
may simulate custom policies.

The decision is `garrison.iam.authorizer.decide`, the very logic that
authorises real requests, over the simulated policy set:

    SimulatePrincipalPolicy   the user's (inline, managed, groups'), the group's or
                              the role's policies, plus PolicyInputList; its
                              permissions boundary unless
                              PermissionsBoundaryPolicyInputList replaces it; the
                              SCPs of its account (OrganizationsDecisionDetail)
    SimulateCustomPolicy      PolicyInputList, PermissionsBoundaryPolicyInputList

One EvaluationResult per (action, resource) pair, in request order, paged by
MaxItems/Marker. The condition context is exactly ContextEntries (typed, checked
as AWS does): like AWS's simulator, no global key is filled in, and every key a
relevant statement's condition names but the context lacks is listed in
MissingContextValues (policy variables' keys included). MatchedStatements give
each deciding statement's source (SourcePolicyId: the policy name, ``PolicyInputList.N``,
``PermissionsBoundaryPolicyInputList.N`` or ``ResourcePolicy``; SourcePolicyType)
and its line/column span in the document. ResourceHandlingOption names EC2
scenarios, which Garrison does not model: it is refused with InvalidInput.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Sequence
from typing import Any

from garrison.api import Call, Request, Response
from garrison.context import Principal, PrincipalType
from garrison.errors import AccessDeniedException
from garrison.iam.arn import parse_arn
from garrison.iam.authorizer import (
    ALLOWED,
    EXPLICIT_DENY,
    Authorizer,
    Verdict,
    decide,
    denied_message,
    resource_owner,
)
from garrison.iam.conditions import parse_date, parse_number
from garrison.iam.identity import (
    NO_GUARDS,
    AccountGuards,
    PrincipalPolicies,
    SourcePolicy,
    SqlPolicyStore,
)
from garrison.iam.policy import (
    AuthzRequest,
    Effect,
    Policy,
    PolicyError,
    Statement,
    compile_policy,
)
from garrison.services.iam.errors import InvalidInput, MalformedPolicyDocument, NoSuchEntity
from garrison.storage import schema
from garrison.storage.sql import select
from garrison.storage.writer import Tx

DEFAULT_MAX_ITEMS = 100
MAX_ITEMS = 1000
_LIST_TYPES = {"stringList", "numericList", "booleanList", "ipList", "binaryList", "dateList"}


# --------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------


def simulate_principal_policy(call: Call, request: Request, authorizer: Authorizer) -> Response:
    source_arn: str = request["PolicySourceArn"]
    authorizer.authorize(call, "iam:SimulatePrincipalPolicy", source_arn)
    kind, entity_id, account = _entity(call.tx, source_arn)
    store = SqlPolicyStore()
    held: PrincipalPolicies
    if kind == "user":
        held = store.principal(
            call.tx, Principal(source_arn, account, "IAMUser", entity_id, "", "")
        )
    else:
        boundary_arn = _entity_boundary(call.tx, kind, entity_id)
        held = PrincipalPolicies(
            identity=tuple(store.attached(call.tx, kind, entity_id)),
            boundary=store.boundary_policy(call.tx, boundary_arn),
        )
    extra = _inputs(request.get("PolicyInputList") or (), "PolicyInputList", "none")
    boundary_inputs = _inputs(
        request.get("PermissionsBoundaryPolicyInputList") or (),
        "PermissionsBoundaryPolicyInputList",
        "none",
    )
    boundary = _one_boundary(boundary_inputs) if boundary_inputs else held.boundary
    policies = PrincipalPolicies(identity=held.identity + extra, boundary=boundary)
    guards = authorizer.guards(call.tx, account)
    caller = request.get("CallerArn")
    if caller is None and kind == "user":
        caller = source_arn
    return _simulate(call, request, policies, guards, caller, account)


def simulate_custom_policy(
    call: Call, request: Request, authorizer: Authorizer | None = None
) -> Response:
    if authorizer is not None:
        authorizer.authorize(call, "iam:SimulateCustomPolicy", "*")
    elif not call.ctx.principal.is_root:
        action = "iam:SimulateCustomPolicy"
        raise AccessDeniedException(
            denied_message(
                call.ctx.principal.arn,
                action,
                "*",
                f"because no identity-based policy allows the {action} action",
            )
        )
    inputs = _inputs(request["PolicyInputList"], "PolicyInputList", "none")
    boundary_inputs = _inputs(
        request.get("PermissionsBoundaryPolicyInputList") or (),
        "PermissionsBoundaryPolicyInputList",
        "none",
    )
    policies = PrincipalPolicies(
        identity=inputs, boundary=_one_boundary(boundary_inputs) if boundary_inputs else None
    )
    return _simulate(
        call, request, policies, NO_GUARDS, request.get("CallerArn"), call.ctx.account_id
    )


# --------------------------------------------------------------------------
# The simulation
# --------------------------------------------------------------------------


def _simulate(
    call: Call,
    request: Request,
    policies: PrincipalPolicies,
    guards: AccountGuards,
    caller_arn: str | None,
    account: str,
) -> Response:
    if request.get("ResourceHandlingOption") is not None:
        raise InvalidInput(
            "ResourceHandlingOption selects EC2 scenarios, which this Garrison release "
            "does not simulate."
        )
    actions: list[str] = list(request["ActionNames"])
    resources: list[str] = list(request.get("ResourceArns") or ["*"])
    context = _context(request.get("ContextEntries") or ())
    resource_policy = None
    document = request.get("ResourcePolicy")
    if document is not None:
        resource_policy = _compile(document, "ResourcePolicy", resource=True)
        if caller_arn is None:
            raise InvalidInput(
                "CallerArn must be specified when a ResourcePolicy is included and "
                "PolicySourceArn is not an IAM user."
            )
    caller = _caller(caller_arn, account)
    owner_override = request.get("ResourceOwner")
    limit = _max_items(request.get("MaxItems"))
    start = _marker(request.get("Marker"))

    pairs = [(a, r) for a in actions for r in resources]
    page = pairs[start : start + limit]
    results = []
    for action, resource in page:
        req = AuthzRequest(caller.arn, caller.account_id, caller.type, action, resource, context)
        owner = owner_override or resource_owner(resource, caller.account_id)
        verdict = decide(
            req,
            policies,
            guards,
            resource_policy=resource_policy,
            cross_account=owner != caller.account_id,
            explain=True,
        )
        sources = list(verdict.evaluations)
        results.append(
            _result(req, verdict, sources, resource_policy, document, cross=owner != account)
        )
    out: Response = {"EvaluationResults": results, "IsTruncated": start + limit < len(pairs)}
    if out["IsTruncated"]:
        out["Marker"] = base64.urlsafe_b64encode(f"sim:{start + limit}".encode()).decode()
    return out


def _result(
    req: AuthzRequest,
    verdict: Verdict,
    sources: list[tuple[SourcePolicy, Any]],
    resource_policy: Policy | None,
    resource_document: str | None,
    *,
    cross: bool,
) -> dict[str, Any]:
    matched: list[dict[str, Any]] = []
    missing: list[str] = []
    want = Effect.DENY if verdict.decision == EXPLICIT_DENY else Effect.ALLOW
    for source, _evaluation in sources:
        text = resource_document if source.source_type == "resource" else source.document
        spans = statement_spans(text or "")
        for statement in source.policy.matching(req):
            if statement.effect is want and verdict.decision != "implicitDeny":
                entry: dict[str, Any] = {
                    "SourcePolicyId": source.source_id,
                    "SourcePolicyType": _source_type(source),
                }
                if 0 < statement.index <= len(spans):
                    (l1, c1), (l2, c2) = spans[statement.index - 1]
                    entry["StartPosition"] = {"Line": l1, "Column": c1}
                    entry["EndPosition"] = {"Line": l2, "Column": c2}
                matched.append(entry)
        variables = source.policy.version == "2012-10-17"
        for statement in source.policy.for_action(req.action):
            for key in _keys_named(statement, variables):
                if key.lower() not in req.lookup and key not in missing:
                    missing.append(key)
    result: dict[str, Any] = {
        "EvalActionName": req.action,
        "EvalResourceName": req.resource,
        "EvalDecision": verdict.decision,
        "MatchedStatements": matched,
        "MissingContextValues": missing,
    }
    if verdict.scp_allowed is not None:
        result["OrganizationsDecisionDetail"] = {"AllowedByOrganizations": verdict.scp_allowed}
    if verdict.boundary_allowed is not None:
        result["PermissionsBoundaryDecisionDetail"] = {
            "AllowedByPermissionsBoundary": verdict.boundary_allowed
        }
    if resource_policy is not None and cross:
        identity = "allowed" if verdict.decision == ALLOWED else verdict.decision
        resource_decision = "implicitDeny"
        for source, evaluation in sources:
            if source.source_type == "resource":
                resource_decision = {
                    "Allow": "allowed",
                    "ExplicitDeny": "explicitDeny",
                }.get(evaluation.decision.value, "implicitDeny")
        result["EvalDecisionDetails"] = {
            "IAM Policy": identity,
            "Resource Policy": resource_decision,
        }
    elif req.resource != "*":
        result["EvalDecisionDetails"] = {}
    result["ResourceSpecificResults"] = [
        {
            "EvalResourceName": req.resource,
            "EvalResourceDecision": verdict.decision,
            "MatchedStatements": matched,
            "MissingContextValues": missing,
        }
    ]
    return result


_VARIABLE = re.compile(r"\$\{\s*([^\s,'{}$]+)")


def _keys_named(statement: Statement, variables: bool) -> list[str]:
    """The context keys a statement reads: its condition keys, and the keys of the
    policy variables in its condition values and Resource (Version 2012-10-17)."""
    keys = [c.key for c in statement.conditions]
    if variables:
        texts = [v for c in statement.conditions for v in c.values]
        if statement.resources is not None:
            texts.extend(statement.resources.texts)
        for text in texts:
            keys.extend(m for m in _VARIABLE.findall(text) if m not in ("*", "?", "$"))
    return keys


def _source_type(source: SourcePolicy) -> str:
    if source.source_type in ("boundary", "session", "scp"):
        return "none"
    return source.source_type


# --------------------------------------------------------------------------
# Inputs
# --------------------------------------------------------------------------


def _compile(document: str, where: str, *, resource: bool) -> Policy:
    try:
        return compile_policy(document, resource_policy=resource)
    except PolicyError as err:
        raise MalformedPolicyDocument(f"{where}: {err.reason}") from None


def _inputs(documents: Sequence[str], member: str, kind: str) -> tuple[SourcePolicy, ...]:
    return tuple(
        SourcePolicy(f"{member}.{n}", kind, _compile(d, f"{member}.{n}", resource=False), d)
        for n, d in enumerate(documents, start=1)
    )


def _one_boundary(inputs: tuple[SourcePolicy, ...]) -> SourcePolicy:
    if len(inputs) > 1:
        raise InvalidInput("Only one permissions boundary policy can be simulated at a time.")
    source = inputs[0]
    return SourcePolicy(source.source_id, "boundary", source.policy, source.document)


def _context(entries: Sequence[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    out: dict[str, tuple[str, ...]] = {}
    for entry in entries:
        name = entry.get("ContextKeyName")
        kind = entry.get("ContextKeyType")
        values = list(entry.get("ContextKeyValues") or ())
        if not name or not kind:
            raise InvalidInput("Each ContextEntry needs a ContextKeyName and a ContextKeyType.")
        if kind not in _LIST_TYPES and len(values) > 1:
            raise InvalidInput(
                f"Context key {name} is of type {kind} and takes a single value; "
                f"use {kind}List for several."
            )
        base = kind.removesuffix("List")
        for value in values:
            if not _valid(base, value):
                raise InvalidInput(
                    f"Invalid value {value!r} for context key {name} of type {kind}."
                )
        out[name] = tuple(values)
    return out


def _valid(kind: str, value: str) -> bool:
    if kind == "numeric":
        return parse_number(value) is not None
    if kind == "boolean":
        return value.lower() in ("true", "false")
    if kind == "date":
        return parse_date(value) is not None
    if kind == "ip":
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return False
        return True
    if kind == "binary":
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return False
    return True


def _max_items(value: int | None) -> int:
    if value is None:
        return DEFAULT_MAX_ITEMS
    return max(1, min(value, MAX_ITEMS))


def _marker(marker: str | None) -> int:
    if marker is None:
        return 0
    try:
        text = base64.urlsafe_b64decode(marker.encode("ascii")).decode()
        kind, _, position = text.partition(":")
        if kind != "sim":
            raise ValueError(marker)
        return int(position)
    except (ValueError, UnicodeError, binascii.Error):
        raise InvalidInput("Invalid Marker.") from None


def _caller(arn: str | None, account: str) -> Principal:
    """The principal resource policies are matched against (CallerArn: an IAM user)."""
    if arn is None:
        return Principal(f"arn:aws:iam::{account}:root", account, "Root", account)
    try:
        parsed = parse_arn(arn)
    except ValueError:
        raise InvalidInput(f"Invalid CallerArn {arn}.") from None
    kind: PrincipalType
    if parsed.service == "iam" and parsed.resource.startswith("user/"):
        kind = "IAMUser"
    elif parsed.service == "iam" and parsed.resource == "root":
        kind = "Root"
    else:
        raise InvalidInput("CallerArn must be the ARN of an IAM user.")
    return Principal(arn, parsed.account, kind, "")


def _entity(tx: Tx, arn: str) -> tuple[str, str, str]:
    """(kind, id, account) of the user, group or role `arn` names; NoSuchEntity if none."""
    try:
        parsed = parse_arn(arn)
    except ValueError:
        raise InvalidInput(f"Invalid PolicySourceArn {arn}.") from None
    kind = parsed.resource.split("/", 1)[0]
    tables = {
        "user": (schema.iam_users, "user_id"),
        "group": (schema.iam_groups, "group_id"),
        "role": (schema.iam_roles, "role_id"),
    }
    if parsed.service != "iam" or kind not in tables:
        raise InvalidInput(f"PolicySourceArn {arn} must be the ARN of an IAM user, group or role.")
    table, id_column = tables[kind]
    row = tx.execute(select(table.c[id_column]).where(table.c.arn == arn)).first()
    if row is None:
        name = parsed.resource.rsplit("/", 1)[-1]
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    return kind, row[0], parsed.account


def _entity_boundary(tx: Tx, kind: str, entity_id: str) -> str | None:
    if kind != "role":
        return None  # groups have no permissions boundary
    roles = schema.iam_roles
    row = tx.execute(select(roles.c.permissions_boundary).where(roles.c.role_id == entity_id))
    found = row.first()
    return found.permissions_boundary if found is not None else None


# --------------------------------------------------------------------------
# Statement positions
# --------------------------------------------------------------------------


def statement_spans(document: str) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """(start, end) line/column (1-based) of each statement object in a policy's text.

    A small scanner over the JSON text (strings skipped): finds the value of the
    top-level "Statement" member, then each object in it (or the object itself).
    """
    spans: list[tuple[tuple[int, int], tuple[int, int]]] = []
    line, column = 1, 0
    depth = 0
    in_string = escaped = False
    key_buffer: list[str] = []
    last_key = ""
    statement_depth = -1  # depth of the Statement value's container, once found
    open_at: tuple[int, int] | None = None
    for ch in document:
        if ch == "\n":
            line, column = line + 1, 0
        else:
            column += 1
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
                last_key = "".join(key_buffer)
            else:
                key_buffer.append(ch)
            continue
        if ch == '"':
            in_string, key_buffer = True, []
        elif ch in "{[":
            depth += 1
            if statement_depth < 0 and depth == 2 and last_key == "Statement":
                statement_depth = depth if ch == "[" else depth - 1
                if ch == "{":
                    open_at = (line, column)
            elif statement_depth > 0 and depth == statement_depth + 1 and ch == "{":
                open_at = (line, column)
        elif ch in "}]":
            if open_at is not None and depth == statement_depth + 1 and ch == "}":
                spans.append((open_at, (line, column)))
                open_at = None
            depth -= 1
        elif ch == ":":
            pass
        elif ch == ",":
            last_key = "" if depth == 1 else last_key
    return spans
