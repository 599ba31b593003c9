"""Organizations handler by handler: who may call, the tree, accounts, SCP rules."""

from __future__ import annotations

import json
import re
from typing import Any

import botocore.session
import pytest

from garrison.api import Call
from garrison.context import Principal, RequestContext
from garrison.errors import AwsError
from garrison.iam.authorizer import Authorizer
from garrison.services.organizations.account_role import ADMINISTRATOR_ACCESS_ARN
from garrison.services.organizations.provider import HANDLED, READ_ONLY
from garrison.storage import schema
from garrison.storage.writer import Tx
from tests.services.organizations.org_harness import MGMT, OrgHarness, root_of
from tests.services.organizations.org_harness import harness as harness  # the fixture

SCP = "SERVICE_CONTROL_POLICY"
DENY_KMS = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "kms:*", "Resource": "*"}]}
)
OTHER = "444455556666"


def error(exc: pytest.ExceptionInfo[AwsError]) -> tuple[str, str]:
    return exc.value.code, exc.value.message


def reason(exc: pytest.ExceptionInfo[AwsError]) -> str:
    return str(getattr(exc.value, "fields", {}).get("Reason"))


def scp(h: OrgHarness, name: str = "deny-kms", content: str = DENY_KMS) -> str:
    out = h.call("CreatePolicy", {"Content": content, "Description": "", "Name": name, "Type": SCP})
    return str(out["Policy"]["PolicySummary"]["Id"])


# -- the model -------------------------------------------------------------------------------
def test_every_member_of_every_implemented_operation_is_handled() -> None:
    model = botocore.session.get_session().get_service_model("organizations")
    for name, handled in HANDLED.items():
        shape = model.operation_model(name).input_shape
        members = set(shape.members) if shape is not None else set()
        assert members == set(handled), name


def test_unknown_member_is_refused_not_ignored(harness: OrgHarness) -> None:
    with pytest.raises(AwsError) as exc:
        harness.call("ListRoots", {"Surprise": 1})
    assert exc.value.code == "UnsupportedOperationException"
    assert "Surprise" in exc.value.message


def test_read_only_operations_are_describe_and_list() -> None:
    assert "ListAccounts" in READ_ONLY and "DescribeOrganization" in READ_ONLY
    assert "CreateAccount" not in READ_ONLY and "AttachPolicy" not in READ_ONLY


# -- who may call ---------------------------------------------------------------------------
def test_an_account_in_no_organization_gets_not_in_use(harness: OrgHarness) -> None:
    for op in ("DescribeOrganization", "ListAccounts", "ListRoots"):
        with pytest.raises(AwsError) as exc:
            harness.call(op)
        assert error(exc) == (
            "AWSOrganizationsNotInUseException",
            "Your account is not a member of an organization.",
        )


def test_member_account_may_describe_the_organization_but_nothing_else(
    harness: OrgHarness,
) -> None:
    org = harness.organization()
    member = harness.new_account("member@example.com")
    described = harness.call("DescribeOrganization", account=member)["Organization"]
    assert described["Id"] == org["Id"]
    assert described["MasterAccountId"] == MGMT
    for op, request in [
        ("ListAccounts", {}),
        ("ListRoots", {}),
        ("DescribeAccount", {"AccountId": member}),
        ("CreateAccount", {"Email": "x@example.com", "AccountName": "x"}),
        ("ListPolicies", {"Filter": SCP}),
        ("DeleteOrganization", {}),
    ]:
        with pytest.raises(AwsError) as exc:
            harness.call(op, request, account=member)
        assert error(exc) == (
            "AccessDeniedException",
            "You don't have permissions to access this resource.",
        ), op


def test_iam_decides_for_principals_other_than_the_root(harness: OrgHarness) -> None:
    harness.organization()
    user = Principal(
        arn=f"arn:aws:iam::{MGMT}:user/alice",
        account_id=MGMT,
        type="IAMUser",
        user_id="AIDAEXAMPLEEXAMPLE01",
        user_name="alice",
    )
    with pytest.raises(AwsError) as exc:
        harness.call("ListAccounts", principal=user)
    assert error(exc) == (
        "AccessDeniedException",
        f"User: arn:aws:iam::{MGMT}:user/alice is not authorized to perform: "
        "organizations:ListAccounts on resource: * because no identity-based policy allows "
        "the organizations:ListAccounts action",
    )


