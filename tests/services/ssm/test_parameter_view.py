"""The read cache's `ParameterView` (services/ssm/cache.py): which opened values it keeps.

A SecureString's value, once the barrier opened it, is KMS's ciphertext and is
kept in its view; a String's opened value is its plaintext and is opened again
on every read, never kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from garrison.services.ssm.cache import ParameterView
from garrison.services.ssm.domain import SECURE_STRING, STRING, Parameter, ParameterVersion
from garrison.storage.writer import Tx


@dataclass
class Barrier:
    opened: list[tuple[str, str, str]] = field(default_factory=list)

    def open(self, table: str, pk: str, column: str, value: bytes) -> bytes:
        self.opened.append((table, pk, column))
        return b"opened:" + value


@dataclass
class FakeTx:
    barrier: Barrier = field(default_factory=Barrier)


PARAMETER = Parameter("pid-1", "111122223333", "us-east-1", "/app/db", 3, "Standard", 1.0)


def _view(kind: str) -> ParameterView:
    latest = ParameterVersion(
        PARAMETER, 3, kind, "text", "Standard", None, None, None, None, b"sealed", 1.0, "me"
    )
    return ParameterView(PARAMETER, latest, arn=PARAMETER.arn)


def test_a_secure_string_is_opened_once_per_view() -> None:
    tx = FakeTx()
    view = _view(SECURE_STRING)
    first = view.latest_version(cast(Tx, tx))
    second = view.latest_version(cast(Tx, tx))
    assert first.stored == second.stored == b"opened:sealed"
    assert first is second
    assert len(tx.barrier.opened) == 1
    assert view.latest.stored == b"sealed"  # the view's own copy stays sealed
    # another view (after an invalidation, a reload) opens again
    _view(SECURE_STRING).latest_version(cast(Tx, tx))
    assert len(tx.barrier.opened) == 2


def test_a_string_is_opened_on_every_read_and_never_kept() -> None:
    tx = FakeTx()
    view = _view(STRING)
    reads = [view.latest_version(cast(Tx, tx)) for _ in range(3)]
    assert [r.stored for r in reads] == [b"opened:sealed"] * 3
    assert len(tx.barrier.opened) == 3
    assert view._opened == []  # the plaintext is kept nowhere in the view


def test_the_opened_version_is_the_latest_with_its_value_opened() -> None:
    view = _view(SECURE_STRING)
    opened = view.latest_version(cast(Tx, FakeTx()))
    sealed = view.latest
    for name in ParameterVersion.__dataclass_fields__:
        if name != "stored":
            assert getattr(opened, name) == getattr(sealed, name), name
    assert view.arn == "arn:aws:ssm:us-east-1:111122223333:parameter/app/db"
