"""The request path for query-protocol services (IAM, STS), in process.

Like tests/test_pipeline.py: a real SQLite store, writer, audit trail,
credential store and SigV4 verifier, with small fake providers for STS and IAM
(a provider is a plug-in boundary). Requests are serialised and signed by
botocore; answers are read by botocore's query parser, so what is asserted is
what boto3 would raise: routing by credential scope and Action, refusals in
XML with the query codes, the json path left as it was, and audit events shaped
as for json calls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from garrison.api import Call, Handler, Request, Response
from garrison.errors import error_class
from garrison.pipeline import HttpRequest, HttpResponse, Pipeline
from garrison.protocol.specs import load_service
from garrison.storage.database import Database
from tests.inprocess import ACCOUNT as ACCOUNT_ID
from tests.inprocess import audit_events, handle, in_process_pipeline

ACCESS_KEY_ID = "AKIAQUERYPIPELINE001"
SECRET = "queryPipelineTestSecretAccessKey00000000"
NoSuchEntity = error_class("NoSuchEntityException")
MalformedPolicy = error_class("MalformedPolicyDocumentException")


class FakeSts:
    service = "sts"
    event_source = "sts.amazonaws.com"

    def handlers(self) -> Mapping[str, Handler]:
        return {"GetCallerIdentity": self.get_caller_identity, "AssumeRole": self.assume_role}

    def is_read_only(self, operation: str) -> bool:
        return operation == "GetCallerIdentity"

    def get_caller_identity(self, call: Call, request: Request) -> Response:
        p = call.ctx.principal
        return {"UserId": p.user_id, "Account": p.account_id, "Arn": p.arn}

    def assume_role(self, call: Call, request: Request) -> Response:
        raise MalformedPolicy("The policy is not in the valid JSON format.")


class FakeIam:
    service = "iam"
    event_source = "iam.amazonaws.com"

    def handlers(self) -> Mapping[str, Handler]:
        return {"GetRole": self.get_role, "TagRole": self.tag_role}

    def is_read_only(self, operation: str) -> bool:
        return operation.startswith("Get")

    def get_role(self, call: Call, request: Request) -> Response:
        raise NoSuchEntity(f"The role with name {request['RoleName']} cannot be found.")

    def tag_role(self, call: Call, request: Request) -> Response:
        return {}


class FakeKms:
    service = "kms"
    event_source = "kms.amazonaws.com"

    def handlers(self) -> Mapping[str, Handler]:
        return {"ListKeys": lambda call, request: {"Keys": [], "Truncated": False}}

    def is_read_only(self, operation: str) -> bool:
        return True


@pytest.fixture
def pipeline(tmp_path: Path) -> Iterator[tuple[Pipeline, Database]]:
    # ELBv2 has a model here but no provider: it is not served.
    with in_process_pipeline(
        tmp_path,
        ["kms", "sts", "iam", "elbv2"],
        {"kms": FakeKms(), "sts": FakeSts(), "iam": FakeIam()},
        access_key_id=ACCESS_KEY_ID,
        secret=SECRET,
    ) as built:
        yield built


def form(service: str, action: str, params: dict[str, Any]) -> bytes:
    """The body boto3 sends: botocore's query serialiser, URL-encoded."""
    op = load_service(service).operation(action)
    assert op is not None
    body = create_serializer("query").serialize_to_request(params, op)["body"]
    return urlencode(body).encode()


