"""Hypothesis strategies that fuzz the protocol layer of a running server.

Shared by `tests/e2e/test_fuzz.py` (a bounded budget in CI) and
`benchmarks/fuzz_protocol.py` (a long run). A strategy draws a `Plan`: what to
put on the wire, as plain data so a falsifying example reads as a request.
`FuzzClient.send` turns a plan into bytes (signing it with botocore's own
SigV4 signers when the plan says so, at send time) and answers with what came
back; `FuzzClient.check` is the property every answer must hold:

    status < 500, an error body is JSON with `__type` and `message` (from a
    query service, STS or IAM: an XML <ErrorResponse> with Code and Message),
    and GET /_garrison/health still answers {"status": "ok"}.

The strategies, by what they aim at:

    target_requests    X-Amz-Target: valid, random operation, junk, unicode, empty, huge
    model_requests     bodies drawn from botocore's model (KMS, CloudTrail): right
                       and wrong types, nulls, junk members, huge numbers, blobs
                       and base64 edge cases, real ciphertexts mutated, policies;
                       then encoded with corruption (invalid UTF-8, NaN, nesting)
    auth_requests      Authorization, X-Amz-Date/Date, credential scopes, signing
                       times, presigned query strings, duplicated and odd headers
    raw_requests       random bytes as the body, signed and not
    internal_requests  the node's /_garrison/ endpoints (never a destructive call)
    KmsCalls           valid boto3 KMS calls in random order (a state machine)

Header values are drawn without control characters: the HTTP parser refuses
those before Garrison sees them (uvicorn's plain-text 400), so they test nothing
of ours.
"""

from __future__ import annotations

import base64
import http.client
import json
import string
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock
from urllib.parse import quote, urlsplit

import botocore.session
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from botocore.model import ServiceModel, Shape
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, multiple, rule

from garrison.services.kms.provider import HANDLED as KMS_HANDLED

KMS_PREFIX = "TrentService"
CLOUDTRAIL_PREFIX = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
JSON_11 = "application/x-amz-json-1.1"

Edit = tuple[str, str, str | bytes]  # ("set" | "add" | "drop", header name, value)


@dataclass(frozen=True)
class Plan:
    """One request to send, as data; signed (or not) when it is sent."""

    label: str
    target: str | None = None
    body: bytes = b"{}"
    method: str = "POST"
    path: str = "/"
    content_type: str | None = JSON_11
    extra: tuple[tuple[str, str], ...] = ()  # headers present when signing
    sign: str = "header"  # "header", "query" (presigned) or "none"
    region: str = "us-east-1"
    service: str = "kms"
    access_key: str | None = None  # None: the server's root key
    secret_key: str | None = None
    token: str | None = None
    signed_offset: float = 0.0  # seconds from now the signature claims
    expires: int = 300  # presigned only
    edits: tuple[Edit, ...] = ()  # applied to the wire headers after signing
    query_suffix: str = ""  # appended to the (possibly presigned) query after signing


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Pool:
    """What exists on the server, so drawn bodies reach past "not found"."""

    key_ids: list[str] = field(default_factory=list)
    key_arns: list[str] = field(default_factory=list)
    alias_names: list[str] = field(default_factory=list)
    ciphertexts: list[bytes] = field(default_factory=list)
    account_id: str = "111122223333"


