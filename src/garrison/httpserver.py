"""Garrison's own HTTP/1.1 protocol for uvicorn: requests to `GarrisonASGI.respond`, no ASGI.

uvicorn keeps the listening sockets, TLS, signals, the lifespan (through the ASGI
app) and graceful shutdown; only the per-connection protocol is this one, passed
as `uvicorn.Config(http=protocol_class(app))`. Per request it builds one
`HttpRequest` from httptools' callbacks, awaits `respond` in one task, and
writes the status line, headers and body in one `transport.write`: no scope
dict, no receive/send coroutines or message dicts, no event per request.

One connection, one exchange at a time, answered in the order they came:

    parser callbacks --(complete request)--> [running] --> write response
                    \\--(one already running)--> queue (reading paused)

- keep-alive as HTTP/1.1 (and HTTP/1.0 when the client asks for it); a response
  carries `connection: close` when the connection closes after it;
- bodies by Content-Length or chunked, at most `max_request_bytes`: a larger
  Content-Length is refused (413 through `GarrisonASGI.too_large`) before any of
  the body is read, a chunked body the moment it crosses the limit; the rest of
  the body is read and dropped so that the client sees the answer (a client that
  asked for `100-continue` never got it, sends no body, and is disconnected);
- `Expect: 100-continue` is answered when the request is next in line;
- a request httptools cannot parse gets 400 and the connection is closed;
- an upgrade (WebSocket, h2c, CONNECT) is not made: the request is answered as
  any other, then the connection is closed;
- a connection with no bytes from the client for `timeout_keep_alive` seconds
  and no request being answered is closed;
- the `date` header (and any `headers` given to uvicorn's Config) come from
  uvicorn's once-a-second `server_state.default_headers`;
- an exception escaping `respond` is logged and answered 500 InternalFailure.
"""

from __future__ import annotations

import asyncio
import http
import logging
import urllib.parse
from collections import deque
from typing import Any, cast

import httptools
import uvicorn
from uvicorn.server import ServerState

from garrison.asgi import GarrisonASGI
from garrison.errors import InternalFailure
from garrison.pipeline import HttpRequest, HttpResponse
from garrison.protocol import json_protocol

log = logging.getLogger(__name__)
access_log = logging.getLogger("uvicorn.access")

# what a client that kept sending a refused body may send before it is disconnected
DISCARD_LIMIT = 64 * 1024 * 1024

_STATUS_LINE: dict[int, bytes] = {
    int(status): b"HTTP/1.1 %d %s\r\n" % (status, http.HTTPStatus(status).phrase.encode())
    for status in http.HTTPStatus
}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_BAD_REQUEST_BODY = b'{"message":"Invalid HTTP request received."}'
_BAD_REQUEST = (
    b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s"
    % (len(_BAD_REQUEST_BODY), _BAD_REQUEST_BODY)
)

# what an exchange is: a request to answer, a body over the limit, or a parse failure
_RESPOND, _TOO_LARGE, _BAD = 0, 1, 2


class _Exchange:
    """One request of a connection and how to answer it."""

    __slots__ = ("kind", "request", "path", "keep_alive", "head", "version")

    def __init__(
        self,
        kind: int,
        request: HttpRequest | None,
        path: str,
        keep_alive: bool,
        head: bool,
        version: str,
    ) -> None:
        self.kind = kind
        self.request = request
        self.path = path
        self.keep_alive = keep_alive
        self.head = head
        self.version = version


def protocol_class(app: GarrisonASGI) -> type[GarrisonHttpProtocol]:
    """The protocol class to give uvicorn (`Config(http=...)`), answering through `app`."""

    class Protocol(GarrisonHttpProtocol):
        pass

    Protocol.app = app
    return Protocol