def test_a_member_cannot_create_another_organization(harness: OrgHarness) -> None:
    harness.organization()
    member = harness.new_account("m@example.com")
    with pytest.raises(AwsError) as exc:
        harness.call("CreateOrganization", account=member)
    assert exc.value.code == "AlreadyInOrganizationException"
    with pytest.raises(AwsError) as exc:
        harness.call("CreateOrganization")
    assert exc.value.code == "AlreadyInOrganizationException"


# -- the organization -----------------------------------------------------------------------
def test_create_organization_shapes_and_ids(harness: OrgHarness) -> None:
    org = harness.organization()
    assert re.fullmatch(r"o-[a-z0-9]{10}", org["Id"])
    assert org["Arn"] == f"arn:aws:organizations::{MGMT}:organization/{org['Id']}"
    assert org["FeatureSet"] == "ALL"
    assert org["MasterAccountArn"] == f"arn:aws:organizations::{MGMT}:account/{org['Id']}/{MGMT}"
    root = harness.call("ListRoots")["Roots"][0]
    assert re.fullmatch(r"r-[0-9a-z]{4}", root["Id"])
    assert root["Arn"] == f"arn:aws:organizations::{MGMT}:root/{org['Id']}/{root['Id']}"
    assert root["Name"] == "Root"
    # ALL enables SCPs in the root, with FullAWSAccess on the root and the management account
    assert root["PolicyTypes"] == [{"Type": SCP, "Status": "ENABLED"}]
    for target in (root["Id"], MGMT):
        listed = harness.call("ListPoliciesForTarget", {"TargetId": target, "Filter": SCP})
        assert [p["Id"] for p in listed["Policies"]] == ["p-FullAWSAccess"]
    (mgmt,) = harness.call("ListAccounts")["Accounts"]
    assert mgmt["Id"] == MGMT and mgmt["JoinedMethod"] == "INVITED"
    assert mgmt["Paths"] == [f"{org['Id']}/{root['Id']}/{MGMT}/"]


def test_consolidated_billing_has_no_policy_types(harness: OrgHarness) -> None:
    org = harness.organization(FeatureSet="CONSOLIDATED_BILLING")
    assert org["AvailablePolicyTypes"] == []
    root = harness.call("ListRoots")["Roots"][0]
    assert root["PolicyTypes"] == []
    with pytest.raises(AwsError) as exc:
        harness.call("EnablePolicyType", {"RootId": root["Id"], "PolicyType": SCP})
    assert exc.value.code == "PolicyTypeNotAvailableForOrganizationException"
    with pytest.raises(AwsError) as exc:
        scp(harness)
    assert exc.value.code == "PolicyTypeNotAvailableForOrganizationException"


def test_delete_organization_only_without_members(harness: OrgHarness) -> None:
    harness.organization()
    member = harness.new_account("m@example.com")
    with pytest.raises(AwsError) as exc:
        harness.call("DeleteOrganization")
    assert exc.value.code == "OrganizationNotEmptyException"
    assert member


def test_delete_organization_removes_its_tree_and_policies(harness: OrgHarness) -> None:
    harness.organization()
    root = harness.root_id()
    harness.call("CreateOrganizationalUnit", {"ParentId": root, "Name": "a"})
    scp(harness)
    harness.call("DeleteOrganization")
    for table in (schema.org_organizations, schema.org_units, schema.org_accounts):
        assert harness.rows(table) == []
    # only the shared AWS managed policy remains, attached nowhere
    assert [r.policy_id for r in harness.rows(schema.org_policies)] == ["p-FullAWSAccess"]
    assert harness.rows(schema.org_policy_targets) == []
    with pytest.raises(AwsError) as exc:
        harness.call("DescribeOrganization")
    assert exc.value.code == "AWSOrganizationsNotInUseException"
    harness.organization()  # and the account may found a new one