def signed(
    service: str,
    body: bytes,
    *,
    secret: str = SECRET,
    access_key: str = ACCESS_KEY_ID,
    sign: str = "header",
    scope: str | None = None,
) -> HttpRequest:
    request = AWSRequest(
        method="POST" if sign != "query" else "GET",
        url="http://localhost:4600/" + ("?" + body.decode() if sign == "query" else ""),
        data=body if sign != "query" else b"",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    creds = Credentials(access_key, secret)
    if sign == "header":
        SigV4Auth(creds, scope or service, "us-east-1").add_auth(request)
    elif sign == "query":
        SigV4QueryAuth(creds, scope or service, "us-east-1", expires=300).add_auth(request)
    parts = urlsplit(request.url)
    headers = [(b"host", parts.netloc.encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    data = request.data if isinstance(request.data, bytes) else b""
    return HttpRequest(
        request.method, b"/", parts.query.encode(), headers, data, "127.0.0.1", secure=False
    )


def read(service: str, action: str, response: HttpResponse) -> dict[str, Any]:
    """What boto3 would make of `response`: the output, or the error it raises."""
    op = load_service(service).operation(action)
    assert op is not None
    parsed: dict[str, Any] = create_parser("query").parse(
        {"body": response.body, "headers": {}, "status_code": response.status}, op.output_shape
    )
    return parsed


def header(response: HttpResponse, name: bytes) -> bytes:
    return dict(response.headers)[name]


def test_get_caller_identity_round_trip(pipeline: tuple[Pipeline, Database]) -> None:
    p, db = pipeline
    response = handle(p, signed("sts", form("sts", "GetCallerIdentity", {})))
    assert response.status == 200
    assert header(response, b"content-type") == b"text/xml"
    parsed = read("sts", "GetCallerIdentity", response)
    assert parsed["Account"] == ACCOUNT_ID
    assert parsed["Arn"] == f"arn:aws:iam::{ACCOUNT_ID}:root"
    request_id = header(response, b"x-amzn-requestid").decode()
    assert parsed["ResponseMetadata"]["RequestId"] == request_id
    [event] = audit_events(db)
    assert (event["eventSource"], event["eventName"], event["readOnly"]) == (
        "sts.amazonaws.com",
        "GetCallerIdentity",
        True,
    )
    assert event["requestID"] == request_id and "errorCode" not in event


def test_presigned_get_is_routed_by_its_query_scope(pipeline: tuple[Pipeline, Database]) -> None:
    p, _ = pipeline
    response = handle(
        p, signed("sts", b"Action=GetCallerIdentity&Version=2011-06-15", sign="query")
    )
    assert response.status == 200, response.body
    assert read("sts", "GetCallerIdentity", response)["Account"] == ACCOUNT_ID


def test_request_parameters_are_audited_from_the_parsed_dict(
    pipeline: tuple[Pipeline, Database],
) -> None:
    p, db = pipeline
    body = form("iam", "TagRole", {"RoleName": "demo", "Tags": [{"Key": "k", "Value": "v"}]})
    response = handle(p, signed("iam", body))
    assert response.status == 200, response.body
    [event] = audit_events(db)
    assert event["requestParameters"] == {"roleName": "demo", "tags": [{"key": "k", "value": "v"}]}


@pytest.mark.parametrize(
    ("request_kwargs", "code", "status"),
    [
        ({"secret": "wrong" * 8}, "SignatureDoesNotMatch", 403),
        ({"access_key": "AKIAUNKNOWNKEY000001"}, "InvalidClientTokenId", 403),
        ({"sign": "none"}, "MissingAuthenticationToken", 403),
    ],
)
@pytest.mark.parametrize("service", ["sts", "iam"])
def test_authentication_failures_answer_in_xml(
    pipeline: tuple[Pipeline, Database],
    service: str,
    request_kwargs: dict[str, Any],
    code: str,
    status: int,
) -> None:
    p, db = pipeline
    action = "GetCallerIdentity" if service == "sts" else "GetRole"
    params = {} if service == "sts" else {"RoleName": "x"}
    response = handle(p, signed(service, form(service, action, params), **request_kwargs))
    assert response.status == status
    error = read(service, action, response)["Error"]
    assert (error["Code"], error["Type"]) == (code, "Sender")
    [event] = audit_events(db)
    assert event["errorCode"] == code
    assert event["eventSource"] == f"{service}.amazonaws.com"


def test_unknown_missing_and_wrong_version_actions(pipeline: tuple[Pipeline, Database]) -> None:
    p, _ = pipeline
    unknown = handle(p, signed("sts", b"Action=GetCallerIdentityX&Version=2011-06-15"))
    assert (unknown.status, read("sts", "GetCallerIdentity", unknown)["Error"]) == (
        400,
        {
            "Type": "Sender",
            "Code": "InvalidAction",
            "Message": "Could not find operation GetCallerIdentityX for version 2011-06-15",
        },
    )
    missing = handle(p, signed("sts", b"Version=2011-06-15"))
    assert missing.status == 400
    assert read("sts", "GetCallerIdentity", missing)["Error"]["Code"] == "MissingAction"
    wrong = handle(p, signed("iam", b"Action=GetRole&Version=2011-06-15&RoleName=x"))
    assert read("iam", "GetRole", wrong)["Error"] == {
        "Type": "Sender",
        "Code": "InvalidAction",
        "Message": "Could not find operation GetRole for version 2011-06-15",
    }
    # an unknown action is still authenticated first: a bad signature says so
    forged = handle(p, signed("sts", b"Action=Nope&Version=2011-06-15", secret="x" * 40))
    assert read("sts", "GetCallerIdentity", forged)["Error"]["Code"] == "SignatureDoesNotMatch"


def test_validation_and_model_errors_carry_query_codes(
    pipeline: tuple[Pipeline, Database],
) -> None:
    p, db = pipeline
    invalid = handle(p, signed("iam", b"Action=GetRole&Version=2010-05-08&RoleName="))
    error = read("iam", "GetRole", invalid)["Error"]
    assert (invalid.status, error["Code"]) == (400, "ValidationError")
    assert error["Message"].startswith("2 validation errors detected: Value '' at 'roleName'")
    missing = handle(p, signed("iam", form("iam", "GetRole", {"RoleName": "ghost"})))
    assert (missing.status, read("iam", "GetRole", missing)["Error"]) == (
        404,
        {
            "Type": "Sender",
            "Code": "NoSuchEntity",
            "Message": "The role with name ghost cannot be found.",
        },
    )
    body = form(
        "sts",
        "AssumeRole",
        {"RoleArn": "arn:aws:iam::111122223333:role/r", "RoleSessionName": "s1"},
    )
    malformed = handle(p, signed("sts", body))
    assert read("sts", "AssumeRole", malformed)["Error"]["Code"] == "MalformedPolicyDocument"
    unsupported = handle(p, signed("iam", form("iam", "ListUsers", {})))
    assert read("iam", "ListUsers", unsupported)["Error"]["Code"] == "UnsupportedOperationException"
    bad_type = handle(p, signed("iam", b"Action=ListUsers&Version=2010-05-08&MaxItems=many"))
    assert read("iam", "ListUsers", bad_type)["Error"]["Code"] == "InvalidParameterValue"
    codes = [event.get("errorCode") for event in audit_events(db)]
    assert codes == [
        "ValidationError",
        "NoSuchEntity",
        "MalformedPolicyDocument",
        "UnsupportedOperationException",
        "InvalidParameterValue",
    ]


def test_a_malformed_form_is_answered_in_xml(pipeline: tuple[Pipeline, Database]) -> None:
    p, _ = pipeline
    response = handle(p, signed("sts", b"Action=GetCallerIdentity&Version=2011-06-15&X=%ff"))
    assert response.status == 404
    assert read("sts", "GetCallerIdentity", response)["Error"]["Code"] == "MalformedQueryString"


def test_what_cannot_be_routed_keeps_the_json_answer(pipeline: tuple[Pipeline, Database]) -> None:
    p, _ = pipeline
    # a model without a provider (ELBv2 here) is an unknown service
    elb = handle(
        p,
        signed(
            "elbv2",
            b"Action=DescribeLoadBalancers&Version=2015-12-01",
            scope="elasticloadbalancing",
        ),
    )
    assert elb.status == 400
    assert json.loads(elb.body)["__type"] == "UnknownOperationException"
    # a json service without X-Amz-Target is answered as before
    kms = handle(p, signed("kms", b"Action=ListKeys"))
    assert json.loads(kms.body) == {
        "__type": "UnknownOperationException",
        "message": "The request names no operation (X-Amz-Target).",
    }
    # a service nobody serves
    nobody = handle(p, signed("s3", b"Action=ListBuckets"))
    assert json.loads(nobody.body)["__type"] == "UnknownOperationException"
    # unsigned and without a known Version: no service to answer for
    unsigned = handle(p, signed("sts", b"Action=GetCallerIdentity&Version=1999-01-01", sign="none"))
    assert json.loads(unsigned.body)["__type"] == "MissingAuthenticationTokenException"


def test_json_requests_still_route_by_target(pipeline: tuple[Pipeline, Database]) -> None:
    p, _ = pipeline
    request = AWSRequest(
        method="POST",
        url="http://localhost:4600/",
        data=b"{}",
        headers={
            "X-Amz-Target": "TrentService.ListKeys",
            "Content-Type": "application/x-amz-json-1.1",
        },
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET), "kms", "us-east-1").add_auth(request)
    headers = [(b"host", b"localhost:4600")]
    headers += [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    response = handle(p, HttpRequest("POST", b"/", b"", headers, b"{}", "127.0.0.1", secure=False))
    assert response.status == 200
    assert json.loads(response.body) == {"Keys": [], "Truncated": False}
    assert header(response, b"content-type") == b"application/x-amz-json-1.1"
