"""Where deliveries go: one `Sender` per kind of target ARN.

    arn:aws:events:<region>:<account>:api-destination/<name>/<uuid>   senders/http.py
    arn:garrison:nats:<region>:<account>:subject/<subject>             senders/nats.py
    arn:garrison:file:<region>:<account>:path/<absolute path>          senders/file.py

A sender is given the delivery (the payload the target receives, as bytes of
JSON, and the target's ARN and parameters) and either returns (the target
acknowledged it) or raises `DeliveryFailed` (`retryable` False when retrying
cannot help: the target no longer exists, a 4xx other than 429/408, ...).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol


class DeliveryFailed(Exception):
    """A target did not take a delivery; `reason` is safe to record (no secrets)."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: str
    account_id: str
    region: str
    target_arn: str
    target: Mapping[str, Any]  # the Target as PutTargets gave it (HttpParameters, ...)
    payload: bytes  # what the target receives: JSON


class Sender(Protocol):
    def handles(self, target_arn: str) -> bool: ...

    def send(self, delivery: Delivery) -> None: ...

    def close(self) -> None: ...
