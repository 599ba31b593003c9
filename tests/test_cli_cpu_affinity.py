"""`garrison server --cpu-affinity`: auto (the default: one CPU, moved when another serves
better), any, or a CPU list that every thread honours; the placement's decision.

The servers here run as one process (`--workers 1`), whose threads the tests read;
tests/e2e/test_workers.py has each worker of a server on a CPU of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from garrison.placement import (
    CpuTimes,
    Sample,
    choose,
    parse_cpu_list,
    read_own_stat,
    read_proc_stat,
)


def test_cpu_lists_as_linux_writes_them() -> None:
    assert parse_cpu_list("1") == {1}
    assert parse_cpu_list("0,2") == {0, 2}
    assert parse_cpu_list("0-3, 8") == {0, 1, 2, 3, 8}


@pytest.mark.parametrize("text", ["", "a", "1-", "3-1", "-1", "1,,2"])
def test_malformed_cpu_lists_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_cpu_list(text)


def _server(tmp_path: Path, *args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARRISON_")}
    cmd = [sys.executable, "-m", "garrison", "server", "--port", "0", "--workers", "1"]
    cmd += ["--data-dir", str(tmp_path / "data"), *args]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )


@contextmanager
def _running(tmp_path: Path, *args: str) -> Iterator[subprocess.Popen[str]]:
    """A server started with `args`, stopped on the way out."""
    proc = _server(tmp_path, *args)
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line or "Garrison listening on" in line:
                break
        assert line and "Garrison listening on" in line
        yield proc
    finally:
        proc.terminate()
        proc.wait(30)


def _threads_cpus(pid: int) -> list[set[int]]:
    """Each thread's allowed CPUs."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            status = (task / "status").read_text()
        except FileNotFoundError:  # the thread ended
            continue
        allowed = re.search(r"Cpus_allowed_list:\s*(\S+)", status)
        assert allowed, status
        found.append(parse_cpu_list(allowed.group(1)))
    return found


