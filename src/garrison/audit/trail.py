"""Appending to this node's chain, inside the writer's transaction.

The trail is a writer `Participant`: events are appended by units (so an event
commits or vanishes with the change it records), and before each batch commits
the trail rewrites its signed head, so a removed tail is detectable.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from garrison.audit.chain import GENESIS, canonical, head_message, link_hash
from garrison.crypto.signing import DigestSigner
from garrison.storage import schema
from garrison.storage.sql import delete, func, insert, select
from garrison.storage.writer import Tx


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
        self._seq = 0
        self._hash = GENESIS
        self._committed = (0, GENESIS)
        self._dirty = False

    def load(self, tx: Tx) -> None:
        """Continue this node's chain where the store says it ends."""
        row = tx.execute(
            select(schema.audit_events.c.seq, schema.audit_events.c.hash)
            .where(schema.audit_events.c.node_id == self.node_id)
            .order_by(schema.audit_events.c.seq.desc())
            .limit(1)
        ).first()
        self._seq, self._hash = (int(row[0]), str(row[1])) if row else (0, GENESIS)
        self._committed = (self._seq, self._hash)

    def reset(self) -> None:
        self._seq, self._hash = 0, GENESIS
        self._committed = (0, GENESIS)

    def append(
        self,
        tx: Tx,
        event: dict[str, Any],
        *,
        epoch: float,
        resources: Sequence[tuple[str, str]] = (),
    ) -> None:
        prev_seq, prev_hash = self._seq, self._hash
        seq = prev_seq + 1
        body = canonical(event)
        digest = link_hash(prev_hash, self.node_id, seq, body)
        identity = event.get("userIdentity") or {}
        tx.execute(
            insert(schema.audit_events),
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
        if resources:
            tx.execute(
                insert(schema.audit_resources),
                [
                    {
                        "node_id": self.node_id,
                        "seq": seq,
                        "ordinal": i,
                        "resource_type": rtype,
                        "resource_name": rname,
                    }
                    for i, (rtype, rname) in enumerate(resources)
                ],
            )
        self._seq, self._hash = seq, digest
        self._dirty = True

        def undo() -> None:
            self._seq, self._hash = prev_seq, prev_hash

        tx.on_rollback(undo)

    # writer participant -------------------------------------------------
    def before_commit(self, tx: Tx) -> None:
        if not self._dirty:
            return
        signer = self._signer_factory()
        if signer is None:
            return
        signed_at = self._time()
        signature = signer.sign(head_message(self.node_id, self._seq, self._hash, signed_at))
        table = schema.audit_heads
        tx.execute(delete(table).where(table.c.node_id == self.node_id))
        tx.execute(
            insert(table),
            {
                "node_id": self.node_id,
                "seq": self._seq,
                "hash": self._hash,
                "signed_at": signed_at,
                "signature": signature,
            },
        )

    def after_commit(self) -> None:
        self._committed = (self._seq, self._hash)
        self._dirty = False

    def after_rollback(self) -> None:
        self._seq, self._hash = self._committed
        self._dirty = False

    def event_count(self, tx: Tx) -> int:
        return int(tx.execute(select(func.count()).select_from(schema.audit_events)).scalar_one())


def new_event_id() -> str:
    return str(uuid.uuid4())


def _username(identity: dict[str, Any]) -> str:
    if identity.get("type") == "Root":
        return "root"
    arn = str(identity.get("arn") or "")
    return arn.rsplit("/", 1)[-1] if "/" in arn else ""