class FuzzClient:
    """Sends plans over one persistent HTTP connection; checks every answer."""

    def __init__(self, endpoint: str, access_key: str, secret_key: str) -> None:
        url = urlsplit(endpoint)
        self.endpoint = endpoint.rstrip("/")
        self.netloc = url.netloc
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or 80
        self.access_key = access_key
        self.secret_key = secret_key
        self.statuses: Counter[str] = Counter()
        self._conn: http.client.HTTPConnection | None = None

    # -- wire ------------------------------------------------------------------
    def send(self, plan: Plan) -> Answer:
        path, headers, body = self.render(plan)
        return self.exchange(plan.method, path, headers, body)

    def render(self, plan: Plan) -> tuple[str, list[tuple[bytes, bytes]], bytes]:
        """The request line's path, the headers and the body `plan` puts on the wire."""
        named: dict[str, str] = {}
        if plan.content_type is not None:
            named["Content-Type"] = plan.content_type
        if plan.target is not None:
            named["X-Amz-Target"] = plan.target
        for name, value in plan.extra:
            named[name] = value
        path = plan.path
        if plan.sign == "none":
            headers = [("host", self.netloc), *named.items()]
        else:
            request = AWSRequest(
                method=plan.method,
                url=self.endpoint + plan.path,
                data=b"" if plan.sign == "query" else plan.body,
                headers=named,
            )
            creds = Credentials(
                self.access_key if plan.access_key is None else plan.access_key,
                self.secret_key if plan.secret_key is None else plan.secret_key,
                plan.token,
            )
            signer: SigV4Auth
            if plan.sign == "query":
                signer = SigV4QueryAuth(creds, plan.service, plan.region, expires=plan.expires)
            else:
                signer = SigV4Auth(creds, plan.service, plan.region)
            when = datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=plan.signed_offset)
            with mock.patch("botocore.auth.get_current_datetime", return_value=when):
                signer.add_auth(request)
            url = urlsplit(request.url)
            path = url.path + (f"?{url.query}" if url.query else "")
            headers = [("host", self.netloc), *request.headers.items()]
        path += plan.query_suffix
        wire = [(name.encode("latin-1"), value.encode("utf-8")) for name, value in headers]
        for op, name, value in plan.edits:
            raw_name = name.lower().encode("latin-1")
            raw_value = value if isinstance(value, bytes) else value.encode("utf-8")
            if op in ("set", "drop"):
                wire = [(k, v) for k, v in wire if k.lower() != raw_name]
            if op in ("set", "add"):
                wire.append((raw_name, raw_value))
        return path, wire, plan.body

    def exchange(
        self, method: str, path: str, headers: Sequence[tuple[bytes, bytes]], body: bytes
    ) -> Answer:
        for attempt in (1, 2):
            conn = self._connection()
            try:
                conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
                for name, value in headers:
                    conn.putheader(name, value)
                conn.putheader(b"content-length", str(len(body)).encode())
                conn.endheaders(body)
                response = conn.getresponse()
                payload = response.read()
                answer = Answer(response.status, response.getheader("content-type") or "", payload)
                if response.will_close:
                    self.close()
                return answer
            except (http.client.RemoteDisconnected, ConnectionError, http.client.BadStatusLine):
                # A kept-alive connection the server closed meanwhile: once more.
                self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    # -- the property ------------------------------------------------------------
    def check(self, plan: Plan, answer: Answer) -> None:
        """No 5xx; an AWS error body; and the server still healthy."""
        where = f"{plan.label}: {answer.status} {answer.body[:500]!r}"
        if answer.content_type.startswith("text/xml"):
            self._check_query_answer(answer, where)  # a query service (STS, IAM) answered
            return
        try:
            data = answer.json()
        except ValueError:
            data = None
        code = data.get("__type") if isinstance(data, dict) else None
        self.statuses[f"{answer.status} {code or ''}".strip()] += 1
        assert answer.status < 500, where
        assert isinstance(data, dict), where
        if answer.status != 200 and not plan.path.startswith("/_garrison/"):
            assert isinstance(code, str) and code, where
            assert isinstance(data.get("message"), str), where
        self.check_health()

    def _check_query_answer(self, answer: Answer, where: str) -> None:
        """The query protocol's variant: XML, an <ErrorResponse> with Code and Message."""
        import xml.etree.ElementTree as ElementTree

        root = ElementTree.fromstring(answer.body)  # well-formed, or this raises
        ns = root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""
        code = root.findtext(f"{ns}Error/{ns}Code") if answer.status != 200 else ""
        self.statuses[f"{answer.status} {code or ''}".strip()] += 1
        assert answer.status < 500, where
        if answer.status != 200:
            assert root.tag == f"{ns}ErrorResponse" and code, where
            assert root.findtext(f"{ns}Error/{ns}Message") is not None, where
        self.check_health()

    def check_health(self) -> None:
        health = self.exchange("GET", "/_garrison/health", [(b"host", self.netloc.encode())], b"")
        assert health.status == 200, health
        assert health.json() == {"status": "ok", "sealed": False}, health


# -- building blocks -------------------------------------------------------------

# No control characters: see the module docstring.
header_chars = st.characters(blacklist_categories=("Cc", "Cs"))
header_text = st.text(header_chars, max_size=40)
ascii_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
token_text = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=20)

EDGE_NUMBERS: list[Any] = [
    0, -1, 1, 2**31 - 1, 2**31, -(2**31), -(2**31) - 1, 2**63 - 1, 2**63, -(2**63) - 1,
    2**64, 10**30, -(10**30), 1e308, -0.0, 0.5, 1e-300, float("nan"), float("inf"),
    float("-inf"),
]  # fmt: skip
huge_numbers = st.sampled_from(EDGE_NUMBERS)

junk_scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    huge_numbers,
    st.floats(),
    st.text(max_size=20),
)
junk = st.recursive(
    junk_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)

BAD_BASE64 = [
    "", "=", "==", "A", "AA", "AAA", "A===", "AA=", "AAA==", "AAAA=", "====", "AA==AA==",
    " AAAA", "AAAA ", "AA AA", "AAAA\n", "-_-_", "AB+/", "é", "\u00ff\u00ff", "AAAA\x00",
    "YQ", "YQ=", "YQ==", "YWI=", "YWJj", "%41%41", "AAAA" * 1400,
]  # fmt: skip


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@st.composite
def mutated_bytes(draw: st.DrawFn, original: bytes) -> bytes:
    """`original` with one random flip, cut, duplication or append."""
    kind = draw(st.sampled_from(["same", "flip", "cut", "extend", "dup", "zero"]))
    if not original or kind == "same":
        return original
    index = draw(st.integers(0, len(original) - 1))
    if kind == "flip":
        bit = 1 << draw(st.integers(0, 7))
        return original[:index] + bytes([original[index] ^ bit]) + original[index + 1 :]
    if kind == "cut":
        return original[:index]
    if kind == "extend":
        return original + draw(st.binary(min_size=1, max_size=40))
    if kind == "dup":
        return original + original
    return bytes(len(original))


def key_references(pool: Pool, *, real_only: bool = False) -> st.SearchStrategy[str]:
    """Key ids, ARNs and alias names: real ones, near misses and junk."""
    account, region = pool.account_id, "us-east-1"
    real: list[str] = [*pool.key_ids, *pool.key_arns, *pool.alias_names]
    real += [f"arn:aws:kms:{region}:{account}:{name}" for name in pool.alias_names]
    if real_only and real:
        return st.sampled_from(real)
    near = [
        "alias/", "alias/aws/", "alias/aws/kms", "alias/aws/s3", "alias/nope", "key/",
        "arn:aws:kms:::key/", f"arn:aws:kms:{region}:{account}:key/",
        f"arn:aws:kms:{region}:{account}:alias/", f"arn:aws:kms:eu-west-1:{account}:key/x",
        "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000",
        "00000000-0000-0000-0000-000000000000", "mrk-00000000000000000000000000000000",
        "arn:aws:iam::111122223333:root", "arn", "arn:", "::::", "alias//x", "alias/../x",
    ]  # fmt: skip
    drawn = st.one_of(
        st.uuids().map(str),
        st.builds(lambda k: f"arn:aws:kms:{region}:{account}:key/{k}", st.text(max_size=40)),
        st.builds(lambda a: f"alias/{a}", st.text(max_size=40)),
        st.text(max_size=80),
    )
    strategies = [st.sampled_from(near), drawn]
    if real:
        strategies.insert(0, st.sampled_from(real))
        strategies.insert(0, st.sampled_from(real).map(lambda r: r.upper()))
    return st.one_of(*strategies)


