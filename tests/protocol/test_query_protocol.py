"""The query protocol against botocore's own serialiser and parser as the oracle.

Requests are built by ``botocore.serialize.create_serializer("query")`` and sent
through the same URL encoding boto3 uses; responses and errors are read back by
``botocore.parsers.create_parser("query")``. Hand-written IAM and STS calls,
edge cases of the form and of XML text, and the error-code mapping; the
model-wide round trips and the random forms are in test_query_round_trips.py.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.model import OperationModel
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from garrison.errors import (
    AccessDeniedException,
    ExpiredTokenException,
    IncompleteSignatureException,
    InternalFailure,
    InvalidSignatureException,
    MalformedQueryStringException,
    MissingAuthenticationTokenException,
    SerializationException,
    ServiceUnavailableException,
    ThrottlingException,
    UnknownOperationException,
    UnrecognizedClientException,
    ValidationException,
    error_class,
)
from garrison.protocol import query_protocol
from garrison.protocol.query_parser import build_tree, read_request
from garrison.protocol.specs import ServiceSpec, SpecRegistry, load_service

FORM = b"application/x-www-form-urlencoded; charset=utf-8"


def op(service: str, name: str) -> OperationModel:
    found = load_service(service).operation(name)
    assert found is not None
    return found


def botocore_body(
    operation: OperationModel, params: dict[str, Any], validate: bool = True
) -> bytes:
    """The form body boto3 sends for `params` (botocore's serialiser, then urlencode)."""
    serializer = create_serializer("query", include_validation=validate)
    request = serializer.serialize_to_request(params, operation)
    return urlencode(request["body"]).encode()


def parse(operation: OperationModel, body: bytes) -> dict[str, Any]:
    return query_protocol.parse_request(operation, query_protocol.read_params(b"", body, FORM))


def botocore_reads(operation: OperationModel, body: bytes, status: int = 200) -> dict[str, Any]:
    response = {"body": body, "headers": {}, "status_code": status}
    parsed: dict[str, Any] = create_parser("query").parse(response, operation.output_shape)
    return parsed


# -- requests ---------------------------------------------------------------------------

# IAM and STS take policy text in \u0009-\u00FF only; the round trips below carry the rest.
POLICY = (
    '{"Version":"2012-10-17","Statement":[{"Sid":"Ünïcødé±½","Effect":"Allow",'
    '"Action":"s3:*","Resource":"arn:aws:s3:::b/a&b=c+d %e"}]}'
)


@pytest.mark.parametrize(
    ("service", "name", "params"),
    [
        ("sts", "GetCallerIdentity", {}),
        (
            "sts",
            "AssumeRole",
            {
                "RoleArn": "arn:aws:iam::111122223333:role/demo",
                "RoleSessionName": "session@example.com",
                "DurationSeconds": 3600,
                "Policy": POLICY,
                "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
                "Tags": [{"Key": "team", "Value": "é=b+c @d 鍵"}, {"Key": "cost", "Value": ""}],
                "TransitiveTagKeys": ["team"],
                "ExternalId": "ext-id",
                "SourceIdentity": "alice",
                "ProvidedContexts": [
                    {
                        "ProviderArn": "arn:aws:iam::aws:contextProvider/IdentityCenter",
                        "ContextAssertion": "x" * 20,
                    }
                ],
            },
        ),
        ("sts", "GetAccessKeyInfo", {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE"}),
        (
            "iam",
            "CreateRole",
            {
                "Path": "/service/",
                "RoleName": "demo-role",
                "AssumeRolePolicyDocument": POLICY,
                "Description": "Rôle de démonstration",
                "MaxSessionDuration": 7200,
                "PermissionsBoundary": "arn:aws:iam::aws:policy/PowerUserAccess",
                "Tags": [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}],
            },
        ),
        ("iam", "CreateUser", {"UserName": "alice", "Tags": []}),
        (
            "iam",
            "PutUserPolicy",
            {"UserName": "alice", "PolicyName": "p", "PolicyDocument": POLICY},
        ),
        ("iam", "ListPolicies", {"Scope": "Local", "OnlyAttached": True, "MaxItems": 1000}),
        ("iam", "ListPolicies", {"OnlyAttached": False, "Marker": "abc/def=="}),
        ("iam", "UntagRole", {"RoleName": "r", "TagKeys": ["a", "b", "c"]}),
        (
            "iam",
            "SimulateCustomPolicy",
            {
                "PolicyInputList": [POLICY, POLICY],
                "ActionNames": ["s3:GetObject"],
                "ContextEntries": [
                    {
                        "ContextKeyName": "aws:CurrentTime",
                        "ContextKeyValues": ["2026-01-01T00:00:00Z"],
                        "ContextKeyType": "date",
                    }
                ],
            },
        ),
    ],
)
def test_what_botocore_sends_parses_back(service: str, name: str, params: dict[str, Any]) -> None:
    operation = op(service, name)
    assert parse(operation, botocore_body(operation, params)) == params


def test_action_and_version_are_not_members() -> None:
    operation = op("sts", "GetCallerIdentity")
    assert parse(operation, b"Action=GetCallerIdentity&Version=2011-06-15") == {}


def test_unknown_parameters_are_ignored() -> None:
    operation = op("iam", "GetUser")
    body = b"Action=GetUser&UserName=bob&Surprise=1&UserName.member.1=x&Tags.member.1.Key=k"
    assert parse(operation, body) == {"UserName": "bob"}


def test_empty_list_marker_and_gaps_in_indexes() -> None:
    operation = op("iam", "UntagRole")
    assert parse(operation, b"RoleName=r&TagKeys=") == {"RoleName": "r", "TagKeys": []}
    gapped = b"RoleName=r&TagKeys.member.3=c&TagKeys.member.1=a&TagKeys.member.10=d"
    assert parse(operation, gapped)["TagKeys"] == ["a", "c", "d"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"RoleName=r&TagKeys.member.0=a", "TagKeys.member.0 is not a valid index"),
        (b"RoleName=r&TagKeys.member.x=a", "TagKeys.member.x is not a valid index"),
        (b"RoleName=r&TagKeys=secret-value", "TagKeys is not a list"),
    ],
)
def test_misshapen_members_are_refused(body: bytes, fragment: str) -> None:
    with pytest.raises(SerializationException, match=fragment) as caught:
        parse(op("iam", "UntagRole"), body)
    assert "secret-value" not in caught.value.message


