"""The request path's failure handling, over a real store, trail and SigV4.

A provider is a plug-in boundary, so a tiny fake provider is a fair test double
here: everything else is the real thing (a SQLite store with its writer and
barrier, the audit trail, the credential store, the SigV4 verifier, the JSON
protocol). It proves what the fuzz tests rely on: an exception a provider did
not expect surfaces as 500 InternalFailure (never a 400), with its changes
rolled back, its audit event written, and nothing of its message leaked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from garrison.api import Call, Handler, Request, Response
from garrison.errors import error_class
from garrison.pipeline import HttpRequest, Pipeline
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import select
from tests.inprocess import ACCOUNT as ACCOUNT_ID
from tests.inprocess import audit_events, handle, in_process_pipeline

ACCESS_KEY_ID = "AKIAPIPELINETEST0001"
SECRET = "pipelineTestSecretAccessKey000000000000"
LEAKY = "plaintext-that-must-not-leak"
NotFound = error_class("NotFoundException")


class FakeKms:
    """A provider for KMS's model whose handlers fail in the ways under test."""

    service = "kms"
    event_source = "kms.amazonaws.com"

    def handlers(self) -> Mapping[str, Handler]:
        return {"ListKeys": self.list_keys, "DescribeKey": self.describe_key}

    def is_read_only(self, operation: str) -> bool:
        return operation != "ListKeys"

    def list_keys(self, call: Call, request: Request) -> Response:
        # A change the call made before it broke: the savepoint must undo it.
        call.tx.execute(
            schema.accounts.insert(), {"account_id": "999999999999", "name": "x", "created_at": 0}
        )
        raise RuntimeError(LEAKY)

    def describe_key(self, call: Call, request: Request) -> Response:
        raise NotFound(f"Key '{request['KeyId']}' does not exist")


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[tuple[Pipeline, Database]]:
    with in_process_pipeline(
        tmp_path, ["kms"], {"kms": FakeKms()}, access_key_id=ACCESS_KEY_ID, secret=SECRET
    ) as built:
        yield built


def signed(operation: str, body: dict[str, Any]) -> HttpRequest:
    data = json.dumps(body).encode()
    request = AWSRequest(
        method="POST",
        url="http://localhost:4600/",
        data=data,
        headers={
            "X-Amz-Target": f"TrentService.{operation}",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET), "kms", "us-east-1").add_auth(request)
    headers = [(b"host", urlsplit(request.url).netloc.encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    return HttpRequest("POST", b"/", b"", headers, data, "127.0.0.1", secure=False)


def accounts(db: Database) -> list[str]:
    rows = db.read(lambda tx: tx.execute(select(schema.accounts.c.account_id)).all())
    return sorted(row[0] for row in rows)


def test_unexpected_provider_exception_is_a_500_internal_failure(
    pipeline: tuple[Pipeline, Database],
) -> None:
    p, db = pipeline
    response = handle(p, signed("ListKeys", {}))
    assert response.status == 500
    assert json.loads(response.body) == {
        "__type": "InternalFailure",
        "message": "An internal error occurred.",
    }
    assert (b"x-amzn-errortype", b"InternalFailure") in response.headers


def test_unexpected_provider_exception_is_audited_and_rolled_back(
    pipeline: tuple[Pipeline, Database],
) -> None:
    p, db = pipeline
    handle(p, signed("ListKeys", {}))
    [event] = audit_events(db)
    assert event["eventName"] == "ListKeys"
    assert event["errorCode"] == "InternalFailure"
    assert event["userIdentity"]["accessKeyId"] == ACCESS_KEY_ID
    assert LEAKY not in json.dumps(event)
    assert accounts(db) == [ACCOUNT_ID]  # the failed call's insert is gone


def test_an_aws_error_from_a_provider_keeps_its_code_and_status(
    pipeline: tuple[Pipeline, Database],
) -> None:
    p, db = pipeline
    response = handle(p, signed("DescribeKey", {"KeyId": "alias/missing"}))
    assert response.status == 400
    assert json.loads(response.body)["__type"] == "NotFoundException"
    [event] = audit_events(db)
    assert event["errorCode"] == "NotFoundException"
