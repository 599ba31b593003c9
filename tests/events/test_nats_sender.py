"""NatsSender against the machine's NATS server (127.0.0.1:4222) and a port nothing serves."""

from __future__ import annotations

import asyncio
import secrets
import socket
import time
from collections.abc import Iterator

import nats
import pytest

from garrison.errors import ValidationException
from garrison.events.senders import Delivery, DeliveryFailed
from garrison.events.senders.nats import NatsSender, check_nats_target

ACCOUNT, REGION = "111122223333", "us-east-1"
NATS_URL = "nats://127.0.0.1:4222"


def arn(subject: str) -> str:
    return f"arn:garrison:nats:{REGION}:{ACCOUNT}:subject/{subject}"


def delivery(subject: str, payload: bytes, delivery_id: str = "") -> Delivery:
    return Delivery(delivery_id or secrets.token_hex(8), ACCOUNT, REGION, arn(subject), {}, payload)


@pytest.fixture
def sender() -> Iterator[NatsSender]:
    s = NatsSender(NATS_URL)
    yield s
    s.close()


def test_publishes_the_payload_with_the_delivery_id(sender: NatsSender) -> None:
    subject = f"garrison.unit.{secrets.token_hex(4)}"

    async def run() -> list[nats.aio.msg.Msg]:
        client = await nats.connect(NATS_URL)
        sub = await client.subscribe(subject)
        await client.flush()
        await asyncio.to_thread(sender.send, delivery(subject, b'{"a":1}', "dlv-1"))
        msg = await sub.next_msg(timeout=5)
        await client.close()
        return [msg]

    [msg] = asyncio.run(run())
    assert msg.data == b'{"a":1}'
    assert (msg.headers or {}).get("Nats-Msg-Id") == "dlv-1"


def test_an_unreachable_server_fails_fast_and_retryably() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sender = NatsSender(f"nats://user:s3cret@127.0.0.1:{port}")
    try:
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(DeliveryFailed) as failed:
                sender.send(delivery("a.b", b"{}"))
            assert time.monotonic() - started < 3
            assert failed.value.retryable
            assert "unreachable" in failed.value.reason
            assert "s3cret" not in failed.value.reason  # the URL's password is never shown
    finally:
        sender.close()


def test_jetstream_drops_the_copy_of_a_retried_delivery() -> None:
    run = secrets.token_hex(4)
    subject, stream = f"garrison.unit.{run}.js", f"UNIT_{run.upper()}"
    sender = NatsSender(NATS_URL, jetstream=True, stream=stream)  # the sender creates it
    try:
        same = delivery(subject, b'{"n":1}', "dlv-same")
        sender.send(same)
        sender.send(same)  # a retry after a crash between the PubAck and the outbox delete
        sender.send(delivery(subject, b'{"n":2}'))
    finally:
        sender.close()

    async def count() -> tuple[list[str], int]:
        client = await nats.connect(NATS_URL)
        js = client.jetstream()
        info = await js.stream_info(stream)
        await js.delete_stream(stream)
        await client.close()
        return list(info.config.subjects or []), info.state.messages

    subjects, messages = asyncio.run(count())
    assert subjects == [subject]
    assert messages == 2


def test_jetstream_without_a_stream_is_a_retryable_failure() -> None:
    sender = NatsSender(NATS_URL, jetstream=True)
    try:
        with pytest.raises(DeliveryFailed) as failed:
            sender.send(delivery(f"garrison.unit.{secrets.token_hex(4)}.nostream", b"{}"))
        assert failed.value.retryable
        assert "no JetStream stream" in failed.value.reason
    finally:
        sender.close()


@pytest.mark.parametrize(
    ("subject", "why"),
    [
        ("", "empty"),
        ("a..b", "empty token"),
        (".a", "empty token"),
        ("a.*", "wildcard"),
        ("a.>", "wildcard"),
        ("a b", "white space"),
        ("a\tb", "white space"),
        ("$JS.API.STREAM.DELETE.X", "reserved"),
        ("$SYS.REQ.SERVER.PING", "reserved"),
        ("_INBOX.abc", "reserved"),
        ("x" * 1025, "longer"),
    ],
)
def test_check_refuses(subject: str, why: str) -> None:
    with pytest.raises(ValidationException) as refused:
        check_nats_target(arn(subject), account_id=ACCOUNT, region=REGION)
    assert why in refused.value.message


def test_check_accepts_and_refuses_other_accounts() -> None:
    assert check_nats_target(arn("orders.created"), account_id=ACCOUNT, region=REGION) == (
        "orders.created"
    )
    with pytest.raises(ValidationException):
        check_nats_target(arn("a"), account_id="444455556666", region=REGION)
    with pytest.raises(ValidationException):
        check_nats_target(
            f"arn:garrison:nats:{REGION}:{ACCOUNT}:topic/a", account_id=ACCOUNT, region=REGION
        )
