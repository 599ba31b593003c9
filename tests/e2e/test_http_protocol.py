"""The native HTTP/1.1 protocol (garrison/httpserver.py), byte for byte over real sockets.

boto3 cannot send what these need (pipelining, chunked bodies, 100-continue,
HTTP/1.0, requests split byte by byte, malformed request lines), so most tests
write raw requests; API calls in them are signed with botocore's SigV4Auth.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sqlite3
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from garrison.httpserver import GarrisonHttpProtocol
from garrison.pipeline import HttpRequest, HttpResponse
from tests.conftest import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY, ServerProcess, make_client
from tests.e2e.test_tls import self_signed

KMS = "TrentService."
HEALTH = b"GET /_garrison/health HTTP/1.1\r\nHost: x\r\n\r\n"


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Conn:
    """One client connection that reads HTTP/1.1 responses off the wire."""

    def __init__(self, endpoint: str, *, tls_ca: Path | None = None, timeout: float = 30) -> None:
        url = urlsplit(endpoint)
        assert url.hostname is not None and url.port is not None
        self.host = f"{url.hostname}:{url.port}"
        sock = socket.create_connection((url.hostname, url.port), timeout=timeout)
        if tls_ca is not None:
            context = ssl.create_default_context(cafile=str(tls_ca))
            sock = context.wrap_socket(sock, server_hostname=url.hostname)
        self.sock = sock
        self.buffer = b""

    def __enter__(self) -> Conn:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed by the server; unread: {self.buffer!r}")
        self.buffer += chunk

    def response(self, *, head: bool = False) -> Response:
        """The next response (an interim 1xx counts as one)."""
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        top, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = top.decode("latin-1").split("\r\n")
        version, status, _ = status_line.split(" ", 2)
        assert version == "HTTP/1.1", status_line
        headers: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            assert name.lower() not in headers, f"{name} twice"
            headers[name.lower()] = value.strip()
        size = 0 if head or int(status) < 200 else int(headers["content-length"])
        while len(self.buffer) < size:
            self._fill()
        body, self.buffer = self.buffer[:size], self.buffer[size:]
        return Response(int(status), headers, body)

    def closed(self, within: float = 10.0) -> bool:
        """True if the server closes the connection (sending nothing more) within `within`."""
        self.sock.settimeout(within)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return not self.buffer
                self.buffer += chunk
        except TimeoutError:
            return False
        except ConnectionResetError:
            return True


def signed(endpoint: str, operation: str, payload: dict[str, Any]) -> tuple[bytes, bytes]:
    """A SigV4-signed KMS call: (its header lines, without framing headers; its body)."""
    body = json.dumps(payload).encode()
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": KMS + operation},
    )
    SigV4Auth(Credentials(ACCESS_KEY_ID, SECRET_ACCESS_KEY), "kms", REGION).add_auth(request)
    headers = {"Host": urlsplit(endpoint).netloc, **request.headers}  # signed, not added
    lines = b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
    return lines, body


def kms_call(endpoint: str, operation: str, payload: dict[str, Any], extra: bytes = b"") -> bytes:
    """A whole signed KMS request with a Content-Length."""
    lines, body = signed(endpoint, operation, payload)
    return b"POST / HTTP/1.1\r\n" + lines + extra + b"Content-Length: %d\r\n\r\n" % len(body) + body


def chunked(body: bytes, size: int) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size])
             for i in range(0, len(body), size)]  # fmt: skip
    return b"".join(parts) + b"0\r\n\r\n"


@pytest.fixture(scope="module")
def key_id(sqlite_server: ServerProcess) -> str:
    return str(sqlite_server.client().create_key()["KeyMetadata"]["KeyId"])


def test_kms_round_trip_through_the_native_protocol(server: ServerProcess) -> None:
    kms = server.client()
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"native http")["CiphertextBlob"]
    out = kms.decrypt(CiphertextBlob=blob)
    assert out["Plaintext"] == b"native http"
    headers = out["ResponseMetadata"]["HTTPHeaders"]
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert headers["date"].endswith(" GMT")
    assert "server" not in headers  # uvicorn does not answer, and Garrison does not advertise


def test_keep_alive_answers_two_requests_on_one_connection(sqlite_server: ServerProcess) -> None:
    with Conn(sqlite_server.endpoint) as conn:
        conn.send(HEALTH)
        first = conn.response()
        conn.send(HEALTH)
        second = conn.response()
    assert (first.status, second.status) == (200, 200)
    assert first.json() == second.json() == {"status": "ok", "sealed": False}
    assert "connection" not in first.headers


def test_pipelined_requests_are_answered_in_order(
    sqlite_server: ServerProcess, key_id: str
) -> None:
    ep = sqlite_server.endpoint
    requests = [
        kms_call(ep, "Encrypt", {"KeyId": key_id, "Plaintext": "AAAA"}),
        b"POST /_garrison/nothing-here HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
        HEALTH,
        kms_call(ep, "DescribeKey", {"KeyId": key_id}),
    ]
    with Conn(ep) as conn:
        conn.send(b"".join(requests))
        answers = [conn.response() for _ in requests]
    assert [a.status for a in answers] == [200, 404, 200, 200]
    assert answers[0].json()["KeyId"].endswith(key_id)
    assert answers[2].json()["status"] == "ok"
    assert answers[3].json()["KeyMetadata"]["KeyId"] == key_id


def test_a_request_sent_byte_by_byte_is_answered(sqlite_server: ServerProcess, key_id: str) -> None:
    request = kms_call(sqlite_server.endpoint, "DescribeKey", {"KeyId": key_id})
    with Conn(sqlite_server.endpoint) as conn:
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(request)):
            conn.send(request[i : i + 1])
        answer = conn.response()
    assert answer.status == 200, answer.body
    assert answer.json()["KeyMetadata"]["KeyId"] == key_id


def test_a_chunked_body_is_read_whole(sqlite_server: ServerProcess, key_id: str) -> None:
    ep = sqlite_server.endpoint
    lines, body = signed(ep, "Encrypt", {"KeyId": key_id, "Plaintext": "aGVsbG8gY2h1bmtz"})
    with Conn(ep) as conn:
        conn.send(b"POST / HTTP/1.1\r\n" + lines + b"Transfer-Encoding: chunked\r\n\r\n")
        conn.send(chunked(body, 7))
        answer = conn.response()
        assert answer.status == 200, answer.body
        blob = answer.json()["CiphertextBlob"]
        conn.send(kms_call(ep, "Decrypt", {"CiphertextBlob": blob}))
        decrypted = conn.response()
    assert decrypted.status == 200, decrypted.body
    assert decrypted.json()["Plaintext"] == "aGVsbG8gY2h1bmtz"


def test_an_announced_body_over_the_limit_is_refused_before_it_is_sent(
    sqlite_server: ServerProcess,
) -> None:
    ep = sqlite_server.endpoint
    size = 2 * 1024 * 1024  # the limit is 1 MiB
    lines, _ = signed(ep, "ListKeys", {})
    with Conn(ep) as conn:
        conn.send(b"POST / HTTP/1.1\r\n" + lines + b"Content-Length: %d\r\n\r\n" % size)
        answer = conn.response()  # no byte of the body has been sent
        assert answer.status == 413
        assert answer.json()["__type"] == "RequestEntityTooLargeException"
        assert answer.headers["x-amzn-requestid"]
        # the body that follows is read and dropped; the connection serves on
        conn.send(b" " * size)
        conn.send(HEALTH)
        assert conn.response().status == 200


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(
    sqlite_server: ServerProcess,
) -> None:
    ep = sqlite_server.endpoint
    lines, _ = signed(ep, "ListKeys", {})
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
    with Conn(ep) as conn:
        conn.send(b"POST / HTTP/1.1\r\n" + lines + b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(17):  # 1 MiB and one chunk more: the body is not finished
            conn.send(chunk)
        answer = conn.response()
        assert answer.status == 413
        assert answer.json()["__type"] == "RequestEntityTooLargeException"
        conn.send(chunk + b"0\r\n\r\n" + HEALTH)
        assert conn.response().status == 200


def test_expect_100_continue_is_answered_before_the_body(
    sqlite_server: ServerProcess, key_id: str
) -> None:
    ep = sqlite_server.endpoint
    lines, body = signed(ep, "DescribeKey", {"KeyId": key_id})
    with Conn(ep) as conn:
        conn.send(
            b"POST / HTTP/1.1\r\n" + lines
            + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body)
        )  # fmt: skip
        interim = conn.response()
        assert interim.status == 100
        conn.send(body)
        answer = conn.response()
    assert answer.status == 200, answer.body
    assert answer.json()["KeyMetadata"]["KeyId"] == key_id


def test_expect_100_continue_over_the_limit_gets_413_and_no_continue(
    sqlite_server: ServerProcess,
) -> None:
    ep = sqlite_server.endpoint
    lines, _ = signed(ep, "ListKeys", {})
    with Conn(ep) as conn:
        conn.send(
            b"POST / HTTP/1.1\r\n" + lines
            + b"Expect: 100-continue\r\nContent-Length: 5000000\r\n\r\n"
        )  # fmt: skip
        answer = conn.response()
        assert answer.status == 413
        assert answer.headers["connection"] == "close"
        assert conn.closed()


@pytest.mark.parametrize(
    "request_line",
    [b"GARBAGE\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /\x00 HTTP/1.1\r\n\r\n"],
    ids=["no-version", "bad-version", "nul-in-url"],
)
def test_a_malformed_request_gets_400_and_the_connection_closes(
    sqlite_server: ServerProcess, request_line: bytes
) -> None:
    logged = len(sqlite_server.output)
    with Conn(sqlite_server.endpoint) as conn:
        conn.send(request_line)
        answer = conn.response()
        assert answer.status == 400
        assert answer.headers["connection"] == "close"
        assert b"Traceback" not in answer.body
        assert conn.closed()
    assert not any("Traceback" in line for line in sqlite_server.output[logged:])


def test_a_malformed_request_after_a_good_one_is_answered_in_turn(
    sqlite_server: ServerProcess,
) -> None:
    with Conn(sqlite_server.endpoint) as conn:
        conn.send(HEALTH + b"NOT HTTP AT ALL\r\n\r\n")
        assert conn.response().status == 200
        assert conn.response().status == 400
        assert conn.closed()


def test_http_1_0_closes_unless_keep_alive_is_asked(sqlite_server: ServerProcess) -> None:
    with Conn(sqlite_server.endpoint) as conn:
        conn.send(b"GET /_garrison/health HTTP/1.0\r\n\r\n")
        answer = conn.response()
        assert answer.status == 200
        assert answer.headers["connection"] == "close"
        assert conn.closed()
    with Conn(sqlite_server.endpoint) as conn:
        conn.send(b"GET /_garrison/health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        answer = conn.response()
        assert answer.headers["connection"] == "keep-alive"
        conn.send(HEALTH)
        assert conn.response().status == 200


def test_connection_close_is_honoured(sqlite_server: ServerProcess) -> None:
    with Conn(sqlite_server.endpoint) as conn:
        conn.send(b"GET /_garrison/health HTTP/1.1\r\nConnection: close\r\n\r\n" + HEALTH)
        answer = conn.response()
        assert answer.status == 200
        assert answer.headers["connection"] == "close"
        assert conn.closed()  # the request after it is not answered


def test_head_gets_the_headers_without_a_body(sqlite_server: ServerProcess) -> None:
    with Conn(sqlite_server.endpoint) as conn:
        conn.send(b"HEAD /_garrison/health HTTP/1.1\r\nHost: x\r\n\r\n" + HEALTH)
        head = conn.response(head=True)
        after = conn.response()
    assert int(head.headers["content-length"]) > 0  # what a GET would carry
    assert after.status == 200 and after.json()["status"] == "ok"


def test_an_upgrade_is_not_made_the_request_is_answered_then_closed(
    sqlite_server: ServerProcess,
) -> None:
    with Conn(sqlite_server.endpoint) as conn:
        conn.send(
            b"GET /_garrison/health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n"
            b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
        answer = conn.response()
        assert answer.status == 200
        assert answer.json()["status"] == "ok"
        assert answer.headers["connection"] == "close"
        assert conn.closed()


def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(
    sqlite_server: ServerProcess,
) -> None:
    with Conn(sqlite_server.endpoint) as conn:
        conn.send(HEALTH)
        assert conn.response().status == 200
        started = time.monotonic()
        assert conn.closed(within=15)
        assert 3 < time.monotonic() - started < 12  # uvicorn's default: 5 s


def test_https_keep_alive_and_kms(fresh_server_factory: Any, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    server: ServerProcess = fresh_server_factory(
        extra_args=["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    ).start()
    assert server.endpoint.startswith("https://")
    kms = make_client(server.endpoint, "kms", verify=str(cert))
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    with Conn(server.endpoint, tls_ca=cert) as conn:
        conn.send(kms_call(server.endpoint, "Encrypt", {"KeyId": key_id, "Plaintext": "dGxz"}))
        blob = conn.response().json()["CiphertextBlob"]
        conn.send(kms_call(server.endpoint, "Decrypt", {"CiphertextBlob": blob}))
        assert conn.response().json()["Plaintext"] == "dGxz"


def test_access_log_lines_when_it_is_on(fresh_server_factory: Any) -> None:
    server: ServerProcess = fresh_server_factory(extra_args=["--access-log"]).start()
    with Conn(server.endpoint) as conn:
        conn.send(b"GET /_garrison/health?probe=1 HTTP/1.1\r\n\r\n")
        assert conn.response().status == 200
        port = conn.sock.getsockname()[1]
    line = f'127.0.0.1:{port} - "GET /_garrison/health?probe=1 HTTP/1.1" 200'
    deadline = time.monotonic() + 10
    while not any(line in out for out in server.output):
        assert time.monotonic() < deadline, "".join(server.output)
        time.sleep(0.05)


def test_graceful_shutdown_answers_the_request_in_flight(fresh_server_factory: Any) -> None:
    server: ServerProcess = fresh_server_factory().start()
    assert server.proc is not None
    ep = server.endpoint
    with Conn(ep) as idle, Conn(ep) as busy:
        idle.send(HEALTH * 3)
        assert [idle.response().status for _ in range(3)] == [200, 200, 200]
        # the test holds the database's write lock: CreateKey waits for it, in flight
        lock = sqlite3.connect(server.data_dir / "garrison.db", isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")
        try:
            busy.send(kms_call(ep, "CreateKey", {"Description": "in flight at SIGTERM"}))
            time.sleep(0.5)
            server.proc.send_signal(signal.SIGTERM)
            assert idle.closed(within=5)  # an idle keep-alive connection is closed at once
            busy.sock.settimeout(0.5)
            with pytest.raises(TimeoutError):
                busy.sock.recv(1)  # not answered while the lock is held
            busy.sock.settimeout(30)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        answer = busy.response()
        assert answer.status == 200, answer.body
        assert answer.json()["KeyMetadata"]["Description"] == "in flight at SIGTERM"
        assert answer.headers["connection"] == "close"
        assert busy.closed()
    server.proc.wait(15)  # uvicorn re-raises the signal once it has shut down
    assert any("Application shutdown complete" in line for line in server.output)
    # every answered request's task left server_state.tasks: nothing was waited for
    assert not any("graceful shutdown exceeded" in line for line in server.output)


def test_the_asgi_fallback_still_serves(fresh_server_factory: Any) -> None:
    server: ServerProcess = fresh_server_factory(extra_args=["--http-protocol", "asgi"]).start()
    kms = server.client()
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    out = kms.decrypt(CiphertextBlob=kms.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"])
    assert out["Plaintext"] == b"x"
    assert out["ResponseMetadata"]["HTTPHeaders"]["server"] == "uvicorn"
    with Conn(server.endpoint) as conn:
        lines, _ = signed(server.endpoint, "ListKeys", {})
        conn.send(b"POST / HTTP/1.1\r\n" + lines + b"Content-Length: 5000000\r\n\r\n")
        assert conn.response().json()["__type"] == "RequestEntityTooLargeException"


def test_an_unknown_http_protocol_setting_is_refused(fresh_server_factory: Any) -> None:
    server: ServerProcess = fresh_server_factory(extra_args=["--http-protocol", "h3"])
    with pytest.raises(RuntimeError, match="expected native or asgi"):
        server.start(timeout=20)


# -- an exception escaping the handler: provoked in-process, with a handler that fails --


class _Failing:
    """Stands in for GarrisonASGI: every request fails unexpectedly."""

    max_body = 1024

    async def respond(self, request: HttpRequest, path: str) -> HttpResponse:
        raise RuntimeError("secret-ish detail that must not reach the client")

    async def too_large(self, request: HttpRequest, path: str) -> HttpResponse:
        raise AssertionError("not called")


@pytest.fixture
def failing_endpoint() -> Iterator[str]:
    async def noop(scope: Any, receive: Any, send: Any) -> None:
        return None

    class Protocol(GarrisonHttpProtocol):
        app = _Failing()  # type: ignore[assignment]

    loop = asyncio.new_event_loop()
    config = uvicorn.Config(noop, lifespan="off", log_level="critical")
    state = uvicorn.server.ServerState()

    def factory() -> asyncio.Protocol:
        return Protocol(config=config, server_state=state, app_state={}, _loop=loop)

    server = loop.run_until_complete(loop.create_server(factory, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    server.close()
    loop.close()


def test_an_exception_in_the_handler_is_a_500_internal_failure(failing_endpoint: str) -> None:
    with Conn(failing_endpoint) as conn:
        conn.send(HEALTH)
        answer = conn.response()
        assert answer.status == 500
        assert answer.json() == {
            "__type": "InternalFailure",
            "message": "The server encountered an internal error.",
        }
        assert b"secret-ish" not in answer.body
        conn.send(HEALTH)  # the connection serves on
        assert conn.response().status == 500
