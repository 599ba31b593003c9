"""Where the server's threads run: together on one CPU, moved when another serves better.

The server's threads (the event loop, the writer, the committer, the background
jobs) share one GIL: one runs Python at a time, and every batch of requests
passes between them several times. On different CPUs each hand-off is a
cross-CPU wake-up (an inter-processor interrupt, which a virtual machine pays
dearly for, and a cold cache); on one CPU it is a context switch. On the 2-core
KVM guest of docs/performance.md a round trip between two Python threads costs
33 us of CPU across the cores and 11.5 us on one, and Encrypts/s rose by 75 %
with every thread on one CPU (8-12 % on an earlier host).

`--cpu-affinity`:

- ``auto`` (the default): every thread on one CPU, the one the server starts on;
  every ``--cpu-placement-interval-seconds`` (with jitter) the CPUs' load in
  /proc/stat is read, and when two windows in a row show the server's CPU busier
  with other work than another allowed CPU is with everything (by more than
  `MARGIN`), every thread moves to the idlest one. Two servers started on one
  CPU part within a few windows; a server beside an unpinned load generator
  stays where it is (the kernel moves what is not pinned). Not on Linux, or with
  one allowed CPU: nothing is pinned.
- ``any``: the kernel places each thread.
- a CPU list (``1``, ``0,2``, ``0-3,8``): every thread on those CPUs, fixed.

With ``auto`` or a CPU list the threads also run under Linux's ``SCHED_BATCH``
policy (`_batch_policy`): a thread woken by another of the server's (the writer by
the event loop handing it requests, the committer by the writer) then waits for the
running one to block instead of preempting it, only to wait for the GIL it holds.
Interleaved on the same server (docs/performance.md, ninth pass): Encrypt +3 to +11 %
requests/s and 5-8 % less CPU a request. ``any`` leaves the kernel's defaults.

With ``--workers`` (garrison/workers.py), worker k of a server starts on the k-th
CPU it may use (``auto``; each then moves on its own as above, but never onto a CPU
another worker of the server is on) or is fixed to the k-th CPU of the list, round
robin. Without that rule the workers, reading the same counters, met: while a load
generator and another server kept both CPUs of a 2-core machine busy, the two
workers of one server were seen on one CPU for seconds at a time, and a load that
came meanwhile found them sharing it (docs/performance.md, eleventh pass).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

# how much more of a CPU (as a fraction) another CPU must offer before the threads move
MARGIN = 0.2


def parse_cpu_list(text: str) -> set[int]:
    """CPU numbers from a Linux CPU list: "1", "0,2", "0-3,8"."""
    cpus: set[int] = set()
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        if not first.isdigit() or (dash and not last.isdigit()):
            raise ValueError("expected auto, any or CPU numbers such as 1, 0,2 or 0-3")
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise ValueError(f"{part.strip()} is an empty range")
        cpus.update(range(low, high + 1))
    return cpus


@dataclass(frozen=True)
class CpuTimes:
    """One CPU's counters from /proc/stat, in clock ticks."""

    busy: int
    total: int


@dataclass(frozen=True)
class Sample:
    """The allowed CPUs' counters and this process's own CPU time, at one moment."""

    cpus: dict[int, CpuTimes]
    own: int  # this process's user + system time, in clock ticks


def read_proc_stat(text: str) -> dict[int, CpuTimes]:
    """Per-CPU busy and total ticks from /proc/stat's ``cpuN`` lines (idle and iowait
    are idle; guest time is already inside user time, so it is not added again)."""
    cpus: dict[int, CpuTimes] = {}
    for line in text.splitlines():
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *values = line.split()
        ticks = [int(v) for v in values[:8]]
        ticks += [0] * (8 - len(ticks))
        total = sum(ticks)
        cpus[int(name[3:])] = CpuTimes(busy=total - ticks[3] - ticks[4], total=total)
    return cpus


def read_own_stat(text: str) -> tuple[int, int]:
    """(user + system ticks of the whole process, the CPU its main thread last ran
    on) from /proc/self/stat; the command name may hold spaces and parentheses."""
    fields = text[text.rindex(")") + 2 :].split()
    # fields[0] is field 3 (state): utime is field 14, stime 15, processor 39
    return int(fields[11]) + int(fields[12]), int(fields[36])


def choose(
    before: Sample, after: Sample, current: int, taken: frozenset[int] = frozenset()
) -> int | None:
    """The CPU to move to after this window, or None to stay on `current`.

    The window's share of `current` taken by other work (its busy time less this
    process's own) is compared with each other CPU's whole busy share: the threads
    move to the least busy one when it is more than `MARGIN` less busy. CPUs in
    `taken` (the other workers') are not candidates.
    """

    def share(cpu: int, less: int = 0) -> float | None:
        """The fraction of `cpu` busy in the window, less `less` ticks."""
        a, b = before.cpus.get(cpu), after.cpus.get(cpu)
        if a is None or b is None or b.total <= a.total:
            return None
        return max(0.0, min(1.0, (b.busy - a.busy - less) / (b.total - a.total)))

    others_here = share(current, after.own - before.own)
    if others_here is None:
        return None
    loads = [
        (load, cpu)
        for cpu in after.cpus
        if cpu != current and cpu not in taken and (load := share(cpu)) is not None
    ]
    if loads:
        load, cpu = min(loads)
        if others_here - load > MARGIN:
            return cpu
    return None