def _principals(pool: Pool) -> st.SearchStrategy[Any]:
    root = f"arn:aws:iam::{pool.account_id}:root"
    return st.one_of(
        st.just("*"),
        st.fixed_dictionaries(
            {},
            optional={
                "AWS": st.one_of(
                    st.sampled_from([root, pool.account_id, "*", "arn:aws:iam::1:user/x"]),
                    st.lists(st.sampled_from([root, "*", "x"]), max_size=3),
                    junk,
                ),
                "Service": st.one_of(st.just("kms.amazonaws.com"), junk),
                "Federated": junk,
            },
        ),
        junk,
    )


_ACTIONS = ["kms:*", "kms:Encrypt", "kms:Decrypt", "kms:Describe*", "kms:PutKeyPolicy", "*"]
_CONDITIONS = ["StringEquals", "StringLike", "Bool", "ArnLike", "NumericLessThan", "Null"]


def policies(pool: Pool) -> st.SearchStrategy[str]:
    """Key policy documents: well formed, half formed and not JSON at all."""
    strings_or_junk = st.one_of(
        st.sampled_from(_ACTIONS), st.lists(st.sampled_from(_ACTIONS), max_size=3), junk
    )
    condition = st.dictionaries(
        st.one_of(st.sampled_from(_CONDITIONS), st.text(max_size=20)),
        st.one_of(
            st.dictionaries(
                st.sampled_from(["kms:CallerAccount", "aws:SecureTransport", "kms:ViaService"]),
                st.one_of(st.text(max_size=10), st.lists(st.text(max_size=5), max_size=2), junk),
                max_size=2,
            ),
            junk,
        ),
        max_size=2,
    )
    statement = st.fixed_dictionaries(
        {},
        optional={
            "Sid": st.one_of(st.text(max_size=10), junk),
            "Effect": st.one_of(st.sampled_from(["Allow", "Deny", "allow", ""]), junk),
            "Principal": _principals(pool),
            "NotPrincipal": _principals(pool),
            "Action": strings_or_junk,
            "NotAction": strings_or_junk,
            "Resource": st.one_of(st.just("*"), junk),
            "NotResource": junk,
            "Condition": st.one_of(condition, junk),
        },
    )
    document = st.fixed_dictionaries(
        {},
        optional={
            "Version": st.one_of(st.sampled_from(["2012-10-17", "2008-10-17"]), junk),
            "Id": junk,
            "Statement": st.one_of(st.lists(statement, max_size=3), statement, junk),
        },
    )
    return st.one_of(
        document.map(json.dumps),
        st.text(max_size=60),
        st.sampled_from(["", "{}", "[]", "null", "{", '{"Statement": []}', "\t"]),
    )


# -- bodies from the model ---------------------------------------------------------


