"""KMS request quotas over HTTP: a server with low quotas refuses the excess with
ThrottlingException, serves the rest, audits the refusals, and serves again once
the dev clock has moved a second on.

The bucket also refills with wall time while the test runs, so the counts are
bounded by what the elapsed time could have refilled, never assumed exact.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from garrison.services.kms.quotas import THROTTLED_MESSAGE
from tests.conftest import (
    BACKENDS,
    ServerProcess,
    create_pg_database,
    drop_pg_database,
    pg_available,
)

SYMMETRIC_RATE = 5
CREATE_KEY_RATE = 3


@pytest.fixture(scope="module", params=BACKENDS)
def throttled(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[ServerProcess]:
    """A dev server whose symmetric quota is 5/s and CreateKey's 3/s."""
    url = ""
    if request.param == "postgresql":
        if not pg_available():
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required for the storage tests")
        url = create_pg_database()
    args = [
        "--kms-symmetric-request-rate", str(SYMMETRIC_RATE),
        "--kms-operation-request-rates", f"CreateKey={CREATE_KEY_RATE}",
    ]  # fmt: skip
    data_dir = tmp_root / f"throttled-{request.param}-{secrets.token_hex(3)}"
    srv = ServerProcess(data_dir, database_url=url, extra_args=args).start()
    yield srv
    srv.stop()
    if url:
        drop_pg_database(url)


def until_throttled(call: Callable[[], Any], limit: int = 60) -> tuple[int, ClientError, float]:
    """Call until refused: how many were served, the refusal, and the seconds it took."""
    start = time.monotonic()
    for served in range(limit):
        try:
            call()
        except ClientError as err:
            return served, err, time.monotonic() - start
    raise AssertionError(f"{limit} calls and none throttled")


def test_the_excess_is_refused_and_served_again_after_a_second(
    throttled: ServerProcess,
) -> None:
    kms = throttled.client("kms")
    key = kms.create_key(Description="throttled")["KeyMetadata"]["KeyId"]
    throttled.advance(1)  # every bucket full
    served, err, elapsed = until_throttled(lambda: kms.encrypt(KeyId=key, Plaintext=b"x"))
    throttled_at = time.monotonic()
    # the full bucket, plus what wall time refilled meanwhile
    assert SYMMETRIC_RATE <= served <= SYMMETRIC_RATE + SYMMETRIC_RATE * elapsed + 1
    assert err.response["Error"]["Code"] == "ThrottlingException"
    assert err.response["Error"]["Message"] == THROTTLED_MESSAGE
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    # the cryptographic operations share the quota: GenerateDataKey finds the bucket
    # Encrypt emptied, with only what wall time refilled since (a quota of its own
    # would serve a full bucket first)
    shared, refused, _ = until_throttled(lambda: kms.generate_data_key(KeyId=key, NumberOfBytes=32))
    assert shared <= SYMMETRIC_RATE * (time.monotonic() - throttled_at) + 1
    assert refused.response["Error"]["Code"] == "ThrottlingException"
    # a second later (on the dev clock) a whole second's worth is served again
    throttled.advance(1)
    blob = kms.encrypt(KeyId=key, Plaintext=b"back")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"back"
    for _ in range(SYMMETRIC_RATE - 2):
        kms.generate_data_key(KeyId=key, NumberOfBytes=32)
    # management operations without a configured quota are never throttled
    for _ in range(3 * SYMMETRIC_RATE):
        kms.describe_key(KeyId=key)


def test_a_throttled_call_is_audited(throttled: ServerProcess) -> None:
    kms = throttled.client("kms")
    key = kms.create_key(Description="audited throttle")["KeyMetadata"]
    throttled.advance(1)
    until_throttled(lambda: kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x"))
    trail = throttled.client("cloudtrail")
    events = trail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}],
        MaxResults=50,
    )["Events"]
    refused = [
        body
        for body in (json.loads(e["CloudTrailEvent"]) for e in events)
        if body.get("errorCode") == "ThrottlingException"
    ]
    assert refused
    assert refused[0]["errorMessage"] == THROTTLED_MESSAGE
    assert refused[0]["eventSource"] == "kms.amazonaws.com"
    assert refused[0]["requestParameters"]["keyId"] == key["KeyId"]
    throttled.advance(1)


def test_a_per_operation_quota_is_its_own(throttled: ServerProcess) -> None:
    kms = throttled.client("kms")
    throttled.advance(1)
    served, err, elapsed = until_throttled(lambda: kms.create_key(Description="burst"))
    assert CREATE_KEY_RATE <= served <= CREATE_KEY_RATE + CREATE_KEY_RATE * elapsed + 1
    assert err.response["Error"]["Code"] == "ThrottlingException"
    # CreateKey's quota being spent leaves the cryptographic quota whole
    key = kms.list_keys()["Keys"][0]["KeyId"]
    for _ in range(SYMMETRIC_RATE):
        kms.encrypt(KeyId=key, Plaintext=b"x")
    throttled.advance(1)
    kms.create_key(Description="after a second")
