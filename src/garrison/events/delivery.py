"""The deliverer: takes due rows from the outbox to their targets and settles them.

    run_once(now)
      claim(due rows, leased to this node)            one write unit per batch
      for each row:
        target = targets(tx, row)                     the rule's target (ARN, parameters)
          gone ──────────────────────────────────────> dead letter ("target no longer exists")
        older than MaximumEventAgeInSeconds ─────────> dead letter
        sender.send(Delivery)                         the sender that handles the ARN
          ok ──────────────────────────────────────── delivered (row deleted)
          DeliveryFailed(retryable=False) ─────────── dead letter
          retryable, retries left and within age ──── retry_later(now + backoff)
          retries exhausted ───────────────────────── dead letter

Backoff: exponential from `retry_base` seconds, doubled per failed attempt up to
`retry_cap`, times a jitter factor in [0.5, 1.0). The target's RetryPolicy bounds
it as AWS does (MaximumRetryAttempts default 185, MaximumEventAgeInSeconds default
86400). Times are the injected clock's, so a moved clock makes retries due.

A dead letter's `error` is the sender's reason, which names no secret.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from garrison.clock import Clock
from garrison.events import outbox
from garrison.events.outbox import Pending
from garrison.events.senders import Delivery, DeliveryFailed, Sender
from garrison.storage.database import Database
from garrison.storage.writer import Tx

log = logging.getLogger(__name__)

DEFAULT_MAX_RETRY_ATTEMPTS = 185  # AWS's RetryPolicy defaults
DEFAULT_MAX_EVENT_AGE_SECONDS = 86400
LEASE_SECONDS = 120.0
BATCH = 16
MAX_PER_RUN = 2000

# (ARN, the Target as PutTargets gave it) of a pending row's target; None once removed
TargetLookup = Callable[[Tx, Pending], "tuple[str, Mapping[str, Any]] | None"]


class Deliverer:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        holder: str,
        senders: Sequence[Sender],
        targets: TargetLookup,
        *,
        retry_base: float = 1.0,
        retry_cap: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.holder = holder
        self.senders = list(senders)
        self.targets = targets
        self.retry_base = retry_base
        self.retry_cap = retry_cap
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret

    def close(self) -> None:
        for sender in self.senders:
            try:
                sender.close()
            except Exception:
                log.warning("closing sender %s failed", type(sender).__name__)

    def backoff(self, attempts: int) -> float:
        """Seconds before the next try after `attempts` failed ones."""
        delay = min(self.retry_cap, self.retry_base * (2.0 ** max(0, attempts - 1)))
        return float(delay * (0.5 + 0.5 * self.rng.random()))

    def run_once(self, now: float | None = None) -> int:
        """Try every delivery due at `now` (default: the clock's); how many were tried."""
        at = self.clock.time() if now is None else now
        tried = 0
        while tried < MAX_PER_RUN:

            def claim(tx: Tx) -> list[tuple[Pending, tuple[str, Mapping[str, Any]] | None]]:
                rows = outbox.claim(tx, at, self.holder, LEASE_SECONDS, BATCH)
                return [(row, self.targets(tx, row)) for row in rows]

            batch = self.db.write(claim)
            if not batch:
                break
            for pending, target in batch:
                self._deliver(pending, target)
                tried += 1
        return tried

    # -- one row -----------------------------------------------------------------------------
    def _deliver(self, pending: Pending, target: tuple[str, Mapping[str, Any]] | None) -> None:
        if target is None:
            self._give_up(pending, "", pending.attempts, "the target no longer exists")
            return
        arn, params = target
        policy = params.get("RetryPolicy") or {}
        max_retries = int(policy.get("MaximumRetryAttempts", DEFAULT_MAX_RETRY_ATTEMPTS))
        max_age = float(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE_SECONDS))
        now = self.clock.time()
        if now - pending.created_at > max_age:
            self._give_up(
                pending, arn, pending.attempts, "MaximumEventAgeInSeconds exceeded before delivery"
            )
            return
        sender = next((s for s in self.senders if s.handles(arn)), None)
        if sender is None:
            self._give_up(pending, arn, pending.attempts, "no sender handles the target's ARN")
            return
        delivery = Delivery(
            delivery_id=pending.delivery_id,
            account_id=pending.account_id,
            region=pending.region,
            target_arn=arn,
            target=params,
            payload=pending.payload,
        )
        try:
            sender.send(delivery)
        except DeliveryFailed as failed:
            self._failed(pending, arn, failed, max_retries, max_age)
            return
        except Exception as exc:  # a sender's bug must not stop delivery of the others
            log.error(
                "sending delivery %s failed unexpectedly (%s)",
                pending.delivery_id,
                type(exc).__name__,
            )
            internal = DeliveryFailed(f"internal error ({type(exc).__name__})")
            self._failed(pending, arn, internal, max_retries, max_age)
            return
        holder = self.holder
        self.db.write(lambda tx: outbox.delivered(tx, pending.delivery_id, holder))

    def _failed(
        self, pending: Pending, arn: str, failed: DeliveryFailed, max_retries: int, max_age: float
    ) -> None:
        attempts = pending.attempts + 1
        now = self.clock.time()
        if not failed.retryable:
            self._give_up(pending, arn, attempts, failed.reason)
            return
        if attempts > max_retries:
            self._give_up(
                pending, arn, attempts, f"retries exhausted ({max_retries}): {failed.reason}"
            )
            return
        next_at = now + self.backoff(attempts)
        if next_at - pending.created_at > max_age:
            self._give_up(
                pending, arn, attempts, f"MaximumEventAgeInSeconds exceeded: {failed.reason}"
            )
            return
        log.info(
            "delivery %s to %s failed (attempt %d), retried in %.0f s: %s",
            pending.delivery_id,
            arn,
            attempts,
            next_at - now,
            failed.reason,
        )
        holder = self.holder
        self.db.write(
            lambda tx: outbox.retry_later(
                tx,
                pending.delivery_id,
                holder,
                attempts=attempts,
                next_attempt_at=next_at,
                error=failed.reason,
            )
        )

    def _give_up(self, pending: Pending, arn: str, attempts: int, reason: str) -> None:
        log.warning(
            "delivery %s of event %s to %s given up after %d attempt(s): %s",
            pending.delivery_id,
            pending.event_id,
            arn or pending.target_id,
            attempts,
            reason,
        )
        holder = self.holder
        now = self.clock.time()
        self.db.write(
            lambda tx: outbox.give_up(
                tx, pending, holder, target_arn=arn, attempts=attempts, error=reason, now=now
            )
        )
