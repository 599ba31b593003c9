"""`--workers`: how many processes a server runs, and the quotas each one enforces."""

from __future__ import annotations

import os

import pytest

from garrison.services.kms.quotas import RequestQuotas
from garrison.workers import parse_workers, worker_count


def test_workers_are_auto_or_a_count() -> None:
    assert parse_workers("auto") is None
    assert parse_workers(" AUTO ") is None
    assert parse_workers("3") == 3


@pytest.mark.parametrize("text", ["", "0", "-1", "257", "two", "1.5"])
def test_other_workers_settings_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_workers(text)


def test_auto_is_one_per_cpu_the_server_may_use() -> None:
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    assert worker_count("auto", dev=False, cpu_affinity="auto") == allowed
    assert worker_count("auto", dev=False, cpu_affinity="any") == allowed
    assert worker_count("auto", dev=False, cpu_affinity="0-3,8") == 5
    assert worker_count("3", dev=False, cpu_affinity="0") == 3


def test_dev_mode_is_one_process_whatever_is_asked() -> None:
    assert worker_count("auto", dev=True, cpu_affinity="auto") == 1
    assert worker_count("4", dev=True, cpu_affinity="auto") == 1


def test_each_worker_enforces_its_share_of_every_kms_rate() -> None:
    quotas = RequestQuotas.configured(
        symmetric=100, rsa=10, ecc=0, ml_dsa=4, operations="CreateKey=15,ListKeys=50"
    )
    shared = quotas.shared_by(2)
    assert (shared.symmetric, shared.rsa, shared.ecc, shared.ml_dsa) == (50, 5, 0, 2)
    assert sorted(shared.operations.values()) == [7.5, 25]
    assert quotas.shared_by(1) is quotas