class ModelValues:
    """Draws values for a service model's shapes.

    A `clean` draw keeps every value of the right type and inside its model
    constraints, so it reaches the provider; otherwise one value in `junk_rate`
    is junk (null included) and the rest are right-typed but pushed to and past
    their bounds. Walks the shape at draw time (rather than building a strategy
    per shape) so a falsifying example prints as the request, not as a tree of
    strategies.
    """

    def __init__(self, pool: Pool, *, clean: bool, junk_rate: int = 4) -> None:
        self.pool = pool
        self.clean = clean
        self.junk_rate = junk_rate

    def member(self, draw: st.DrawFn, name: str, shape: Shape, depth: int) -> Any:
        if depth > 5 or (not self.clean and draw(st.integers(1, self.junk_rate)) == 1):
            return draw(junk)
        return self.right(draw, name, shape, depth)

    def structure(self, draw: st.DrawFn, shape: Shape, depth: int = 0) -> dict[str, Any]:
        mode = "complete"
        if not self.clean:
            mode = draw(st.sampled_from(["complete", "complete", "loose", "extra"]))
        required = set(shape.required_members)
        out: dict[str, Any] = {}
        if mode == "extra":
            out.update(draw(st.dictionaries(st.text(max_size=12), junk, max_size=2)))
        for name, member in shape.members.items():
            if (name in required and mode != "loose") or draw(st.booleans()):
                wire = member.serialization.get("name", name)
                out[wire] = self.member(draw, name, member, depth + 1)
        return out

    def right(self, draw: st.DrawFn, name: str, shape: Shape, depth: int) -> Any:
        kind = shape.type_name
        meta = shape.metadata
        lo = int(meta.get("min", 0))
        hi = int(meta.get("max", 10_000))
        if kind == "structure":
            return self.structure(draw, shape, depth)
        if kind in ("list", "map"):
            count = draw(self._count(lo, hi))
            if kind == "list":
                return [self.member(draw, name, shape.member, depth + 1) for _ in range(count)]
            key_shape = shape.key
            return {
                draw(self._string(name + "Key", key_shape, *_bounds(key_shape))): self.member(
                    draw, name, shape.value, depth + 1
                )
                for _ in range(count)
            }
        if kind == "string":
            return draw(self._string(name, shape, lo, hi))
        if kind == "blob":
            return draw(self._blob(name, lo, hi))
        if kind in ("integer", "long"):
            top = min(hi, 2**31 - 1)
            if self.clean:
                return draw(st.one_of(st.integers(lo, top), st.sampled_from([lo, top])))
            bounded = st.integers(min_value=lo - 1, max_value=min(hi, 2**40) + 1)
            return draw(st.one_of(bounded, st.sampled_from([lo, hi, lo - 1, hi + 1]), huge_numbers))
        if kind in ("float", "double"):
            return draw(st.floats(0, 1e6) if self.clean else st.one_of(st.floats(), huge_numbers))
        if kind == "boolean":
            return draw(st.booleans())
        if kind == "timestamp":
            sane = st.integers(0, 2**33)
            if self.clean:
                return draw(sane)
            return draw(
                st.one_of(
                    sane,
                    st.integers(-(2**40), 2**40),
                    st.floats(),
                    st.sampled_from(["2024-05-01T00:00:00Z", "2024-13-40", "1e400", "nan", "now"]),
                    st.text(max_size=30),
                )
            )
        return draw(junk)

    def _count(self, lo: int, hi: int) -> st.SearchStrategy[int]:
        if self.clean:
            return st.integers(lo, max(lo, min(hi, 5)))
        return st.integers(0, min(hi + 1, 5))

    def _string(self, name: str, shape: Shape, lo: int, hi: int) -> st.SearchStrategy[Any]:
        meta = shape.metadata
        enum = meta.get("enum")
        if self.clean:
            # Inside the length bounds; a safe alphabet where a pattern constrains it.
            chars = st.characters(min_codepoint=0x21, max_codepoint=0xFF)
            if meta.get("pattern"):
                chars = st.sampled_from(string.ascii_letters + string.digits + "-_")
            sized = st.text(chars, min_size=max(lo, 1), max_size=max(lo, min(hi, 64)))
        else:
            near_max = st.text(min_size=max(hi - 1, 0), max_size=hi + 1)
            sized = st.one_of(
                st.text(min_size=min(lo, 64), max_size=64),
                near_max if hi <= 9000 else st.text(max_size=1),
                st.just("\x00\ud7ff\ue000\U0010ffff"),
            )
        if enum:
            if self.clean:
                return st.sampled_from(enum)
            return st.one_of(st.sampled_from(enum), st.sampled_from(enum).map(str.lower), sized)
        if name.endswith("KeyId") or name == "ResourceId":
            return key_references(self.pool, real_only=self.clean)
        if name == "AliasName":
            aliases = st.builds(lambda t: f"alias/{t}", st.text(max_size=30))
            if self.clean:
                return st.builds(lambda t: f"alias/{t}", sized)
            return st.one_of(aliases, st.sampled_from(["alias/aws/x", "alias/", "x"]), sized)
        if name == "Policy":
            return policies(self.pool)
        if name == "PolicyName":
            return st.one_of(st.just("default"), sized)
        if name in ("Marker", "NextToken"):
            return st.one_of(st.text(max_size=40), st.binary(max_size=30).map(_b64), sized)
        return sized

    def _blob(self, name: str, lo: int, hi: int) -> st.SearchStrategy[Any]:
        cap = 4200  # past Encrypt's 4,096-byte plaintext limit, well inside the body limit
        choices: list[st.SearchStrategy[Any]]
        if self.clean:
            top = max(lo, min(hi, cap))
            choices = [
                st.binary(min_size=lo, max_size=min(top, 64)).map(_b64),
                st.integers(lo, top).map(lambda n: _b64(b"\xa5" * n)),
            ]
        else:
            choices = [
                st.binary(min_size=min(max(lo - 1, 0), 64), max_size=64).map(_b64),
                st.integers(min(max(hi - 2, 0), cap), min(hi + 2, cap)).map(
                    lambda n: _b64(b"\xa5" * n)
                ),
                st.sampled_from(BAD_BASE64),
                st.binary(max_size=16).map(lambda b: base64.urlsafe_b64encode(b).decode()),
            ]
        if "Ciphertext" in name and self.pool.ciphertexts:
            blobs = st.sampled_from(self.pool.ciphertexts)
            mutated = blobs.flatmap(mutated_bytes)
            choices[:0] = [blobs.map(_b64), mutated.map(_b64), mutated.map(_b64)]
        return st.one_of(*choices)


def _bounds(shape: Shape) -> tuple[int, int]:
    return int(shape.metadata.get("min", 0)), int(shape.metadata.get("max", 10_000))


@st.composite
def encoded(draw: st.DrawFn, value: Any) -> bytes:
    """The JSON text of `value`, usually as is, sometimes corrupted."""
    text = json.dumps(value, allow_nan=True, ensure_ascii=draw(st.booleans()))
    data = text.encode("utf-8", "surrogatepass")
    kind = draw(
        st.sampled_from(
            ["plain"] * 6 + ["bad-utf8", "cut", "nest", "bom", "utf16", "trail", "dupe", "surr"]
        )
    )
    if kind == "plain":
        return data
    index = draw(st.integers(0, len(data)))
    if kind == "bad-utf8":
        junk_bytes = draw(st.sampled_from([b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]))
        return data[:index] + junk_bytes + data[index:]
    if kind == "cut":
        return data[:index]
    if kind == "nest":
        depth = draw(st.sampled_from([10, 500, 1023, 1024, 1025, 5000]))
        return b'{"X":' * depth + data + b"}" * depth
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "utf16":
        return text.encode("utf-16")
    if kind == "trail":
        return data + draw(st.sampled_from([b" ", b"x", b"{}", b"\x00", b"\n\n"]))
    if kind == "dupe" and data.startswith(b"{") and len(data) > 2:
        return data[:-1] + b', "KeyId": null}'  # a member twice
    if kind == "surr" and data.startswith(b"{") and len(data) > 2:
        lone = draw(
            st.sampled_from([b'"\\ud800"', b'"\\udfff"', b'"\\u0000"', b'"\\uD83D\\uDE00"'])
        )
        return b'{"KeyId": ' + lone + b', "Description": ' + lone + b"," + data[1:]
    return data