@pytest.mark.parametrize(
    ("name", "body", "fragment"),
    [
        ("ListPolicies", b"OnlyAttached=yes-please", "OnlyAttached is not a valid boolean"),
        ("ListPolicies", b"MaxItems=12abc", "MaxItems is not a valid integer"),
        ("ListPolicies", b"MaxItems=2147483648", "MaxItems is not a valid integer"),
        ("ListPolicies", b"MaxItems=1.5", "MaxItems is not a valid integer"),
        ("ListPolicies", b"MaxItems=" + b"9" * 5000, "MaxItems is not a valid integer"),
    ],
)
def test_values_of_the_wrong_type_are_refused_without_echo(
    name: str, body: bytes, fragment: str
) -> None:
    with pytest.raises(SerializationException, match=fragment) as caught:
        parse(op("iam", name), body)
    assert body.split(b"=")[1].decode() not in caught.value.message


def test_booleans_and_integers_convert_by_the_model() -> None:
    operation = op("iam", "ListPolicies")
    assert read_request(operation, build_tree({"OnlyAttached": "TRUE", "MaxItems": "+7"})) == {
        "OnlyAttached": True,
        "MaxItems": 7,
    }


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2026-11-29T01:02:03Z", datetime(2026, 11, 29, 1, 2, 3, tzinfo=UTC)),
        ("2026-11-29T01:02:03.250000Z", datetime(2026, 11, 29, 1, 2, 3, 250_000, tzinfo=UTC)),
        ("2026-11-29T02:02:03+01:00", datetime(2026, 11, 29, 1, 2, 3, tzinfo=UTC)),
        ("2026-11-29T01:02:03", datetime(2026, 11, 29, 1, 2, 3, tzinfo=UTC)),  # naive: UTC
        ("1795914123", datetime(2026, 11, 29, 1, 2, 3, tzinfo=UTC)),  # epoch seconds
        ("1795914123.5", datetime(2026, 11, 29, 1, 2, 3, 500_000, tzinfo=UTC)),
    ],
)
def test_timestamps_are_iso_8601_or_epoch_and_utc_inside(text: str, moment: datetime) -> None:
    # No IAM/STS input is a timestamp; Redshift's DescribeEvents StartTime is one.
    operation = op("redshift", "DescribeEvents")
    assert read_request(operation, build_tree({"StartTime": text})) == {"StartTime": moment}


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01T00:00:00Z", "1e999", ""])
def test_a_bad_timestamp_is_refused(text: str) -> None:
    with pytest.raises(SerializationException, match="StartTime is not a valid ISO 8601"):
        read_request(op("redshift", "DescribeEvents"), build_tree({"StartTime": text}))