def test_accounts_leave_or_are_removed_and_then_the_organization_can_go(
    harness: OrgHarness,
) -> None:
    harness.organization()
    stays_standalone = harness.new_account("leaver@example.com")
    removed = harness.new_account("removed@example.com")
    harness.call("TagResource", {"ResourceId": removed, "Tags": [{"Key": "k", "Value": "v"}]})
    with pytest.raises(AwsError) as exc:
        harness.call("LeaveOrganization")
    assert exc.value.code == "MasterCannotLeaveOrganizationException"
    with pytest.raises(AwsError) as exc:
        harness.call("RemoveAccountFromOrganization", {"AccountId": MGMT})
    assert exc.value.code == "MasterCannotLeaveOrganizationException"
    with pytest.raises(AwsError) as exc:  # a member may not remove others
        harness.call("RemoveAccountFromOrganization", {"AccountId": removed}, account=removed)
    assert exc.value.code == "AccessDeniedException"
    harness.call("LeaveOrganization", account=stays_standalone)
    harness.call("RemoveAccountFromOrganization", {"AccountId": removed})
    with pytest.raises(AwsError) as exc:
        harness.call("DescribeOrganization", account=removed)
    assert exc.value.code == "AWSOrganizationsNotInUseException"
    assert harness.rows(schema.org_tags, resource_id=removed) == []
    assert harness.rows(schema.org_policy_targets, target_id=removed) == []
    # the accounts themselves (and their access roles) remain, standalone
    assert len(harness.rows(schema.accounts, account_id=removed)) == 1
    assert len(harness.rows(schema.iam_roles, account_id=removed)) == 1
    with pytest.raises(AwsError) as exc:
        harness.call("RemoveAccountFromOrganization", {"AccountId": removed})
    assert exc.value.code == "AccountNotFoundException"
    harness.call("DeleteOrganization")


# -- accounts --------------------------------------------------------------------------------
def test_create_account_makes_the_account_and_its_access_role(harness: OrgHarness) -> None:
    org = harness.organization()
    car = harness.call(
        "CreateAccount",
        {
            "Email": "dev@example.com",
            "AccountName": "dev",
            "Tags": [{"Key": "team", "Value": "blue"}],
        },
    )["CreateAccountStatus"]
    assert car["State"] == "IN_PROGRESS" and "AccountId" not in car
    assert re.fullmatch(r"car-[a-z0-9]{8,32}", car["Id"])
    status = harness.call("DescribeCreateAccountStatus", {"CreateAccountRequestId": car["Id"]})
    done = status["CreateAccountStatus"]
    assert done["State"] == "SUCCEEDED" and done["AccountName"] == "dev"
    account_id = done["AccountId"]
    assert re.fullmatch(r"\d{12}", account_id)
    described = harness.call("DescribeAccount", {"AccountId": account_id})["Account"]
    assert described["Arn"] == f"arn:aws:organizations::{MGMT}:account/{org['Id']}/{account_id}"
    assert described["JoinedMethod"] == "CREATED" and described["Status"] == "ACTIVE"
    assert described["Email"] == "dev@example.com"
    assert harness.rows(schema.accounts, account_id=account_id)[0].name == "dev"
    assert harness.rows(schema.access_keys, account_id=account_id) == []  # no root keys
    (role,) = harness.rows(schema.iam_roles, account_id=account_id)
    assert role.role_name == "OrganizationAccountAccessRole"
    assert role.arn == f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", role.role_id)
    assert role.max_session_duration == 3600
    trust = json.loads(role.trust_policy)
    assert trust["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{MGMT}:root"}
    assert trust["Statement"][0]["Action"] == "sts:AssumeRole"
    (attached,) = harness.rows(schema.iam_attachments, principal_id=role.role_id)
    assert attached.policy_arn == ADMINISTRATOR_ACCESS_ARN and attached.principal_kind == "role"
    tags = harness.call("ListTagsForResource", {"ResourceId": account_id})["Tags"]
    assert tags == [{"Key": "team", "Value": "blue"}]
    # SCPs are enabled: the new account starts with FullAWSAccess, as in AWS
    listed = harness.call("ListPoliciesForTarget", {"TargetId": account_id, "Filter": SCP})
    assert [p["Id"] for p in listed["Policies"]] == ["p-FullAWSAccess"]