@dataclass(frozen=True)
class ServiceTargets:
    name: str
    prefix: str
    model: ServiceModel


def service_targets() -> list[ServiceTargets]:
    session = botocore.session.get_session()
    return [
        ServiceTargets("kms", KMS_PREFIX, session.get_service_model("kms")),
        ServiceTargets("cloudtrail", CLOUDTRAIL_PREFIX, session.get_service_model("cloudtrail")),
    ]


_SERVICES = service_targets()
SERVED: dict[str, frozenset[str]] = {
    "kms": frozenset(KMS_HANDLED),
    "cloudtrail": frozenset({"LookupEvents"}),
}
_KMS = _SERVICES[0]
KMS_TARGETS = [f"{KMS_PREFIX}.{op}" for op in _KMS.model.operation_names]


def model_requests(pool: Pool) -> st.SearchStrategy[Plan]:
    """(b) Signed bodies drawn from the model of the operation they target."""
    operations = [
        (service, op_name) for service in _SERVICES for op_name in service.model.operation_names
    ]
    # Operations a provider serves are drawn three times as often as the rest,
    # which are refused as unsupported before any provider code runs.
    served = [(s, op) for s, op in operations if op in SERVED.get(s.name, ())]
    operations += served + served
    modes = {
        "clean": ModelValues(pool, clean=True),
        "typed": ModelValues(pool, clean=False, junk_rate=8),
        "wild": ModelValues(pool, clean=False, junk_rate=3),
    }

    @st.composite
    def plans(draw: st.DrawFn) -> Plan:
        service, op_name = draw(st.sampled_from(operations))
        mode = draw(st.sampled_from(["clean", "clean", "typed", "wild"]))
        values = modes[mode]
        shape = service.model.operation_model(op_name).input_shape
        body = draw(junk) if shape is None else values.structure(draw, shape)
        data = draw(encoded(body)) if mode == "wild" else json.dumps(body).encode()
        target = f"{service.prefix}.{op_name}"
        return Plan(label=f"model {mode} {target}", target=target, body=data, service=service.name)

    return plans()


def targets() -> st.SearchStrategy[str | None]:
    ops = [op for service in _SERVICES for op in service.model.operation_names]
    return st.one_of(
        st.sampled_from(KMS_TARGETS),
        st.builds(lambda op: f"{KMS_PREFIX}.{op}", st.text(header_chars, max_size=30)),
        st.builds(
            lambda p, op: f"{p}.{op}", st.text(header_chars, max_size=30), st.sampled_from(ops)
        ),
        st.sampled_from(
            [
                "",
                " ",
                ".",
                "..",
                KMS_PREFIX,
                f"{KMS_PREFIX}.",
                f"{KMS_PREFIX}..Encrypt",
                f"{KMS_PREFIX}.encrypt",
                "trentservice.Encrypt",
                f" {KMS_PREFIX}.ListKeys",
                f"{KMS_PREFIX}.ListKeys ",
                f"{CLOUDTRAIL_PREFIX}.LookupEvents",
                f"{CLOUDTRAIL_PREFIX}.CreateTrail",
                "secretsmanager.GetSecretValue",
                "AmazonSSM.GetParameter",
                f"{KMS_PREFIX}.__init__",
                f"{KMS_PREFIX}.Encrypt.x",
                f"{KMS_PREFIX}/Encrypt",
                "TrentService\u00e9.Encrypt",
            ]
        ),  # fmt: skip
        header_text,
        st.integers(1000, 60_000).map(lambda n: f"{KMS_PREFIX}." + "A" * n),
        st.none(),
    )


def target_requests() -> st.SearchStrategy[Plan]:
    """(a) Signed requests with every kind of X-Amz-Target."""
    body = st.one_of(st.just({}), st.just({"KeyId": "alias/x"}), junk).flatmap(encoded)
    return st.builds(
        Plan,
        label=st.just("target"),
        target=targets(),
        body=body,
        content_type=content_types(),
    )


def content_types() -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.just(JSON_11),
        st.sampled_from(
            [
                "application/x-amz-json-1.0",
                "application/json",
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/x-amz-json-1.1; charset=utf-16",
                "",
                "*/*",
            ]
        ),  # fmt: skip
        header_text,
        st.none(),
    )


_TIMESTAMPS = [
    "", "0", "20240101T000000Z", "20241301T000000Z", "20240132T000000Z", "20240101T250000Z",
    "20240101T006000Z", "20240101T000061Z", "00000101T000000Z", "99991231T235959Z",
    "2024-01-01T00:00:00Z", "20240101T000000", "20240101 000000Z", "20240101T000000z",
    "２０２４0101T000000Z", "+0240101T000000Z", "20240101T000000Z\u00e9",
]  # fmt: skip
_HTTP_DATES = [
    "Mon, 01 Jan 99999 00:00:00 GMT", "Mon, 01 Jan 10000 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT",
    "Mon, 01 Jan 1900 00:00:00 GMT", "Thu, 01 Jan 1970 00:00:00 GMT",
    "Mon, 99 Jan 2024 99:99:99 GMT", "Mon, 01 Jan 2024 00:00:00 +9999",
    "Mon, 01 Jan 2024 00:00:00 -9999", "Mon, 01 Jan 2024 00:00:00 XYZ", "0", "now", "",
    "Mon, 01 Jan 2024", "Mon, 01 Jan 99999999999999999999 00:00:00 GMT",
]  # fmt: skip


