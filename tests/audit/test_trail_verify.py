"""The hash chain, signed heads and digests, on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from garrison.audit.digests import create_digest
from garrison.audit.store import iter_event_rows, load_all_digests, load_heads
from garrison.audit.trail import AuditTrail
from garrison.audit.verify import Report, verify_chains
from garrison.crypto.signing import DigestSigner
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import delete, update
from garrison.storage.writer import Tx


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database(store_url)
    for table in (schema.audit_events, schema.audit_heads, schema.audit_digests):
        sql(database, delete(table))
    yield database
    database.close()


SIGNER = DigestSigner(DigestSigner.generate_private())


def fill(db: Database, node: str, n: int, clock: list[float], first: int = 1) -> AuditTrail:
    trail = AuditTrail(node, lambda: SIGNER, lambda: clock[0])
    db.writer.participants.append(trail)
    db.read(trail.load)
    for i in range(first, first + n):
        event = {"eventID": f"{node}-e{i}", "eventName": "Encrypt", "eventSource": "kms"}
        db.write(lambda tx, ev=event: trail.append(tx, ev, epoch=clock[0]))
    return trail


def verify(db: Database) -> Report:
    return verify_chains(
        iter_event_rows(db), load_heads(db), SIGNER.public_pem(), load_all_digests(db)
    )


def sql(db: Database, statement: object) -> None:
    def unit(tx: Tx) -> None:
        tx.execute(statement)

    db.write(unit)


def test_intact_chains_verify(db: Database) -> None:
    clock = [1000.0]
    fill(db, "a", 5, clock)
    fill(db, "b", 3, clock)
    report = verify(db)
    assert report.ok, report.problem
    assert (report.events, report.chains) == (8, 2)


def test_altered_body_is_named(db: Database) -> None:
    fill(db, "a", 5, [1000.0])
    e = schema.audit_events
    sql(db, update(e).where(e.c.seq == 3).values(body=e.c.body + " "))
    report = verify(db)
    assert report.problem is not None
    assert (report.problem.seq, report.problem.event_id) == (3, "a-e3")
    assert "altered" in report.problem.what


def test_rehashed_alteration_is_caught_at_the_next_link(db: Database) -> None:
    fill(db, "a", 5, [1000.0])
    e = schema.audit_events
    sql(db, update(e).where(e.c.seq == 2).values(hash="f" * 64))
    report = verify(db)
    assert report.problem is not None and report.problem.seq == 2


def test_removed_middle_event(db: Database) -> None:
    fill(db, "a", 5, [1000.0])
    e = schema.audit_events
    sql(db, delete(e).where(e.c.seq == 2))
    report = verify(db)
    assert report.problem is not None and report.problem.seq == 2
    assert "removed" in report.problem.what


def test_truncated_tail_is_caught_by_the_signed_head(db: Database) -> None:
    fill(db, "a", 5, [1000.0])
    e = schema.audit_events
    sql(db, delete(e).where(e.c.seq >= 4))
    report = verify(db)
    assert report.problem is not None and report.problem.seq == 4
    assert "missing tail" in report.problem.what


def test_truncation_with_head_rewritten_is_caught_by_a_digest(db: Database) -> None:
    clock = [1000.0]
    fill(db, "a", 5, clock)
    db.write(lambda tx: create_digest(tx, SIGNER, clock[0]))
    e, h = schema.audit_events, schema.audit_heads
    sql(db, delete(e).where(e.c.seq >= 4))
    sql(db, delete(h))  # the attacker also drops the signed head
    report = verify(db)
    assert report.problem is not None
    assert "missing tail" in report.problem.what and "seq 5" in report.problem.what


def test_removed_digest_is_detected(db: Database) -> None:
    clock = [1000.0]
    fill(db, "a", 2, clock)
    first = db.write(lambda tx: create_digest(tx, SIGNER, clock[0]))
    clock[0] += 10
    db.write(lambda tx: create_digest(tx, SIGNER, clock[0]))
    d = schema.audit_digests
    sql(db, delete(d).where(d.c.digest_id == first.digest_id))
    report = verify(db)
    assert report.problem is not None and "digest" in report.problem.what


def test_head_signed_by_another_key_is_refused(db: Database) -> None:
    fill(db, "a", 2, [1000.0])
    other = DigestSigner(DigestSigner.generate_private())
    report = verify_chains(iter_event_rows(db), load_heads(db), other.public_pem())
    assert report.problem is not None and "signature" in report.problem.what


def test_chain_continues_after_reload(db: Database) -> None:
    clock = [1000.0]
    fill(db, "a", 3, clock)
    db.writer.participants.clear()
    fill(db, "a", 2, clock, first=4)  # a new AuditTrail object for the same node resumes at seq 4
    report = verify(db)
    assert report.ok and report.events == 5