def test_create_account_role_name(harness: OrgHarness) -> None:
    harness.organization()
    car = harness.call(
        "CreateAccount", {"Email": "r@example.com", "AccountName": "r", "RoleName": "Admin"}
    )["CreateAccountStatus"]
    done = harness.call("DescribeCreateAccountStatus", {"CreateAccountRequestId": car["Id"]})
    account_id = done["CreateAccountStatus"]["AccountId"]
    assert [r.role_name for r in harness.rows(schema.iam_roles, account_id=account_id)] == ["Admin"]
    with pytest.raises(AwsError) as exc:
        harness.call(
            "CreateAccount",
            {"Email": "s@example.com", "AccountName": "s", "RoleName": "AWSServiceRoleForX"},
        )
    assert exc.value.code == "InvalidInputException" and reason(exc) == "INVALID_ROLE_NAME"


def test_create_account_failures_are_reported_in_the_status(harness: OrgHarness) -> None:
    harness.organization()
    harness.new_account("same@example.com")
    car = harness.call("CreateAccount", {"Email": "SAME@example.com", "AccountName": "dup"})
    status = harness.call(
        "DescribeCreateAccountStatus", {"CreateAccountRequestId": car["CreateAccountStatus"]["Id"]}
    )["CreateAccountStatus"]
    assert status["State"] == "FAILED" and status["FailureReason"] == "EMAIL_ALREADY_EXISTS"
    assert "AccountId" not in status
    assert len(harness.call("ListAccounts")["Accounts"]) == 2
    failed = harness.call("ListCreateAccountStatus", {"States": ["FAILED"]})
    assert [s["Id"] for s in failed["CreateAccountStatuses"]] == [status["Id"]]
    succeeded = harness.call("ListCreateAccountStatus", {"States": ["SUCCEEDED"]})
    assert len(succeeded["CreateAccountStatuses"]) == 1


def test_account_limit(harness: OrgHarness) -> None:
    harness.provider.orgs.max_accounts = 2
    harness.organization()
    harness.new_account("one@example.com")
    car = harness.call("CreateAccount", {"Email": "two@example.com", "AccountName": "two"})
    status = harness.call(
        "DescribeCreateAccountStatus", {"CreateAccountRequestId": car["CreateAccountStatus"]["Id"]}
    )["CreateAccountStatus"]
    assert status["FailureReason"] == "ACCOUNT_LIMIT_EXCEEDED"


def test_unknown_ids(harness: OrgHarness) -> None:
    harness.organization()
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("DescribeAccount", {"AccountId": "999999999999"}, "AccountNotFoundException"),
        (
            "DescribeCreateAccountStatus",
            {"CreateAccountRequestId": "car-0123456789abcdef"},
            "CreateAccountStatusNotFoundException",
        ),
        (
            "DescribeOrganizationalUnit",
            {"OrganizationalUnitId": "ou-abcd-12345678"},
            "OrganizationalUnitNotFoundException",
        ),
        ("ListChildren", {"ParentId": "r-zzzz", "ChildType": "ACCOUNT"}, "ParentNotFoundException"),
        ("ListParents", {"ChildId": "999999999999"}, "ChildNotFoundException"),
        ("DescribePolicy", {"PolicyId": "p-abcdefgh"}, "PolicyNotFoundException"),
        (
            "ListPoliciesForTarget",
            {"TargetId": "999999999999", "Filter": SCP},
            "TargetNotFoundException",
        ),
        ("EnablePolicyType", {"RootId": "r-zzzz", "PolicyType": SCP}, "RootNotFoundException"),
    ]
    for op, request, code in cases:
        with pytest.raises(AwsError) as exc:
            harness.call(op, request)
        assert exc.value.code == code, op