def _amz_dates() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(_TIMESTAMPS),
        st.builds(
            lambda y, mo, d, h, mi, s: f"{y:04d}{mo:02d}{d:02d}T{h:02d}{mi:02d}{s:02d}Z",
            st.integers(0, 9999),
            st.integers(0, 99),
            st.integers(0, 99),
            st.integers(0, 99),
            st.integers(0, 99),
            st.integers(0, 99),
        ),
        header_text,
    )


def _http_dates() -> st.SearchStrategy[str]:
    months = st.sampled_from(["Jan", "Feb", "Dec", "Foo"])
    return st.one_of(
        st.sampled_from(_HTTP_DATES),
        st.builds(
            lambda d, m, y, h, z: f"Mon, {d} {m} {y} {h}:00:00 {z}",
            st.integers(-1, 99),
            months,
            st.integers(-10, 10**12),
            st.integers(-1, 99),
            st.sampled_from(["GMT", "UTC", "+0000", "-2400", "+9959", "EST", ""]),
        ),
        header_text,
    )


@st.composite
def _authorization(draw: st.DrawFn) -> str:
    """An Authorization value built from junk-or-near-valid parts."""
    algorithm = draw(
        st.one_of(st.sampled_from(["AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512", "AWS", ""]), header_text)
    )
    parts = draw(
        st.lists(
            st.one_of(
                st.sampled_from(
                    [
                        "AKIAGARRISONTEST0001",
                        "AKIAUNKNOWN",
                        "",
                        "20240101",
                        "us-east-1",
                        "kms",
                        "aws4_request",
                        "s3",
                        "é",
                        "../..",
                    ]
                ),  # fmt: skip
                st.text(header_chars, max_size=12),
            ),
            max_size=7,
        )
    )
    credential = "/".join(parts)
    signed = draw(
        st.one_of(
            st.sampled_from(["host", "host;x-amz-date", "", ";", "HOST", "host;;x-amz-target"]),
            st.lists(st.one_of(token_text, st.just("host")), max_size=4).map(";".join),
        )
    )
    signature = draw(st.one_of(st.text("0123456789abcdef", min_size=64, max_size=64), header_text))
    fields = [f"Credential={credential}", f"SignedHeaders={signed}", f"Signature={signature}"]
    fields = draw(st.permutations(fields))
    count = draw(st.integers(0, 3))
    separator = draw(st.sampled_from([", ", ",", " ", ",,"]))
    return f"{algorithm} {separator.join(fields[:count])}".strip()


_EDIT_NAMES = [
    "authorization", "x-amz-date", "date", "x-amz-target", "content-type",
    "x-amz-content-sha256", "x-amz-security-token", "host", "user-agent", "X-Amz-Target",
]  # fmt: skip


def _edits() -> st.SearchStrategy[tuple[Edit, ...]]:
    value = st.one_of(header_text, _amz_dates(), _http_dates(), _authorization())
    edit = st.one_of(
        st.tuples(st.just("drop"), st.sampled_from(_EDIT_NAMES), st.just("")),
        st.tuples(st.sampled_from(["set", "add"]), st.sampled_from(_EDIT_NAMES), value),
        st.tuples(st.just("set"), st.just("authorization"), _authorization()),
        st.tuples(st.just("set"), st.just("x-amz-date"), _amz_dates()),
        st.tuples(st.just("set"), st.just("date"), _http_dates()),
        st.tuples(st.just("add"), token_text, header_text),
    )
    date_only = st.just((("drop", "x-amz-date", ""),)).flatmap(
        lambda drop: _http_dates().map(lambda d: (*drop, ("set", "date", d)))
    )
    return st.one_of(st.lists(edit, max_size=3).map(tuple), date_only)


def _query_suffixes() -> st.SearchStrategy[str]:
    param = st.sampled_from(
        [
            "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
            "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Security-Token", "Action",
        ]
    )  # fmt: skip
    value = st.one_of(
        st.sampled_from(
            [
                "",
                "%",
                "%zz",
                "%ff",
                "%00",
                "+",
                "AWS4-HMAC-SHA256",
                "0",
                "604801",
                "host%3B%C4%80",
                "host%3Bx-amz-date",
                "HOST",
                "%C3%A9",
                "%F0%9F%94%91",
                "host%3B%FF",
                "%E2%80%A8",
            ]
        ),  # fmt: skip
        st.text(string.ascii_letters + string.digits + "%-_.~+/=", max_size=30),
        st.text(header_chars, max_size=10).map(lambda t: quote(t, safe="")),
    )
    pair = st.builds(lambda p, v: f"&{p}={v}", param, value)
    return st.one_of(st.just(""), st.lists(pair, max_size=3).map("".join))


