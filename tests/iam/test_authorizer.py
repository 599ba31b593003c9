"""The Authorizer over the real IAM/STS/Organizations tables: what a principal holds,
the SCP path, the condition keys it fills, caching and invalidation, explanations."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from garrison.api import Call
from garrison.context import Principal, RequestContext
from garrison.errors import AccessDeniedException
from garrison.iam.authorizer import Authorizer, Verdict
from garrison.iam.identity import AccountGuards, PrincipalPolicies, SqlPolicyStore
from garrison.iam.policy import compile_policy
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import delete, insert, update
from garrison.storage.writer import Tx
from tests.inprocess import fresh_database

A, B, C = "111122223333", "444455556666", "777788889999"
KEY = f"arn:aws:kms:us-east-1:{A}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALICE = Principal(f"arn:aws:iam::{A}:user/alice", A, "IAMUser", "AIDAALICE", "AKIAALICE", "alice")
SESSION = Principal(
    f"arn:aws:sts::{A}:assumed-role/Admin/s1", A, "AssumedRole", "AROAADMIN:s1", "ASIASESSION"
)
ROOT = Principal(f"arn:aws:iam::{A}:root", A, "Root", A, "AKIAROOT")
B_ROOT = Principal(f"arn:aws:iam::{B}:root", B, "Root", B, "AKIABROOT")
C_ROOT = Principal(f"arn:aws:iam::{C}:root", C, "Root", C, "AKIACROOT")


def doc(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def deny(action: str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    with fresh_database(tmp_path) as database:
        yield database


def write(db: Database, fn: Any) -> Any:
    return db.writer.run_sync(fn)


def managed(tx: Tx, policy_id: str, arn: str, document: str, version: str = "v1") -> None:
    tx.execute(
        insert(schema.iam_policies),
        {"policy_id": policy_id, "account_id": A, "policy_name": arn.rsplit("/", 1)[1],
         "name_lower": arn.rsplit("/", 1)[1].lower(), "path": "/", "arn": arn, "description": "",
         "default_version_id": version, "next_version": 2, "created_at": 0.0, "updated_at": 0.0},
    )  # fmt: skip
    tx.execute(
        insert(schema.iam_policy_versions),
        {"policy_id": policy_id, "version_id": version, "document": document, "created_at": 0.0},
    )


def seed(tx: Tx) -> None:
    """alice: an inline policy, a managed policy, a group with its own policies, a
    boundary and tags; the Admin role with a session carrying a session policy."""
    tx.execute(
        insert(schema.iam_users),
        {"user_id": "AIDAALICE", "account_id": A, "user_name": "alice", "name_lower": "alice",
         "path": "/", "arn": ALICE.arn, "permissions_boundary": f"arn:aws:iam::{A}:policy/Bound",
         "created_at": 0.0},
    )  # fmt: skip
    managed(tx, "ANPAENC", f"arn:aws:iam::{A}:policy/Enc", doc(allow("kms:Encrypt")))
    managed(tx, "ANPABOUND", f"arn:aws:iam::{A}:policy/Bound", doc(allow("kms:*")))
    managed(tx, "ANPAGRP", f"arn:aws:iam::{A}:policy/GroupDescribe", doc(allow("kms:DescribeKey")))
    managed(tx, "ANPASESS", f"arn:aws:iam::{A}:policy/SessionList", doc(allow("kms:ListKeys")))
    inline = schema.iam_inline_policies
    tx.execute(
        insert(inline),
        [
            {"principal_kind": "user", "principal_id": "AIDAALICE", "policy_name": "dec",
             "document": doc(allow("kms:Decrypt"))},
            {"principal_kind": "group", "principal_id": "AGPADEV", "policy_name": "aliases",
             "document": doc(allow("kms:ListAliases"), deny("kms:ScheduleKeyDeletion"))},
            {"principal_kind": "role", "principal_id": "AROAADMIN", "policy_name": "all",
             "document": doc(allow("kms:*"))},
        ],
    )  # fmt: skip
    attach = schema.iam_attachments
    tx.execute(
        insert(attach),
        [
            {"principal_kind": "user", "principal_id": "AIDAALICE",
             "policy_arn": f"arn:aws:iam::{A}:policy/Enc", "attached_at": 0.0},
            {"principal_kind": "group", "principal_id": "AGPADEV",
             "policy_arn": f"arn:aws:iam::{A}:policy/GroupDescribe", "attached_at": 0.0},
        ],
    )  # fmt: skip
    tx.execute(
        insert(schema.iam_groups),
        {"group_id": "AGPADEV", "account_id": A, "group_name": "dev", "name_lower": "dev",
         "path": "/", "arn": f"arn:aws:iam::{A}:group/dev", "created_at": 0.0},
    )  # fmt: skip
    tx.execute(
        insert(schema.iam_group_members),
        {"group_id": "AGPADEV", "user_id": "AIDAALICE", "added_at": 0.0},
    )
    tx.execute(
        insert(schema.iam_tags),
        [
            {"resource_id": "AIDAALICE", "tag_key": "team", "tag_value": "sec"},
            {"resource_id": "AROAADMIN", "tag_key": "team", "tag_value": "ops"},
            {"resource_id": "AROAADMIN", "tag_key": "tier", "tag_value": "1"},
        ],
    )
    tx.execute(
        insert(schema.iam_roles),
        {"role_id": "AROAADMIN", "account_id": A, "role_name": "Admin", "name_lower": "admin",
         "path": "/ops/", "arn": f"arn:aws:iam::{A}:role/ops/Admin", "trust_policy": "{}",
         "description": "", "max_session_duration": 3600, "permissions_boundary": None,
         "created_at": 0.0},
    )  # fmt: skip
    tx.execute(
        insert(schema.sts_sessions),
        {"access_key_id": "ASIASESSION", "account_id": A, "secret": b"x", "token_hash": b"x",
         "role_id": "AROAADMIN", "role_arn": f"arn:aws:iam::{A}:role/ops/Admin",
         "session_name": "s1", "assumed_role_arn": SESSION.arn, "source_identity": None,
         "session_policy": doc(allow("kms:Encrypt")),
         "policy_arns": json.dumps([f"arn:aws:iam::{A}:policy/SessionList"]),
         "tags": json.dumps({"team": "red"}), "transitive_tag_keys": "[]", "chained": False,
         "issued_by": ALICE.arn, "created_at": 1_700_000_000.0, "expires_at": 1_800_000_000.0},
    )  # fmt: skip


def org(tx: Tx) -> None:
    """Organization o-example: management account A; B in OU ou-1 under the root."""
    tx.execute(
        insert(schema.org_organizations),
        {"org_id": "o-example", "management_account_id": A, "feature_set": "ALL",
         "arn": "arn:aws:organizations::111122223333:organization/o-example", "created_at": 0.0},
    )  # fmt: skip
    units = schema.org_units
    tx.execute(
        insert(units),
        [
            {"unit_id": "r-root", "org_id": "o-example", "kind": "ROOT", "parent_id": None,
             "name": "Root", "arn": "r", "policy_types": json.dumps(
                 [{"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"}])},
            {"unit_id": "ou-1", "org_id": "o-example", "kind": "OU", "parent_id": "r-root",
             "name": "Dev", "arn": "ou", "policy_types": "[]"},
        ],
    )  # fmt: skip
    accounts = schema.org_accounts
    for account, parent in ((A, "r-root"), (B, "ou-1")):
        tx.execute(
            insert(accounts),
            {"account_id": account, "org_id": "o-example", "parent_id": parent, "name": account,
             "email": "x@example.com", "arn": "a", "status": "ACTIVE", "joined_method": "CREATED",
             "joined_at": 0.0},
        )  # fmt: skip
    policies = schema.org_policies
    for policy_id, content in (
        ("p-full", doc(allow("*"))),
        ("p-nokms", doc(deny("kms:ScheduleKeyDeletion"))),
        ("p-tag", json.dumps({"tag": "not an SCP"})),
    ):
        tx.execute(
            insert(policies),
            {"policy_id": policy_id, "org_id": "o-example", "name": policy_id, "description": "",
             "type": "SERVICE_CONTROL_POLICY" if policy_id != "p-tag" else "TAG_POLICY",
             "content": content, "arn": policy_id, "aws_managed": policy_id == "p-full"},
        )  # fmt: skip
    targets = schema.org_policy_targets
    for policy_id, target in (
        ("p-full", "r-root"), ("p-full", "ou-1"), ("p-full", B), ("p-nokms", "ou-1"),
        ("p-tag", B),
    ):  # fmt: skip
        tx.execute(insert(targets), {"policy_id": policy_id, "target_id": target})


def call(tx: Tx, principal: Principal, **extra: str) -> Call:
    ctx = RequestContext(
        request_id="r", service="kms", operation="Encrypt", region="us-east-1",
        principal=principal, now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), extra=dict(extra),
    )  # fmt: skip
    return Call(ctx, tx)


def decide(
    db: Database, authorizer: Authorizer, principal: Principal, action: str, **kw: Any
) -> Verdict:
    return write(db, lambda tx: authorizer.evaluate(call(tx, principal), action, "*", **kw))


def test_a_user_holds_inline_managed_group_and_boundary_policies(db: Database) -> None:
    write(db, seed)
    store = SqlPolicyStore()
    held: PrincipalPolicies = db.read(lambda tx: store.principal(tx, ALICE))
    assert [(p.source_id, p.source_type) for p in held.identity] == [
        ("dec", "user"),
        (f"arn:aws:iam::{A}:policy/Enc", "user-managed"),
        ("aliases", "group"),
        (f"arn:aws:iam::{A}:policy/GroupDescribe", "user-managed"),
    ]
    assert held.boundary is not None and held.boundary.source_type == "boundary"
    assert held.session is None and held.tags == {"team": "sec"}
    authorizer = Authorizer()
    for action in ("kms:Encrypt", "kms:Decrypt", "kms:ListAliases", "kms:DescribeKey"):
        assert decide(db, authorizer, ALICE, action).allowed, action
    assert decide(db, authorizer, ALICE, "kms:ListKeys").why == (
        "because no identity-based policy allows the kms:ListKeys action"
    )
    assert decide(db, authorizer, ALICE, "kms:ScheduleKeyDeletion").why == (
        "with an explicit deny in an identity-based policy"
    )


def test_a_boundary_limits_and_a_missing_boundary_policy_allows_nothing(db: Database) -> None:
    write(db, seed)
    authorizer = Authorizer()
    versions = schema.iam_policy_versions
    write(db, lambda tx: tx.execute(update(versions).where(versions.c.policy_id == "ANPABOUND")
                                    .values(document=doc(allow("kms:Decrypt")))))  # fmt: skip
    assert decide(db, authorizer, ALICE, "kms:Decrypt").allowed
    assert decide(db, authorizer, ALICE, "kms:Encrypt").why == (
        "because no permissions boundary allows the kms:Encrypt action"
    )
    write(db, lambda tx: tx.execute(delete(schema.iam_policies).where(
        schema.iam_policies.c.policy_id == "ANPABOUND")))  # fmt: skip
    authorizer.invalidate()
    assert not decide(db, authorizer, ALICE, "kms:Decrypt").allowed


def test_a_role_session_holds_role_policies_and_session_policies(db: Database) -> None:
    write(db, seed)
    held: PrincipalPolicies = db.read(lambda tx: SqlPolicyStore().principal(tx, SESSION))
    assert [p.source_id for p in held.identity] == ["all"]
    assert held.session is not None and [p.source_id for p in held.session] == [
        "SessionPolicy",
        f"arn:aws:iam::{A}:policy/SessionList",
    ]
    assert held.tags == {"team": "red", "tier": "1"}  # the session's tags win over the role's
    authorizer = Authorizer()
    assert decide(db, authorizer, SESSION, "kms:Encrypt").allowed
    assert decide(db, authorizer, SESSION, "kms:ListKeys").allowed
    assert decide(db, authorizer, SESSION, "kms:Decrypt").why == (
        "because no session policy allows the kms:Decrypt action"
    )
    context = write(db, lambda tx: authorizer.global_context(call(tx, SESSION)))
    assert context["aws:principalarn"] == (f"arn:aws:iam::{A}:role/ops/Admin",)
    assert context["aws:principaltag/team"] == ("red",)
    assert context["aws:tokenissuetime"] == ("2023-11-14T22:13:20Z",)
    assert context["aws:userid"] == ("AROAADMIN:s1",)
    assert "aws:username" not in context


def test_unknown_principals_hold_nothing(db: Database) -> None:
    authorizer = Authorizer()
    ghost = Principal(f"arn:aws:iam::{A}:user/ghost", A, "IAMUser", "AIDAGHOST", "AKIAG", "ghost")
    gone = Principal(SESSION.arn, A, "AssumedRole", "AROAX:s", "ASIAGONE")
    for who in (ghost, gone):
        assert decide(db, authorizer, who, "kms:ListKeys").why == (
            "because no identity-based policy allows the kms:ListKeys action"
        )


def test_scps_follow_the_path_and_spare_the_management_account(db: Database) -> None:
    write(db, org)
    store = SqlPolicyStore()
    guards: AccountGuards = db.read(lambda tx: store.guards(tx, B))
    assert guards.org_id == "o-example"
    assert [[p.source_id for p in level] for level in guards.scp_levels] == [
        ["p-full"], ["p-full", "p-nokms"], ["p-full"],
    ]  # fmt: skip
    assert db.read(lambda tx: store.guards(tx, A)) == AccountGuards("o-example")
    assert db.read(lambda tx: store.guards(tx, C)) == AccountGuards()
    authorizer = Authorizer()
    assert decide(db, authorizer, B_ROOT, "kms:ListKeys").allowed
    assert decide(db, authorizer, B_ROOT, "kms:ScheduleKeyDeletion").why == (
        "with an explicit deny in a service control policy"
    )
    assert decide(db, authorizer, ROOT, "kms:ScheduleKeyDeletion").allowed  # management
    context = write(db, lambda tx: authorizer.global_context(call(tx, B_ROOT)))
    assert context["aws:principalorgid"] == ("o-example",)
    assert context["aws:principaltype"] == ("Account",)


def test_scps_disabled_on_the_root_do_not_apply(db: Database) -> None:
    write(db, org)
    write(db, lambda tx: tx.execute(update(schema.org_units).where(
        schema.org_units.c.unit_id == "r-root").values(policy_types="[]")))  # fmt: skip
    assert decide(db, Authorizer(), B_ROOT, "kms:ScheduleKeyDeletion").allowed


def test_an_account_level_without_an_scp_allows_nothing(db: Database) -> None:
    write(db, org)
    write(db, lambda tx: tx.execute(delete(schema.org_policy_targets).where(
        schema.org_policy_targets.c.target_id == B)))  # fmt: skip
    assert decide(db, Authorizer(), B_ROOT, "kms:ListKeys").why == (
        "because no service control policy allows the kms:ListKeys action"
    )


class CountingStore(SqlPolicyStore):
    def __init__(self) -> None:
        self.loads = 0

    def principal(self, tx: Tx, principal: Principal) -> PrincipalPolicies:
        self.loads += 1
        return super().principal(tx, principal)


def test_policy_sets_are_cached_until_a_change(db: Database) -> None:
    write(db, seed)
    store = CountingStore()
    authorizer = Authorizer(store)
    for _ in range(3):
        assert decide(db, authorizer, ALICE, "kms:Encrypt").allowed
    assert store.loads == 1

    # a unit that changes IAM state drops the cache at once and again at commit
    def revoke(tx: Tx) -> None:
        tx.execute(delete(schema.iam_attachments))
        authorizer.changed(tx)

    write(db, revoke)
    assert not decide(db, authorizer, ALICE, "kms:Encrypt").allowed
    assert store.loads == 2
    authorizer.invalidate()
    decide(db, authorizer, ALICE, "kms:Encrypt")
    assert store.loads == 3


def test_a_read_racing_an_invalidation_is_not_cached(db: Database) -> None:
    write(db, seed)
    store = CountingStore()
    authorizer = Authorizer(store)

    def racing(tx: Tx) -> None:
        authorizer.evaluate(call(tx, ALICE), "kms:Encrypt", "*")
        authorizer.invalidate()  # another unit's change lands before this batch commits

    write(db, racing)
    decide(db, authorizer, ALICE, "kms:Encrypt")
    assert store.loads == 2


def test_explicit_denies_are_named_in_a_fixed_order(db: Database) -> None:
    """AWS does not document which policy type the message names when several deny;
    Garrison names SCP, then resource-based, identity-based, boundary, session."""
    write(db, seed)
    write(db, lambda tx: tx.execute(insert(schema.iam_inline_policies), {
        "principal_kind": "role", "principal_id": "AROAADMIN", "policy_name": "no",
        "document": doc(deny("kms:Encrypt"))}))  # fmt: skip
    authorizer = Authorizer()
    key_policy = compile_policy(doc({"Effect": "Deny", "Principal": "*", "Action": "kms:*"}))
    verdict = write(db, lambda tx: authorizer.evaluate(
        call(tx, SESSION), "kms:Encrypt", KEY, resource_policy=key_policy))  # fmt: skip
    assert verdict.why == "with an explicit deny in a resource-based policy"
    verdict = decide(db, authorizer, SESSION, "kms:Encrypt")
    assert verdict.why == "with an explicit deny in an identity-based policy"


def test_explain_lists_every_policy_evaluated(db: Database) -> None:
    write(db, seed)
    authorizer = Authorizer()
    verdict = decide(db, authorizer, ALICE, "kms:Encrypt", explain=True)
    assert verdict.allowed and verdict.boundary_allowed is True and verdict.scp_allowed is None
    allowed_by = [s.source_id for s, e in verdict.evaluations if e.allowed]
    assert allowed_by == [f"arn:aws:iam::{A}:policy/Enc", f"arn:aws:iam::{A}:policy/Bound"]


def test_authorize_raises_aws_message_and_global_keys_are_filled(db: Database) -> None:
    write(db, seed)
    authorizer = Authorizer()
    with pytest.raises(AccessDeniedException) as exc:
        write(db, lambda tx: authorizer.authorize(call(tx, ALICE), "kms:ListKeys", "*"))
    assert exc.value.message == (
        f"User: {ALICE.arn} is not authorized to perform: kms:ListKeys on resource: * "
        "because no identity-based policy allows the kms:ListKeys action"
    )
    context = write(db, lambda tx: authorizer.global_context(
        call(tx, ALICE, via_service="secretsmanager.us-east-1.amazonaws.com")))  # fmt: skip
    assert context["aws:currenttime"] == ("2026-01-02T03:04:05Z",)
    assert context["aws:epochtime"] == (
        str(int(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())),
    )
    assert context["aws:username"] == ("alice",)
    assert context["aws:principaltag/team"] == ("sec",)
    assert context["aws:viaawsservice"] == ("true",)
    assert context["aws:calledvia"] == ("secretsmanager.amazonaws.com",)
    assert context["aws:requestedregion"] == ("us-east-1",)
    assert context["aws:securetransport"] == ("false",)
    assert "aws:principalorgid" not in context


def test_cross_account_needs_the_resource_policy(db: Database) -> None:
    authorizer = Authorizer()
    other = f"arn:aws:kms:us-east-1:{B}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    verdict = write(db, lambda tx: authorizer.evaluate(call(tx, ROOT), "kms:Encrypt", other))
    assert verdict.why == "because no resource-based policy allows the kms:Encrypt action"
    key_policy = compile_policy(
        doc({"Effect": "Allow", "Principal": {"AWS": A}, "Action": "kms:*"})
    )
    verdict = write(db, lambda tx: authorizer.evaluate(
        call(tx, ROOT), "kms:Encrypt", other, resource_policy=key_policy,
        resource_policy_required=True))  # fmt: skip
    assert verdict.allowed


def test_the_docs_list_every_condition_key_of_every_action_table() -> None:
    import importlib

    text = (Path(__file__).parents[2] / "docs" / "authorization.md").read_text()
    services = ("kms", "iam", "sts", "organizations", "cloudtrail", "ssm", "events")
    for service in (*services, "secretsmanager"):
        table = importlib.import_module(f"garrison.services.{service}.actions").ACTIONS
        for row in table.values():
            for key in row.condition_keys:
                assert key in text, (service, row.action, key)
    kms = importlib.import_module("garrison.services.kms.actions")
    for row in kms.ACTIONS.values():
        assert f"| {row.action} |" in text, row.action


def test_the_owner_of_a_resource_is_the_account_in_its_arn() -> None:
    from garrison.iam.authorizer import resource_owner

    assert resource_owner(KEY, B) == A
    assert resource_owner("*", B) == B
    assert resource_owner("arn:aws:s3:::bucket/x", B) == B  # no account in the ARN
    assert resource_owner("arn:aws:iam::aws:policy/ReadOnlyAccess", B) == B  # AWS's own
