"""NATS targets: each delivery published to a subject of the deployment's NATS server.

    arn:garrison:nats:<region>:<account>:subject/<subject>
    arn:garrison:nats:us-east-1:111122223333:subject/orders.created

The server is the setting ``events_nats_url`` (``nats://`` or ``tls://``; a user
and password may ride in the URL and are never logged). A delivery is
acknowledged when

- core NATS (the default): the server has the message -- a publish followed by
  a flush (a PING/PONG round trip). NATS core itself is at-most-once: a
  subscriber that is not connected at that moment never sees the message;
- JetStream (``events_nats_jetstream``): a stream stored it -- a JetStream
  publish answered by its PubAck. The stream must capture the subject: the
  operator creates it, or names it in ``events_nats_stream`` and Garrison
  creates it (file storage) or adds the subject to it at the first delivery.

Every message carries ``Nats-Msg-Id: <delivery id>``, so JetStream's duplicate
window drops the copy a retry after a crash would publish again.

nats-py is asyncio: the sender owns one event loop on its own thread, created at
the first delivery, and the deliverer's thread waits for each publish there --
nothing runs on the API's event loop. The connection reconnects by itself after
a blip (a few quick attempts); once it gives up, the next delivery connects
anew. While the server cannot be reached, deliveries fail at once (retryable,
`DeliveryFailed`) instead of queueing in the client, and connection attempts are
spaced by `RECONNECT_BACKOFF_SECONDS`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from typing import Any, Final

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client

from garrison.errors import ValidationException
from garrison.events.senders import Delivery, DeliveryFailed

ARN_PREFIX: Final = "arn:garrison:nats:"
RESOURCE_PREFIX: Final = "subject/"
MAX_SUBJECT_CHARS: Final = 1024
PUBLISH_TIMEOUT_SECONDS: Final = 5.0
CONNECT_TIMEOUT_SECONDS: Final = 2
RECONNECT_BACKOFF_SECONDS: Final = 1.0
# subjects a target may not publish to: the server's own APIs ($JS.API.STREAM.DELETE...,
# $SYS, $KV, ...) and reply inboxes of other clients
_RESERVED_PREFIXES: Final = ("$", "_INBOX.")


def parse_nats_arn(target_arn: str) -> tuple[str, str, str]:
    """``(region, account, subject)`` of a NATS-target ARN; ValueError if malformed."""
    if not target_arn.startswith(ARN_PREFIX):
        raise ValueError("not a NATS target ARN")
    parts = target_arn.split(":", 5)
    if len(parts) != 6:
        raise ValueError("a NATS target ARN has six ':'-separated parts")
    region, account, resource = parts[3], parts[4], parts[5]
    if not resource.startswith(RESOURCE_PREFIX):
        raise ValueError("the resource of a NATS target ARN is subject/<subject>")
    return region, account, resource[len(RESOURCE_PREFIX) :]


def _subject_problem(subject: str) -> str | None:
    if not subject:
        return "is empty"
    if len(subject) > MAX_SUBJECT_CHARS:
        return f"is longer than {MAX_SUBJECT_CHARS} characters"
    if any(ch.isspace() or ch == "\x00" for ch in subject):
        return "contains white space"
    tokens = subject.split(".")
    if any(not token for token in tokens):
        return "has an empty token (subjects are non-empty tokens separated by '.')"
    if any(token in ("*", ">") for token in tokens):
        return "has a wildcard token ('*' or '>'): messages are published to one subject"
    if subject.startswith(_RESERVED_PREFIXES):
        return "is reserved (subjects starting with '$' or '_INBOX.')"
    return None


def check_nats_target(target_arn: str, *, account_id: str, region: str) -> str:
    """The subject a NATS-target ARN names, checked as PutTargets must: ValidationException
    unless it is well formed, of `account_id` and `region`, and a subject one may publish to."""
    try:
        arn_region, arn_account, subject = parse_nats_arn(target_arn)
    except ValueError as err:
        raise ValidationException(
            f"Target ARN {target_arn!r} is not valid: {err} "
            "(arn:garrison:nats:<region>:<account>:subject/<subject>)"
        ) from None
    if arn_region != region or arn_account != account_id:
        raise ValidationException(
            f"Target ARN {target_arn!r} is not valid: a NATS target's Region and account "
            f"must be the rule's ({region}, {account_id})"
        )
    problem = _subject_problem(subject)
    if problem:
        raise ValidationException(f"Target ARN {target_arn!r} is not valid: the subject {problem}")
    return subject


async def _quiet(*_: Any) -> None:
    """nats-py's callbacks; its default error callback logs the exception (and the URL)."""