def auth_requests() -> st.SearchStrategy[Plan]:
    """(c) Well-formed bodies behind broken signatures, headers and scopes."""
    offsets = st.one_of(
        st.just(0.0),
        st.sampled_from([-901.0, 899.0, 901.0, -899.0, 86_400.0 * 400, -86_400.0 * 3650]),
        st.floats(-1e9, 1e9),
    )
    region = st.one_of(
        st.just("us-east-1"),
        st.sampled_from(["eu-west-1", "", "x" * 33, "us-east-1 ", "US-EAST-1", "a/b"]),
        st.text(header_chars, max_size=40),
    )
    service = st.one_of(st.just("kms"), st.sampled_from(["s3", "sts", "", "KMS"]), token_text)
    access_key = st.one_of(
        st.none(), st.sampled_from(["AKIAUNKNOWN0000000000", "", "é"]), st.text(header_chars)
    )
    extra = st.lists(
        st.tuples(
            st.sampled_from(["X-Amz-Security-Token", "X-Amz-Content-SHA256", "Date", "Expect"]),
            st.one_of(
                st.sampled_from(["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"]),
                st.text("0123456789abcdef", min_size=64, max_size=64),
                header_text,
            ),
        ),
        max_size=2,
        unique_by=lambda pair: pair[0],
    ).map(tuple)
    return st.builds(
        Plan,
        label=st.just("auth"),
        target=st.just("TrentService.ListKeys"),
        body=st.just(b"{}"),
        method=st.sampled_from(["POST", "POST", "GET", "PUT", "DELETE", "PATCH", "OPTIONS"]),
        path=st.sampled_from(
            ["/", "/", "//", "/a/../", "/%2F", "/kms", "/?", "/?a=b&a=c", "/%C3%A9"]
        ),
        sign=st.sampled_from(["header", "header", "query", "none"]),
        edits=_edits(),
        signed_offset=offsets,
        region=region,
        service=service,
        access_key=access_key,
        token=st.one_of(st.none(), header_text),
        expires=st.one_of(st.integers(1, 604_800), st.sampled_from([0, 604_801, -1])),
        extra=extra,
        query_suffix=_query_suffixes(),
    )


def raw_requests() -> st.SearchStrategy[Plan]:
    """(d) Random bytes as the body, signed (so they reach the parser) or not."""
    body = st.one_of(
        st.binary(max_size=2048),
        st.binary(max_size=64).map(lambda b: b"{" + b),
        st.sampled_from([b"", b" ", b"\n", b"null", b"[]", b"1", b'"x"', b"{}}", b"\x00"]),
    )
    return st.builds(
        Plan,
        label=st.just("raw"),
        target=st.one_of(st.sampled_from(KMS_TARGETS), st.none()),
        body=body,
        sign=st.sampled_from(["header", "header", "none"]),
    )


# The node's own endpoints that change nothing (reset, clock and scheduler/run
# are dev-only and are only ever sent GET here, which they refuse).
_INTERNAL_PATHS = [
    "/_garrison/health", "/_garrison/unseal", "/_garrison/reset", "/_garrison/clock",
    "/_garrison/scheduler/run", "/_garrison/", "/_garrison/x", "/_garrison/health/",
]  # fmt: skip
_INTERNAL_SAFE_POST = ["/_garrison/health", "/_garrison/unseal", "/_garrison/", "/_garrison/x"]


def internal_requests() -> st.SearchStrategy[Plan]:
    """The /_garrison/ endpoints: random bodies, never a destructive call.

    Their answers are plain JSON (not AWS errors); the property is the same
    otherwise: no 5xx, a JSON object, and the node still healthy.
    """
    body = st.one_of(
        junk.map(lambda value: json.dumps(value).encode()),
        st.fixed_dictionaries(
            {}, optional={"key": junk, "reset": junk, "advance_seconds": junk}
        ).map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=64),
    )
    post = st.builds(
        Plan,
        label=st.just("internal"),
        path=st.sampled_from(_INTERNAL_SAFE_POST),
        body=body,
        sign=st.just("none"),
        target=st.none(),
    )
    get = st.builds(
        Plan,
        label=st.just("internal"),
        method=st.just("GET"),
        path=st.sampled_from(_INTERNAL_PATHS),
        body=st.just(b""),
        sign=st.just("none"),
        target=st.none(),
    )
    return st.one_of(post, get)


STRATEGIES: dict[str, Callable[[Pool], st.SearchStrategy[Plan]]] = {
    "targets": lambda pool: target_requests(),
    "model": model_requests,
    "auth": lambda pool: auth_requests(),
    "raw": lambda pool: raw_requests(),
    "internal": lambda pool: internal_requests(),
}


def seed_pool(kms: Any) -> Pool:
    """Keys in each state, aliases and ciphertexts, made with boto3 `kms`."""
    pool = Pool()
    for index, state in enumerate(["enabled", "enabled", "disabled", "pending"]):
        meta = kms.create_key(Description=f"fuzz {state}")["KeyMetadata"]
        key_id = meta["KeyId"]
        pool.key_ids.append(key_id)
        pool.key_arns.append(meta["Arn"])
        pool.account_id = meta["AWSAccountId"]
        alias = f"alias/fuzz-{index}-{key_id[:8]}"
        kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        pool.alias_names.append(alias)
        for context in ({}, {"purpose": "fuzz", "k": "v"}):
            blob = kms.encrypt(
                KeyId=key_id, Plaintext=b"fuzz" * (index + 1), EncryptionContext=context
            )
            pool.ciphertexts.append(blob["CiphertextBlob"])
        if state == "disabled":
            kms.disable_key(KeyId=key_id)
        elif state == "pending":
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=30)
    return pool


# -- valid calls in random order ---------------------------------------------------------

context_text = st.text(min_size=1, max_size=20)
contexts = st.dictionaries(context_text, context_text, max_size=4)