# -- the tree ----------------------------------------------------------------------------------
def test_organizational_units_nest_move_and_delete(harness: OrgHarness) -> None:
    org = harness.organization()
    root = harness.root_id()
    prod = harness.call("CreateOrganizationalUnit", {"ParentId": root, "Name": "prod"})[
        "OrganizationalUnit"
    ]
    assert re.fullmatch(rf"ou-{root[2:]}-[a-z0-9]{{8}}", prod["Id"])
    assert prod["Arn"] == f"arn:aws:organizations::{MGMT}:ou/{org['Id']}/{prod['Id']}"
    assert prod["Path"] == f"{org['Id']}/{root}/{prod['Id']}/"
    with pytest.raises(AwsError) as exc:
        harness.call("CreateOrganizationalUnit", {"ParentId": root, "Name": "prod"})
    assert exc.value.code == "DuplicateOrganizationalUnitException"
    web = harness.call("CreateOrganizationalUnit", {"ParentId": prod["Id"], "Name": "web"})[
        "OrganizationalUnit"
    ]
    account = harness.new_account("w@example.com")
    harness.call(
        "MoveAccount",
        {"AccountId": account, "SourceParentId": root, "DestinationParentId": web["Id"]},
    )
    described = harness.call("DescribeAccount", {"AccountId": account})["Account"]
    assert described["Paths"] == [f"{org['Id']}/{root}/{prod['Id']}/{web['Id']}/{account}/"]
    assert harness.call("ListParents", {"ChildId": account})["Parents"] == [
        {"Id": web["Id"], "Type": "ORGANIZATIONAL_UNIT"}
    ]
    assert harness.call("ListParents", {"ChildId": prod["Id"]})["Parents"] == [
        {"Id": root, "Type": "ROOT"}
    ]
    children = harness.call("ListChildren", {"ParentId": root, "ChildType": "ORGANIZATIONAL_UNIT"})
    assert children["Children"] == [{"Id": prod["Id"], "Type": "ORGANIZATIONAL_UNIT"}]
    in_web = harness.call("ListAccountsForParent", {"ParentId": web["Id"]})["Accounts"]
    assert [a["Id"] for a in in_web] == [account]
    with pytest.raises(AwsError) as exc:
        harness.call(
            "MoveAccount",
            {"AccountId": account, "SourceParentId": web["Id"], "DestinationParentId": web["Id"]},
        )
    assert exc.value.code == "DuplicateAccountException"
    with pytest.raises(AwsError) as exc:
        harness.call(
            "MoveAccount",
            {"AccountId": account, "SourceParentId": root, "DestinationParentId": prod["Id"]},
        )
    assert exc.value.code == "SourceParentNotFoundException"
    with pytest.raises(AwsError) as exc:
        harness.call("DeleteOrganizationalUnit", {"OrganizationalUnitId": prod["Id"]})
    assert exc.value.code == "OrganizationalUnitNotEmptyException"
    renamed = harness.call(
        "UpdateOrganizationalUnit", {"OrganizationalUnitId": web["Id"], "Name": "www"}
    )["OrganizationalUnit"]
    assert renamed["Name"] == "www"
    harness.call(
        "MoveAccount",
        {"AccountId": account, "SourceParentId": web["Id"], "DestinationParentId": root},
    )
    harness.call("DeleteOrganizationalUnit", {"OrganizationalUnitId": web["Id"]})
    harness.call("DeleteOrganizationalUnit", {"OrganizationalUnitId": prod["Id"]})
    assert (
        harness.call("ListOrganizationalUnitsForParent", {"ParentId": root})["OrganizationalUnits"]
        == []
    )


def test_ou_depth_limit_is_five(harness: OrgHarness) -> None:
    harness.organization()
    parent = harness.root_id()
    for level in range(5):
        parent = harness.call(
            "CreateOrganizationalUnit", {"ParentId": parent, "Name": f"l{level}"}
        )["OrganizationalUnit"]["Id"]
    with pytest.raises(AwsError) as exc:
        harness.call("CreateOrganizationalUnit", {"ParentId": parent, "Name": "l5"})
    assert exc.value.code == "ConstraintViolationException"
    assert reason(exc) == "OU_DEPTH_LIMIT_EXCEEDED"