class NatsSender:
    """Publishes deliveries to NATS subjects (core, or JetStream with acknowledgement)."""

    def __init__(self, url: str, *, jetstream: bool = False, stream: str = "") -> None:
        self._url = url
        self._jetstream = jetstream
        self._stream = stream
        self._guard = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._client: Client | None = None
        self._connecting: asyncio.Lock | None = None
        self._last_failed_connect = float("-inf")

    def handles(self, target_arn: str) -> bool:
        return target_arn.startswith(ARN_PREFIX)

    def send(self, delivery: Delivery) -> None:
        try:
            subject = check_nats_target(
                delivery.target_arn, account_id=delivery.account_id, region=delivery.region
            )
        except ValidationException as err:
            raise DeliveryFailed(err.message, retryable=False) from None
        future = asyncio.run_coroutine_threadsafe(
            self._publish(subject, delivery.payload, delivery.delivery_id), self._running_loop()
        )
        try:
            future.result(PUBLISH_TIMEOUT_SECONDS + CONNECT_TIMEOUT_SECONDS + 1)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise DeliveryFailed(f"NATS subject {subject}: no answer in time") from None

    def close(self) -> None:
        with self._guard:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        with contextlib.suppress(concurrent.futures.TimeoutError, nats.errors.Error, OSError):
            asyncio.run_coroutine_threadsafe(self._disconnect(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        if not thread.is_alive():
            loop.close()

    # -- the sender's event loop ----------------------------------------------------------

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._guard:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="garrison-events-nats", daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    async def _publish(self, subject: str, payload: bytes, delivery_id: str) -> None:
        client = await self._connected()
        headers = {"Nats-Msg-Id": delivery_id}
        try:
            if self._jetstream:
                await self._publish_jetstream(client, subject, payload, headers)
            else:
                await client.publish(subject, payload, headers=headers)
                await client.flush(timeout=int(PUBLISH_TIMEOUT_SECONDS))
        except (TimeoutError, nats.errors.TimeoutError, nats.errors.FlushTimeoutError):
            raise DeliveryFailed(f"NATS subject {subject}: no acknowledgement in time") from None
        except (nats.errors.ConnectionClosedError, nats.errors.ConnectionReconnectingError):
            raise DeliveryFailed("NATS server unreachable: the connection was lost") from None
        except nats.errors.MaxPayloadError:
            raise DeliveryFailed(
                f"NATS subject {subject}: the event is larger than the server's max_payload",
                retryable=False,
            ) from None
        except nats.js.errors.NoStreamResponseError:
            raise DeliveryFailed(
                f"NATS subject {subject}: no JetStream stream captures it (create one, or name "
                "one in the setting events_nats_stream)"
            ) from None
        except nats.js.errors.APIError as err:
            raise DeliveryFailed(
                f"NATS subject {subject}: JetStream refused it: {err.description or err.code}"
            ) from None
        except (nats.errors.Error, OSError) as err:
            raise DeliveryFailed(f"NATS subject {subject}: {type(err).__name__}") from None

    async def _publish_jetstream(
        self, client: Client, subject: str, payload: bytes, headers: dict[str, str]
    ) -> None:
        js = client.jetstream(timeout=PUBLISH_TIMEOUT_SECONDS)
        try:
            await js.publish(subject, payload, headers=headers)
            return
        except nats.js.errors.NoStreamResponseError:
            if not self._stream:
                raise
        await self._ensure_stream(client, subject)
        await js.publish(subject, payload, headers=headers)

    async def _ensure_stream(self, client: Client, subject: str) -> None:
        """Create the stream of ``events_nats_stream``, or add `subject` to it."""
        jsm = client.jetstream(timeout=PUBLISH_TIMEOUT_SECONDS)
        try:
            info = await jsm.stream_info(self._stream)
        except nats.js.errors.NotFoundError:
            await jsm.add_stream(name=self._stream, subjects=[subject])
        else:
            config = info.config
            subjects = list(config.subjects or [])
            if subject not in subjects:
                config.subjects = [*subjects, subject]
                await jsm.update_stream(config)

    async def _connected(self) -> Client:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            client = self._client
            if client is not None and client.is_connected:
                return client
            if client is not None and not client.is_closed:
                # reconnecting by itself: fail now rather than queue in the client
                raise DeliveryFailed("NATS server unreachable: reconnecting")
            self._client = None
            if time.monotonic() - self._last_failed_connect < RECONNECT_BACKOFF_SECONDS:
                raise DeliveryFailed("NATS server unreachable")
            try:
                self._client = await nats.connect(
                    self._url,
                    name="garrison-events",
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                    allow_reconnect=True,
                    max_reconnect_attempts=2,
                    reconnect_time_wait=0.25,  # type: ignore[arg-type,unused-ignore]
                    error_cb=_quiet,
                    disconnected_cb=_quiet,
                    closed_cb=_quiet,
                    reconnected_cb=_quiet,
                )
            except (TimeoutError, nats.errors.Error, OSError) as err:
                self._last_failed_connect = time.monotonic()
                no_server = isinstance(err, nats.errors.NoServersError)
                reason = "no server answered" if no_server else type(err).__name__
                raise DeliveryFailed(f"NATS server unreachable: {reason}") from None
            return self._client

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            await client.close()
