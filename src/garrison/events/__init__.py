"""The event bus: how every Garrison service tells the world that something happened.

Services publish events in EventBridge's envelope (`envelope.Event`) inside the
transaction of the change they report; `bus.EventBus` matches them against the
rules of their account, Region and event bus (AWS event patterns,
`patterns.py`) and writes one outbox row per matched target in that same
transaction (`outbox.py`), so an event exists exactly when its change does.
`delivery.Deliverer` then sends each row to its target (`senders/`: API
destinations over HTTP(S), NATS subjects, JSON-lines files), retries with
backoff under the target's retry policy, and keeps what it gives up on as a
dead-letter record. Delivery is at-least-once and survives a crash: a row leaves
the outbox only once its target acknowledged it.

The EventBridge API over this (rules, targets, connections, API destinations,
PutEvents, TestEventPattern) is `garrison.services.events`. This package
imports no service and no protocol module.
"""