def test_pagination_walks_every_account_once(harness: OrgHarness) -> None:
    harness.provider.orgs.max_accounts = 100
    harness.organization()
    made = {harness.new_account(f"a{i}@example.com", f"a{i}") for i in range(6)}
    seen: list[str] = []
    token = None
    while True:
        request: dict[str, Any] = {"MaxResults": 4}
        if token:
            request["NextToken"] = token
        page = harness.call("ListAccounts", request)
        seen += [a["Id"] for a in page["Accounts"]]
        token = page.get("NextToken")
        if not token:
            break
    assert sorted(seen) == sorted(made | {MGMT})
    with pytest.raises(AwsError) as exc:
        harness.call("ListRoots", {"NextToken": "not-a-token"})
    assert exc.value.code == "InvalidInputException" and reason(exc) == "INVALID_NEXT_TOKEN"
    first = harness.call("ListAccounts", {"MaxResults": 1})["NextToken"]
    with pytest.raises(AwsError):  # a token of another operation is refused too
        harness.call("ListRoots", {"NextToken": first})


# -- policies ------------------------------------------------------------------------------------
def test_policy_lifecycle(harness: OrgHarness) -> None:
    org = harness.organization()
    pid = scp(harness)
    assert re.fullmatch(r"p-[0-9a-z]{8}", pid)
    described = harness.call("DescribePolicy", {"PolicyId": pid})["Policy"]
    summary = described["PolicySummary"]
    assert summary["Arn"] == (
        f"arn:aws:organizations::{MGMT}:policy/{org['Id']}/service_control_policy/{pid}"
    )
    assert summary["AwsManaged"] is False and described["Content"] == DENY_KMS
    with pytest.raises(AwsError) as exc:
        scp(harness)
    assert exc.value.code == "DuplicatePolicyException"
    updated = harness.call("UpdatePolicy", {"PolicyId": pid, "Description": "no kms"})["Policy"]
    assert updated["PolicySummary"]["Description"] == "no kms"
    assert updated["PolicySummary"]["Name"] == "deny-kms"
    listed = harness.call("ListPolicies", {"Filter": SCP})["Policies"]
    assert {p["Id"] for p in listed} == {pid, "p-FullAWSAccess"}
    assert harness.call("ListPolicies", {"Filter": "TAG_POLICY"})["Policies"] == []
    root = harness.root_id()
    harness.call("AttachPolicy", {"PolicyId": pid, "TargetId": root})
    with pytest.raises(AwsError) as exc:
        harness.call("AttachPolicy", {"PolicyId": pid, "TargetId": root})
    assert exc.value.code == "DuplicatePolicyAttachmentException"
    targets = harness.call("ListTargetsForPolicy", {"PolicyId": pid})["Targets"]
    assert targets == [
        {
            "TargetId": root,
            "Arn": f"arn:aws:organizations::{MGMT}:root/{org['Id']}/{root}",
            "Name": "Root",
            "Type": "ROOT",
        }
    ]
    with pytest.raises(AwsError) as exc:
        harness.call("DeletePolicy", {"PolicyId": pid})
    assert exc.value.code == "PolicyInUseException"
    harness.call("DetachPolicy", {"PolicyId": pid, "TargetId": root})
    with pytest.raises(AwsError) as exc:
        harness.call("DetachPolicy", {"PolicyId": pid, "TargetId": root})
    assert exc.value.code == "PolicyNotAttachedException"
    harness.call("DeletePolicy", {"PolicyId": pid})
    with pytest.raises(AwsError) as exc:
        harness.call("DescribePolicy", {"PolicyId": pid})
    assert exc.value.code == "PolicyNotFoundException"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        ("not json", "MalformedPolicyDocumentException"),
        ('{"Statement": [{"Effect": "Maybe", "Action": "*", "Resource": "*"}]}',
         "MalformedPolicyDocumentException"),
        (json.dumps({"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "*",
                                    "Resource": "*"}]}), "MalformedPolicyDocumentException"),
        (json.dumps({"Statement": [{"Effect": "Deny", "Action": "kms", "Resource": "*"}]}),
         "MalformedPolicyDocumentException"),
        (json.dumps({"Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*",
                                    "Sid": "x" * 5100}]}), "ConstraintViolationException"),
    ],
)  # fmt: skip
def test_scp_documents_are_validated(harness: OrgHarness, content: str, code: str) -> None:
    harness.organization()
    with pytest.raises(AwsError) as exc:
        scp(harness, content=content)
    assert exc.value.code == code
    if code == "ConstraintViolationException":
        assert reason(exc) == "POLICY_CONTENT_LIMIT_EXCEEDED"


