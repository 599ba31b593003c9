"""SigV4 verification against requests signed by botocore's own signers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import botocore.auth
import pytest
from botocore.auth import S3SigV4QueryAuth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from garrison.errors import (
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from garrison.protocol import sigv4
from garrison.protocol.sigv4 import SigV4Identity, SigV4Verifier

AKID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SIGNED_AT = datetime(2024, 5, 24, 12, 0, 0, tzinfo=UTC)
ENDPOINT = "http://localhost:4566"

Request = tuple[str, bytes, bytes, list[tuple[bytes, bytes]], bytes]


class FakeClock:
    def __init__(self, at: datetime) -> None:
        self.t = at.timestamp()

    def time(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


@pytest.fixture(autouse=True)
def _frozen_signing_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(
        botocore.auth, "get_current_datetime", lambda: SIGNED_AT.replace(tzinfo=None)
    )
    yield


def verifier(
    secrets: dict[str, str] | None = None, at: datetime = SIGNED_AT, skew_minutes: float = 0
) -> SigV4Verifier:
    clock = FakeClock(at)
    clock.t += skew_minutes * 60
    known = {AKID: SECRET} if secrets is None else secrets
    return SigV4Verifier(known.get, clock)


def wire(request: AWSRequest) -> Request:
    """What an ASGI server would hand over after the client sent `request`."""
    prepared = request.prepare()
    url = urlsplit(prepared.url)
    headers = [(b"host", url.netloc.encode())]
    headers += [(k.lower().encode(), v.encode("latin-1")) for k, v in request.headers.items()]
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    headers.append((b"content-length", str(len(body)).encode()))
    return prepared.method, url.path.encode(), url.query.encode(), headers, body


def kms_encrypt(
    credentials: Credentials | None = None, body: dict[str, str] | None = None
) -> AWSRequest:
    request = AWSRequest(
        method="POST",
        url=f"{ENDPOINT}/",
        data=json.dumps(body or {"KeyId": "alias/app", "Plaintext": "aGVsbG8="}).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "TrentService.Encrypt",
            "User-Agent": "Boto3/1.43.11 md/Botocore#1.43.11 ua/2.1 os/linux",
        },
    )
    creds = credentials or Credentials(AKID, SECRET)
    SigV4Auth(creds, "kms", "eu-west-1").add_auth(request)
    return request


def with_header(req: Request, name: bytes, value: bytes | None) -> Request:
    method, path, query, headers, body = req
    kept = [(k, v) for k, v in headers if k != name]
    return method, path, query, kept + ([(name, value)] if value is not None else []), body


# --- accepted -----------------------------------------------------------------------


def test_header_signed_json_post_is_accepted_with_its_scope() -> None:
    identity = verifier().verify(*wire(kms_encrypt()))
    assert identity == SigV4Identity(AKID, "eu-west-1", "kms", None, presigned=False)


def test_session_token_header_is_surfaced() -> None:
    request = kms_encrypt(Credentials(AKID, SECRET, "FwoGZXIvYXdzEXAMPLETOKEN"))
    identity = verifier().verify(*wire(request))
    assert identity.session_token == "FwoGZXIvYXdzEXAMPLETOKEN"


def test_presigned_get_is_accepted() -> None:
    request = AWSRequest(
        method="GET",
        url=f"{ENDPOINT}/",
        params={"Action": "GetCallerIdentity", "Version": "2011-06-15"},
    )
    SigV4QueryAuth(Credentials(AKID, SECRET, "tok/en+="), "sts", "us-east-1", 900).add_auth(request)
    identity = verifier(skew_minutes=10).verify(*wire(request))
    assert identity == SigV4Identity(AKID, "us-east-1", "sts", "tok/en+=", presigned=True)


def test_s3_style_presigned_url_with_unsigned_payload_is_accepted() -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/bucket/dir/my%20file.txt")
    S3SigV4QueryAuth(Credentials(AKID, SECRET), "s3", "us-east-1", 60).add_auth(request)
    assert verifier().verify(*wire(request)).service == "s3"


def test_date_header_may_stand_in_for_x_amz_date() -> None:
    request = kms_encrypt()
    request.headers["Date"] = "placeholder"  # botocore then signs with Date, not X-Amz-Date
    SigV4Auth(Credentials(AKID, SECRET), "kms", "eu-west-1").add_auth(request)
    assert "X-Amz-Date" not in request.headers
    assert verifier().verify(*wire(request)).access_key_id == AKID


@pytest.mark.parametrize(
    "segment", ["my key", "ключ/é", "a%2Fb", "tilde~and*star", "already%7Eencoded"]
)
def test_awkward_paths_verify(segment: str) -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/v1/keys/{quote(segment, safe='')}/x")
    SigV4Auth(Credentials(AKID, SECRET), "guardduty", "eu-west-1").add_auth(request)
    assert verifier().verify(*wire(request)).service == "guardduty"


def test_dot_segments_and_double_slashes_are_normalised() -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/a/./b/../c//d/")
    SigV4Auth(Credentials(AKID, SECRET), "inspector2", "eu-west-1").add_auth(request)
    assert verifier().verify(*wire(request)).service == "inspector2"


def test_query_with_repeated_keys_unicode_and_spaces_verifies() -> None:
    params = [("tag", "b"), ("tag", "a"), ("name", "é x+y"), ("empty", ""), ("a~", "*")]
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/findings", params=params)
    SigV4Auth(Credentials(AKID, SECRET), "macie2", "eu-west-1").add_auth(request)
    method, path, query, headers, body = wire(request)
    assert b"+" in query  # botocore sends spaces as '+' but signs them as %20
    assert verifier().verify(method, path, query, headers, body).service == "macie2"


def test_repeated_headers_and_odd_whitespace_verify() -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/", headers={"X-Amz-Meta": "  a   b  "})
    request.headers["X-Amz-Meta"] = "c"
    SigV4Auth(Credentials(AKID, SECRET), "kms", "eu-west-1").add_auth(request)
    assert verifier().verify(*wire(request)).access_key_id == AKID


def test_unsigned_payload_header_is_accepted() -> None:
    request = kms_encrypt()
    request.headers["X-Amz-Content-SHA256"] = "UNSIGNED-PAYLOAD"
    SigV4Auth(Credentials(AKID, SECRET), "kms", "eu-west-1").add_auth(request)
    method, path, query, headers, _ = wire(request)
    assert verifier().verify(method, path, query, headers, b"anything").service == "kms"


def test_rotated_secret_is_honoured_despite_the_signing_key_cache() -> None:
    secrets = {AKID: SECRET}
    v = verifier(secrets)
    v.verify(*wire(kms_encrypt()))
    secrets[AKID] = "n3w-s3cret"
    with pytest.raises(InvalidSignatureException):
        v.verify(*wire(kms_encrypt()))
    assert v.verify(*wire(kms_encrypt(Credentials(AKID, "n3w-s3cret")))).access_key_id == AKID


def test_signing_key_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sigv4, "_KEY_CACHE_LIMIT", 2)
    v = verifier()
    for region in ("eu-west-1", "eu-west-2", "eu-west-3", "eu-west-1"):
        request = AWSRequest(method="GET", url=f"{ENDPOINT}/")
        SigV4Auth(Credentials(AKID, SECRET), "kms", region).add_auth(request)
        assert v.verify(*wire(request)).region == region
    assert len(v._signing_keys) <= 2


# --- clock ----------------------------------------------------------------------------


def test_fourteen_minutes_of_skew_either_way_is_tolerated() -> None:
    verifier(skew_minutes=14).verify(*wire(kms_encrypt()))
    verifier(skew_minutes=-14).verify(*wire(kms_encrypt()))


def test_a_request_sixteen_minutes_old_has_expired() -> None:
    with pytest.raises(InvalidSignatureException) as err:
        verifier(skew_minutes=16).verify(*wire(kms_encrypt()))
    assert err.value.message == (
        "Signature expired: 20240524T120000Z is now earlier than 20240524T120100Z "
        "(20240524T121600Z - 15 min.)"
    )


def test_a_request_sixteen_minutes_ahead_is_not_yet_current() -> None:
    with pytest.raises(InvalidSignatureException) as err:
        verifier(skew_minutes=-16).verify(*wire(kms_encrypt()))
    assert err.value.message == (
        "Signature not yet current: 20240524T120000Z is still later than 20240524T115900Z "
        "(20240524T114400Z + 15 min.)"
    )


def test_presigned_url_expires_after_x_amz_expires() -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/", params={"Action": "GetCallerIdentity"})
    SigV4QueryAuth(Credentials(AKID, SECRET), "sts", "us-east-1", 60).add_auth(request)
    verifier(skew_minutes=1).verify(*wire(request))
    with pytest.raises(InvalidSignatureException, match="^Signature expired: 20240524T120100Z"):
        verifier(skew_minutes=1.02).verify(*wire(request))


@pytest.mark.parametrize("expires", [0, 604801])
def test_presigned_expiry_must_be_within_a_week(expires: int) -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/")
    SigV4QueryAuth(Credentials(AKID, SECRET), "sts", "us-east-1", expires).add_auth(request)
    with pytest.raises(IncompleteSignatureException, match="X-Amz-Expires"):
        verifier().verify(*wire(request))


def test_scope_date_must_match_request_date() -> None:
    req = with_header(wire(kms_encrypt()), b"x-amz-date", b"20240525T000100Z")
    with pytest.raises(InvalidSignatureException, match="Date in Credential scope does not match"):
        verifier(at=datetime(2024, 5, 25, 0, 1, tzinfo=UTC)).verify(*req)


# --- rejected -------------------------------------------------------------------------


def test_tampered_body_is_rejected() -> None:
    method, path, query, headers, body = wire(kms_encrypt())
    with pytest.raises(InvalidSignatureException, match="signature we calculated does not match"):
        verifier().verify(method, path, query, headers, body.replace(b"alias/app", b"alias/evil"))


def test_tampered_signed_header_is_rejected() -> None:
    req = with_header(wire(kms_encrypt()), b"x-amz-target", b"TrentService.Decrypt")
    with pytest.raises(InvalidSignatureException):
        verifier().verify(*req)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(InvalidSignatureException) as err:
        verifier({AKID: "not-the-secret"}).verify(*wire(kms_encrypt()))
    assert err.value.message.startswith("The request signature we calculated does not match")
    assert "not-the-secret" not in err.value.message


def test_unknown_access_key_is_unrecognized() -> None:
    with pytest.raises(UnrecognizedClientException) as err:
        verifier({}).verify(*wire(kms_encrypt()))
    assert err.value.message == "The security token included in the request is invalid."


def test_content_sha256_must_match_the_body() -> None:
    original = json.dumps({"KeyId": "alias/app"}).encode()
    request = kms_encrypt()
    request.headers["X-Amz-Content-SHA256"] = hashlib.sha256(original).hexdigest()
    SigV4Auth(Credentials(AKID, SECRET), "kms", "eu-west-1").add_auth(request)
    method, path, query, headers, _ = wire(request)
    assert verifier().verify(method, path, query, headers, original).access_key_id == AKID
    with pytest.raises(InvalidSignatureException) as err:
        verifier().verify(method, path, query, headers, b'{"KeyId": "alias/evil"}')
    assert err.value.message == (
        "The provided 'x-amz-content-sha256' header does not match what was computed."
    )


def test_no_authentication_at_all_is_a_missing_token() -> None:
    for query in (b"", b"Action=GetCallerIdentity"):
        with pytest.raises(MissingAuthenticationTokenException) as err:
            verifier().verify("GET", b"/", query, [(b"host", b"localhost")], b"")
        assert err.value.message == "Missing Authentication Token"


def test_incomplete_authorization_header_names_every_missing_part() -> None:
    auth = b"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240524/eu-west-1/kms/aws4_request"
    req = with_header(with_header(wire(kms_encrypt()), b"authorization", auth), b"x-amz-date", None)
    with pytest.raises(IncompleteSignatureException) as err:
        verifier().verify(*req)
    assert err.value.message == (
        "Authorization header requires 'Signature' parameter. "
        "Authorization header requires 'SignedHeaders' parameter. "
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
        f"Authorization={auth.decode()}"
    )


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (b"Bearer abc", "Unsupported AWS 'algorithm': 'Bearer'"),
        (
            b"AWS4-HMAC-SHA256 Credential=AKID/20240524/kms/aws4_request, SignedHeaders=host, "
            b"Signature=00",
            "Credential must have exactly 5 slash-delimited elements",
        ),
        (
            b"AWS4-HMAC-SHA256 Credential=AKID/20240524/eu-west-1/kms/aws5, SignedHeaders=host, "
            b"Signature=00",
            "valid terminator: 'aws4_request', not 'aws5'",
        ),
    ],
)
def test_malformed_authorization_is_incomplete(authorization: bytes, message: str) -> None:
    req = with_header(wire(kms_encrypt()), b"authorization", authorization)
    with pytest.raises(IncompleteSignatureException, match=message):
        verifier().verify(*req)


def test_presigned_query_must_carry_every_parameter() -> None:
    query = b"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20240524T120000Z"
    with pytest.raises(IncompleteSignatureException) as err:
        verifier().verify("GET", b"/", query, [(b"host", b"localhost")], b"")
    assert err.value.message == (
        "AWS query-string parameters must include 'X-Amz-Credential'. "
        "AWS query-string parameters must include 'X-Amz-SignedHeaders'. "
        "AWS query-string parameters must include 'X-Amz-Signature'. "
        "AWS query-string parameters must include 'X-Amz-Expires'. "
        "Re-examine the query-string parameters."
    )


def test_host_must_be_signed() -> None:
    auth = (
        b"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240524/eu-west-1/kms/aws4_request, "
        b"SignedHeaders=x-amz-date, Signature=00"
    )
    req = with_header(wire(kms_encrypt()), b"authorization", auth)
    with pytest.raises(InvalidSignatureException, match="'Host' or ':authority'"):
        verifier().verify(*req)


def test_malformed_x_amz_date_is_incomplete() -> None:
    req = with_header(wire(kms_encrypt()), b"x-amz-date", b"2024-05-24T12:00:00Z")
    with pytest.raises(IncompleteSignatureException, match="ISO-8601 'basic format'"):
        verifier().verify(*req)


@pytest.mark.parametrize(
    "date",
    [
        b"Mon, 01 Jan 99999 00:00:00 GMT",  # parses, but no calendar holds it: was a 500
        b"Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
        b"not a date",
    ],
)
def test_unusable_date_header_is_incomplete(date: bytes) -> None:
    req = wire(kms_encrypt())
    headers = [(k, v) for k, v in req[3] if k != b"x-amz-date"] + [(b"date", date)]
    with pytest.raises(IncompleteSignatureException, match="RFC 1123"):
        verifier().verify(req[0], req[1], req[2], headers, req[4])


def test_presigned_signed_headers_beyond_latin1_are_a_signature_mismatch() -> None:
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/?Action=x")
    SigV4QueryAuth(Credentials(AKID, SECRET), "kms", "us-east-1", 60).add_auth(request)
    method, path, query, headers, body = wire(request)
    query = query.replace(b"SignedHeaders=host", b"SignedHeaders=host%3B%C4%80")  # was a 500
    with pytest.raises(InvalidSignatureException, match="does not match"):
        verifier().verify(method, path, query, headers, body)


@pytest.mark.parametrize("region", ["x" * 33, "US-EAST-1", "us east 1", "-us-east-1", "é", "a_b"])
def test_scope_must_name_a_region(region: str) -> None:
    request = kms_encrypt()
    SigV4Auth(Credentials(AKID, SECRET), "kms", region).add_auth(request)
    with pytest.raises(InvalidSignatureException, match="valid region"):
        verifier().verify(*wire(request))


@pytest.mark.parametrize("region", ["x" * 32, "us-gov-west-1", "eu-isoe-west-1", "local"])
def test_any_region_name_is_served(region: str) -> None:
    request = kms_encrypt()
    SigV4Auth(Credentials(AKID, SECRET), "kms", region).add_auth(request)
    assert verifier().verify(*wire(request)).region == region
