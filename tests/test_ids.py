"""Request ids (UUID v4) and event ids (UUID v7) from the pipeline's buffered source."""

from __future__ import annotations

import os
import time
import uuid

from garrison.pipeline import Ids

ids = Ids()  # one source, as a Pipeline owns one


def test_request_ids_are_canonical_random_uuids() -> None:
    seen = set()
    for _ in range(2000):  # several refills of the 4 KiB buffer
        text = ids.random()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        seen.add(text)
    assert len(seen) == 2000
    assert {ids.random()[19] for _ in range(400)} == set("89ab")  # variant digit varies


def test_event_ids_are_time_ordered_uuids() -> None:
    before = time.time_ns() // 1_000_000
    texts = [ids.time_ordered() for _ in range(500)]
    after = time.time_ns() // 1_000_000
    for text in texts:
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
        assert before <= parsed.int >> 80 <= after
    assert [t[:13] for t in texts] == sorted(t[:13] for t in texts)
    assert len(set(texts)) == 500


def test_a_forked_child_draws_its_own_ids() -> None:
    ids.random()  # the buffer holds unread randomness now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, ids.random().encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 36).decode()
    os.close(read)
    os.close(write)
    assert child != ids.random()
