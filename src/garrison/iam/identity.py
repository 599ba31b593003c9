"""A caller's policies, loaded from IAM, STS and Organizations state and compiled once.

    PolicyStore.principal(tx, principal) -> PrincipalPolicies
        identity policies, permissions boundary, session policies, tags
    PolicyStore.guards(tx, account_id)   -> AccountGuards
        the account's organization and the SCPs along root -> OUs -> account

`SqlPolicyStore` reads the tables of `garrison.storage.schema`; the authorizer
caches what it returns per principal and per account until IAM or
Organizations state changes (`Authorizer.invalidate`). Tests give the
authorizer an in-memory store with the same two methods.

What a principal holds (AWS "Policy evaluation logic"):

    IAM user      inline user policies, attached managed policies (default
                  version), each group's inline and attached policies;
                  the user's permissions boundary
    role session  the role's inline and attached policies; the role's
                  boundary; the session policies passed to AssumeRole (inline
                  Policy and PolicyArns), if any
    root user     all permissions on its own account (`implicit_allow`)

A managed policy that no longer exists contributes nothing; a boundary that no
longer exists allows nothing (a boundary only ever narrows).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import orjson

from garrison.context import Principal
from garrison.iam.policy import Policy, PolicyError, compile_policy
from garrison.storage import schema
from garrison.storage.sql import and_, select
from garrison.storage.writer import Tx

SCP_TYPE = "SERVICE_CONTROL_POLICY"
_MAX_ACTIONS = 4096  # distinct actions indexed per principal before the index starts over
_EMPTY_POLICY = Policy("2012-10-17", None, ())


@dataclass(frozen=True, slots=True)
class SourcePolicy:
    """One compiled policy and where it came from (as the simulator names it).

    `source_type` is IAM's PolicySourceType: user, group, role (inline
    policies), aws-managed, user-managed, resource, none; or "boundary",
    "session" and "scp" for the policies that only narrow.
    """

    source_id: str  # inline: the policy name; managed: the policy ARN
    source_type: str
    policy: Policy
    document: str = ""


@dataclass(frozen=True, slots=True)
class PrincipalPolicies:
    """Everything the identity side of a decision needs about one principal."""

    identity: tuple[SourcePolicy, ...] = ()
    boundary: SourcePolicy | None = None  # None: no permissions boundary
    session: tuple[SourcePolicy, ...] | None = None  # None: no session policies passed
    tags: Mapping[str, str] = field(default_factory=dict)
    implicit_allow: bool = False  # the root user on its own account
    token_issue_time: str | None = None  # aws:TokenIssueTime of a role session
    role_arn: str | None = None  # a role session's role (aws:PrincipalArn), with its path
    # action -> the identity policies with a statement whose Action covers it, filled
    # on first use: 10 policies of which one speaks of the action cost ~5 us a request
    # when each is asked, ~1 us through this index.
    _by_action: dict[str, tuple[SourcePolicy, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def identity_for(self, action: str) -> tuple[SourcePolicy, ...]:
        """The identity policies that may speak of `action` (the others cannot match)."""
        found = self._by_action.get(action)
        if found is None:
            found = tuple(p for p in self.identity if p.policy.for_action(action))
            if len(self._by_action) >= _MAX_ACTIONS:
                self._by_action.clear()
            self._by_action[action] = found
        return found


@dataclass(frozen=True, slots=True)
class AccountGuards:
    """An account's organization and the SCP levels that bind its principals.

    `scp_levels` is empty when no SCP applies (no organization, SCPs not
    enabled, or the management account); otherwise one tuple per level, root
    first, and every level must allow.
    """

    org_id: str | None = None
    scp_levels: tuple[tuple[SourcePolicy, ...], ...] = ()


NO_GUARDS = AccountGuards()


class PolicyStore(Protocol):
    def principal(self, tx: Tx, principal: Principal) -> PrincipalPolicies: ...

    def guards(self, tx: Tx, account_id: str) -> AccountGuards: ...


def compile_identity(document: str) -> Policy:
    """A stored identity policy (validated when written); unreadable -> allows nothing."""
    try:
        return compile_policy(document, resource_policy=False)
    except PolicyError:
        return _EMPTY_POLICY


def managed_type(arn: str) -> str:
    return "aws-managed" if arn.startswith("arn:aws:iam::aws:policy/") else "user-managed"


class SqlPolicyStore:
    """Loads principals' policies and accounts' SCPs from the IAM/STS/Organizations tables."""

    def principal(self, tx: Tx, principal: Principal) -> PrincipalPolicies:
        if principal.type == "Root":
            return PrincipalPolicies(implicit_allow=True)
        if principal.type == "IAMUser":
            return self._user(tx, principal.user_id)
        if principal.type == "AssumedRole":
            return self._session(tx, principal.access_key_id)
        return PrincipalPolicies()

    # -- users and roles -----------------------------------------------------------
    def _user(self, tx: Tx, user_id: str) -> PrincipalPolicies:
        users = schema.iam_users
        row = tx.execute(
            select(users.c.permissions_boundary).where(users.c.user_id == user_id)
        ).first()
        if row is None:
            return PrincipalPolicies()
        policies = self.attached(tx, "user", user_id)
        members = schema.iam_group_members
        group_ids = tx.execute(
            select(members.c.group_id).where(members.c.user_id == user_id)
        ).scalars()
        for group_id in sorted(group_ids):
            policies.extend(self.attached(tx, "group", group_id))
        return PrincipalPolicies(
            identity=tuple(policies),
            boundary=self.boundary_policy(tx, row.permissions_boundary),
            tags=self._tags(tx, user_id),
        )

    def _session(self, tx: Tx, access_key_id: str) -> PrincipalPolicies:
        sessions = schema.sts_sessions
        session = tx.execute(
            select(sessions).where(sessions.c.access_key_id == access_key_id)
        ).first()
        if session is None:
            return PrincipalPolicies()
        roles = schema.iam_roles
        role = tx.execute(
            select(roles.c.permissions_boundary).where(roles.c.role_id == session.role_id)
        ).first()
        if role is None:  # the role was deleted: its sessions keep no permissions
            return PrincipalPolicies()
        session_policies: list[SourcePolicy] = []
        if session.session_policy:
            session_policies.append(
                SourcePolicy(
                    "SessionPolicy",
                    "session",
                    compile_identity(session.session_policy),
                    session.session_policy,
                )
            )
        for arn in orjson.loads(session.policy_arns or "[]"):
            found = self._managed(tx, arn)
            session_policies.append(found or SourcePolicy(arn, "session", _EMPTY_POLICY))
        tags = dict(self._tags(tx, session.role_id))
        tags.update(orjson.loads(session.tags or "{}"))  # session tags win over role tags
        issued = datetime.fromtimestamp(session.created_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return PrincipalPolicies(
            identity=tuple(self.attached(tx, "role", session.role_id)),
            boundary=self.boundary_policy(tx, role.permissions_boundary),
            session=tuple(session_policies) if session_policies else None,
            tags=tags,
            token_issue_time=issued,
            role_arn=session.role_arn,
        )

    def attached(self, tx: Tx, kind: str, principal_id: str) -> list[SourcePolicy]:
        """Inline then attached managed policies of one user, group or role."""
        inline = schema.iam_inline_policies
        out = [
            SourcePolicy(r.policy_name, kind, compile_identity(r.document), r.document)
            for r in tx.execute(
                select(inline.c.policy_name, inline.c.document)
                .where(and_(inline.c.principal_kind == kind, inline.c.principal_id == principal_id))
                .order_by(inline.c.policy_name)
            )
        ]
        attached = schema.iam_attachments
        arns = tx.execute(
            select(attached.c.policy_arn)
            .where(and_(attached.c.principal_kind == kind, attached.c.principal_id == principal_id))
            .order_by(attached.c.policy_arn)
        ).scalars()
        for arn in list(arns):
            found = self._managed(tx, arn)
            if found is not None:
                out.append(found)
        return out

    def _managed(self, tx: Tx, arn: str) -> SourcePolicy | None:
        """A managed policy's default version, or None if there is no such policy."""
        policies, versions = schema.iam_policies, schema.iam_policy_versions
        row = tx.execute(
            select(versions.c.document)
            .select_from(
                policies.join(
                    versions,
                    and_(
                        versions.c.policy_id == policies.c.policy_id,
                        versions.c.version_id == policies.c.default_version_id,
                    ),
                )
            )
            .where(policies.c.arn == arn)
        ).first()
        if row is None:
            return None
        return SourcePolicy(arn, managed_type(arn), compile_identity(row.document), row.document)

    def boundary_policy(self, tx: Tx, arn: str | None) -> SourcePolicy | None:
        if not arn:
            return None
        found = self._managed(tx, arn)
        policy = found.policy if found is not None else _EMPTY_POLICY
        return SourcePolicy(arn, "boundary", policy, found.document if found else "")

    def _tags(self, tx: Tx, resource_id: str) -> dict[str, str]:
        tags = schema.iam_tags
        rows = tx.execute(
            select(tags.c.tag_key, tags.c.tag_value).where(tags.c.resource_id == resource_id)
        )
        return {r.tag_key: r.tag_value for r in rows}

    # -- Organizations ---------------------------------------------------------------
    def guards(self, tx: Tx, account_id: str) -> AccountGuards:
        members = schema.org_accounts
        member = tx.execute(
            select(members.c.org_id, members.c.parent_id).where(members.c.account_id == account_id)
        ).first()
        orgs = schema.org_organizations
        if member is None:
            # the management account may have no org_accounts row of its own
            org = tx.execute(
                select(orgs.c.org_id).where(orgs.c.management_account_id == account_id)
            ).first()
            return AccountGuards(org.org_id) if org is not None else NO_GUARDS
        org = tx.execute(
            select(orgs.c.management_account_id).where(orgs.c.org_id == member.org_id)
        ).first()
        if org is None or org.management_account_id == account_id:
            return AccountGuards(member.org_id)  # SCPs never bind the management account
        path = self._path(tx, member.parent_id)
        if not path or not _scps_enabled(path[0][1]):
            return AccountGuards(member.org_id)
        levels = [self._scps(tx, unit_id) for unit_id, _ in path]
        levels.append(self._scps(tx, account_id))
        return AccountGuards(member.org_id, tuple(levels))

    def _path(self, tx: Tx, parent_id: str) -> list[tuple[str, str]]:
        """(unit id, policy_types) from the root down to `parent_id`."""
        units = schema.org_units
        path: list[tuple[str, str]] = []
        current: str | None = parent_id
        while current is not None and len(path) < 16:  # AWS nests OUs at most 5 deep
            row = tx.execute(
                select(units.c.parent_id, units.c.policy_types).where(units.c.unit_id == current)
            ).first()
            if row is None:
                break
            path.append((current, row.policy_types))
            current = row.parent_id
        path.reverse()
        return path

    def _scps(self, tx: Tx, target_id: str) -> tuple[SourcePolicy, ...]:
        policies, targets = schema.org_policies, schema.org_policy_targets
        rows = tx.execute(
            select(policies.c.policy_id, policies.c.content)
            .select_from(targets.join(policies, policies.c.policy_id == targets.c.policy_id))
            .where(and_(targets.c.target_id == target_id, policies.c.type == SCP_TYPE))
            .order_by(policies.c.policy_id)
        )
        return tuple(SourcePolicy(r.policy_id, "scp", compile_identity(r.content), r.content)
                     for r in rows)  # fmt: skip


def _scps_enabled(policy_types: str) -> bool:
    """Is SERVICE_CONTROL_POLICY enabled on the root (a JSON list of names or of
    {"Type", "Status"} objects, as ListRoots shows them)?"""
    try:
        types = orjson.loads(policy_types or "[]")
    except orjson.JSONDecodeError:
        return False
    for entry in types if isinstance(types, list) else ():
        if entry == SCP_TYPE:
            return True
        if isinstance(entry, dict) and entry.get("Type") == SCP_TYPE:
            return bool(entry.get("Status", "ENABLED") == "ENABLED")
    return False
