"""Injected time. Nothing in Garrison calls `time.time()` for domain decisions.

`SystemClock` is wall time; `OffsetClock` is wall time plus an offset that dev
mode can advance (``POST /_garrison/clock``) so end-to-end tests move time
instead of sleeping. Tests of pure logic use `FixedClock`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def time(self) -> float:
        """The current time as epoch seconds."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def time(self) -> float:
        return time.time()


class OffsetClock:
    """Wall time moved forward by `advance`; never moves backwards."""

    def __init__(self, offset_seconds: float = 0.0) -> None:
        self.offset = offset_seconds

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self.offset += seconds

    def time(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.time(), UTC)


class FixedClock:
    """A clock that moves only when told to; for unit tests."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def time(self) -> float:
        return self.t

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)
