"""FileSender on a real file system: one whole JSON line per delivery, under the root only."""

from __future__ import annotations

import json
import os
import stat
import threading
from pathlib import Path

import pytest

from garrison.errors import ValidationException
from garrison.events.senders import Delivery, DeliveryFailed
from garrison.events.senders.file import FileSender, check_file_target, json_line

ACCOUNT, REGION = "111122223333", "us-east-1"


def arn(path: Path | str) -> str:
    return f"arn:garrison:file:{REGION}:{ACCOUNT}:path/{path}"


def delivery(path: Path | str, payload: bytes, n: int = 0) -> Delivery:
    return Delivery(f"d-{n}", ACCOUNT, REGION, arn(path), {}, payload)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "events"


def test_payload_becomes_one_compact_json_line() -> None:
    assert json_line(b'{"a": 1,\n  "b": "x\\ny"}') == b'{"a":1,"b":"x\\ny"}\n'
    # an InputTransformer may make plain text: it is written as a JSON string
    assert json_line(b"Alice placed\nan order") == b'"Alice placed\\nan order"\n'


def test_directories_and_file_are_created_private(root: Path) -> None:
    path = root / "a" / "b" / "events.jsonl"
    FileSender(root).send(delivery(path, b'{"n": 1}'))
    assert path.read_bytes() == b'{"n":1}\n'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_concurrent_deliveries_never_interleave(root: Path) -> None:
    path = root / "busy.jsonl"
    sender = FileSender(root)
    # lines larger than a pipe buffer / page, written by several threads at once
    payloads = [json.dumps({"t": t, "fill": str(t) * 200_000}).encode() for t in range(6)]

    def write(t: int) -> None:
        for i in range(10):
            sender.send(delivery(path, payloads[t], n=t * 100 + i))

    threads = [threading.Thread(target=write, args=(t,)) for t in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b""
    parsed = [json.loads(line) for line in lines[:-1]]
    assert sorted(p["t"] for p in parsed) == sorted(list(range(6)) * 10)
    assert all(p["fill"] == str(p["t"]) * 200_000 for p in parsed)


def test_a_torn_last_line_does_not_spoil_the_next(root: Path) -> None:
    root.mkdir()
    path = root / "torn.jsonl"
    path.write_bytes(b'{"ok":1}\n{"cut sho')  # a power loss before the fsync
    FileSender(root).send(delivery(path, b'{"n": 2}'))
    assert path.read_bytes().split(b"\n")[-2:] == [b'{"n":2}', b""]
    assert path.read_bytes() == b'{"ok":1}\n{"cut sho\n{"n":2}\n'


def test_a_blocked_directory_is_a_retryable_failure(root: Path) -> None:
    root.mkdir()
    (root / "blocked").write_text("a file, not a directory")
    with pytest.raises(DeliveryFailed) as failed:
        FileSender(root).send(delivery(root / "blocked" / "x.jsonl", b"{}"))
    assert failed.value.retryable
    assert "Not a directory" in failed.value.reason


def test_a_link_out_of_the_root_is_refused_at_delivery(root: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    root.mkdir()
    os.symlink(outside, root / "link")  # made after PutTargets accepted root/link/x.jsonl
    with pytest.raises(DeliveryFailed) as failed:
        FileSender(root).send(delivery(root / "link" / "x.jsonl", b"{}"))
    assert not failed.value.retryable
    assert not (outside / "x.jsonl").exists()


def test_a_link_as_the_file_itself_is_not_followed(root: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    root.mkdir()
    os.symlink(victim, root / "x.jsonl")
    with pytest.raises(DeliveryFailed):
        FileSender(root).send(delivery(root / "x.jsonl", b"{}"))
    assert victim.read_text() == "keep\n"


def test_check_accepts_a_path_under_the_root(root: Path) -> None:
    path = root / "team" / "orders.jsonl"
    assert check_file_target(arn(path), root, account_id=ACCOUNT, region=REGION) == path


@pytest.mark.parametrize(
    ("resource", "why"),
    [
        ("path//etc/passwd", "must be under"),
        ("path/{root}/../escape.jsonl", "normalised"),
        ("path/{root}/./x.jsonl", "normalised"),
        ("path/{root}//x.jsonl", "normalised"),
        ("path/{root}/", "directory"),
        ("path/{root}", "must be under"),  # the root itself is a directory
        ("path/{root}-sibling/x.jsonl", "must be under"),
        ("path/relative/x.jsonl", "absolute"),
        ("file/{root}/x.jsonl", "path/<absolute path>"),
        ("path/{root}/a\x00b", "NUL"),
    ],
)
def test_check_refuses(root: Path, resource: str, why: str) -> None:
    target = f"arn:garrison:file:{REGION}:{ACCOUNT}:" + resource.format(root=root)
    with pytest.raises(ValidationException) as refused:
        check_file_target(target, root, account_id=ACCOUNT, region=REGION)
    assert why in refused.value.message


def test_check_refuses_another_account_or_region(root: Path) -> None:
    with pytest.raises(ValidationException):
        check_file_target(arn(root / "x"), root, account_id="444455556666", region=REGION)
    with pytest.raises(ValidationException):
        check_file_target(arn(root / "x"), root, account_id=ACCOUNT, region="eu-west-1")
