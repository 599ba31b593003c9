"""Appending to this node's chain, inside the writer's transaction.

The trail is a writer `Participant`: events are appended by units (so an event
commits or vanishes with the change it records), and before each batch commits
the trail rewrites its signed head, so a removed tail is detectable.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from garrison.audit.chain import GENESIS, canonical, head_message, link_hash
from garrison.crypto.signing import DigestSigner
from garrison.storage import schema
from garrison.storage.sql import bindparam, func, insert, select, update
from garrison.storage.writer import Prepared, Tx

_heads = schema.audit_heads
_UPDATE_HEAD = Prepared(update(_heads).where(_heads.c.node_id == bindparam("head_node")))
_INSERT_HEAD = insert(_heads)


class AuditTrail:
    def __init__(
        self,
        node_id: str,
        signer_factory: Callable[[], DigestSigner | None],
        clock_time: Callable[[], float],
    ) -> None:
        self.node_id = node_id
        self._signer_factory = signer_factory
        self._time = clock_time
        # The chain's tip as units append (writer thread); the tip the store holds
        # durably; the tip whose signed head the store holds or will hold once the
        # batch in flight commits; the tip of the batch being committed. Commits
        # are pipelined (see garrison.storage.writer), so these differ for a while.
        self._seq = 0
        self._hash = GENESIS
        self._committed = (0, GENESIS)
        self._head: tuple[int, str] | None = (0, GENESIS)
        self._sealing: tuple[int, str] | None = None

    def load(self, tx: Tx) -> None:
        """Continue this node's chain where the store says it ends."""
        row = tx.execute(
            select(schema.audit_events.c.seq, schema.audit_events.c.hash)
            .where(schema.audit_events.c.node_id == self.node_id)
            .order_by(schema.audit_events.c.seq.desc())
            .limit(1)
        ).first()
        self._seq, self._hash = (int(row[0]), str(row[1])) if row else (0, GENESIS)
        self._committed = self._head = (self._seq, self._hash)

    def reset(self) -> None:
        """Start a new chain; call it inside the unit that deletes the old one's rows.

        The durable tip is left alone: it changes when that unit's batch commits
        (and stays if the batch rolls back, as the old rows do).
        """
        self._seq, self._hash = 0, GENESIS
        self._head = None  # the unit deleted the head row: write one again

    def append(self, tx: Tx, event: dict[str, Any], *, epoch: float) -> None:
        prev_seq, prev_hash = self._seq, self._hash
        seq = prev_seq + 1
        body = canonical(event)
        digest = link_hash(prev_hash, self.node_id, seq, body)
        identity = event.get("userIdentity") or {}
        # Rows go in with the batch (one executemany per table), in the unit's own
        # transaction: with a per-unit INSERT, 3,900 instead of 8,400 Encrypts/s.
        tx.insert_with_batch(
            schema.audit_events,
            {
                "node_id": self.node_id,
                "seq": seq,
                "event_id": event["eventID"],
                "event_time": epoch,
                "account_id": event.get("recipientAccountId") or "",
                "region": event.get("awsRegion") or "",
                "event_name": event["eventName"],
                "event_source": event["eventSource"],
                "read_only": bool(event.get("readOnly")),
                "username": identity.get("userName") or _username(identity),
                "access_key_id": identity.get("accessKeyId") or "",
                "body": body.decode(),
                "prev_hash": prev_hash,
                "hash": digest,
            },
        )
        self._seq, self._hash = seq, digest

        def undo() -> None:
            self._seq, self._hash = prev_seq, prev_hash

        tx.on_rollback(undo)

    # writer participant -------------------------------------------------
    def seal(self) -> Callable[[Tx], None] | None:
        """The signed head of the chain as this batch leaves it (writer thread).

        Signed here, the row written on the committing thread in the batch's
        transaction: the signature (~30 us of Ed25519) is not made while the batch
        holds the commit lock that other worker processes wait for (workers.py).
        """
        tip = (self._seq, self._hash)
        self._sealing = tip
        if tip == self._head:
            return None
        signer = self._signer_factory()
        if signer is None:
            return None
        self._head = tip
        node_id = self.node_id
        signed_at = self._time()
        signature = signer.sign(head_message(node_id, tip[0], tip[1], signed_at))
        head = {"seq": tip[0], "hash": tip[1], "signed_at": signed_at, "signature": signature}

        def write_head(tx: Tx) -> None:
            # One UPDATE per batch, on the cursor (an INSERT only for a new chain).
            if not _UPDATE_HEAD.run(tx, {"head_node": node_id, **head}):
                tx.execute(_INSERT_HEAD, {"node_id": node_id, **head})

        return write_head

    def after_commit(self) -> None:
        if self._sealing is not None:
            self._committed = self._sealing
            self._sealing = None

    def after_rollback(self) -> None:
        self._seq, self._hash = self._committed
        self._head = self._committed
        self._sealing = None

    def event_count(self, tx: Tx) -> int:
        return int(tx.execute(select(func.count()).select_from(schema.audit_events)).scalar_one())


def new_event_id() -> str:
    return str(uuid.uuid4())


def _username(identity: dict[str, Any]) -> str:
    if identity.get("type") == "Root":
        return "root"
    arn = str(identity.get("arn") or "")
    return arn.rsplit("/", 1)[-1] if "/" in arn else ""