def test_a_malformed_form_is_malformed_query_string() -> None:
    with pytest.raises(MalformedQueryStringException) as caught:
        query_protocol.read_params(b"", b"Action=GetUser&UserName=%ff%fe", FORM)
    assert caught.value.status == 404
    with pytest.raises(MalformedQueryStringException):
        query_protocol.read_params(b"", b"Action=\xff", FORM)


def test_query_string_and_form_body_are_both_read() -> None:
    params = query_protocol.read_params(
        b"Action=GetUser&Version=2010-05-08", b"UserName=b%C3%B6b+x", FORM
    )
    assert params == {"Action": "GetUser", "Version": "2010-05-08", "UserName": "böb x"}
    # a body that says it is something else is not a form
    assert query_protocol.read_params(b"", b'{"Action":"GetUser"}', b"application/json") == {}
    assert query_protocol.read_params(b"", b"Action=GetUser", None) == {"Action": "GetUser"}


def test_validation_follows_the_model_with_aws_wording() -> None:
    operation = op("sts", "AssumeRole")
    with pytest.raises(ValidationException) as caught:
        parse(operation, b"RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&RoleSessionName=a")
    assert caught.value.message == (
        "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy "
        "constraint: Member must have length greater than or equal to 2"
    )
    with pytest.raises(
        ValidationException, match="'roleArn' failed to satisfy constraint: Member must not be null"
    ):
        parse(operation, b"RoleSessionName=abc")


@pytest.mark.parametrize(
    ("authorization", "query", "service"),
    [
        (
            b"AWS4-HMAC-SHA256 Credential=AKIA/20261129/us-east-1/sts/aws4_request, "
            b"SignedHeaders=host, Signature=abc",
            b"",
            "sts",
        ),
        (
            None,
            b"Action=GetUser&X-Amz-Credential=AKIA%2F20261129%2Fus-east-1%2Fiam%2Faws4_request",
            "iam",
        ),
        (b"AWS4-HMAC-SHA256 Credential=AKIA/20261129/us-east-1//aws4_request", b"", None),
        (b"AWS4-HMAC-SHA256 SignedHeaders=host", b"", None),
        (b"Bearer x", b"", None),
        (None, b"Action=GetUser", None),
        (None, b"XX-Amz-Credential=AKIA%2Fd%2Fr%2Fiam%2Faws4_request", None),
        # any bytes at all may be percent-encoded in a scope: routing must not fail on them
        (None, b"X-Amz-Credential=%C4%80%FF%2Fd%2Fr%2Fsts%2Faws4_request", "sts"),
        (None, b"X-Amz-Credential=%ZZ%2Fd%2Fr%2Fs%C4%80%2Faws4_request", "s\xc4\x80"),
    ],
)
def test_signing_service_is_read_from_the_scope(
    authorization: bytes | None, query: bytes, service: str | None
) -> None:
    assert query_protocol.signing_service(authorization, query) == service


# -- responses --------------------------------------------------------------------------


def test_assume_role_response_is_aws_shaped() -> None:
    operation = op("sts", "AssumeRole")
    data = {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE",
            "SecretAccessKey": "s3cr3t/<&>",
            "SessionToken": "token",
            "Expiration": datetime(2026, 11, 29, 1, 2, 3, tzinfo=UTC),
        },
        "AssumedRoleUser": {"AssumedRoleId": "AROAX:s", "Arn": "arn:aws:sts::1:assumed-role/r/s"},
        "PackedPolicySize": 6,
        "Ignored": "not in the model",
        "SourceIdentity": None,
    }
    body = query_protocol.serialize_response(operation, data, request_id="rid")
    assert body == (
        b'<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        b"<AssumeRoleResult><Credentials><AccessKeyId>ASIAEXAMPLE</AccessKeyId>"
        b"<SecretAccessKey>s3cr3t/&lt;&amp;&gt;</SecretAccessKey><SessionToken>token</SessionToken>"
        b"<Expiration>2026-11-29T01:02:03Z</Expiration></Credentials>"
        b"<AssumedRoleUser><AssumedRoleId>AROAX:s</AssumedRoleId>"
        b"<Arn>arn:aws:sts::1:assumed-role/r/s</Arn></AssumedRoleUser>"
        b"<PackedPolicySize>6</PackedPolicySize></AssumeRoleResult>"
        b"<ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></AssumeRoleResponse>"
    )


