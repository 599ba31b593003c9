"""CloudTrail event building: cached identities and event times never leak between calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from garrison.audit.event import CallRecord, build_event
from garrison.context import Principal

ROOT = Principal(
    arn="arn:aws:iam::111122223333:root",
    account_id="111122223333",
    type="Root",
    user_id="111122223333",
    access_key_id="AKIAROOT",
)
USER = Principal(
    arn="arn:aws:iam::111122223333:user/alice",
    account_id="111122223333",
    type="IAMUser",
    user_id="AIDAALICE",
    user_name="alice",
)


def _record(principal: Principal | None, when: datetime, key: str = "AKIAX") -> CallRecord:
    return CallRecord(
        event_id="e",
        request_id="r",
        event_time=when,
        event_source="kms.amazonaws.com",
        event_name="Encrypt",
        region="us-east-1",
        source_ip="127.0.0.1",
        user_agent="ua",
        principal=principal,
        access_key_id=key,
        read_only=False,
        request_parameters={"keyId": "k"},
        response_elements=None,
        resources=(("AWS::KMS::Key", "arn:k"),),
    )


def test_event_time_follows_each_second() -> None:
    t = datetime(2030, 1, 2, 3, 4, 5, 999_000, tzinfo=UTC)
    assert build_event(_record(ROOT, t))["eventTime"] == "2030-01-02T03:04:05Z"
    assert build_event(_record(ROOT, t + timedelta(milliseconds=1)))["eventTime"] == (
        "2030-01-02T03:04:06Z"
    )
    assert build_event(_record(ROOT, t))["eventTime"] == "2030-01-02T03:04:05Z"


def test_identities_are_per_principal_and_key_and_copies() -> None:
    now = datetime(2030, 1, 1, tzinfo=UTC)
    root = build_event(_record(ROOT, now))["userIdentity"]
    assert root == {
        "type": "Root",
        "principalId": "111122223333",
        "arn": "arn:aws:iam::111122223333:root",
        "accountId": "111122223333",
        "accessKeyId": "AKIAROOT",
    }
    alice = build_event(_record(USER, now, key="AKIAALICE"))["userIdentity"]
    assert alice["userName"] == "alice" and alice["accessKeyId"] == "AKIAALICE"
    other_key = build_event(_record(USER, now, key="AKIAOTHER"))["userIdentity"]
    assert other_key["accessKeyId"] == "AKIAOTHER"
    root["arn"] = "tampered"  # a caller's change to its event never reaches the next one
    assert build_event(_record(ROOT, now))["userIdentity"]["arn"] == ROOT.arn
    assert build_event(_record(None, now))["userIdentity"] == {
        "type": "Unknown",
        "accessKeyId": "AKIAX",
    }