def test_only_service_control_policies_are_implemented(harness: OrgHarness) -> None:
    harness.organization()
    with pytest.raises(AwsError) as exc:
        harness.call(
            "CreatePolicy",
            {"Content": "{}", "Description": "", "Name": "t", "Type": "TAG_POLICY"},
        )
    assert exc.value.code == "UnsupportedOperationException"
    assert "TAG_POLICY" in exc.value.message


def test_a_target_keeps_at_least_one_and_at_most_five_scps(harness: OrgHarness) -> None:
    harness.organization()
    account = harness.new_account("t@example.com")
    with pytest.raises(AwsError) as exc:
        harness.call("DetachPolicy", {"PolicyId": "p-FullAWSAccess", "TargetId": account})
    assert exc.value.code == "ConstraintViolationException"
    assert reason(exc) == "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"
    ids = [scp(harness, name=f"p{i}") for i in range(5)]
    for pid in ids[:4]:
        harness.call("AttachPolicy", {"PolicyId": pid, "TargetId": account})
    with pytest.raises(AwsError) as exc:
        harness.call("AttachPolicy", {"PolicyId": ids[4], "TargetId": account})
    assert reason(exc) == "MAX_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"
    # with another SCP attached, FullAWSAccess may go (an "allow list" strategy)
    harness.call("DetachPolicy", {"PolicyId": "p-FullAWSAccess", "TargetId": account})


def test_disable_detaches_every_scp_and_enable_attaches_full_access_everywhere(
    harness: OrgHarness,
) -> None:
    harness.organization()
    root = harness.root_id()
    ou = harness.call("CreateOrganizationalUnit", {"ParentId": root, "Name": "ou"})[
        "OrganizationalUnit"
    ]["Id"]
    account = harness.new_account("e@example.com")
    pid = scp(harness)
    harness.call("AttachPolicy", {"PolicyId": pid, "TargetId": ou})
    disabled = harness.call("DisablePolicyType", {"RootId": root, "PolicyType": SCP})["Root"]
    assert disabled["PolicyTypes"] == []
    assert harness.rows(schema.org_policy_targets) == []
    with pytest.raises(AwsError) as exc:
        harness.call("AttachPolicy", {"PolicyId": pid, "TargetId": ou})
    assert exc.value.code == "PolicyTypeNotEnabledException"
    with pytest.raises(AwsError) as exc:
        harness.call("DisablePolicyType", {"RootId": root, "PolicyType": SCP})
    assert exc.value.code == "PolicyTypeNotEnabledException"
    enabled = harness.call("EnablePolicyType", {"RootId": root, "PolicyType": SCP})["Root"]
    assert enabled["PolicyTypes"] == [{"Type": SCP, "Status": "ENABLED"}]
    targets = harness.call("ListTargetsForPolicy", {"PolicyId": "p-FullAWSAccess"})["Targets"]
    assert {t["TargetId"] for t in targets} == {root, ou, account, MGMT}
    with pytest.raises(AwsError) as exc:
        harness.call("EnablePolicyType", {"RootId": root, "PolicyType": SCP})
    assert exc.value.code == "PolicyTypeAlreadyEnabledException"


def test_full_aws_access_is_shared_but_its_targets_are_per_organization(
    harness: OrgHarness,
) -> None:
    harness.organization()
    harness.organization(account=OTHER)
    mine = harness.call("ListTargetsForPolicy", {"PolicyId": "p-FullAWSAccess"})["Targets"]
    theirs = harness.call("ListTargetsForPolicy", {"PolicyId": "p-FullAWSAccess"}, account=OTHER)[
        "Targets"
    ]
    assert MGMT in {t["TargetId"] for t in mine} and OTHER not in {t["TargetId"] for t in mine}
    assert OTHER in {t["TargetId"] for t in theirs}
    with pytest.raises(AwsError) as exc:  # another organization's account is not a target
        harness.call("AttachPolicy", {"PolicyId": "p-FullAWSAccess", "TargetId": OTHER})
    assert exc.value.code == "TargetNotFoundException"
    for op in ("UpdatePolicy", "DeletePolicy"):
        with pytest.raises(AwsError) as exc:
            harness.call(op, {"PolicyId": "p-FullAWSAccess"})
        assert reason(exc) == "IMMUTABLE_POLICY"


