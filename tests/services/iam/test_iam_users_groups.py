"""Users, groups and membership through the provider's handlers, on a real store."""

from __future__ import annotations

import re

from garrison.context import Principal
from tests.services.iam.conftest import ACCOUNT, IamHarness


def test_create_get_user_has_aws_shape(iam: IamHarness) -> None:
    out = iam.call("CreateUser", {"UserName": "alice", "Path": "/eng/"})["User"]
    assert out["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/eng/alice"
    assert re.fullmatch(r"AIDA[A-Z0-9]{17}", out["UserId"])
    got = iam.call("GetUser", {"UserName": "ALICE"})["User"]  # names are case-insensitive
    assert got["UserName"] == "alice" and got["Path"] == "/eng/"
    assert iam.last_call is not None
    assert iam.last_call.resources == [("AWS::IAM::User", out["Arn"])]


def test_user_names_are_unique_case_insensitively(iam: IamHarness) -> None:
    iam.call("CreateUser", {"UserName": "bob"})
    err = iam.error("CreateUser", {"UserName": "BOB"})
    assert (err.code, err.status) == ("EntityAlreadyExists", 409)
    assert err.message == "User with name BOB already exists."


def test_get_user_without_name_as_root_is_the_root(iam: IamHarness) -> None:
    out = iam.call("GetUser")["User"]
    assert out["Arn"] == f"arn:aws:iam::{ACCOUNT}:root" and out["UserId"] == ACCOUNT
    assert "UserName" not in out


def test_unknown_user_is_no_such_entity(iam: IamHarness) -> None:
    err = iam.error("GetUser", {"UserName": "ghost"})
    assert (err.code, err.status) == ("NoSuchEntity", 404)
    assert err.message == "The user with name ghost cannot be found."


def test_update_user_renames_and_moves(iam: IamHarness) -> None:
    iam.call("CreateUser", {"UserName": "carol"})
    iam.call("CreateUser", {"UserName": "dave"})
    err = iam.error("UpdateUser", {"UserName": "carol", "NewUserName": "Dave"})
    assert err.code == "EntityAlreadyExists"
    iam.call("UpdateUser", {"UserName": "carol", "NewUserName": "Caroline", "NewPath": "/x/"})
    got = iam.call("GetUser", {"UserName": "caroline"})["User"]
    assert got["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/x/Caroline"
    assert iam.error("GetUser", {"UserName": "carol"}).code == "NoSuchEntity"


def test_rename_carries_to_access_keys(iam: IamHarness) -> None:
    iam.call("CreateUser", {"UserName": "erin"})
    key = iam.call("CreateAccessKey", {"UserName": "erin"})["AccessKey"]
    assert iam.credentials.get(key["AccessKeyId"]) is not None  # cached now
    iam.call("UpdateUser", {"UserName": "erin", "NewUserName": "erin2"})
    cached = iam.credentials.get(key["AccessKeyId"])
    assert cached is not None
    assert cached.principal.arn == f"arn:aws:iam::{ACCOUNT}:user/erin2"
    assert cached.principal.user_name == "erin2"


def test_delete_user_conflicts_in_aws_order(iam: IamHarness) -> None:
    iam.call("CreateUser", {"UserName": "frank"})
    iam.call("CreateGroup", {"GroupName": "devs"})
    iam.call("AddUserToGroup", {"GroupName": "devs", "UserName": "frank"})
    key = iam.call("CreateAccessKey", {"UserName": "frank"})["AccessKey"]["AccessKeyId"]
    doc = '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}'
    iam.call("PutUserPolicy", {"UserName": "frank", "PolicyName": "p", "PolicyDocument": doc})
    arn = "arn:aws:iam::aws:policy/ReadOnlyAccess"
    iam.call("AttachUserPolicy", {"UserName": "frank", "PolicyArn": arn})
    expected = [
        ("must delete access keys first", "DeleteAccessKey", {"AccessKeyId": key}),
        ("must delete policies first", "DeleteUserPolicy", {"PolicyName": "p"}),
        ("must detach all policies first", "DetachUserPolicy", {"PolicyArn": arn}),
        ("must remove user from all groups first", "RemoveUserFromGroup", {"GroupName": "devs"}),
    ]
    for text, fix, request in expected:
        err = iam.error("DeleteUser", {"UserName": "frank"})
        assert (err.code, err.status) == ("DeleteConflict", 409)
        assert text in err.message
        iam.call(fix, {"UserName": "frank", **request})
    iam.call("DeleteUser", {"UserName": "frank"})
    assert iam.error("GetUser", {"UserName": "frank"}).code == "NoSuchEntity"


def test_list_users_paginates_with_markers(iam: IamHarness) -> None:
    for n in range(7):
        iam.call("CreateUser", {"UserName": f"u{n}", "Path": "/team/" if n % 2 else "/"})
    names: list[str] = []
    marker = None
    while True:
        req: dict[str, object] = {"MaxItems": 3}
        if marker:
            req["Marker"] = marker
        page = iam.call("ListUsers", req)
        names += [u["UserName"] for u in page["Users"]]
        if not page["IsTruncated"]:
            assert "Marker" not in page
            break
        marker = page["Marker"]
    assert names == [f"u{n}" for n in range(7)]
    team = iam.call("ListUsers", {"PathPrefix": "/team/"})["Users"]
    assert [u["UserName"] for u in team] == ["u1", "u3", "u5"]
    assert iam.error("ListUsers", {"Marker": "garbage"}).code == "ValidationError"


def test_groups_membership_and_listing(iam: IamHarness) -> None:
    iam.call("CreateUser", {"UserName": "gina"})
    group = iam.call("CreateGroup", {"GroupName": "ops", "Path": "/o/"})["Group"]
    assert re.fullmatch(r"AGPA[A-Z0-9]{17}", group["GroupId"])
    iam.call("AddUserToGroup", {"GroupName": "ops", "UserName": "gina"})
    iam.call("AddUserToGroup", {"GroupName": "ops", "UserName": "gina"})  # idempotent
    got = iam.call("GetGroup", {"GroupName": "ops"})
    assert [u["UserName"] for u in got["Users"]] == ["gina"]
    assert got["Group"]["Arn"] == f"arn:aws:iam::{ACCOUNT}:group/o/ops"
    groups = iam.call("ListGroupsForUser", {"UserName": "gina"})["Groups"]
    assert [g["GroupName"] for g in groups] == ["ops"]
    err = iam.error("DeleteGroup", {"GroupName": "ops"})
    assert err.code == "DeleteConflict"
    iam.call("RemoveUserFromGroup", {"GroupName": "ops", "UserName": "gina"})
    iam.call("UpdateGroup", {"GroupName": "ops", "NewGroupName": "ops2"})
    assert [g["GroupName"] for g in iam.call("ListGroups")["Groups"]] == ["ops2"]
    iam.call("DeleteGroup", {"GroupName": "ops2"})
    assert iam.call("ListGroups")["Groups"] == []


def test_changes_drop_authorizer_caches_after_commit(iam: IamHarness) -> None:
    iam.call("CreateUser", {"UserName": "hank"})
    before = iam.invalidations
    iam.call("CreateGroup", {"GroupName": "g"})
    iam.call("AddUserToGroup", {"GroupName": "g", "UserName": "hank"})
    assert iam.invalidations > before
    failed = iam.invalidations
    iam.error("AddUserToGroup", {"GroupName": "g", "UserName": "nobody"})
    assert iam.invalidations == failed  # a failed call changes nothing


def test_unknown_request_member_is_refused(iam: IamHarness) -> None:
    err = iam.error("GetUser", {"UserName": "x", "Bogus": 1})
    assert "Bogus" in err.message


def test_get_user_without_name_as_a_role_session_is_refused(iam: IamHarness) -> None:
    session = Principal(
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s",
        account_id=ACCOUNT,
        type="AssumedRole",
        user_id="AROAEXAMPLE:s",
    )
    iam.authorizer.authorize = lambda *a, **k: None  # type: ignore[method-assign]
    err = iam.error("GetUser", principal=session)
    assert (err.code, err.status) == ("ValidationError", 400)
    assert err.message == "Must specify userName when calling with non-User credentials"
