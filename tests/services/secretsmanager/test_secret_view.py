"""The read cache's `SecretView` (services/secretsmanager/cache.py): the opened
envelopes it keeps and the stages it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from garrison.services.secretsmanager.cache import SecretView
from garrison.services.secretsmanager.store import SealedVersion, Secret
from garrison.storage.writer import Tx

SECRET = Secret(
    "sid-1", "111122223333", "us-east-1", "app/db", "arn:aws:secretsmanager:us-east-1:"
    "111122223333:secret:app/db-AbCdEf", None, None, 1.0, 1.0, None, None, None, False, None,
    None,
)  # fmt: skip


@dataclass
class Barrier:
    opened: list[str] = field(default_factory=list)

    def open(self, table: str, pk: str, column: str, value: bytes) -> bytes:
        self.opened.append(pk)
        return b"envelope:" + value


@dataclass
class FakeTx:
    barrier: Barrier = field(default_factory=Barrier)


def _sealed(version_id: str) -> SealedVersion:
    return SealedVersion(version_id, "string", f"sealed-{version_id}".encode(), None, 1.0, None)


def _view() -> SecretView:
    stages = {"AWSCURRENT": "v2", "AWSPREVIOUS": "v1", "BLUE": "v2"}
    return SecretView(SECRET, stages, {"v1": _sealed("v1"), "v2": _sealed("v2")})


def test_each_labelled_version_is_opened_once_per_view() -> None:
    tx = FakeTx()
    view = _view()
    for _ in range(3):
        current = view.opened(cast(Tx, tx), "v2")
        previous = view.opened(cast(Tx, tx), "v1")
        assert current is not None and current.value == b"envelope:sealed-v2"
        assert previous is not None and previous.value == b"envelope:sealed-v1"
        assert current.digest is None and current.version_id == "v2"
    assert len(tx.barrier.opened) == 2
    assert view.versions["v2"].sealed == b"sealed-v2"  # the sealed copy stays sealed


def test_a_version_without_a_label_is_not_in_the_view() -> None:
    tx = FakeTx()
    assert _view().opened(cast(Tx, tx), "v0") is None
    assert tx.barrier.opened == []


def test_stages_of_a_version_sorted_and_the_callers_own() -> None:
    view = _view()
    stages = view.stages_of("v2")
    assert stages == ["AWSCURRENT", "BLUE"]
    stages.append("changed")  # the response's list: changing it changes no later answer
    assert view.stages_of("v2") == ["AWSCURRENT", "BLUE"]
    assert view.stages_of("v1") == ["AWSPREVIOUS"]
    assert view.stages_of("v9") == []