class KmsCalls(RuleBasedStateMachine):
    """Random sequences of valid KMS calls; every answer is a success or a 4xx.

    A model of each key's state says which calls must succeed: Decrypt of a
    ciphertext from a key that is enabled returns the plaintext it encrypted.
    """

    kms: Any = None  # a boto3 KMS client; see `kms_calls`
    wire: FuzzClient | None = None
    keys = Bundle("keys")
    ciphertexts = Bundle("ciphertexts")

    def __init__(self) -> None:
        super().__init__()
        self.enabled: dict[str, bool] = {}

    def call(self, operation: str, **params: Any) -> dict[str, Any] | None:
        try:
            response: dict[str, Any] = getattr(self.kms, operation)(**params)
        except ClientError as err:
            status = err.response["ResponseMetadata"]["HTTPStatusCode"]
            assert status < 500, (operation, err.response["Error"])
            return None
        return response

    @initialize(target=keys)
    def first_key(self) -> str:
        return self.create_key_with(description="", tags=[])

    @rule(
        target=keys,
        description=st.text(max_size=200),
        tags=st.lists(
            st.tuples(st.text(min_size=1, max_size=128), st.text(max_size=256)), max_size=3
        ),
    )
    def create_key(self, description: str, tags: list[tuple[str, str]]) -> Any:
        return self.create_key_with(description, tags)

    def create_key_with(self, description: str, tags: list[tuple[str, str]]) -> Any:
        made = self.call(
            "create_key",
            Description=description,
            Tags=[{"TagKey": k, "TagValue": v} for k, v in tags],
        )
        if made is None:
            return multiple()  # nothing made: no key for the bundle
        key_id = made["KeyMetadata"]["KeyId"]
        self.enabled[key_id] = True
        return key_id

    @rule(
        target=ciphertexts,
        key=keys,
        plaintext=st.binary(min_size=1, max_size=4096),
        context=contexts,
    )
    def encrypt(self, key: str, plaintext: bytes, context: dict[str, str]) -> Any:
        out = self.call("encrypt", KeyId=key, Plaintext=plaintext, EncryptionContext=context)
        if self.enabled[key]:
            assert out is not None or context, "Encrypt under an enabled key failed"
        if out is None:
            return multiple()
        return (key, out["CiphertextBlob"], plaintext, context)

    @rule(item=ciphertexts)
    def decrypt(self, item: tuple[str, bytes, bytes, dict[str, str]]) -> None:
        key, blob, plaintext, context = item
        out = self.call("decrypt", CiphertextBlob=blob, EncryptionContext=context)
        if self.enabled[key]:
            assert out is not None and out["Plaintext"] == plaintext
            assert out["KeyId"].endswith(key)
        else:
            assert out is None

    @rule(item=ciphertexts, context=contexts)
    def decrypt_with_other_context(
        self, item: tuple[str, bytes, bytes, dict[str, str]], context: dict[str, str]
    ) -> None:
        key, blob, _, original = item
        out = self.call("decrypt", CiphertextBlob=blob, EncryptionContext=context)
        if context != original:
            assert out is None

    @rule(item=ciphertexts, destination=keys, context=contexts)
    def re_encrypt(
        self, item: tuple[str, bytes, bytes, dict[str, str]], destination: str, context: Any
    ) -> None:
        key, blob, plaintext, original = item
        out = self.call(
            "re_encrypt",
            CiphertextBlob=blob,
            SourceEncryptionContext=original,
            DestinationKeyId=destination,
            DestinationEncryptionContext=context,
        )
        if out is not None:
            back = self.call(
                "decrypt", CiphertextBlob=out["CiphertextBlob"], EncryptionContext=context
            )
            assert back is not None and back["Plaintext"] == plaintext

    @rule(key=keys, size=st.one_of(st.integers(1, 1024), st.sampled_from(["AES_256", "AES_128"])))
    def generate_data_key(self, key: str, size: int | str) -> None:
        params: dict[str, Any] = {"KeyId": key}
        params["NumberOfBytes" if isinstance(size, int) else "KeySpec"] = size
        out = self.call("generate_data_key", **params)
        if out is not None:
            back = self.call("decrypt", CiphertextBlob=out["CiphertextBlob"])
            assert back is not None and back["Plaintext"] == out["Plaintext"]

    @rule(key=keys)
    def disable(self, key: str) -> None:
        if self.call("disable_key", KeyId=key) is not None:
            self.enabled[key] = False

    @rule(key=keys)
    def enable(self, key: str) -> None:
        if self.call("enable_key", KeyId=key) is not None:
            self.enabled[key] = True

    @rule(key=keys, days=st.integers(7, 30))
    def schedule_then_cancel_deletion(self, key: str, days: int) -> None:
        if self.call("schedule_key_deletion", KeyId=key, PendingWindowInDays=days) is None:
            return
        self.call("cancel_key_deletion", KeyId=key)  # leaves the key disabled, as AWS
        self.enabled[key] = False

    @rule(
        key=keys, name=st.text("abcdefghijklmnopqrstuvwxyz0123456789/_-", min_size=1, max_size=40)
    )
    def alias(self, key: str, name: str) -> None:
        self.call("create_alias", AliasName=f"alias/{name}", TargetKeyId=key)
        self.call("describe_key", KeyId=f"alias/{name}")

    @rule(key=keys, tag=st.text(min_size=1, max_size=128), value=st.text(max_size=256))
    def tag_untag(self, key: str, tag: str, value: str) -> None:
        self.call("tag_resource", KeyId=key, Tags=[{"TagKey": tag, "TagValue": value}])
        self.call("list_resource_tags", KeyId=key)
        self.call("untag_resource", KeyId=key, TagKeys=[tag])

    @rule(size=st.integers(1, 1024))
    def generate_random(self, size: int) -> None:
        out = self.call("generate_random", NumberOfBytes=size)
        assert out is not None and len(out["Plaintext"]) == size

    @rule(key=keys)
    def describe(self, key: str) -> None:
        out = self.call("describe_key", KeyId=key)
        assert out is not None
        assert out["KeyMetadata"]["Enabled"] == self.enabled[key]

    @invariant()
    def healthy(self) -> None:
        if self.wire is not None:
            self.wire.check_health()


def kms_calls(kms: Any, wire: FuzzClient | None) -> type[KmsCalls]:
    """The machine bound to boto3 client `kms` (and `wire`, for the health check)."""
    return type("KmsCalls", (KmsCalls,), {"kms": kms, "wire": wire})