def test_an_operation_without_output_answers_the_envelope() -> None:
    operation = op("iam", "DeleteUser")
    body = query_protocol.serialize_response(operation, None, request_id="r")
    assert body == (
        b'<DeleteUserResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">'
        b"<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DeleteUserResponse>"
    )
    assert botocore_reads(operation, body)["ResponseMetadata"]["RequestId"] == "r"


def test_empty_lists_naive_datetimes_and_milliseconds() -> None:
    operation = op("iam", "ListUsers")
    data = {
        "Users": [
            {
                "Path": "/",
                "UserName": "a",
                "UserId": "AIDA",
                "Arn": "arn:aws:iam::1:user/a",
                "CreateDate": datetime(2026, 1, 2, 3, 4, 5, 678_901),  # naive: UTC
                "Tags": [],
            }
        ],
        "IsTruncated": False,
    }
    body = query_protocol.serialize_response(operation, data, request_id="r")
    assert b"<CreateDate>2026-01-02T03:04:05.678Z</CreateDate>" in body
    assert b"<Tags></Tags>" in body and b"<IsTruncated>false</IsTruncated>" in body
    user = botocore_reads(operation, body)["Users"][0]
    assert user["Tags"] == [] and user["CreateDate"] == datetime(
        2026, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC
    )


def test_text_xml_cannot_carry_is_replaced_and_cr_survives() -> None:
    operation = op("iam", "GetUser")
    data = {
        "User": {
            "Path": "/",
            "UserName": "a\x00b\x1fc\ud800d\r\ne\uffff",
            "UserId": "]]>",
            "Arn": "arn",
            "CreateDate": datetime(2026, 1, 1, tzinfo=UTC),
        }
    }
    body = query_protocol.serialize_response(operation, data, request_id="r")
    user = botocore_reads(operation, body)["User"]
    assert user["UserName"] == "a\ufffdb\ufffdc\ufffdd\r\ne\ufffd"
    assert user["UserId"] == "]]>"


# -- errors -----------------------------------------------------------------------------

PLATFORM = [
    (UnrecognizedClientException, "InvalidClientTokenId", 403),
    (InvalidSignatureException, "SignatureDoesNotMatch", 403),
    (IncompleteSignatureException, "IncompleteSignature", 400),
    (MissingAuthenticationTokenException, "MissingAuthenticationToken", 403),
    (ExpiredTokenException, "ExpiredToken", 403),
    (AccessDeniedException, "AccessDenied", 403),
    (ValidationException, "ValidationError", 400),
    (UnknownOperationException, "InvalidAction", 400),
    (SerializationException, "InvalidParameterValue", 400),
    (ThrottlingException, "Throttling", 400),
    (ServiceUnavailableException, "ServiceUnavailable", 503),
    (InternalFailure, "InternalFailure", 500),
    (MalformedQueryStringException, "MalformedQueryString", 404),
]