def _pin_all(cpus: set[int]) -> None:
    """Every thread of this process onto `cpus` (threads started later inherit it)."""
    for tid in os.listdir("/proc/self/task"):
        with contextlib.suppress(ProcessLookupError):  # the thread ended meanwhile
            os.sched_setaffinity(int(tid), cpus)


def _batch_policy() -> None:
    """Every thread of this process under SCHED_BATCH (threads started later inherit
    it): no wake-up preemption among threads that share one CPU and one GIL."""
    batch = getattr(os, "SCHED_BATCH", None)
    if batch is None:
        return
    for tid in os.listdir("/proc/self/task"):
        # the thread ended meanwhile, or a sandbox refuses the call: a tuning, not a need
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.sched_setscheduler(int(tid), batch, os.sched_param(0))


class Placement:
    """``--cpu-affinity auto``: pins the process to one CPU and moves it when another
    serves better (see the module's docstring). `start` before the server starts its
    threads; `stop` at exit. `taken`: the CPUs not to move to (the other workers')."""

    def __init__(
        self,
        allowed: set[int],
        interval: float,
        taken: Callable[[], frozenset[int]] = frozenset,
    ) -> None:
        self._allowed = allowed
        self._interval = interval
        self._taken = taken
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.cpu = -1  # set by `start`

    def _sample(self) -> Sample:
        cpus = read_proc_stat(Path("/proc/stat").read_text())
        own, _ = read_own_stat(Path("/proc/self/stat").read_text())
        return Sample({c: t for c, t in cpus.items() if c in self._allowed}, own)

    def start(self, cpu: int | None = None) -> None:
        """Pin to `cpu` (a worker's own), else to the CPU this process runs on."""
        if cpu is None:
            _, cpu = read_own_stat(Path("/proc/self/stat").read_text())
        self.cpu = cpu if cpu in self._allowed else min(self._allowed)
        _pin_all({self.cpu})
        self._thread = threading.Thread(target=self._run, name="garrison-placement", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self) -> None:
        before = self._sample()
        pending: int | None = None
        # jitter, so that servers started together do not decide together
        while not self._stop.wait(self._interval * random.uniform(0.75, 1.25)):  # noqa: S311
            try:
                after = self._sample()
                target = choose(before, after, self.cpu, self._taken())
                before = after
                if target is None or target != pending:
                    pending = target  # a move needs two windows in a row, to one CPU
                    continue
                log.info("moving the server's threads from CPU %d to CPU %d", self.cpu, target)
                self.cpu, pending = target, None
                _pin_all({target})
                before = self._sample()  # the next window starts on the new CPU
            except (OSError, ValueError) as err:  # a CPU gone offline, an unreadable /proc
                log.warning("CPU placement stopped: %s", err)
                return


def sibling_cpus() -> frozenset[int]:
    """The CPUs the other workers of this server are each fixed to (Linux: the
    parent's other children, read from /proc); a worker that cannot tell gets none."""
    parent = os.getppid()
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return frozenset()
    cpus: set[int] = set()
    for child in children:
        if int(child) == os.getpid():
            continue
        with contextlib.suppress(OSError):  # ended meanwhile
            pinned = os.sched_getaffinity(int(child))
            if len(pinned) == 1:
                cpus |= pinned
    return frozenset(cpus)


def check_cpu_affinity(setting: str) -> None:
    """For a server of several workers, before any starts: a CPU list must be well
    formed and name only CPUs this process may use (each worker is fixed to one).
    ValueError otherwise."""
    if setting in ("auto", "any") or not hasattr(os, "sched_getaffinity"):
        return
    cpus = parse_cpu_list(setting)
    allowed = os.sched_getaffinity(0)
    if not cpus <= allowed:
        may = ",".join(str(c) for c in sorted(allowed))
        missing = ",".join(str(c) for c in sorted(cpus - allowed))
        raise ValueError(
            f"CPU {missing} is not online and allowed to this process (allowed: {may})"
        )


def place(setting: str, interval: float, worker: int | None = None) -> Placement | None:
    """Apply `--cpu-affinity` to this process; a running `Placement` for ``auto``.

    `worker`: this process is worker number `worker` of a server (its own CPU).
    Raises ValueError or OSError for a CPU list that is malformed or not allowed."""
    if setting == "any":
        return None
    linux = hasattr(os, "sched_setaffinity") and Path("/proc/self/task").is_dir()
    if setting != "auto":
        cpus = parse_cpu_list(setting)
        if worker is not None:
            ordered = sorted(cpus)
            cpus = {ordered[worker % len(ordered)]}
        if not linux:
            raise OSError("CPU affinity is only supported on Linux")
        try:
            _pin_all(cpus)
        except OSError as err:
            if err.errno != errno.EINVAL:
                raise
            may = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
            raise ValueError(
                f"none of these CPUs is online and allowed to this process (allowed: {may})"
            ) from None
        _batch_policy()
        return None
    if not linux:
        return None
    _batch_policy()
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        return None
    placement = Placement(allowed, interval, frozenset if worker is None else sibling_cpus)
    ordered = sorted(allowed)
    placement.start(None if worker is None else ordered[worker % len(ordered)])
    return placement