def _threads_policies(pid: int) -> list[int]:
    """Each thread's scheduling policy (os.SCHED_OTHER, os.SCHED_BATCH, ...)."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found.append(os.sched_getscheduler(int(task.name)))
        except ProcessLookupError:  # the thread ended
            continue
    return found


linux_only = pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="Linux only")


@linux_only
def test_every_server_thread_runs_on_the_cpus_given(tmp_path: Path) -> None:
    cpu = min(os.sched_getaffinity(0))
    with _running(tmp_path, "--cpu-affinity", str(cpu)) as proc:
        cpus = _threads_cpus(proc.pid)
        policies = _threads_policies(proc.pid)
    assert len(cpus) >= 3  # event loop, writer, committer at least
    assert all(c == {cpu} for c in cpus), cpus
    assert policies and all(p == os.SCHED_BATCH for p in policies), policies


@linux_only
def test_by_default_every_thread_shares_one_cpu(tmp_path: Path) -> None:
    allowed = os.sched_getaffinity(0)
    with _running(tmp_path) as proc:
        cpus = _threads_cpus(proc.pid)
        policies = _threads_policies(proc.pid)
    assert len(cpus) >= 4  # event loop, writer, committer, placement at least
    # no wake-up preemption among threads that share one CPU (garrison/placement.py)
    assert len(policies) >= 4 and all(p == os.SCHED_BATCH for p in policies), policies
    if len(allowed) >= 2:
        assert len(cpus[0]) == 1 and cpus[0] <= allowed
        assert all(c == cpus[0] for c in cpus), cpus
    else:  # one CPU allowed: nothing to choose
        assert all(c == allowed for c in cpus), cpus


@linux_only
def test_any_leaves_the_threads_to_the_kernel(tmp_path: Path) -> None:
    allowed = os.sched_getaffinity(0)
    with _running(tmp_path, "--cpu-affinity", "any") as proc:
        cpus = _threads_cpus(proc.pid)
        policies = _threads_policies(proc.pid)
    assert len(cpus) >= 3 and all(c == allowed for c in cpus), cpus
    assert policies and all(p == os.SCHED_OTHER for p in policies), policies


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs two CPUs to move between",
)
def test_the_threads_move_off_a_cpu_that_other_work_keeps_busy(tmp_path: Path) -> None:
    with _running(tmp_path, "--cpu-placement-interval-seconds", "0.2") as proc:
        (first,) = _threads_cpus(proc.pid)[0]
        # a busy loop pinned to the server's CPU: other work it cannot push away
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            os.sched_setaffinity(hog.pid, {first})
            # a move needs two 0.2 s readings in a row where another CPU is 20 points less
            # busy: within a second on a quiet machine, later while the suite's other
            # worker keeps that CPU busy
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                cpus = _threads_cpus(proc.pid)
                if all(len(c) == 1 and first not in c for c in cpus):
                    break
                time.sleep(0.1)
            cpus = _threads_cpus(proc.pid)
        finally:
            hog.kill()
            hog.wait(30)
    assert all(c == cpus[0] for c in cpus) and first not in cpus[0], (first, cpus)


def _sample(own: int, **cpus: tuple[int, int]) -> Sample:
    return Sample({int(k[3:]): CpuTimes(busy=b, total=t) for k, (b, t) in cpus.items()}, own)


def test_placement_moves_when_other_work_takes_its_cpu() -> None:
    before = _sample(0, cpu0=(0, 0), cpu1=(0, 0))
    # on CPU 0: 40 ticks of ours, 50 of other work, of 100; CPU 1 is 10 % busy
    after = _sample(40, cpu0=(90, 100), cpu1=(10, 100))
    assert choose(before, after, 0) == 1


def test_placement_stays_when_the_cpu_is_busy_with_its_own_work() -> None:
    before = _sample(0, cpu0=(0, 0), cpu1=(0, 0))
    # a load generator on CPU 1, this server alone on CPU 0 (5 ticks of interrupts)
    after = _sample(90, cpu0=(95, 100), cpu1=(30, 100))
    assert choose(before, after, 0) is None


def test_placement_stays_when_no_cpu_is_enough_less_busy() -> None:
    before = _sample(0, cpu0=(0, 0), cpu1=(0, 0), cpu2=(0, 0))
    after = _sample(20, cpu0=(90, 100), cpu1=(60, 100), cpu2=(55, 100))
    assert choose(before, after, 0) is None  # others take 70 here, 55 at best elsewhere
    after = _sample(20, cpu0=(90, 100), cpu1=(60, 100), cpu2=(45, 100))
    assert choose(before, after, 0) == 2  # the least busy one


def test_placement_never_moves_onto_a_cpu_another_worker_is_on() -> None:
    before = _sample(0, cpu0=(0, 0), cpu1=(0, 0), cpu2=(0, 0))
    # other work takes 80 % of CPU 0; CPU 1 is the least busy but another worker's
    after = _sample(10, cpu0=(90, 100), cpu1=(10, 100), cpu2=(30, 100))
    assert choose(before, after, 0) == 1
    assert choose(before, after, 0, frozenset({1})) == 2
    assert choose(before, after, 0, frozenset({1, 2})) is None


def test_placement_stays_when_the_counters_did_not_move() -> None:
    same = _sample(5, cpu0=(10, 100), cpu1=(0, 100))
    assert choose(same, same, 0) is None
    assert choose(same, _sample(5, cpu1=(0, 200)), 0) is None  # its CPU gone from the list


def test_proc_stat_is_read_per_cpu_with_idle_and_iowait_as_idle() -> None:
    text = (
        "cpu  30 0 10 100 5 0 1 0 0 0\n"
        "cpu0 10 1 5 50 2 0 1 0 4 0\n"
        "cpu1 20 0 5 50 3 0 0 0 0 0\n"
        "intr 12345\n"
    )
    assert read_proc_stat(text) == {0: CpuTimes(busy=17, total=69), 1: CpuTimes(25, 78)}
    assert read_proc_stat(Path("/proc/stat").read_text()).keys() >= os.sched_getaffinity(0)


def test_own_stat_survives_a_command_name_with_parentheses() -> None:
    fields = ["S"] + ["0"] * 10 + ["7", "3"] + ["0"] * 23 + ["1"] + ["0"] * 10
    assert read_own_stat("42 (a) (b c) " + " ".join(fields)) == (10, 1)
    ticks, cpu = read_own_stat(Path("/proc/self/stat").read_text())
    assert cpu in os.sched_getaffinity(0) and ticks >= 0


def test_a_bad_placement_interval_stops_the_server_with_a_message(tmp_path: Path) -> None:
    proc = _server(tmp_path, "--cpu-placement-interval-seconds", "0")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "--cpu-placement-interval-seconds must be positive" in out


def test_a_bad_cpu_list_stops_the_server_with_a_message(tmp_path: Path) -> None:
    proc = _server(tmp_path, "--cpu-affinity", "two")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "--cpu-affinity 'two'" in out


@linux_only
def test_cpus_the_process_may_not_use_stop_the_server_with_a_message(tmp_path: Path) -> None:
    proc = _server(tmp_path, "--cpu-affinity", "4095")
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "--cpu-affinity '4095': none of these CPUs is online and allowed" in out