class GarrisonHttpProtocol(asyncio.Protocol):
    """One client connection (uvicorn builds one per accepted socket)."""

    app: GarrisonASGI  # set by `protocol_class`

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self.loop = _loop or asyncio.get_event_loop()
        self.server_state = server_state
        # uvicorn types the set with its own protocols; it only adds, discards and shuts down
        self.connections: set[Any] = server_state.connections
        self.tasks: set[asyncio.Task[None]] = server_state.tasks
        self.keep_alive_timeout = float(config.timeout_keep_alive)
        self.max_body = self.app.max_body
        # as uvicorn: its logging configuration gives the logger handlers when on
        self.access_log = access_log.hasHandlers()
        self.parser = httptools.HttpRequestParser(self)
        # answer the request before a `connection: close` even if bytes follow it
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.client: tuple[str, int] | None = None
        self.client_ip = ""
        self.secure = False
        # connection state
        self.queue: deque[_Exchange] = deque()
        self.running = False  # an exchange is being answered
        self.read_paused = False
        self.write_paused = False
        self.closing = False  # close once the running exchange is answered
        self.failed = False  # the parser gave up: no more bytes are read
        self.last_active = 0.0
        self.timer: asyncio.TimerHandle | None = None
        self.task: asyncio.Task[None] | None = None  # the running exchange's
        # the request being parsed
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.body: list[bytes] = []
        self.size = 0
        self.refused = False  # answered 413 already: the rest of its body is dropped
        self.expects = False  # it has an `expect: 100-continue` header
        self.expect_continue = False  # its headers are in and 100 Continue is owed
        self.continue_sent = False
        self.last: _Exchange | None = None

    # -- asyncio.Protocol -------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but are transports
        transport = cast(asyncio.Transport, transport)
        self.connections.add(self)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        if isinstance(peer, list | tuple) and len(peer) >= 2:
            self.client = (str(peer[0]), int(peer[1]))
            self.client_ip = self.client[0]
        self.secure = bool(transport.get_extra_info("sslcontext"))
        self.last_active = self.loop.time()
        self.timer = self.loop.call_later(self.keep_alive_timeout, self._on_timer)

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        # a running exchange still finishes (its call is done and audited); the
        # requests queued behind it are not started for a client that has gone
        self.queue.clear()
        self.closing = True

    def eof_received(self) -> bool | None:
        return None  # close the transport once the client has closed its side

    def data_received(self, data: bytes) -> None:
        self.last_active = self.loop.time()
        if self.failed:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # not upgraded: the request is answered as HTTP/1.1, then the connection closes
            if self.last is not None:
                self.last.keep_alive = False
            self._fail(bad_request=False)
            return
        except httptools.HttpParserError as err:
            cause = err.__context__
            if isinstance(err, httptools.HttpParserCallbackError) and not isinstance(
                cause, httptools.HttpParserInvalidURLError
            ):
                log.error("HTTP request handling failed", exc_info=cause)
            else:
                log.debug("invalid HTTP request from %s: %s", self.client_ip, err)
            self._fail(bad_request=True)
            return
        if self.expect_continue and not self.running and not self.queue:
            self._send_continue()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self.running:
            self._next()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: close now if idle, else after the running answer."""
        self.closing = True
        if not self.running:
            self.transport.close()

    # -- httptools callbacks ---------------------------------------------
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.body = []
        self.size = 0
        self.refused = False
        self.expects = False
        self.expect_continue = False
        self.continue_sent = False

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expects = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        # HTTP/1.0 has no interim responses
        self.expect_continue = self.expects and self.parser.get_http_version() == "1.1"
        for name, value in self.headers:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_body:
                    self._refuse()
                break

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        if self.refused:
            if self.size > DISCARD_LIMIT:
                self._fail(bad_request=False)
                self.transport.close()
            return
        if self.size > self.max_body:
            self._refuse()
            return
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.expect_continue = False
        if self.refused:
            return
        body = self.body
        self._enter(
            _RESPOND, b"".join(body) if len(body) != 1 else body[0], self.parser.should_keep_alive()
        )

    # -- exchanges --------------------------------------------------------
    def _enter(self, kind: int, body: bytes, keep_alive: bool) -> None:
        """Queue (or start) the exchange of the request parsed so far."""
        if self.failed:
            return  # the connection is closing: what follows is not answered
        parser = self.parser
        url = self.url
        if url[:1] == b"/" and b"?" not in url and b"#" not in url:
            raw_path, query = url, b""
        else:
            parsed = httptools.parse_url(url)
            raw_path, query = parsed.path, parsed.query or b""
        path = raw_path.decode("latin-1")
        if "%" in path:
            path = urllib.parse.unquote(path, encoding="latin-1")
        method = parser.get_method().decode("ascii")
        version = parser.get_http_version()
        request = HttpRequest(
            method, raw_path, query, self.headers, body, self.client_ip, self.secure
        )
        exchange = _Exchange(kind, request, path, keep_alive, method == "HEAD", version)
        self.last = exchange
        if self.running or self.queue:
            self.queue.append(exchange)
            self._pause_reading()
        else:
            self._start(exchange)

    def _refuse(self) -> None:
        """The body is over the limit: answer 413 without it."""
        self.refused = True
        self.body = []
        # a client still waiting for 100-continue sends no body: nothing to drain
        keep_alive = self.parser.should_keep_alive() and not (
            self.expect_continue and not self.continue_sent
        )
        self.expect_continue = False
        self._enter(_TOO_LARGE, b"", keep_alive)

    def _fail(self, *, bad_request: bool) -> None:
        """Read nothing more; answer what was parsed, then (400 and) close."""
        self.failed = True
        self.expect_continue = False
        self._pause_reading()
        if bad_request:
            exchange = _Exchange(_BAD, None, "", False, False, "1.1")
            if self.running or self.queue:
                self.queue.append(exchange)
            else:
                self._start(exchange)
        elif not self.running and not self.queue:
            self.transport.close()

    def _start(self, exchange: _Exchange) -> None:
        if exchange.kind == _BAD:
            self.transport.write(_BAD_REQUEST)
            self.transport.close()
            return
        self.running = True
        # registered for uvicorn's graceful shutdown (it cancels what is left after its
        # timeout); `_answer` takes it out itself: no done callback to schedule
        self.task = task = self.loop.create_task(self._answer(exchange))
        self.tasks.add(task)

    async def _answer(self, exchange: _Exchange) -> None:
        # this task (`_start` set it; the next exchange's starts only after `_write`)
        task = self.task
        request = exchange.request
        assert request is not None
        try:
            try:
                if exchange.kind == _RESPOND:
                    response = await self.app.respond(request, exchange.path)
                else:
                    response = await self.app.too_large(request, exchange.path)
            except Exception:
                log.exception("unexpected error answering %s %s", request.method, exchange.path)
                response = _internal_failure()
            self._write(exchange, response)
        finally:
            self.tasks.discard(task)

    def _write(self, exchange: _Exchange, response: HttpResponse) -> None:
        self.server_state.total_requests += 1
        self.running = False
        transport = self.transport
        if transport.is_closing():
            return
        keep_alive = exchange.keep_alive and not self.closing
        body = response.body
        out = [_STATUS_LINE.get(response.status) or b"HTTP/1.1 %d \r\n" % response.status]
        for name, value in self.server_state.default_headers:
            out += (name, b": ", value, b"\r\n")
        for name, value in response.headers:
            out += (name, b": ", value, b"\r\n")
        out += (b"content-length: ", b"%d" % len(body), b"\r\n")
        if not keep_alive:
            out.append(b"connection: close\r\n")
        elif exchange.version == "1.0":
            out.append(b"connection: keep-alive\r\n")
        out.append(b"\r\n")
        if not exchange.head:
            out.append(body)
        transport.write(b"".join(out))
        if self.access_log:
            request = exchange.request
            assert request is not None
            target = urllib.parse.quote(exchange.path)
            if request.query_string:
                target += "?" + request.query_string.decode("ascii", "replace")
            client = f"{self.client[0]}:{self.client[1]}" if self.client else ""
            access_log.info(
                '%s - "%s %s HTTP/%s" %d',
                client,
                request.method,
                target,
                exchange.version,
                response.status,
            )
        self.last_active = self.loop.time()
        if not keep_alive:
            transport.close()
            return
        if not self.write_paused:
            self._next()

    def _next(self) -> None:
        """The running exchange is answered: start the next, or read on."""
        if self.closing or self.transport.is_closing():
            return
        if self.queue:
            self._start(self.queue.popleft())
            return
        if self.failed:
            self.transport.close()
            return
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        if self.expect_continue:
            self._send_continue()

    def _send_continue(self) -> None:
        self.expect_continue = False
        self.continue_sent = True
        self.transport.write(_CONTINUE)

    def _pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def _on_timer(self) -> None:
        """Close a connection idle for the keep-alive timeout (one timer, re-armed)."""
        self.timer = None
        if self.transport.is_closing():
            return
        idle = self.loop.time() - self.last_active
        if self.running or self.queue or idle < self.keep_alive_timeout:
            wait = self.keep_alive_timeout - idle if idle < self.keep_alive_timeout else 1.0
            self.timer = self.loop.call_later(wait, self._on_timer)
            return
        self.transport.close()


def _internal_failure() -> HttpResponse:
    status, headers, body = json_protocol.serialize_error(
        InternalFailure("The server encountered an internal error.")
    )
    return HttpResponse(status, headers, body)
