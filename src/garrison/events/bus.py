"""The event bus: events in, one outbox row per matched rule target out.

    EventBus.publish(tx, events)                  PutEvents, services' domain events
    EventBus.publish_api_call(tx, cloudtrail)     the pipeline's hook for audited calls
        -> rules of (account, Region, bus)        compiled once, cached
        -> pattern.matches(envelope)              garrison.events.patterns
        -> targets.render(target, envelope)       Input / InputPath / InputTransformer
        -> outbox.enqueue(tx, ...)                same transaction as the change
    after the commit: on_enqueued()               the deliverer wakes at once

The compiled rules of a bus are cached per (account, Region, bus). A change to
a rule or target of this node calls `changed(tx, ...)`, which drops that entry
at once, after the commit and on rollback; `clear()` (app.clear_caches) drops
everything when another node changed the store. A bus without enabled rules is
cached as an empty tuple, so the common case -- every state-changing API call
of an account that has no rules -- costs one dict lookup.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from garrison.clock import Clock
from garrison.errors import AwsError
from garrison.events import outbox, store
from garrison.events.envelope import DEFAULT_BUS, Event, api_call_event
from garrison.events.patterns import Pattern, compile_pattern
from garrison.events.targets import render
from garrison.storage.writer import Tx

log = logging.getLogger(__name__)

BusKey = tuple[str, str, str]  # (account, region, bus)

# PutEvents is a data event in CloudTrail: EventBridge does not receive it as an
# "AWS API Call via CloudTrail" event (and publishing it would echo every event).
_NOT_PUBLISHED = frozenset({("events.amazonaws.com", "PutEvents")})


def rule_arn(region: str, account_id: str, bus: str, name: str) -> str:
    """A rule's ARN: ``rule/<name>`` on the default bus, ``rule/<bus>/<name>`` otherwise."""
    path = name if bus == DEFAULT_BUS else f"{bus}/{name}"
    return f"arn:aws:events:{region}:{account_id}:rule/{path}"


@dataclass(frozen=True, slots=True)
class _Compiled:
    name: str
    arn: str
    pattern: Pattern
    targets: tuple[store.Target, ...]


class EventBus:
    def __init__(self, clock: Clock, new_id: Callable[[], str]) -> None:
        self.clock = clock
        self.new_id = new_id
        # told after a commit that enqueued deliveries (the deliverer's wake-up)
        self.on_enqueued: Callable[[], None] | None = None
        self._rules: dict[BusKey, tuple[_Compiled, ...]] = {}
        self._lock = threading.Lock()
        self._generation = 0

    # -- publishing ------------------------------------------------------------------
    def publish(self, tx: Tx, events: Iterable[Event]) -> int:
        """Match `events` against their buses' rules and enqueue a delivery per
        matched target, in `tx`. Returns how many deliveries were enqueued."""
        enqueued = 0
        now = self.clock.time()
        ingestion = self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
        for event in events:
            rules = self._rules_of(tx, (event.account, event.region, event.event_bus))
            if not rules:
                continue
            envelope = event.envelope()
            for rule in rules:
                if not rule.targets or not rule.pattern.matches(envelope):
                    continue
                for target in rule.targets:
                    try:
                        payload = render(
                            target.target,
                            envelope,
                            rule_arn=rule.arn,
                            rule_name=rule.name,
                            ingestion_time=ingestion,
                        )
                    except Exception:  # PutTargets validated it; never fail the change itself
                        log.exception(
                            "rule %s target %s: input not made", rule.name, target.target_id
                        )
                        continue
                    outbox.enqueue(
                        tx,
                        delivery_id=self.new_id(),
                        account_id=event.account,
                        region=event.region,
                        event_bus=event.event_bus,
                        rule=rule.name,
                        target_id=target.target_id,
                        event_id=event.event_id,
                        payload=payload,
                        now=now,
                    )
                    enqueued += 1
        if enqueued:
            tx.after_commit(self._wake)
        return enqueued

    def publish_api_call(self, tx: Tx, cloudtrail_event: Mapping[str, Any]) -> None:
        """Publish an audited call that changed state as "AWS API Call via CloudTrail"
        (the pipeline's `on_audited` hook)."""
        account = str(cloudtrail_event.get("recipientAccountId", ""))
        region = str(cloudtrail_event.get("awsRegion", ""))
        # the fast path: no rule on the account's default bus, nothing to build
        if not self._rules_of(tx, (account, region, DEFAULT_BUS)):
            return
        key = (cloudtrail_event.get("eventSource"), cloudtrail_event.get("eventName"))
        if key in _NOT_PUBLISHED:
            return
        event = api_call_event(self.new_id(), cloudtrail_event, self.clock.now())
        self.publish(tx, (event,))

    def _wake(self) -> None:
        hook = self.on_enqueued
        if hook is not None:
            hook()

    # -- the cache -------------------------------------------------------------------
    def _rules_of(self, tx: Tx, key: BusKey) -> tuple[_Compiled, ...]:
        found = self._rules.get(key)
        if found is not None:
            return found
        generation = self._generation
        loaded = self._load(tx, key)
        with self._lock:
            # a change meanwhile may have made what was read stale: use it, keep it not
            if generation == self._generation:
                self._rules[key] = loaded
        return loaded

    def _load(self, tx: Tx, key: BusKey) -> tuple[_Compiled, ...]:
        account, region, bus = key
        rules = store.enabled_rules(tx, account, region, bus)
        if not rules:
            return ()
        targets: dict[str, list[store.Target]] = {}
        for target in store.targets_of_bus(tx, account, region, bus):
            targets.setdefault(target.rule, []).append(target)
        compiled: list[_Compiled] = []
        for rule in sorted(rules, key=lambda r: r.name):
            assert rule.event_pattern is not None  # enabled_rules selects rules with one
            try:
                pattern = compile_pattern(rule.event_pattern)
            except AwsError:  # PutRule validated it: a row written by hand or by an old release
                log.error(
                    "rule %s of %s/%s: its pattern no longer compiles", rule.name, account, region
                )
                continue
            compiled.append(
                _Compiled(
                    name=rule.name,
                    arn=rule_arn(region, account, bus, rule.name),
                    pattern=pattern,
                    targets=tuple(sorted(targets.get(rule.name, ()), key=lambda t: t.target_id)),
                )
            )
        return tuple(compiled)

    def changed(self, tx: Tx, account_id: str, region: str, bus: str) -> None:
        """A rule or target of this bus changed in `tx`: forget its rules now, after
        the commit and if it rolls back."""
        key = (account_id, region, bus)

        def forget() -> None:
            with self._lock:
                self._generation += 1
                self._rules.pop(key, None)

        forget()
        tx.after_commit(forget)
        tx.on_rollback(forget)
        tx.mark_changed()

    def clear(self) -> None:
        """Forget every bus's rules (another node changed the store)."""
        with self._lock:
            self._generation += 1
            self._rules.clear()
