"""EventBridge connections and API destinations, and delivery to a real HTTP receiver.

A `Receiver` (an `http.server` on 127.0.0.1 in the test process) records every
request it gets and answers with the statuses a test queues; it also serves an
OAuth client-credentials token endpoint. The server runs in dev mode, where plain
HTTP targets are allowed; one test runs an HTTPS receiver with a self-signed
certificate the server is told to trust. Retries are made due by moving the
server's clock and running the scheduler, never by sleeping.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ACCESS_KEY_ID, ACCOUNT_ID, REGION, SECRET_ACCESS_KEY, ServerProcess
from tests.e2e.helpers import error, iam_user, name, session_client

CLIENT_ID = "garrison-client"
CLIENT_SECRET = "oauth-client-secret-value"  # noqa: S105 - a test's own secret
API_KEY_VALUE = "api-key-secret-value"
PASSWORD = "basic-password-value"  # noqa: S105


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = field(default_factory=time.monotonic)


@dataclass
class Receiver:
    """A tiny HTTP(S) server recording requests; `statuses` answers them in order (then 200)."""

    port: int = 0
    tls: tuple[Path, Path] | None = None
    requests: list[Seen] = field(default_factory=list)
    token_requests: list[Seen] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    tokens_issued: int = 0
    httpd: ThreadingHTTPServer | None = None

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                if self.path.startswith("/token"):
                    receiver.token_requests.append(seen)
                    expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                    if seen.headers.get("authorization") != f"Basic {expected}":
                        self._answer(401, b'{"error":"invalid_client"}')
                        return
                    receiver.tokens_issued += 1
                    token = f"token-{receiver.tokens_issued}"
                    self._answer(
                        200, json.dumps({"access_token": token, "expires_in": 3600}).encode()
                    )
                    return
                receiver.requests.append(seen)
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self._answer(status, b"{}")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = do_PUT = do_GET = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[Seen]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.requests) >= count:
                return self.requests
            time.sleep(0.05)
        raise AssertionError(f"expected {count} request(s), got {len(self.requests)}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.fixture
def events(server: ServerProcess) -> Any:
    return server.client("events")


# -- helpers ------------------------------------------------------------------------------------
def api_key_connection(events: Any, header: str = "x-api-key") -> dict[str, Any]:
    conn_name = name("conn")
    out = events.create_connection(
        Name=conn_name,
        AuthorizationType="API_KEY",
        AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": header, "ApiKeyValue": API_KEY_VALUE}
        },
    )
    return {"Name": conn_name, **out}


def destination(events: Any, connection_arn: str, endpoint: str, method: str = "POST") -> str:
    out = events.create_api_destination(
        Name=name("dest"),
        ConnectionArn=connection_arn,
        InvocationEndpoint=endpoint,
        HttpMethod=method,
    )
    arn: str = out["ApiDestinationArn"]
    return arn


def rule_to(events: Any, target_arn: str, source: str, **target: Any) -> str:
    rule = name("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "t1", "Arn": target_arn, **target}])
    return rule


def put_event(events: Any, source: str, detail: dict[str, Any] | None = None) -> str:
    out = events.put_events(
        Entries=[
            {
                "Source": source,
                "DetailType": "Test Event",
                "Detail": json.dumps(detail or {"n": 1}),
            }
        ]
    )
    assert out["FailedEntryCount"] == 0, out
    event_id: str = out["Entries"][0]["EventId"]
    return event_id


def dead_letters(server: ServerProcess) -> list[dict[str, Any]]:
    done = server.cli("events", "dead-letters", "--json", "--account", ACCOUNT_ID)
    assert done.returncode == 0, done.stderr
    rows: list[dict[str, Any]] = json.loads(done.stdout)["DeadLetters"]
    return rows


# -- connections ----------------------------------------------------------------------------------
def test_connection_lifecycle_never_shows_secrets(events: Any) -> None:
    conn = api_key_connection(events)
    assert conn["ConnectionState"] == "AUTHORIZED"
    assert conn["ConnectionArn"].startswith(
        f"arn:aws:events:{REGION}:{ACCOUNT_ID}:connection/{conn['Name']}/"
    )
    described = events.describe_connection(Name=conn["Name"])
    assert described["AuthorizationType"] == "API_KEY"
    assert described["AuthParameters"]["ApiKeyAuthParameters"] == {"ApiKeyName": "x-api-key"}
    assert API_KEY_VALUE not in json.dumps(described, default=str)

    listed = events.list_connections(NamePrefix=conn["Name"])["Connections"]
    assert [c["Name"] for c in listed] == [conn["Name"]]
    assert listed[0]["AuthorizationType"] == "API_KEY"

    events.update_connection(Name=conn["Name"], Description="updated")
    assert events.describe_connection(Name=conn["Name"])["Description"] == "updated"

    out = events.deauthorize_connection(Name=conn["Name"])
    assert out["ConnectionState"] == "DEAUTHORIZING"
    assert events.describe_connection(Name=conn["Name"])["ConnectionState"] == "DEAUTHORIZED"
    # a new description leaves it deauthorized
    events.update_connection(Name=conn["Name"], Description="still off")
    assert events.describe_connection(Name=conn["Name"])["ConnectionState"] == "DEAUTHORIZED"
    # new authorisation parameters authorise it again
    events.update_connection(
        Name=conn["Name"],
        AuthParameters={"ApiKeyAuthParameters": {"ApiKeyName": "x-key", "ApiKeyValue": "new"}},
    )
    again = events.describe_connection(Name=conn["Name"])
    assert again["ConnectionState"] == "AUTHORIZED"
    assert again["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyName"] == "x-key"

    assert events.delete_connection(Name=conn["Name"])["ConnectionState"] == "DELETING"
    with pytest.raises(ClientError) as exc:
        events.describe_connection(Name=conn["Name"])
    assert error(exc) == ("ResourceNotFoundException", 400)


def test_secret_http_parameters_are_hidden_and_basic_and_oauth_shapes(events: Any) -> None:
    basic = name("basic")
    events.create_connection(
        Name=basic,
        AuthorizationType="BASIC",
        AuthParameters={
            "BasicAuthParameters": {"Username": "alice", "Password": PASSWORD},
            "InvocationHttpParameters": {
                "HeaderParameters": [
                    {"Key": "X-Team", "Value": "blue", "IsValueSecret": False},
                    {"Key": "X-Secret", "Value": "hidden-value", "IsValueSecret": True},
                ]
            },
        },
    )
    d = events.describe_connection(Name=basic)
    text = json.dumps(d, default=str)
    assert PASSWORD not in text and "hidden-value" not in text
    headers = d["AuthParameters"]["InvocationHttpParameters"]["HeaderParameters"]
    assert headers[0]["Value"] == "blue" and "Value" not in headers[1]

    oauth = name("oauth")
    out = events.create_connection(
        Name=oauth,
        AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
        AuthParameters={
            "OAuthParameters": {
                "ClientParameters": {"ClientID": CLIENT_ID, "ClientSecret": CLIENT_SECRET},
                "AuthorizationEndpoint": "https://auth.example.com/token",
                "HttpMethod": "POST",
            }
        },
    )
    assert out["ConnectionState"] == "AUTHORIZING"
    d = events.describe_connection(Name=oauth)
    assert d["AuthParameters"]["OAuthParameters"]["ClientParameters"] == {"ClientID": CLIENT_ID}
    assert CLIENT_SECRET not in json.dumps(d, default=str)
    states = {c["Name"]: c["ConnectionState"] for c in events.list_connections()["Connections"]}
    assert states[oauth] == "AUTHORIZING" and states[basic] == "AUTHORIZED"
    only = events.list_connections(ConnectionState="AUTHORIZING")["Connections"]
    assert oauth in [c["Name"] for c in only] and basic not in [c["Name"] for c in only]


def test_list_connections_pages(events: Any) -> None:
    prefix = name("page")
    for i in range(3):
        events.create_connection(
            Name=f"{prefix}-{i}",
            AuthorizationType="BASIC",
            AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}},
        )
    first = events.list_connections(NamePrefix=prefix, Limit=2)
    assert len(first["Connections"]) == 2 and "NextToken" in first
    second = events.list_connections(NamePrefix=prefix, Limit=2, NextToken=first["NextToken"])
    assert [c["Name"] for c in second["Connections"]] == [f"{prefix}-2"]
    assert "NextToken" not in second


# -- API destinations -----------------------------------------------------------------------------
def test_api_destination_lifecycle(events: Any) -> None:
    conn = api_key_connection(events)
    dest = name("dest")
    created = events.create_api_destination(
        Name=dest,
        ConnectionArn=conn["ConnectionArn"],
        InvocationEndpoint="https://hooks.example.com/in/*",
        HttpMethod="PUT",
        InvocationRateLimitPerSecond=5,
        Description="first",
    )
    assert created["ApiDestinationState"] == "ACTIVE"
    assert created["ApiDestinationArn"].startswith(
        f"arn:aws:events:{REGION}:{ACCOUNT_ID}:api-destination/{dest}/"
    )
    d = events.describe_api_destination(Name=dest)
    assert (d["HttpMethod"], d["InvocationRateLimitPerSecond"], d["Description"]) == (
        "PUT",
        5,
        "first",
    )
    assert d["ConnectionArn"] == conn["ConnectionArn"]

    events.update_api_destination(Name=dest, HttpMethod="POST", InvocationRateLimitPerSecond=10)
    d = events.describe_api_destination(Name=dest)
    assert (d["HttpMethod"], d["InvocationRateLimitPerSecond"]) == ("POST", 10)
    assert d["InvocationEndpoint"] == "https://hooks.example.com/in/*"

    by_conn = events.list_api_destinations(ConnectionArn=conn["ConnectionArn"])["ApiDestinations"]
    assert [x["Name"] for x in by_conn] == [dest]
    assert events.list_api_destinations(NamePrefix=dest)["ApiDestinations"][0]["Name"] == dest

    events.delete_api_destination(Name=dest)
    with pytest.raises(ClientError) as exc:
        events.describe_api_destination(Name=dest)
    assert error(exc) == ("ResourceNotFoundException", 400)
    assert events.describe_api_destination.__name__  # the client is still usable
    default = events.create_api_destination(
        Name=name("dflt"),
        ConnectionArn=conn["ConnectionArn"],
        InvocationEndpoint="https://hooks.example.com/",
        HttpMethod="POST",
    )
    got = events.describe_api_destination(Name=default["ApiDestinationArn"].split("/")[1])
    assert got["InvocationRateLimitPerSecond"] == 300  # AWS's default


# -- bad input ---------------------------------------------------------------------------
def _bad(call: Any, **kwargs: Any) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    return error(exc)


def test_bad_input(server: ServerProcess, events: Any) -> None:
    conn = api_key_connection(events)
    # boto3's own parameter checks off: the server must refuse by itself
    events = boto3.client(
        "events",
        endpoint_url=server.endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key=SECRET_ACCESS_KEY,
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )
    basic = {"BasicAuthParameters": {"Username": "u", "Password": "p"}}
    https = "https://hooks.example.com/"
    create = events.create_connection
    create_dest = events.create_api_destination
    cases: list[tuple[tuple[str, int], Any, dict[str, Any]]] = [
        # 1 a name with a character the model refuses
        (
            ("ValidationException", 400),
            create,
            {"Name": "bad name!", "AuthorizationType": "BASIC", "AuthParameters": basic},
        ),
        # 2 parameters of another authorisation type
        (
            ("ValidationException", 400),
            create,
            {"Name": name("c"), "AuthorizationType": "API_KEY", "AuthParameters": basic},
        ),
        # 3 an unknown authorisation type
        (
            ("ValidationException", 400),
            create,
            {"Name": name("c"), "AuthorizationType": "DIGEST", "AuthParameters": basic},
        ),
        # 4 a name taken
        (
            ("ResourceAlreadyExistsException", 400),
            create,
            {"Name": conn["Name"], "AuthorizationType": "BASIC", "AuthParameters": basic},
        ),
        # 5 OAuth without https
        (
            ("ValidationException", 400),
            create,
            {
                "Name": name("c"),
                "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS",
                "AuthParameters": {
                    "OAuthParameters": {
                        "ClientParameters": {"ClientID": "a", "ClientSecret": "b"},
                        "AuthorizationEndpoint": "ftp://x.example.com/t",
                        "HttpMethod": "POST",
                    }
                },
            },
        ),
        # 6 KmsKeyIdentifier: not implemented, refused by name
        (
            ("UnsupportedOperationException", 400),
            create,
            {
                "Name": name("c"),
                "AuthorizationType": "BASIC",
                "AuthParameters": basic,
                "KmsKeyIdentifier": "alias/mine",
            },
        ),
        # 7 a destination whose connection does not exist
        (
            ("ResourceNotFoundException", 400),
            create_dest,
            {
                "Name": name("d"),
                "ConnectionArn": conn["ConnectionArn"][:-4] + "ffff",
                "InvocationEndpoint": https,
                "HttpMethod": "POST",
            },
        ),
        # 8 a method AWS does not offer
        (
            ("ValidationException", 400),
            create_dest,
            {
                "Name": name("d"),
                "ConnectionArn": conn["ConnectionArn"],
                "InvocationEndpoint": https,
                "HttpMethod": "TRACE",
            },
        ),
        # 9 a rate limit below 1
        (
            ("ValidationException", 400),
            create_dest,
            {
                "Name": name("d"),
                "ConnectionArn": conn["ConnectionArn"],
                "InvocationEndpoint": https,
                "HttpMethod": "POST",
                "InvocationRateLimitPerSecond": 0,
            },
        ),
        # 10 not a URL
        (
            ("ValidationException", 400),
            create_dest,
            {
                "Name": name("d"),
                "ConnectionArn": conn["ConnectionArn"],
                "InvocationEndpoint": "ftp://files.example.com/x",
                "HttpMethod": "POST",
            },
        ),
        # 11 not a connection ARN
        (
            ("ValidationException", 400),
            create_dest,
            {
                "Name": name("d"),
                "ConnectionArn": "arn:aws:events:us-east-1:123456789012:rule/x",
                "InvocationEndpoint": https,
                "HttpMethod": "POST",
            },
        ),
        # 12 unknown names
        (("ResourceNotFoundException", 400), events.describe_connection, {"Name": name("none")}),
        (("ResourceNotFoundException", 400), events.delete_api_destination, {"Name": name("none")}),
        (("ResourceNotFoundException", 400), events.deauthorize_connection, {"Name": name("none")}),
        # 13 a Limit over 100
        (("ValidationException", 400), events.list_connections, {"Limit": 101}),
        # 14 a NextToken that is not one
        (("ValidationException", 400), events.list_api_destinations, {"NextToken": "%%%"}),
    ]
    for expected, call, kwargs in cases:
        assert _bad(call, **kwargs) == expected, kwargs
    # nothing half-written: the refused names do not exist
    names = {c["Name"] for c in events.list_connections(Limit=100)["Connections"]}
    assert "bad name!" not in names


def test_plain_http_refused_without_the_setting(fresh_server_factory: Any) -> None:
    srv = fresh_server_factory(env={"GARRISON_EVENTS_ALLOW_HTTP_TARGETS": "false"}).start()
    events = srv.client("events")
    conn = api_key_connection(events)
    with pytest.raises(ClientError) as exc:
        destination(events, conn["ConnectionArn"], "http://127.0.0.1:9/hook")
    assert error(exc) == ("ValidationException", 400)
    assert "HTTPS" in exc.value.response["Error"]["Message"]
    # HTTPS is fine
    destination(events, conn["ConnectionArn"], "https://127.0.0.1:9/hook")


# -- delivery ----------------------------------------------------------------------------
def test_api_key_delivery_with_parameters(
    server: ServerProcess, events: Any, receiver: Receiver
) -> None:
    conn_name = name("conn")
    conn = events.create_connection(
        Name=conn_name,
        AuthorizationType="API_KEY",
        AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": API_KEY_VALUE},
            "InvocationHttpParameters": {
                "HeaderParameters": [{"Key": "X-Conn", "Value": "c1", "IsValueSecret": True}],
                "QueryStringParameters": [{"Key": "from", "Value": "conn"}],
            },
        },
    )
    dest = destination(events, conn["ConnectionArn"], receiver.url + "/hooks/*/in")
    source = name("test.app")
    rule_to(
        events,
        dest,
        source,
        HttpParameters={
            "PathParameterValues": ["orders"],
            "HeaderParameters": {"X-Target": "t1"},
            "QueryStringParameters": {"q": "1"},
        },
    )
    event_id = put_event(events, source, {"order": 42})
    seen = receiver.wait_for(1)[0]
    assert seen.method == "POST"
    path, _, query = seen.path.partition("?")
    assert path == "/hooks/orders/in"
    assert sorted(query.split("&")) == ["from=conn", "q=1"]
    assert seen.headers["x-api-key"] == API_KEY_VALUE
    assert seen.headers["x-conn"] == "c1" and seen.headers["x-target"] == "t1"
    assert seen.headers["user-agent"] == "Amazon/EventBridge/ApiDestinations"
    assert seen.headers["content-type"].startswith("application/json")
    body = json.loads(seen.body)
    assert body["id"] == event_id and body["source"] == source and body["detail"] == {"order": 42}
    assert API_KEY_VALUE not in "".join(server.output)  # the server's log


def test_basic_auth_delivery(events: Any, receiver: Receiver) -> None:
    conn = events.create_connection(
        Name=name("basic"),
        AuthorizationType="BASIC",
        AuthParameters={"BasicAuthParameters": {"Username": "alice", "Password": PASSWORD}},
    )
    dest = destination(events, conn["ConnectionArn"], receiver.url + "/basic", method="PUT")
    source = name("test.basic")
    rule_to(events, dest, source)
    put_event(events, source)
    seen = receiver.wait_for(1)[0]
    assert seen.method == "PUT"
    expected = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert seen.headers["authorization"] == f"Basic {expected}"


def test_oauth_delivery_fetches_and_refreshes_the_token(
    server: ServerProcess, events: Any, receiver: Receiver
) -> None:
    conn_name = name("oauth")
    conn = events.create_connection(
        Name=conn_name,
        AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
        AuthParameters={
            "OAuthParameters": {
                "ClientParameters": {"ClientID": CLIENT_ID, "ClientSecret": CLIENT_SECRET},
                "AuthorizationEndpoint": receiver.url + "/token",
                "HttpMethod": "POST",
                "OAuthHttpParameters": {
                    "BodyParameters": [{"Key": "grant_type", "Value": "client_credentials"}]
                },
            }
        },
    )
    assert conn["ConnectionState"] == "AUTHORIZING"
    dest = destination(events, conn["ConnectionArn"], receiver.url + "/oauth")
    source = name("test.oauth")
    rule_to(events, dest, source)
    put_event(events, source)
    seen = receiver.wait_for(1)[0]
    assert seen.headers["authorization"] == "Bearer token-1"
    token_call = receiver.token_requests[0]
    assert b"grant_type=client_credentials" in token_call.body
    described = events.describe_connection(Name=conn_name)
    assert described["ConnectionState"] == "AUTHORIZED" and "LastAuthorizedTime" in described
    assert "token-1" not in json.dumps(described, default=str)

    # the endpoint refuses the token once: a fresh one is fetched and the call repeated
    receiver.statuses.append(401)
    put_event(events, source)
    seen = receiver.wait_for(3)
    assert [s.headers["authorization"] for s in seen[1:3]] == ["Bearer token-1", "Bearer token-2"]
    log = "".join(server.output)
    assert CLIENT_SECRET not in log and "token-1" not in log and "token-2" not in log


def test_down_receiver_gets_the_event_after_it_comes_back(
    server: ServerProcess, events: Any
) -> None:
    receiver = Receiver().start()
    port = receiver.port
    conn = api_key_connection(events)
    dest = destination(events, conn["ConnectionArn"], receiver.url + "/late")
    receiver.stop()
    source = name("test.down")
    rule_to(events, dest, source)
    event_id = put_event(events, source)
    time.sleep(1.0)  # the immediate attempt fails: nobody listens
    back = Receiver(port=port).start()
    try:
        assert back.requests == []
        server.advance(700)  # past the backoff
        server.run_scheduler()
        seen = back.wait_for(1)
        assert json.loads(seen[0].body)["id"] == event_id
    finally:
        back.stop()


def test_exhausted_retries_and_client_errors_land_in_dead_letters(
    server: ServerProcess, events: Any, receiver: Receiver
) -> None:
    conn = api_key_connection(events)
    dest = destination(events, conn["ConnectionArn"], receiver.url + "/fail")
    source = name("test.dead")
    rule = rule_to(events, dest, source, RetryPolicy={"MaximumRetryAttempts": 1})
    receiver.statuses.extend([503, 503])
    event_id = put_event(events, source)
    receiver.wait_for(1)
    server.advance(700)
    server.run_scheduler()
    receiver.wait_for(2)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = [r for r in dead_letters(server) if r["EventId"] == event_id]
        if rows:
            break
        time.sleep(0.2)
    assert len(rows) == 1
    row = rows[0]
    assert (row["Rule"], row["TargetId"], row["TargetArn"], row["Attempts"]) == (
        rule,
        "t1",
        dest,
        2,
    )
    assert "503" in row["Error"] and API_KEY_VALUE not in row["Error"]
    assert json.loads(row["Payload"])["id"] == event_id
    # a 4xx other than 408/429 is not retried
    receiver.statuses.append(400)
    second = put_event(events, source)
    receiver.wait_for(3)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = [r for r in dead_letters(server) if r["EventId"] == second]
        if rows:
            break
        time.sleep(0.2)
    assert rows and rows[0]["Attempts"] == 1 and "400" in rows[0]["Error"]
    text = server.cli("events", "dead-letters", "--account", ACCOUNT_ID)
    assert text.returncode == 0 and event_id in text.stdout


def test_deauthorized_connection_dead_letters_without_calling(
    server: ServerProcess, events: Any, receiver: Receiver
) -> None:
    conn = api_key_connection(events)
    dest = destination(events, conn["ConnectionArn"], receiver.url + "/deauth")
    source = name("test.deauth")
    rule_to(events, dest, source)
    events.deauthorize_connection(Name=conn["Name"])
    event_id = put_event(events, source)
    deadline = time.monotonic() + 10
    rows: list[dict[str, Any]] = []
    while time.monotonic() < deadline and not rows:
        rows = [r for r in dead_letters(server) if r["EventId"] == event_id]
        time.sleep(0.2)
    assert rows and "DEAUTHORIZED" in rows[0]["Error"]
    assert receiver.requests == []


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_delivery_survives_a_restart(fresh_server_factory: Any, backend: str) -> None:
    srv = fresh_server_factory(backend).start()
    events = srv.client("events")
    receiver = Receiver().start()
    port = receiver.port
    conn = api_key_connection(events)
    dest = destination(events, conn["ConnectionArn"], receiver.url + "/restart")
    receiver.stop()
    source = name("test.restart")
    rule_to(events, dest, source)
    event_id = put_event(events, source)
    time.sleep(1.0)  # first attempt fails
    srv.stop()
    back = Receiver(port=port).start()
    try:
        srv.proc = None
        srv.output.clear()
        srv.start()  # the restarted node delivers what is due at once
        seen = back.wait_for(1, timeout=20)
        assert json.loads(seen[0].body)["id"] == event_id
    finally:
        back.stop()


def test_https_receiver_with_a_trusted_self_signed_certificate(
    fresh_server_factory: Any, tmp_path: Path
) -> None:
    from tests.e2e.test_tls import self_signed

    cert, key = self_signed(tmp_path)
    receiver = Receiver(tls=(cert, key)).start()
    try:
        srv = fresh_server_factory(
            env={
                "GARRISON_EVENTS_ALLOW_HTTP_TARGETS": "false",
                "GARRISON_EVENTS_TARGET_CA_FILE": str(cert),
            }
        ).start()
        events = srv.client("events")
        conn = api_key_connection(events)
        dest = destination(events, conn["ConnectionArn"], receiver.url + "/secure")
        source = name("test.tls")
        rule_to(events, dest, source)
        event_id = put_event(events, source)
        seen = receiver.wait_for(1)
        assert json.loads(seen[0].body)["id"] == event_id
        assert seen[0].headers["x-api-key"] == API_KEY_VALUE
    finally:
        receiver.stop()


def test_parameter_store_change_reaches_the_receiver(
    server: ServerProcess, events: Any, receiver: Receiver
) -> None:
    conn = api_key_connection(events)
    dest = destination(events, conn["ConnectionArn"], receiver.url + "/ssm")
    prefix = "/" + name("e2")
    rule = name("ssm-rule")
    events.put_rule(
        Name=rule,
        EventPattern=json.dumps(
            {
                "source": ["aws.ssm"],
                "detail-type": ["Parameter Store Change"],
                "detail": {"name": [{"prefix": prefix}]},
            }
        ),
    )
    events.put_targets(Rule=rule, Targets=[{"Id": "t1", "Arn": dest}])
    server.client("ssm").put_parameter(Name=f"{prefix}/db", Value="v", Type="String")
    seen = receiver.wait_for(1)
    body = json.loads(seen[0].body)
    assert body["detail-type"] == "Parameter Store Change"
    assert body["detail"]["name"] == f"{prefix}/db" and body["detail"]["operation"] == "Create"
    assert seen[0].headers["x-api-key"] == API_KEY_VALUE


def test_audit_events_carry_no_connection_secret(events: Any, cloudtrail: Any) -> None:
    conn_name = name("audited")
    events.create_connection(
        Name=conn_name,
        AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
        AuthParameters={
            "OAuthParameters": {
                "ClientParameters": {"ClientID": CLIENT_ID, "ClientSecret": CLIENT_SECRET},
                "AuthorizationEndpoint": "https://auth.example.com/token",
                "HttpMethod": "POST",
                "OAuthHttpParameters": {
                    "HeaderParameters": [
                        {"Key": "X-Secret", "Value": "oauth-header-secret", "IsValueSecret": True}
                    ]
                },
            },
        },
    )
    events.update_connection(
        Name=conn_name,
        AuthParameters={
            "OAuthParameters": {
                "ClientParameters": {"ClientID": CLIENT_ID, "ClientSecret": "second-secret"}
            }
        },
    )
    found: list[dict[str, Any]] = []
    for page in cloudtrail.get_paginator("lookup_events").paginate(
        LookupAttributes=[{"AttributeKey": "EventSource", "AttributeValue": "events.amazonaws.com"}]
    ):
        found += [e for e in page["Events"] if conn_name in e["CloudTrailEvent"]]
    names = {e["EventName"] for e in found}
    assert {"CreateConnection", "UpdateConnection"} <= names
    text = json.dumps([e["CloudTrailEvent"] for e in found])
    for secret in (CLIENT_SECRET, "second-secret", "oauth-header-secret"):
        assert secret not in text


def test_refused_oauth_credentials_deauthorize_until_updated(
    server: ServerProcess, events: Any, receiver: Receiver
) -> None:
    conn_name = name("badoauth")
    conn = events.create_connection(
        Name=conn_name,
        AuthorizationType="OAUTH_CLIENT_CREDENTIALS",
        AuthParameters={
            "OAuthParameters": {
                "ClientParameters": {"ClientID": CLIENT_ID, "ClientSecret": "wrong-secret"},
                "AuthorizationEndpoint": receiver.url + "/token",
                "HttpMethod": "POST",
            }
        },
    )
    dest = destination(events, conn["ConnectionArn"], receiver.url + "/after-fix")
    source = name("test.badoauth")
    rule_to(events, dest, source)
    event_id = put_event(events, source)
    deadline = time.monotonic() + 10
    described: dict[str, Any] = {}
    while time.monotonic() < deadline:
        described = events.describe_connection(Name=conn_name)
        if described["ConnectionState"] == "DEAUTHORIZED":
            break
        time.sleep(0.1)
    assert described["ConnectionState"] == "DEAUTHORIZED"
    assert "401" in described["StateReason"] and "wrong-secret" not in described["StateReason"]
    assert receiver.requests == []  # never called without a token

    events.update_connection(
        Name=conn_name,
        AuthParameters={
            "OAuthParameters": {
                "ClientParameters": {"ClientID": CLIENT_ID, "ClientSecret": CLIENT_SECRET}
            }
        },
    )
    assert events.describe_connection(Name=conn_name)["ConnectionState"] == "AUTHORIZING"
    server.advance(700)  # the failed delivery's retry is due
    server.run_scheduler()
    seen = receiver.wait_for(1)
    assert json.loads(seen[0].body)["id"] == event_id
    assert seen[0].headers["authorization"] == "Bearer token-1"
    assert events.describe_connection(Name=conn_name)["ConnectionState"] == "AUTHORIZED"


def test_iam_policies_govern_connections_and_destinations(
    server: ServerProcess, events: Any
) -> None:
    describe_only = {
        "Effect": "Allow",
        "Action": ["events:DescribeConnection", "events:ListConnections"],
        "Resource": "*",
    }
    _, key = iam_user(server.client("iam"), "eb-user", describe_only)
    theirs = session_client(server, "events", key)
    conn = api_key_connection(events)
    assert theirs.describe_connection(Name=conn["Name"])["Name"] == conn["Name"]
    with pytest.raises(ClientError) as exc:
        api_key_connection(theirs)
    assert error(exc) == ("AccessDeniedException", 400)
    assert "events:CreateConnection" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        theirs.delete_connection(Name=conn["Name"])
    assert error(exc) == ("AccessDeniedException", 400)
    with pytest.raises(ClientError) as exc:
        destination(theirs, conn["ConnectionArn"], "https://hooks.example.com/")
    assert error(exc) == ("AccessDeniedException", 400)
    # nothing was changed by the refused calls
    assert events.describe_connection(Name=conn["Name"])["ConnectionState"] == "AUTHORIZED"


def test_invocation_rate_limit_spaces_the_calls(events: Any, receiver: Receiver) -> None:
    conn = api_key_connection(events)
    out = events.create_api_destination(
        Name=name("slow"),
        ConnectionArn=conn["ConnectionArn"],
        InvocationEndpoint=receiver.url + "/slow",
        HttpMethod="POST",
        InvocationRateLimitPerSecond=2,
    )
    source = name("test.rate")
    rule_to(events, out["ApiDestinationArn"], source)
    events.put_events(
        Entries=[
            {"Source": source, "DetailType": "Test Event", "Detail": json.dumps({"n": i})}
            for i in range(4)
        ]
    )
    seen = receiver.wait_for(4)
    # 2 per second: four calls span at least 1.5 s
    assert seen[3].at - seen[0].at >= 1.4
    assert sorted(json.loads(s.body)["detail"]["n"] for s in seen) == [0, 1, 2, 3]


def test_connection_secrets_are_sealed_at_rest(sqlite_server: ServerProcess) -> None:
    events = sqlite_server.client("events")
    marker = "at-rest-" + name("secret")
    conn_name = name("sealed")
    conn = events.create_connection(
        Name=conn_name,
        AuthorizationType="API_KEY",
        AuthParameters={
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": marker},
            "InvocationHttpParameters": {
                "QueryStringParameters": [
                    {"Key": "sig", "Value": marker + "-query", "IsValueSecret": True}
                ]
            },
        },
    )
    assert conn["ConnectionState"] == "AUTHORIZED"
    found = b""
    for path in sqlite_server.data_dir.glob("garrison.db*"):
        found += path.read_bytes()
    assert conn_name.encode() in found  # the row is on disk: the search can see it
    assert marker.encode() not in found