@pytest.mark.parametrize(("error", "code", "status"), PLATFORM)
@pytest.mark.parametrize("service", ["sts", "iam"])
def test_platform_errors_answer_with_query_codes(
    service: str, error: type[Exception], code: str, status: int
) -> None:
    spec = load_service(service)
    err = error("Message with <markup> & 'quotes'")
    answered_status, headers, body = query_protocol.serialize_error(err, spec, "req-9")  # type: ignore[arg-type]
    assert answered_status == status
    assert headers == [(b"content-type", b"text/xml")]
    parsed = botocore_reads(op(service, spec.operation_names[0]), body, answered_status)
    assert parsed["Error"] == {
        "Type": "Receiver" if status >= 500 else "Sender",
        "Code": code,
        "Message": "Message with <markup> & 'quotes'",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == "req-9"
    assert body.startswith(f'<ErrorResponse xmlns="{spec.xml_namespace}"><Error>'.encode())


@pytest.mark.parametrize(
    ("code", "status", "answered", "answered_status"),
    [
        ("NoSuchEntityException", 400, "NoSuchEntity", 404),  # by shape name
        ("NoSuchEntity", 404, "NoSuchEntity", 404),  # by wire code
        ("EntityAlreadyExistsException", 400, "EntityAlreadyExists", 409),
        ("ServiceFailureException", 400, "ServiceFailure", 500),
        ("AccountNotManagementOrDelegatedAdministratorException", 400,
         "AccountNotManagementOrDelegatedAdministratorException", 400),  # no awsQueryError
        ("UnsupportedOperationException", 400, "UnsupportedOperationException", 400),
    ],
)  # fmt: skip
def test_service_errors_take_code_and_status_from_the_model(
    code: str, status: int, answered: str, answered_status: int
) -> None:
    spec = load_service("iam")
    err = error_class(code, status)("Role x cannot be found.")
    wired = query_protocol.wire_error(err, spec.model)
    assert (wired.code, wired.status, wired.message) == (answered, answered_status, err.message)
    assert query_protocol.wire_error(wired, spec.model) is wired  # a wire code stays
    answered_status_, _, body = query_protocol.serialize_error(err, spec, "r")
    assert answered_status_ == answered_status
    assert f"<Code>{answered}</Code>".encode() in body
    fault = "Receiver" if answered_status >= 500 else "Sender"
    assert f"<Type>{fault}</Type>".encode() in body


def test_botocore_raises_the_modeled_exception_class() -> None:
    import boto3

    client = boto3.client(
        "iam", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    spec = load_service("iam")
    status, _, body = query_protocol.serialize_error(
        error_class("NoSuchEntityException")("The role with name x cannot be found."), spec, "r"
    )
    parsed = botocore_reads(op("iam", "GetRole"), body, status)
    assert (
        client.exceptions.from_code(parsed["Error"]["Code"])
        is client.exceptions.NoSuchEntityException
    )


def test_sts_expired_token_is_the_platform_code() -> None:
    spec = load_service("sts")
    wired = query_protocol.wire_error(ExpiredTokenException("expired"), spec.model)
    assert (wired.code, wired.status) == ("ExpiredToken", 403)


# -- routing indexes --------------------------------------------------------------------


def test_registry_indexes_query_services_by_version() -> None:
    registry = SpecRegistry(["kms", "sts", "iam"])
    assert registry.by_query_version("2011-06-15") is load_service("sts")
    assert registry.by_query_version("2010-05-08") is load_service("iam")
    assert registry.by_query_version("2014-11-01") is None  # KMS's: not a query service
    sts = load_service("sts")
    twin = ServiceSpec.from_model("sts-twin", sts.model)
    object.__setattr__(twin, "signing_name", "sts-twin")
    shared = SpecRegistry([sts, twin])
    assert shared.by_query_version("2011-06-15") is None  # ambiguous: not routed
    assert sts.is_query and not load_service("kms").is_query
    assert (sts.api_version, sts.xml_namespace) == (
        "2011-06-15",
        "https://sts.amazonaws.com/doc/2011-06-15/",
    )


def test_blob_input_is_base64_decoded() -> None:
    # No IAM/STS input is a blob; SES's RawMessage.Data is one.
    operation = load_service("ses").operation("SendRawEmail")
    assert operation is not None
    data = b"\x00\xffmime"
    params = {"RawMessage": {"Data": data}}
    assert (
        read_request(
            operation,
            build_tree(query_protocol.read_params(b"", botocore_body(operation, params), FORM)),
        )
        == params
    )
    with pytest.raises(SerializationException, match="RawMessage.Data is not valid base64"):
        read_request(operation, build_tree({"RawMessage.Data": "!!!"}))
    encoded = base64.b64encode(data).decode()
    assert read_request(operation, build_tree({"RawMessage.Data": encoded})) == params


def test_modeled_error_fields_are_rendered_inside_error() -> None:
    spec = load_service("iam")
    err = error_class("NoSuchEntityException")("gone")
    err.fields = {"Reason": "A < B"}  # type: ignore[attr-defined]
    status, _, body = query_protocol.serialize_error(err, spec, "r")
    parsed = botocore_reads(op("iam", "GetRole"), body, status)
    assert parsed["Error"] == {
        "Type": "Sender",
        "Code": "NoSuchEntity",
        "Message": "gone",
        "Reason": "A < B",
    }
