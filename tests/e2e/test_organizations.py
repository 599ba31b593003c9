"""Organizations end to end with boto3 (and the AWS CLI) against real servers.

The organization belongs to the dev account, so these tests run on servers of
their own (one per backend) and reset the state before each test; the shared
`server` fixture's other users are not disturbed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from garrison.services.organizations.provider import HANDLED
from tests.conftest import (
    ACCESS_KEY_ID,
    ACCOUNT_ID,
    BACKENDS,
    REGION,
    SECRET_ACCESS_KEY,
    ServerProcess,
    backend_server,
)
from tests.e2e.compat import check_matrix
from tests.e2e.helpers import error_of, session_client
from tests.e2e.test_aws_cli import AwsCli

SCP = "SERVICE_CONTROL_POLICY"
DENY_KMS = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "kms:*", "Resource": "*"}]}
)


@pytest.fixture(scope="module", params=BACKENDS)
def org_server(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[ServerProcess]:
    yield from backend_server(
        tmp_root / f"orgs-{request.param}-{secrets.token_hex(3)}", request.param
    )


@pytest.fixture
def orgs(org_server: ServerProcess) -> Any:
    assert org_server.post("/_garrison/reset").status_code == 200
    return org_server.client("organizations")


def create_account(orgs: Any, email: str, name: str, **kwargs: Any) -> str:
    car = orgs.create_account(Email=email, AccountName=name, **kwargs)["CreateAccountStatus"]
    assert car["State"] == "IN_PROGRESS"
    status = orgs.describe_create_account_status(CreateAccountRequestId=car["Id"])
    done = status["CreateAccountStatus"]
    assert done["State"] == "SUCCEEDED", done
    return str(done["AccountId"])


def test_no_organization_yet(orgs: Any) -> None:
    with pytest.raises(ClientError) as exc:
        orgs.describe_organization()
    assert error_of(exc) == (
        "AWSOrganizationsNotInUseException",
        "Your account is not a member of an organization.",
    )
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_organization_tree_accounts_and_policies(orgs: Any) -> None:
    org = orgs.create_organization(FeatureSet="ALL")["Organization"]
    assert re.fullmatch(r"o-[a-z0-9]{10}", org["Id"])
    assert org["MasterAccountId"] == ACCOUNT_ID
    assert orgs.describe_organization()["Organization"]["Arn"] == org["Arn"]
    (root,) = orgs.list_roots()["Roots"]
    assert root["PolicyTypes"] == [{"Type": SCP, "Status": "ENABLED"}]

    ou = orgs.create_organizational_unit(
        ParentId=root["Id"], Name="workloads", Tags=[{"Key": "tier", "Value": "prod"}]
    )["OrganizationalUnit"]
    assert ou["Path"] == f"{org['Id']}/{root['Id']}/{ou['Id']}/"
    account_id = create_account(orgs, "dev@example.com", "dev")
    orgs.move_account(AccountId=account_id, SourceParentId=root["Id"], DestinationParentId=ou["Id"])
    children = orgs.list_children(ParentId=ou["Id"], ChildType="ACCOUNT")["Children"]
    assert children == [{"Id": account_id, "Type": "ACCOUNT"}]
    account = orgs.describe_account(AccountId=account_id)["Account"]
    assert account["Paths"] == [f"{org['Id']}/{root['Id']}/{ou['Id']}/{account_id}/"]
    assert account["JoinedMethod"] == "CREATED"

    policy = orgs.create_policy(Content=DENY_KMS, Description="no KMS", Name="deny-kms", Type=SCP)[
        "Policy"
    ]["PolicySummary"]
    orgs.attach_policy(PolicyId=policy["Id"], TargetId=ou["Id"])
    attached = orgs.list_policies_for_target(TargetId=ou["Id"], Filter=SCP)["Policies"]
    assert {p["Id"] for p in attached} == {policy["Id"], "p-FullAWSAccess"}
    targets = orgs.list_targets_for_policy(PolicyId=policy["Id"])["Targets"]
    assert [(t["TargetId"], t["Type"], t["Name"]) for t in targets] == [
        (ou["Id"], "ORGANIZATIONAL_UNIT", "workloads")
    ]
    assert orgs.list_tags_for_resource(ResourceId=ou["Id"])["Tags"] == [
        {"Key": "tier", "Value": "prod"}
    ]

    with pytest.raises(ClientError) as exc:
        orgs.delete_policy(PolicyId=policy["Id"])
    assert exc.value.response["Error"]["Code"] == "PolicyInUseException"
    with pytest.raises(ClientError) as exc:
        orgs.delete_organization()
    assert exc.value.response["Error"]["Code"] == "OrganizationNotEmptyException"


def test_constraint_violations_carry_their_reason(orgs: Any) -> None:
    orgs.create_organization()
    account_id = create_account(orgs, "r@example.com", "r")
    with pytest.raises(ClientError) as exc:
        orgs.detach_policy(PolicyId="p-FullAWSAccess", TargetId=account_id)
    assert exc.value.response["Error"]["Code"] == "ConstraintViolationException"
    assert exc.value.response["Reason"] == "MIN_POLICY_TYPE_ATTACHMENT_LIMIT_EXCEEDED"
    with pytest.raises(ClientError) as exc:
        orgs.create_policy(Content="x" * 5121, Description="", Name="big", Type=SCP)
    assert exc.value.response["Reason"] == "POLICY_CONTENT_LIMIT_EXCEEDED"
    with pytest.raises(ClientError) as exc:
        orgs.create_policy(
            Content=json.dumps(
                {
                    "Statement": [
                        {"Effect": "Deny", "Principal": "*", "Action": "*", "Resource": "*"}
                    ]
                }
            ),
            Description="",
            Name="principal",
            Type=SCP,
        )
    assert exc.value.response["Error"]["Code"] == "MalformedPolicyDocumentException"
    with pytest.raises(ClientError) as exc:
        orgs.list_accounts(NextToken="forged")
    assert exc.value.response["Error"]["Code"] == "InvalidInputException"
    assert exc.value.response["Reason"] == "INVALID_NEXT_TOKEN"


def test_create_account_failure_is_reported_through_the_status(orgs: Any) -> None:
    orgs.create_organization()
    create_account(orgs, "taken@example.com", "first")
    car = orgs.create_account(Email="taken@example.com", AccountName="second")
    status = orgs.describe_create_account_status(
        CreateAccountRequestId=car["CreateAccountStatus"]["Id"]
    )["CreateAccountStatus"]
    assert (status["State"], status["FailureReason"]) == ("FAILED", "EMAIL_ALREADY_EXISTS")
    listed = orgs.list_create_account_status(States=["FAILED"])["CreateAccountStatuses"]
    assert [s["Id"] for s in listed] == [status["Id"]]


def test_paginators_walk_every_account(orgs: Any) -> None:
    orgs.create_organization()
    made = {create_account(orgs, f"p{i}@example.com", f"p{i}") for i in range(4)}
    pages = list(orgs.get_paginator("list_accounts").paginate(PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    seen = [a["Id"] for page in pages for a in page["Accounts"]]
    assert sorted(seen) == sorted(made | {ACCOUNT_ID})


def test_unsupported_operations_and_policy_types_are_refused(orgs: Any) -> None:
    orgs.create_organization()
    with pytest.raises(ClientError) as exc:
        orgs.list_handshakes_for_organization()
    assert error_of(exc) == (
        "UnsupportedOperationException",
        "ListHandshakesForOrganization is not supported by this Garrison release yet.",
    )
    root = orgs.list_roots()["Roots"][0]["Id"]
    with pytest.raises(ClientError) as exc:
        orgs.enable_policy_type(RootId=root, PolicyType="TAG_POLICY")
    assert exc.value.response["Error"]["Code"] == "UnsupportedOperationException"


def test_the_trail_names_the_account_but_not_its_email(
    orgs: Any, org_server: ServerProcess
) -> None:
    orgs.create_organization()
    account_id = create_account(orgs, "secret-owner@example.com", "hidden-name")
    cloudtrail = org_server.client("cloudtrail")
    events = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateAccount"}]
    )["Events"]
    (event,) = events
    assert event["EventSource"] == "organizations.amazonaws.com"
    body = event["CloudTrailEvent"]
    assert "secret-owner@example.com" not in body and "hidden-name" not in body
    assert any(account_id in r.get("ResourceName", "") for r in event["Resources"])


def test_aws_cli(orgs: Any, org_server: ServerProcess, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }

    cli = AwsCli(org_server.endpoint, env, tmp_path)

    def aws(*args: str) -> Any:
        return cli.json("organizations", *args)

    org = aws("create-organization")["Organization"]
    roots = aws("list-roots")["Roots"]
    assert aws("describe-organization")["Organization"]["Id"] == org["Id"]
    assert roots[0]["PolicyTypes"][0]["Type"] == SCP


# -- the flow that matters: into the new account through its access role -------------------------
def test_assume_the_access_role_of_a_new_account_and_use_kms_there(
    orgs: Any, org_server: ServerProcess
) -> None:
    orgs.create_organization()
    account_id = create_account(orgs, "team@example.com", "team")
    sts = org_server.client("sts")
    role_arn = f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole"
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName="admin")["Credentials"]

    def client(service: str) -> Any:
        return session_client(org_server, service, creds)

    identity = client("sts").get_caller_identity()
    assert identity["Account"] == account_id
    assert identity["Arn"] == (
        f"arn:aws:sts::{account_id}:assumed-role/OrganizationAccountAccessRole/admin"
    )
    kms = client("kms")
    key = kms.create_key()["KeyMetadata"]
    assert key["AWSAccountId"] == account_id
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"in the new account")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"in the new account"

    # a member account sees its organization, and nothing more of it
    member_orgs = client("organizations")
    assert member_orgs.describe_organization()["Organization"]["MasterAccountId"] == ACCOUNT_ID
    with pytest.raises(ClientError) as exc:
        member_orgs.list_accounts()
    assert error_of(exc) == (
        "AccessDeniedException",
        "You don't have permissions to access this resource.",
    )

    # an SCP on the account denies KMS there, even to an administrator
    policy = orgs.create_policy(Content=DENY_KMS, Description="", Name="deny-kms", Type=SCP)
    orgs.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=account_id)
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    code, message = error_of(exc)
    assert code == "AccessDeniedException"
    assert message.endswith("with an explicit deny in a service control policy")

    # once the account leaves the organization, no SCP binds it any more
    member_orgs.leave_organization()
    with pytest.raises(ClientError) as exc:
        member_orgs.describe_organization()
    assert exc.value.response["Error"]["Code"] == "AWSOrganizationsNotInUseException"
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"in the new account"


def test_delete_organization_and_start_again(orgs: Any) -> None:
    first = orgs.create_organization()["Organization"]
    root = orgs.list_roots()["Roots"][0]["Id"]
    ou = orgs.create_organizational_unit(ParentId=root, Name="gone")["OrganizationalUnit"]
    policy = orgs.create_policy(Content=DENY_KMS, Description="", Name="gone", Type=SCP)
    orgs.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=ou["Id"])
    account_id = create_account(orgs, "short-lived@example.com", "short-lived")
    orgs.remove_account_from_organization(AccountId=account_id)
    orgs.delete_organization()
    with pytest.raises(ClientError) as exc:
        orgs.list_roots()
    assert exc.value.response["Error"]["Code"] == "AWSOrganizationsNotInUseException"
    second = orgs.create_organization()["Organization"]
    assert second["Id"] != first["Id"]
    assert orgs.list_policies(Filter=SCP)["Policies"][0]["Id"] == "p-FullAWSAccess"
    assert len(orgs.list_policies(Filter=SCP)["Policies"]) == 1


def test_disable_and_enable_service_control_policies(orgs: Any) -> None:
    orgs.create_organization()
    root = orgs.list_roots()["Roots"][0]["Id"]
    ou = orgs.create_organizational_unit(ParentId=root, Name="ou")["OrganizationalUnit"]["Id"]
    account_id = create_account(orgs, "e@example.com", "e")
    policy = orgs.create_policy(Content=DENY_KMS, Description="", Name="deny", Type=SCP)
    orgs.attach_policy(PolicyId=policy["Policy"]["PolicySummary"]["Id"], TargetId=ou)
    root_shape = orgs.disable_policy_type(RootId=root, PolicyType=SCP)["Root"]
    assert root_shape["PolicyTypes"] == []
    assert orgs.list_policies_for_target(TargetId=ou, Filter=SCP)["Policies"] == []
    with pytest.raises(ClientError) as exc:
        orgs.attach_policy(PolicyId="p-FullAWSAccess", TargetId=ou)
    assert exc.value.response["Error"]["Code"] == "PolicyTypeNotEnabledException"
    root_shape = orgs.enable_policy_type(RootId=root, PolicyType=SCP)["Root"]
    assert root_shape["PolicyTypes"] == [{"Type": SCP, "Status": "ENABLED"}]
    targets = orgs.list_targets_for_policy(PolicyId="p-FullAWSAccess")["Targets"]
    assert {t["TargetId"] for t in targets} == {root, ou, account_id, ACCOUNT_ID}
    with pytest.raises(ClientError) as exc:
        orgs.enable_policy_type(RootId=root, PolicyType=SCP)
    assert exc.value.response["Error"]["Code"] == "PolicyTypeAlreadyEnabledException"


def test_ou_lifecycle_tags_and_policy_edits(orgs: Any) -> None:
    orgs.create_organization()
    root = orgs.list_roots()["Roots"][0]["Id"]
    ou = orgs.create_organizational_unit(ParentId=root, Name="team")["OrganizationalUnit"]
    inner = orgs.create_organizational_unit(ParentId=ou["Id"], Name="inner")["OrganizationalUnit"]
    listed = orgs.list_organizational_units_for_parent(ParentId=ou["Id"])["OrganizationalUnits"]
    assert [u["Id"] for u in listed] == [inner["Id"]]
    assert orgs.list_parents(ChildId=inner["Id"])["Parents"] == [
        {"Id": ou["Id"], "Type": "ORGANIZATIONAL_UNIT"}
    ]
    renamed = orgs.update_organizational_unit(OrganizationalUnitId=inner["Id"], Name="core")
    assert renamed["OrganizationalUnit"]["Name"] == "core"
    described = orgs.describe_organizational_unit(OrganizationalUnitId=inner["Id"])
    assert described["OrganizationalUnit"]["Path"] == (f"{ou['Path']}{inner['Id']}/")
    account_id = create_account(orgs, "t@example.com", "t")
    orgs.move_account(AccountId=account_id, SourceParentId=root, DestinationParentId=ou["Id"])
    in_ou = orgs.list_accounts_for_parent(ParentId=ou["Id"])["Accounts"]
    assert [a["Id"] for a in in_ou] == [account_id]
    with pytest.raises(ClientError) as exc:
        orgs.delete_organizational_unit(OrganizationalUnitId=ou["Id"])
    assert exc.value.response["Error"]["Code"] == "OrganizationalUnitNotEmptyException"
    orgs.delete_organizational_unit(OrganizationalUnitId=inner["Id"])

    orgs.tag_resource(
        ResourceId=account_id, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    )
    orgs.untag_resource(ResourceId=account_id, TagKeys=["a"])
    assert orgs.list_tags_for_resource(ResourceId=account_id)["Tags"] == [
        {"Key": "b", "Value": "2"}
    ]

    created = orgs.create_policy(Content=DENY_KMS, Description="v1", Name="edit", Type=SCP)
    pid = created["Policy"]["PolicySummary"]["Id"]
    allow_all = json.dumps({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
    updated = orgs.update_policy(PolicyId=pid, Name="edited", Content=allow_all)["Policy"]
    assert updated["PolicySummary"]["Name"] == "edited" and updated["Content"] == allow_all
    assert orgs.describe_policy(PolicyId=pid)["Policy"]["PolicySummary"]["Description"] == "v1"
    names = {p["Name"] for p in orgs.list_policies(Filter=SCP)["Policies"]}
    assert names == {"edited", "FullAWSAccess"}
    orgs.delete_policy(PolicyId=pid)
    assert {p["Name"] for p in orgs.list_policies(Filter=SCP)["Policies"]} == {"FullAWSAccess"}


# -- the compatibility matrix --------------------------------------------------------------------
_VALUES = {
    "HandshakeId": "h-12345678",
    "AccountId": "123456789012",
    "Email": "someone@example.com",
    "Id": "rt-12345678",
}


def _minimal(shape: Any, name: str) -> Any:
    """A smallest value of a model shape that passes the model's validation."""
    kind = shape.type_name
    if kind == "structure":
        return {m: _minimal(shape.members[m], m) for m in shape.required_members}
    if kind == "list":
        return [_minimal(shape.member, name)]
    if kind == "timestamp":
        return datetime(2030, 1, 1, tzinfo=UTC)
    if kind in ("integer", "long"):
        return int(shape.metadata.get("min", 1))
    if kind == "boolean":
        return False
    if shape.enum:
        return shape.enum[0]
    return _VALUES.get(name, "x")


def test_every_planned_operation_is_refused_by_name(orgs: Any) -> None:
    """What docs/compatibility/organizations.md lists as planned is answered, never half-done."""
    orgs.create_organization()
    model = orgs.meta.service_model
    planned = sorted(set(model.operation_names) - set(HANDLED))
    assert len(planned) == len(model.operation_names) - len(HANDLED) > 0
    for op in planned:
        shape = model.operation_model(op).input_shape
        request = _minimal(shape, op) if shape is not None else {}
        with pytest.raises(ClientError) as exc:
            getattr(orgs, xform_name(op))(**request)
        assert error_of(exc) == (
            "UnsupportedOperationException",
            f"{op} is not supported by this Garrison release yet.",
        ), op


def test_compatibility_matrix_matches_the_model_and_the_tests() -> None:
    """The matrix lists every operation once, truthfully, with tests that exist."""
    # every supported operation runs against a real server
    check_matrix("organizations", HANDLED, "tests/e2e/test_organizations.py::test_")
