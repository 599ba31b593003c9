"""File targets: each delivery appended as one JSON line to a file under a root.

    arn:garrison:file:<region>:<account>:path/<absolute path>
    arn:garrison:file:us-east-1:111122223333:path//var/lib/garrison/events/orders.jsonl
                                                   -> /var/lib/garrison/events/orders.jsonl

Everything after ``path/`` is the absolute path, its own leading ``/`` included
(hence the ``//``). The path must be normalised (no ``.``/``..``/empty components, no
trailing ``/``) and lie under the setting ``events_file_target_root`` (default
``<data dir>/events``); `check_file_target` is what PutTargets calls, and the
sender checks again at delivery, with symbolic links resolved, so a link made
later cannot lead a delivery out of the root. Missing directories under the
root are created (mode 0700), files are created with mode 0600.

A delivery is acknowledged only once its line is on disk: one ``write`` of the
whole line under an exclusive lock on the file (a lock per path in this process,
``flock`` between processes, so lines of concurrent deliveries never
interleave), then ``fsync`` of the file (and of its directory when the file is
new). The line is the payload in compact JSON; a payload that is not JSON (an
InputTransformer template may make plain text) is written as a JSON string.
Delivery is at-least-once: a crash between the ``fsync`` and the outbox row's
deletion writes the line again after the restart. A line torn by a power loss
before its ``fsync`` (never acknowledged, so delivered again) is ended with a
newline before the next line is written, so it cannot spoil the next one.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from pathlib import Path
from typing import Final

import orjson

from garrison.errors import ValidationException
from garrison.events.senders import Delivery, DeliveryFailed

ARN_PREFIX: Final = "arn:garrison:file:"
RESOURCE_PREFIX: Final = "path/"
MAX_PATH_BYTES: Final = 1024


def parse_file_arn(target_arn: str) -> tuple[str, str, str]:
    """``(region, account, absolute path)`` of a file-target ARN; ValueError if malformed."""
    if not target_arn.startswith(ARN_PREFIX):
        raise ValueError("not a file target ARN")
    parts = target_arn.split(":", 5)
    if len(parts) != 6:
        raise ValueError("a file target ARN has six ':'-separated parts")
    region, account, resource = parts[3], parts[4], parts[5]
    if not resource.startswith(RESOURCE_PREFIX):
        raise ValueError("the resource of a file target ARN is path/<absolute path>")
    path = resource[len(RESOURCE_PREFIX) :]
    if not path.startswith("/"):
        raise ValueError("the path of a file target must be absolute (path//var/...)")
    return region, account, path


def _path_problem(path: str) -> str | None:
    if "\x00" in path:
        return "contains a NUL character"
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"is longer than {MAX_PATH_BYTES} bytes"
    if path == "/" or path.endswith("/"):
        return "names a directory, not a file"
    names = path[1:].split("/")
    if any(name in ("", ".", "..") for name in names):
        return "is not a normalised absolute path (empty, '.' or '..' components)"
    return None


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _resolved_parent(path: Path) -> Path:
    """The real location of `path`'s directory: its deepest existing ancestor with links
    resolved, plus the names that do not exist yet."""
    return path.parent.resolve(strict=False)


def check_file_target(target_arn: str, root: Path, *, account_id: str, region: str) -> Path:
    """The file a file-target ARN names, checked as PutTargets must: ValidationException
    unless it is well formed, of `account_id` and `region`, and under `root`."""
    try:
        arn_region, arn_account, text = parse_file_arn(target_arn)
    except ValueError as err:
        raise ValidationException(
            f"Target ARN {target_arn!r} is not valid: {err} "
            "(arn:garrison:file:<region>:<account>:path/<absolute path>)"
        ) from None
    if arn_region != region or arn_account != account_id:
        raise ValidationException(
            f"Target ARN {target_arn!r} is not valid: a file target's Region and account "
            f"must be the rule's ({region}, {account_id})"
        )
    problem = _path_problem(text)
    if problem:
        raise ValidationException(f"Target ARN {target_arn!r} is not valid: the path {problem}")
    path = Path(text)
    real_root = root.resolve(strict=False)
    if not _under(path.parent, root) or not _under(_resolved_parent(path), real_root):
        raise ValidationException(
            f"Target ARN {target_arn!r} is not valid: file targets must be under {root} "
            "(the setting events_file_target_root)"
        )
    return path


def json_line(payload: bytes) -> bytes:
    """The payload as exactly one line of compact JSON, newline included."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        value = payload.decode("utf-8", "replace")
    return orjson.dumps(value) + b"\n"


class FileSender:
    """Appends deliveries to JSON-lines files under `root`."""

    def __init__(self, root: Path) -> None:
        self._root = Path(os.path.abspath(root))
        self._guard = threading.Lock()
        self._locks: dict[Path, threading.Lock] = {}

    def handles(self, target_arn: str) -> bool:
        return target_arn.startswith(ARN_PREFIX)

    def send(self, delivery: Delivery) -> None:
        try:
            path = check_file_target(
                delivery.target_arn,
                self._root,
                account_id=delivery.account_id,
                region=delivery.region,
            )
        except ValidationException as err:
            # the setting changed since PutTargets, or a link now leads out of the root
            raise DeliveryFailed(err.message, retryable=False) from None
        line = json_line(delivery.payload)
        with self._lock_for(path):
            try:
                self._append(path, line)
            except OSError as err:
                # a full disk, a directory not writable yet, ...: the operator can fix it
                reason = os.strerror(err.errno) if err.errno else type(err).__name__
                raise DeliveryFailed(f"file target {path}: {reason}") from None

    def close(self) -> None:
        pass

    def _lock_for(self, path: Path) -> threading.Lock:
        with self._guard:
            lock = self._locks.get(path)
            if lock is None:
                lock = self._locks[path] = threading.Lock()
            return lock

    def _append(self, path: Path, line: bytes) -> None:
        created_dirs = self._make_dirs(path.parent)
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(path, flags | os.O_EXCL, 0o600)
            created = True
        except FileExistsError:
            fd = os.open(path, flags, 0o600)
            created = False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                # a line torn by a power loss before its fsync: end it, keep ours whole
                line = b"\n" + line
            view = memoryview(line)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)  # releases the flock
        if created:
            # the new directory entries must survive a crash too
            for directory in [path.parent, *created_dirs]:
                _fsync_dir(directory)

    def _make_dirs(self, directory: Path) -> list[Path]:
        """Create the missing directories up to `directory` (all under the root, checked);
        the parents whose entries changed, deepest first."""
        missing: list[Path] = []
        current = directory
        while not current.exists():
            missing.append(current)
            if current == current.parent:
                break
            current = current.parent
        changed: list[Path] = []
        for item in reversed(missing):
            try:
                os.mkdir(item, 0o700)
            except FileExistsError:
                continue
            changed.append(item.parent)
        if not directory.is_dir():
            raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        return list(reversed(changed))


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
