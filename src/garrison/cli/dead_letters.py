"""`garrison events dead-letters`: the deliveries the event bus gave up on.

Reads the store offline, like `garrison audit verify`: the store's root key file
(a file-sealed store) opens the sealed payloads. A store sealed by Shamir
shares cannot be opened offline: the command refuses it (exit 1) and says to
list dead letters where the key file is. Errors name no secret (the senders'
reasons are written that way).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

import orjson

from garrison.config import Settings


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dead_letters(
    settings: Settings, account: str | None, region: str | None, as_json: bool, limit: int
) -> int:
    from garrison.bootstrap import key_file_path
    from garrison.events.outbox import dead_letters as load
    from garrison.storage.database import Database
    from garrison.storage.seal import SealError, read_key_file, seal_type, unseal_with_key

    if not settings.database_url and not (settings.data_path / "garrison.db").exists():
        print(f"error: there is no store in {settings.data_path}", file=sys.stderr)
        return 1
    db = Database(settings.effective_database_url)
    try:
        kind = seal_type(db)
        if kind is None:
            print("error: the store is not initialised", file=sys.stderr)
            return 1
        opened = False
        if kind == "file":
            try:
                unseal_with_key(db, read_key_file(key_file_path(settings.data_path)))
                db.barrier.unseal()
                opened = True
            except (SealError, OSError) as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
        if not opened:
            print(
                "error: the store is sealed by Shamir shares; list dead letters on a "
                "file-sealed store or through a running node's logs",
                file=sys.stderr,
            )
            return 1
        found = db.read(lambda tx: load(tx, account, region, limit=limit))
    finally:
        db.close()
    rows: list[dict[str, Any]] = [
        {
            "DeliveryId": d.delivery_id,
            "EventId": d.event_id,
            "Account": d.account_id,
            "Region": d.region,
            "EventBus": d.event_bus,
            "Rule": d.rule,
            "TargetId": d.target_id,
            "TargetArn": d.target_arn,
            "Attempts": d.attempts,
            "CreatedAt": _time(d.created_at),
            "FailedAt": _time(d.failed_at),
            "Error": d.error,
            "Payload": d.payload.decode("utf-8", "replace"),
        }
        for d in found
    ]
    if as_json:
        sys.stdout.write(orjson.dumps({"DeadLetters": rows}, option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return 0
    if not rows:
        print("No dead letters.")
        return 0
    for row in rows:
        print(
            f"{row['FailedAt']}  {row['Account']} {row['Region']}  rule {row['Rule']} "
            f"target {row['TargetId']}  event {row['EventId']}  "
            f"attempts {row['Attempts']}  {row['Error']}"
        )
    return 0
