"""`garrison server --workers N`: one server, several processes, each a node.

Python runs one thread at a time per process, so a server process uses one CPU
however many it has (docs/performance.md). With ``--workers N`` the parent
process opens the store once (migrations, first start), binds the listening
socket, and forks N workers that accept on it; each worker is a complete node
(`Garrison`: its own caches, writer, audit chain and background work), as when
several nodes share PostgreSQL (DESIGN §6). What makes one machine's workers
behave as one server:

- **Commits take turns on SQLite** (`CommitLock`): a worker takes an exclusive
  lock on a file beside the database before its batch's BEGIN and gives it up
  after COMMIT, so the next worker's batch starts the moment one ends; SQLite's
  own busy handler would poll with sleeps of 1 ms and more instead.
- **Reads follow writes at once** (`SharedVersion`): a worker whose batch changed
  state publishes the new state version in memory shared with its siblings,
  before it answers; every worker compares it with its own before each request
  and drops its caches when it moved. A client that reads, on any connection,
  after a write was answered sees that write, as with one process.
- **Quotas are shared out**: each worker enforces 1/N of every KMS request rate.
- **The parent supervises**: SIGTERM or SIGINT stop every worker gracefully; a
  worker that dies is replaced; workers die with the parent (Linux) rather than
  outlive it.

``auto`` (the default) runs one worker per CPU the server may use (those of a
``--cpu-affinity`` list, else those the process is allowed). One process serves
when that is one CPU, in dev mode (its clock, reset and scheduler endpoints act
on one node's memory), and when the store is sealed with key shares (each worker
would need them).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import mmap
import os
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

# seconds before a worker that died is replaced
RESTART_DELAY = 1.0
_PR_SET_PDEATHSIG = 1


def parse_workers(setting: str) -> int | None:
    """``auto`` -> None; a positive integer -> itself. ValueError otherwise."""
    text = setting.strip().lower()
    if text == "auto":
        return None
    try:
        count = int(text)
    except ValueError:
        raise ValueError("expected auto or a positive number of processes") from None
    if not 1 <= count <= 256:
        raise ValueError("expected auto or a number of processes from 1 to 256")
    return count


def worker_count(setting: str, *, dev: bool, cpu_affinity: str) -> int:
    """How many processes serve: ``--workers``, with ``auto`` resolved.

    Dev mode always runs one (see the module's docstring). ``auto`` runs one per
    CPU the server may use: the CPUs of a ``--cpu-affinity`` list, else those this
    process is allowed. Raises ValueError for a malformed setting.
    """
    count = parse_workers(setting)
    if dev:
        return 1
    if count is not None:
        return count
    if cpu_affinity not in ("auto", "any"):
        from garrison.placement import parse_cpu_list

        return len(parse_cpu_list(cpu_affinity))
    if not hasattr(os, "sched_getaffinity"):
        return 1
    return max(1, len(os.sched_getaffinity(0)))


class SharedVersion:
    """The latest state version any worker committed, in memory the workers share.

    Made by the parent before it forks (eight bytes of an unlinked temporary file,
    mapped shared), so every worker maps the same eight bytes. `publish` compares
    and writes under a POSIX record lock on that file, so the version only grows
    (workers on PostgreSQL commit without a commit lock, and a late smaller version
    must not hide a newer one); the lock belongs to the process and goes with it if
    it dies holding it. A read takes no lock: a torn one is at worst a needless
    cache drop.
    """

    __slots__ = ("_file", "_map")

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile()  # noqa: SIM115 (open for the server's life)
        self._file.write(bytes(8))
        self._file.flush()
        self._map = mmap.mmap(self._file.fileno(), 8)

    def read(self) -> int:
        return int.from_bytes(self._map[:8], "little")

    def publish(self, version: int) -> None:
        fd = self._file.fileno()
        fcntl.lockf(fd, fcntl.LOCK_EX)
        try:
            if version > self.read():
                self._map[:8] = version.to_bytes(8, "little")
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN)


class CommitLock:
    """An exclusive lock shared by the workers of one SQLite store (flock on a file).

    Acquired on the writer thread or the committer thread and released on the
    committer thread: the lock belongs to the open file, not to a thread, and a
    worker has at most one batch in its transaction at a time.
    """

    __slots__ = ("_fd", "_held", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        self._held = False

    def acquire(self) -> None:
        if not self._held:
            fcntl.flock(self._fd, fcntl.LOCK_EX)  # blocks without the GIL
            self._held = True

    def release(self) -> None:
        if self._held:
            self._held = False
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self.release()
        os.close(self._fd)


def _die_with_parent() -> None:
    """Linux: this process gets SIGKILL when its parent dies (a killed server's
    workers must not go on serving its port and writing its store)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


class Supervisor:
    """The parent of the workers: forks them, replaces one that dies, stops them all.

    `run_worker(index)` is the worker's whole life, called in the child; its
    return value is the child's exit status. A worker that fails within
    `EARLY_EXIT` seconds of its start `EARLY_FAILURES` times in a row (it cannot
    open the store, say) stops the server rather than being restarted forever.
    """

    EARLY_EXIT = 10.0
    EARLY_FAILURES = 3

    def __init__(self, count: int, run_worker: Callable[[int], int]) -> None:
        self.count = count
        self._run_worker = run_worker
        self._children: dict[int, tuple[int, float]] = {}  # pid -> (worker index, start)
        self._stopping = False

    def _spawn(self, index: int) -> None:
        if self._stopping:
            return
        parent = os.getpid()
        # SIGTERM and SIGINT wait until the new worker is on the list `_stop` signals
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
        try:
            pid = os.fork()
            if pid == 0:  # the worker
                status = 1
                try:
                    signal.signal(signal.SIGTERM, signal.SIG_DFL)
                    signal.signal(signal.SIGINT, signal.SIG_DFL)
                    signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
                    _die_with_parent()
                    if os.getppid() != parent:  # the parent died before prctl
                        os._exit(1)
                    status = self._run_worker(index)
                except BaseException:
                    log.exception("worker %d failed", index)
                finally:
                    logging.shutdown()
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(status)
            self._children[pid] = (index, time.monotonic())
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def _stop(self, _signum: int, _frame: FrameType | None) -> None:
        self._stopping = True
        for pid in list(self._children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def run(self) -> int:
        """Fork the workers and wait for them; the exit status for the command."""
        previous = {sig: signal.signal(sig, self._stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        failures = 0
        status = 0
        try:
            for index in range(self.count):
                self._spawn(index)
            while self._children:
                try:
                    pid, raw = os.wait()
                except ChildProcessError:
                    break
                child = self._children.pop(pid, None)
                if child is None or self._stopping:
                    continue
                index, started = child
                code = os.waitstatus_to_exitcode(raw)
                early = time.monotonic() - started < self.EARLY_EXIT
                failures = failures + 1 if early else 0
                if failures >= self.EARLY_FAILURES:
                    log.error("worker %d exited with %d at start, %d times: stopping", index,
                              code, failures)  # fmt: skip
                    status = 1
                    self._stop(signal.SIGTERM, None)
                    continue
                log.error("worker %d (pid %d) exited with %d; starting another", index, pid, code)
                time.sleep(RESTART_DELAY)
                if not self._stopping:
                    self._spawn(index)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status
