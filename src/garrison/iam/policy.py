"""The IAM policy language: parse and validate a document once, evaluate it fast.

    compile_policy(text) -> Policy            PolicyError if AWS would refuse it
    Policy.evaluate(AuthzRequest) -> Evaluation(decision, matched, via_account, via_role)

This is the core of AWS's evaluation logic for ONE policy; `garrison.iam.authorizer`
combines the `Evaluation`s of all the policies of a request (identity policies,
SCPs, permissions boundaries, session policies, resource policies) as AWS defines.

Within one policy (AWS "policy evaluation logic"):
- a statement applies when its Action (or NotAction), Resource (or NotResource),
  Principal (or NotPrincipal, resource policies only) and every Condition match;
- any applicable Deny -> EXPLICIT_DENY; else any applicable Allow -> ALLOW;
  else NO_MATCH (the implicit deny).

Matching rules:
- Action: ``*`` and ``?`` wildcards, case-insensitive; a vendor prefix is
  required (``kms:Encrypt``, ``kms:*``, or ``*`` alone).
- Resource: ARN patterns, case-sensitive; ``*`` and ``?`` stay inside each of
  the first five colon-separated components and match anything in the resource
  part; ``*`` alone matches everything. In a resource policy Resource may be
  omitted: the statement then covers the resource the policy is attached to.
- Principal (see `PrincipalSet`): ``"*"`` and ``{"AWS": "*"}`` match every caller,
  anonymous and service principals included. An account (``123456789012`` or its
  ``:root`` ARN) matches every principal of that account, flagged *via account*:
  AWS then requires the caller's own IAM policies to allow too, which is the
  caller's job (`Evaluation.via_account`). For the root user the account match is
  direct. A role ARN matches the role's sessions (by account and role name, since
  session ARNs carry no path), flagged *via role* (AWS then still applies the
  session's boundary and session policies); a user, session or federated-user ARN matches
  exactly; ``Service`` matches a service principal whose name is the request's
  principal_arn; ``Federated`` and ``CanonicalUser`` parse and never match.
- NotPrincipal (Deny only, as AWS requires): the statement applies to everyone
  except a caller whose whole identity chain is named: the account for the root
  user; account and user for a user; account and role for a role session (AWS
  checks the account, then the role); the service name for a service.
- Conditions and policy variables: see `garrison.iam.conditions`. Variables are
  substituted only under Version 2012-10-17; under 2008-10-17 (the default when
  Version is absent) ``${...}`` is literal text, as in AWS.

Validation follows AWS's MalformedPolicyDocument cases: not JSON or not an
object, unknown top-level or statement element, unknown Version, missing
Statement, Effect other than Allow/Deny, neither or both of Action/NotAction
(likewise Resource, Principal), an action without vendor prefix or with invalid
characters, a Resource neither ``*`` nor ARN-shaped, malformed principals
(``{"AWS": "not-an-arn"}``, wildcards inside ARNs, IAM groups), a Principal in an
identity policy, unknown condition operators and condition values of the wrong
type. Unknown action names under a valid prefix are accepted, as AWS does.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from garrison.context import Principal, PrincipalType
from garrison.iam.arn import is_account_id, parse_arn
from garrison.iam.conditions import (
    MATCH,
    NO_MATCH,
    Condition,
    Lookup,
    PatternSet,
    PolicyError,
    compile_conditions,
)

__all__ = [
    "AuthzRequest",
    "Decision",
    "Effect",
    "Evaluation",
    "Policy",
    "PolicyError",
    "PrincipalSet",
    "Statement",
    "compile_policy",
]

VERSIONS = ("2012-10-17", "2008-10-17")
_TOP_LEVEL = frozenset({"Version", "Id", "Statement"})
_ELEMENTS = frozenset(
    {"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
     "NotResource", "Condition"}
)  # fmt: skip
_PRINCIPAL_KINDS = frozenset({"AWS", "Service", "Federated", "CanonicalUser"})
_VENDOR = re.compile(r"[A-Za-z0-9-]+")
_ACTION_NAME = re.compile(r"[A-Za-z0-9_*?-]+")
_SERVICE_PRINCIPAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")
_EMPTY: Lookup = {}
_MAX_ACTIONS = 4096  # distinct actions indexed per policy before the index starts over

# How a statement's principal matched, weakest first: not at all, through the
# caller's account, through the role of a role session, directly (the caller's
# own ARN, the root user's account, or "*"). AWS limits the weaker grants more.
_NONE, _ACCOUNT, _ROLE, _DIRECT = 0, 1, 2, 3


class Effect(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"


class Decision(enum.Enum):
    EXPLICIT_DENY = "ExplicitDeny"
    ALLOW = "Allow"
    NO_MATCH = "NoMatch"  # the implicit deny


@dataclass(frozen=True, slots=True)
class Evaluation:
    """One policy's verdict and the statements (Sid or "Statement N") behind it.

    `via_account` is true for an ALLOW that came only from statements naming the
    caller's account rather than the caller: AWS then also requires an IAM policy
    of the caller to allow the request (key-policy delegation to IAM).
    """

    decision: Decision
    matched: tuple[str, ...] = ()
    via_account: bool = False
    # An ALLOW whose strongest statement named the role of the calling role
    # session, not the session itself: AWS then still applies the session's
    # permissions boundary and session policies (see `garrison.iam.authorizer`).
    via_role: bool = False

    @property
    def allowed(self) -> bool:
        return self.decision is Decision.ALLOW


_NO_MATCH = Evaluation(Decision.NO_MATCH)


@dataclass(frozen=True, slots=True)
class AuthzRequest:
    """What is being asked: who, which action on which resource, in what context.

    Context keys are looked up case-insensitively; values are kept as given. A bare
    string value is one value, not a sequence of characters.
    """

    principal_arn: str
    principal_account: str
    principal_type: PrincipalType
    action: str
    resource: str
    context: Mapping[str, Sequence[str]] = field(default_factory=dict)
    # More context, already in lookup form (lower-cased keys, tuple values): the
    # authorizer's global keys; `context` is merged over it.
    lowered: Lookup = field(default_factory=dict)
    # Derived on first use (set through object.__setattr__: the fields above stay frozen).
    _lookup: Lookup | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def for_principal(
        cls,
        principal: Principal,
        action: str,
        resource: str,
        context: Mapping[str, Sequence[str]] | None = None,
    ) -> AuthzRequest:
        return cls(
            principal.arn, principal.account_id, principal.type, action, resource, context or {}
        )

    @property
    def lookup(self) -> Lookup:
        """The context with lower-cased keys and tuple values, built on first use."""
        if self._lookup is None:
            lookup = dict(self.lowered)
            for k, v in self.context.items():
                lookup[k.lower()] = (v,) if isinstance(v, str) else tuple(v)
            object.__setattr__(self, "_lookup", lookup)
            return lookup
        return self._lookup

    @property
    def role_key(self) -> tuple[str, str, str] | None:
        """(partition, account, role name) of an assumed-role session, else None."""
        return _session_role(self.principal_arn) if self.principal_type == "AssumedRole" else None


@functools.lru_cache(maxsize=4096)
def _session_role(arn: str) -> tuple[str, str, str] | None:
    try:
        parsed = parse_arn(arn)
    except ValueError:
        return None
    kind, _, rest = parsed.resource.partition("/")
    role, _, session = rest.partition("/")
    if parsed.service != "sts" or kind != "assumed-role" or not role or not session:
        return None
    return parsed.partition, parsed.account, role


@dataclass(frozen=True, slots=True)
class PrincipalSet:
    """The principals a Principal or NotPrincipal element names, ready to match."""

    everyone: bool = False
    accounts: frozenset[str] = frozenset()
    arns: frozenset[str] = frozenset()  # users, role sessions, federated users
    roles: frozenset[tuple[str, str, str]] = frozenset()  # (partition, account, name)
    services: frozenset[str] = frozenset()
    federated: frozenset[str] = frozenset()
    canonical_users: frozenset[str] = frozenset()

    def match(self, req: AuthzRequest) -> int:
        """_NONE, _ACCOUNT (matched through the caller's account) or _DIRECT."""
        if self.everyone:
            return _DIRECT
        kind = req.principal_type
        if kind == "AWSService":
            return _DIRECT if req.principal_arn in self.services else _NONE
        if kind == "Anonymous":
            return _NONE
        if req.principal_arn in self.arns:
            return _DIRECT
        if self.roles and req.role_key in self.roles:
            return _ROLE
        if req.principal_account in self.accounts:
            return _DIRECT if kind == "Root" else _ACCOUNT
        return _NONE

    def names_identity_chain(self, req: AuthzRequest) -> bool:
        """For NotPrincipal: is every level of the caller's identity named?"""
        if self.everyone:
            return True
        kind = req.principal_type
        if kind == "AWSService":
            return req.principal_arn in self.services
        if kind == "Anonymous" or req.principal_account not in self.accounts:
            return False
        if kind == "IAMUser":
            return req.principal_arn in self.arns
        if kind == "AssumedRole":
            return req.role_key in self.roles
        return kind == "Root"


@dataclass(frozen=True, slots=True)
class Statement:
    """One compiled statement. `index` is 1-based, as in error messages."""

    index: int
    sid: str | None
    effect: Effect
    actions: PatternSet
    not_action: bool
    resources: PatternSet | None  # None: the resource the policy is attached to
    not_resource: bool
    principals: PrincipalSet | None  # None: an identity policy
    not_principal: bool
    conditions: tuple[Condition, ...]
    needs_context: bool

    @property
    def label(self) -> str:
        return self.sid or f"Statement {self.index}"

    def covers(self, action: str) -> bool:
        """Does the Action (or NotAction) element take in `action`?"""
        return (self.actions.test(action, _EMPTY) == MATCH) is not self.not_action

    def match(self, req: AuthzRequest) -> int:
        """_NONE if the statement does not apply, else how the principal matched."""
        if not self.covers(req.action):
            return _NONE
        return self.match_rest(req)

    def match_rest(self, req: AuthzRequest) -> int:
        """`match` for a statement already known to cover the request's action."""
        how = _DIRECT
        if self.principals is not None:
            if self.not_principal:
                if self.principals.names_identity_chain(req):
                    return _NONE
            else:
                how = self.principals.match(req)
                if how == _NONE:
                    return _NONE
        lookup = req.lookup if self.needs_context else _EMPTY
        if self.resources is not None:
            outcome = self.resources.test(req.resource, lookup)
            if outcome != (NO_MATCH if self.not_resource else MATCH):
                return _NONE
        for condition in self.conditions:
            if not condition.holds(lookup):
                return _NONE
        return how


@dataclass(frozen=True, slots=True)
class Policy:
    """A validated, compiled policy document."""

    version: str
    id: str | None
    statements: tuple[Statement, ...]
    # action (as requested) -> the statements whose Action/NotAction covers it, filled
    # on first use: an IAM user's 10 policies of 5 statements cost ~60 us per request
    # when every statement is tested, ~5 us through this index.
    _by_action: dict[str, tuple[Statement, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def for_action(self, action: str) -> tuple[Statement, ...]:
        """The statements that may apply to `action` (Action/NotAction tested once)."""
        found = self._by_action.get(action)
        if found is None:
            found = tuple(s for s in self.statements if s.covers(action))
            if len(self._by_action) >= _MAX_ACTIONS:
                self._by_action.clear()
            self._by_action[action] = found
        return found

    def evaluate(self, req: AuthzRequest) -> Evaluation:
        candidates = self.for_action(req.action)
        if not candidates:
            return _NO_MATCH
        denied: list[str] = []
        allowed: list[str] = []
        best = _NONE
        for statement in candidates:
            how = statement.match_rest(req)
            if how == _NONE:
                continue
            if statement.effect is Effect.DENY:
                denied.append(statement.label)
            else:
                allowed.append(statement.label)
                best = max(best, how)
        if denied:
            return Evaluation(Decision.EXPLICIT_DENY, tuple(denied))
        if allowed:
            return Evaluation(
                Decision.ALLOW,
                tuple(allowed),
                via_account=best == _ACCOUNT,
                via_role=best == _ROLE,
            )
        return _NO_MATCH

    def matching(self, req: AuthzRequest) -> list[Statement]:
        """Every statement that applies to `req` (for the simulator's MatchedStatements)."""
        return [s for s in self.for_action(req.action) if s.match_rest(req) != _NONE]


def compile_policy(
    document: str | bytes, *, max_size: int | None = None, resource_policy: bool = True
) -> Policy:
    """Parse, validate and compile a policy document (cached by its text).

    `max_size` bounds the UTF-8 size in bytes (KMS: 32768). `resource_policy`
    requires Principal/NotPrincipal and makes Resource optional; an identity
    policy forbids Principal and requires Resource.
    """
    return _compile(document, max_size, resource_policy)


@functools.lru_cache(maxsize=512)
def _compile(document: str | bytes, max_size: int | None, resource_policy: bool) -> Policy:
    raw = document.encode() if isinstance(document, str) else document
    if max_size is not None and len(raw) > max_size:
        raise PolicyError(f"Policy document exceeds the maximum size of {max_size} bytes")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise PolicyError("Policy document is not valid JSON") from None
    if not isinstance(doc, dict):
        raise PolicyError("Policy document must be a JSON object")
    for name in doc:
        if name not in _TOP_LEVEL:
            raise PolicyError(f"Policy document has an unknown element '{name}'")
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError(f"Policy document has an unknown Version '{version}'")
    policy_id = doc.get("Id")
    if policy_id is not None and not isinstance(policy_id, str):
        raise PolicyError("Policy Id must be a string")
    if "Statement" not in doc:
        raise PolicyError("Policy document is missing the Statement element")
    raw_statements = doc["Statement"]
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list):
        raise PolicyError("Statement must be an object or a list of objects")
    variables = version == "2012-10-17"
    statements = tuple(
        _statement(n, raw, variables=variables, resource_policy=resource_policy)
        for n, raw in enumerate(raw_statements, start=1)
    )
    return Policy(version, policy_id, statements)


def _statement(n: int, raw: object, *, variables: bool, resource_policy: bool) -> Statement:
    if not isinstance(raw, dict):
        raise PolicyError(f"Statement {n} must be an object")
    for name in raw:
        if name not in _ELEMENTS:
            raise PolicyError(f"Statement {n} has an unknown element '{name}'")
    sid = raw.get("Sid")
    if sid is not None and not isinstance(sid, str):
        raise PolicyError(f"Statement {n} has a Sid that is not a string")
    if "Effect" not in raw:
        raise PolicyError(f"Statement {n} is missing Effect")
    try:
        effect = Effect(raw["Effect"])
    except (ValueError, TypeError):
        raise PolicyError(f"Statement {n} has an invalid Effect '{raw['Effect']}'") from None

    action_key = _one_of(n, raw, "Action", "NotAction", required=True)
    assert action_key is not None
    actions = _strings(n, action_key, raw[action_key])
    for action in actions:
        _check_action(action)

    resource_key = _one_of(n, raw, "Resource", "NotResource", required=not resource_policy)
    resources = None
    if resource_key is not None:
        texts = _strings(n, resource_key, raw[resource_key])
        for text in texts:
            _check_resource(text)
        resources = PatternSet(texts, variables=variables, arn=True)

    principals = None
    principal_key = None
    if resource_policy:
        principal_key = _one_of(n, raw, "Principal", "NotPrincipal", required=True)
        assert principal_key is not None
        principals = _principals(raw[principal_key])
        if principal_key == "NotPrincipal" and effect is not Effect.DENY:
            raise PolicyError(f"Statement {n} uses NotPrincipal, which requires Effect Deny")
    elif "Principal" in raw or "NotPrincipal" in raw:
        raise PolicyError(f"Statement {n}: an identity policy must not specify a principal")

    conditions: tuple[Condition, ...] = ()
    if "Condition" in raw:
        conditions = compile_conditions(raw["Condition"], variables=variables)
    return Statement(
        index=n,
        sid=sid,
        effect=effect,
        actions=PatternSet(actions, variables=False, arn=False, fold=True),
        not_action=action_key == "NotAction",
        resources=resources,
        not_resource=resource_key == "NotResource",
        principals=principals,
        not_principal=principal_key == "NotPrincipal",
        conditions=conditions,
        needs_context=bool(conditions) or (resources is not None and resources.needs_context),
    )


def _one_of(n: int, raw: dict[str, Any], key: str, not_key: str, *, required: bool) -> str | None:
    if key in raw and not_key in raw:
        raise PolicyError(f"Statement {n} has both {key} and {not_key}")
    if key in raw:
        return key
    if not_key in raw:
        return not_key
    if required:
        raise PolicyError(f"Statement {n} must have {key} or {not_key}")
    return None


def _strings(n: int, element: str, value: object) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise PolicyError(f"Statement {n}: {element} must be a string or a non-empty string list")
    return values


def _check_action(action: str) -> None:
    if action == "*":
        return
    vendor, colon, name = action.partition(":")
    if not colon or not vendor:
        raise PolicyError(f"Action '{action}' has no vendor prefix")
    if not _VENDOR.fullmatch(vendor):
        raise PolicyError(f"Action '{action}' has an invalid vendor prefix '{vendor}'")
    if not _ACTION_NAME.fullmatch(name):
        raise PolicyError(f"Action '{action}' has invalid characters")


def _check_resource(text: str) -> None:
    if text == "*":
        return
    parts = text.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn" or not parts[1] or not parts[2]:
        raise PolicyError(f"Resource '{text}' must be in ARN format or '*'")


def _show(value: object) -> str:
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _invalid_principal(kind: str, value: object) -> PolicyError:
    return PolicyError(f'Invalid principal in policy: "{kind}":"{_show(value)}"')


def _principals(raw: object) -> PrincipalSet:
    if raw == "*":
        return PrincipalSet(everyone=True)
    if not isinstance(raw, dict) or not raw:
        raise PolicyError(f"Invalid principal in policy: {_show(raw)}")
    found: dict[str, set[Any]] = {
        k: set() for k in ("accounts", "arns", "roles", "services", "federated", "canonical")
    }
    everyone = False
    for kind, value in raw.items():
        values = [value] if isinstance(value, str) else value
        if kind not in _PRINCIPAL_KINDS or not isinstance(values, list) or not values:
            raise _invalid_principal(kind, value)
        for v in values:
            if not isinstance(v, str) or not v:
                raise _invalid_principal(kind, v)
            if kind == "AWS":
                everyone |= _aws_principal(v, found)
            elif kind == "Service":
                if not _SERVICE_PRINCIPAL.fullmatch(v):
                    raise _invalid_principal(kind, v)
                found["services"].add(v)
            elif kind == "Federated":
                found["federated"].add(v)
            else:
                found["canonical"].add(v)
    return PrincipalSet(
        everyone=everyone,
        accounts=frozenset(found["accounts"]),
        arns=frozenset(found["arns"]),
        roles=frozenset(found["roles"]),
        services=frozenset(found["services"]),
        federated=frozenset(found["federated"]),
        canonical_users=frozenset(found["canonical"]),
    )


def _aws_principal(value: str, found: dict[str, set[Any]]) -> bool:
    """File one "AWS" principal into `found`; True if it is the wildcard."""
    if value == "*":
        return True
    if is_account_id(value):
        found["accounts"].add(value)
        return False
    try:
        arn = parse_arn(value)
    except ValueError:
        raise _invalid_principal("AWS", value) from None
    kind, _, rest = arn.resource.partition("/")
    names = rest.split("/")
    shaped = "*" not in value and "?" not in value and not arn.region
    shaped = shaped and is_account_id(arn.account) and (not rest or all(names))
    service_kind = (arn.service, kind) if shaped else ("", "")
    if service_kind == ("iam", "root") and not rest:
        found["accounts"].add(arn.account)
    elif service_kind == ("iam", "user") and rest:
        found["arns"].add(value)
    elif service_kind == ("iam", "role") and rest:
        found["roles"].add((arn.partition, arn.account, names[-1]))
    elif service_kind == ("sts", "assumed-role") and len(names) == 2:
        found["arns"].add(value)  # one session of a role
    elif service_kind == ("sts", "federated-user") and len(names) == 1:
        found["arns"].add(value)
    else:
        raise _invalid_principal("AWS", value)
    return False