# -- tags -----------------------------------------------------------------------------------------
def test_tags(harness: OrgHarness) -> None:
    harness.organization()
    root = harness.root_id()
    harness.call("TagResource", {"ResourceId": root, "Tags": [{"Key": "a", "Value": "1"}]})
    harness.call("TagResource", {"ResourceId": root, "Tags": [{"Key": "b", "Value": "2"}]})
    harness.call("UntagResource", {"ResourceId": root, "TagKeys": ["a"]})
    assert harness.call("ListTagsForResource", {"ResourceId": root})["Tags"] == [
        {"Key": "b", "Value": "2"}
    ]
    with pytest.raises(AwsError) as exc:
        harness.call(
            "TagResource",
            {"ResourceId": root, "Tags": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}]},
        )
    assert reason(exc) == "DUPLICATE_TAG_KEY"
    with pytest.raises(AwsError) as exc:
        harness.call("TagResource", {"ResourceId": root, "Tags": [{"Key": "aws:x", "Value": ""}]})
    assert reason(exc) == "INVALID_SYSTEM_TAGS_PARAMETER"
    many = [{"Key": f"k{i}", "Value": ""} for i in range(50)]
    with pytest.raises(AwsError) as exc:
        harness.call("TagResource", {"ResourceId": root, "Tags": many})
    assert reason(exc) == "MAX_TAG_LIMIT_EXCEEDED"
    with pytest.raises(AwsError) as exc:
        harness.call("TagResource", {"ResourceId": "999999999999", "Tags": many[:1]})
    assert exc.value.code == "TargetNotFoundException"


# -- what the authorizer reads ----------------------------------------------------------
def _decide(harness: OrgHarness, account: str, action: str) -> str:

    authorizer = Authorizer()
    ctx = RequestContext(
        request_id="r", service="kms", operation="Encrypt", region="us-east-1",
        principal=root_of(account), now=harness.clock.now(),
    )  # fmt: skip

    def read(tx: Tx) -> str:
        verdict = authorizer.evaluate(Call(ctx, tx), action, "*")
        return verdict.decision

    result: str = harness.db.read(read)
    return result


def test_scps_stored_here_bind_member_accounts_through_the_authorizer(
    harness: OrgHarness,
) -> None:
    harness.organization()
    root = harness.root_id()
    ou = harness.call("CreateOrganizationalUnit", {"ParentId": root, "Name": "locked"})[
        "OrganizationalUnit"
    ]["Id"]
    member = harness.new_account("b@example.com")
    assert _decide(harness, member, "kms:Encrypt") == "allowed"
    pid = scp(harness)
    harness.call("AttachPolicy", {"PolicyId": pid, "TargetId": ou})
    harness.call(
        "MoveAccount", {"AccountId": member, "SourceParentId": root, "DestinationParentId": ou}
    )
    assert _decide(harness, member, "kms:Encrypt") == "explicitDeny"
    assert _decide(harness, member, "iam:ListUsers") == "allowed"
    assert _decide(harness, MGMT, "kms:Encrypt") == "allowed"  # never the management account


def test_the_reason_of_an_error_travels_in_the_json_body() -> None:
    from garrison.protocol.json_protocol import serialize_error
    from garrison.services.organizations.errors import ConstraintViolationException

    err = ConstraintViolationException("OU_DEPTH_LIMIT_EXCEEDED", "too deep")
    status, headers, body = serialize_error(err)
    assert status == 400
    assert json.loads(body) == {
        "__type": "ConstraintViolationException",
        "message": "too deep",
        "Reason": "OU_DEPTH_LIMIT_EXCEEDED",
    }
    assert (b"x-amzn-errortype", b"ConstraintViolationException") in headers
