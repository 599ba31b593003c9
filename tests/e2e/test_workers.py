"""`garrison server --workers`: one server as several processes that behave as one.

Every test drives a real server of two worker processes over HTTP. A fresh boto3
client is a fresh connection, which the kernel hands to either worker, so a
write and the read after it land on different workers about half the time.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BACKENDS, ServerProcess, backend_server, make_client
from tests.e2e.helpers import wait_for

ROUNDS = 24


def workers_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(child) for child in text.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat  # a zombie has died


linux_only = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="reads the workers from /proc"
)


@pytest.fixture(scope="module", params=BACKENDS)
def pair(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server of two workers (not dev mode, which runs one) on each backend."""
    yield from backend_server(
        tmp_path_factory.mktemp("workers"), request.param, dev=False, extra_args=["--workers", "2"]
    )


def fresh(server: ServerProcess, service: str, **kwargs: Any) -> Any:
    """A client on a connection of its own."""
    return make_client(server.endpoint, service, **kwargs)


@linux_only
def test_two_workers_serve_and_the_trail_has_a_chain_each(pair: ServerProcess) -> None:
    assert pair.proc is not None
    assert len(wait_for(lambda: workers_of(pair.proc.pid), "the workers")) == 2
    assert "(2 worker processes)" in "".join(pair.output)
    key = fresh(pair, "kms").create_key()["KeyMetadata"]["KeyId"]
    for _ in range(ROUNDS):
        fresh(pair, "kms").encrypt(KeyId=key, Plaintext=b"x")
    verified = pair.cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    chains = re.search(r"in (\d+) chain", verified.stdout)
    assert chains and int(chains.group(1)) == 2, verified.stdout


def test_a_read_after_a_write_sees_it_on_any_worker(pair: ServerProcess) -> None:
    name = f"/workers/{os.urandom(4).hex()}"
    for i in range(ROUNDS):
        fresh(pair, "ssm").put_parameter(
            Name=name, Value=f"v{i}", Type="SecureString", Overwrite=True
        )
        got = fresh(pair, "ssm").get_parameter(Name=name, WithDecryption=True)
        assert got["Parameter"]["Value"] == f"v{i}"
        assert got["Parameter"]["Version"] == i + 1


def test_a_disabled_key_is_disabled_on_every_worker(pair: ServerProcess) -> None:
    key = fresh(pair, "kms").create_key()["KeyMetadata"]["KeyId"]
    for _ in range(4):  # every worker caches the enabled key
        fresh(pair, "kms").encrypt(KeyId=key, Plaintext=b"x")
    for i in range(ROUNDS // 2):
        fresh(pair, "kms").disable_key(KeyId=key)
        with pytest.raises(ClientError) as exc:
            fresh(pair, "kms").encrypt(KeyId=key, Plaintext=b"x")
        assert exc.value.response["Error"]["Code"] == "DisabledException", i
        fresh(pair, "kms").enable_key(KeyId=key)
        fresh(pair, "kms").encrypt(KeyId=key, Plaintext=b"x")


def test_a_deleted_access_key_is_refused_by_every_worker(pair: ServerProcess) -> None:
    iam = fresh(pair, "iam")
    user = f"workers-{os.urandom(3).hex()}"
    iam.create_user(UserName=user)
    iam.attach_user_policy(UserName=user, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess")
    made = iam.create_access_key(UserName=user)["AccessKey"]
    creds = {"access_key": made["AccessKeyId"], "secret_key": made["SecretAccessKey"]}
    for _ in range(6):  # the key works, and every worker has seen it
        fresh(pair, "kms", **creds).list_keys()
    fresh(pair, "iam").delete_access_key(UserName=user, AccessKeyId=made["AccessKeyId"])
    for _ in range(ROUNDS):
        with pytest.raises(ClientError) as exc:
            fresh(pair, "kms", **creds).list_keys()
        assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException"


def test_writes_from_every_worker_at_once_all_commit(pair: ServerProcess) -> None:
    prefix = f"/workers/{os.urandom(4).hex()}"

    def write(i: int) -> str:
        fresh(pair, "ssm").put_parameter(Name=f"{prefix}/p{i}", Value=f"v{i}", Type="String")
        made = fresh(pair, "kms").create_key(Description=f"{prefix} {i}")["KeyMetadata"]
        return str(made["KeyId"])

    with ThreadPoolExecutor(8) as pool:
        keys = list(pool.map(write, range(48)))
    assert len(set(keys)) == 48
    found = fresh(pair, "ssm").get_parameters_by_path(Path=prefix, MaxResults=10)
    names = {p["Name"] for p in found["Parameters"]}
    token = found.get("NextToken")
    while token:
        found = fresh(pair, "ssm").get_parameters_by_path(
            Path=prefix, MaxResults=10, NextToken=token
        )
        names |= {p["Name"] for p in found["Parameters"]}
        token = found.get("NextToken")
    assert names == {f"{prefix}/p{i}" for i in range(48)}
    verified = pair.cli("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


@linux_only
def test_a_worker_that_dies_is_replaced(pair: ServerProcess) -> None:
    assert pair.proc is not None
    before = wait_for(lambda: workers_of(pair.proc.pid), "the workers")
    os.kill(before[0], signal.SIGKILL)
    after = wait_for(
        lambda: (w := workers_of(pair.proc.pid)) and len(w) == 2 and before[0] not in w and w,
        "a worker in place of the killed one",
    )
    assert before[1] in after
    key = fresh(pair, "kms").create_key()["KeyMetadata"]["KeyId"]
    for _ in range(ROUNDS // 2):  # whichever worker answers
        fresh(pair, "kms").encrypt(KeyId=key, Plaintext=b"x")


def _server(tmp_path: Path, *args: str, dev: bool = False) -> ServerProcess:
    return ServerProcess(tmp_path / "data", dev=dev, extra_args=list(args)).start()


@linux_only
def test_sigterm_stops_every_worker(tmp_path: Path) -> None:
    srv = _server(tmp_path, "--workers", "2")
    assert srv.proc is not None
    workers = wait_for(lambda: (w := workers_of(srv.proc.pid)) and len(w) == 2 and w, "2 workers")
    srv.proc.send_signal(signal.SIGTERM)
    assert srv.proc.wait(30) == 0
    assert not any(alive(pid) for pid in workers)


@linux_only
def test_the_workers_die_with_a_killed_server(tmp_path: Path) -> None:
    srv = _server(tmp_path, "--workers", "2")
    assert srv.proc is not None
    workers = wait_for(lambda: (w := workers_of(srv.proc.pid)) and len(w) == 2 and w, "2 workers")
    srv.kill()  # SIGKILL: nothing of the server may go on serving or writing
    wait_for(lambda: not any(alive(pid) for pid in workers), "the workers to die", timeout=10)


@linux_only
def test_dev_mode_serves_from_one_process(tmp_path: Path) -> None:
    srv = _server(tmp_path, "--workers", "2", dev=True)
    try:
        assert srv.proc is not None
        srv.client("kms").list_keys()
        assert workers_of(srv.proc.pid) == []
    finally:
        srv.stop()


@linux_only
def test_each_worker_has_a_cpu_of_its_own(tmp_path: Path) -> None:
    allowed = os.sched_getaffinity(0)
    if len(allowed) < 2:
        pytest.skip("needs two CPUs")
    # --workers auto: one per CPU (no placement moves during the test)
    srv = _server(tmp_path, "--cpu-placement-interval-seconds", "600")
    try:
        assert srv.proc is not None
        workers = wait_for(
            lambda: (w := workers_of(srv.proc.pid)) and len(w) == len(allowed) and w,
            "a worker per CPU",
        )
        placed = [os.sched_getaffinity(pid) for pid in workers]
        assert all(len(cpus) == 1 for cpus in placed), placed
        assert set().union(*placed) == allowed
    finally:
        srv.stop()


@linux_only
def test_a_worker_never_moves_onto_another_workers_cpu(tmp_path: Path) -> None:
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        pytest.skip("needs two CPUs")
    srv = _server(tmp_path, "--workers", "2", "--cpu-placement-interval-seconds", "0.2")
    hog = None
    try:
        assert srv.proc is not None
        workers = wait_for(
            lambda: (w := workers_of(srv.proc.pid)) and len(w) == 2 and w, "two workers"
        )
        first = os.sched_getaffinity(workers[0])
        # other work takes the first worker's CPU; the only CPU less busy is the other
        # worker's (idle): moving there would put both workers on one CPU
        hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        os.sched_setaffinity(hog.pid, first)
        seen = []
        deadline = time.monotonic() + 3  # 15 windows of 0.2 s; a move needs two
        while time.monotonic() < deadline:
            placed = [os.sched_getaffinity(pid) for pid in workers]
            seen.append(placed)
            assert placed[0] != placed[1], seen
            time.sleep(0.05)
    finally:
        if hog is not None:
            hog.kill()
            hog.wait(30)
        srv.stop()


@pytest.mark.parametrize(
    ("value", "message"),
    [("0", "from 1 to 256"), ("many", "expected auto or a positive number"), ("-2", "from 1")],
)
def test_a_bad_workers_setting_stops_the_server(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(RuntimeError) as exc:
        _server(tmp_path, "--workers", value)
    assert f"--workers {value!r}" in str(exc.value) and message in str(exc.value)


def test_a_store_sealed_with_key_shares_is_served_by_one_process(tmp_path: Path) -> None:
    srv = ServerProcess(tmp_path / "data", dev=False, extra_args=["--workers", "2"])
    init = srv.cli("operator", "init", "--shares", "3", "--threshold", "2")
    assert init.returncode == 0, init.stdout + init.stderr
    srv.start(wait_healthy=False)
    try:
        srv.wait_healthy(expect_sealed=True)
        assert "one process serves" in "".join(srv.output)
        assert srv.proc is not None and workers_of(srv.proc.pid) == []
    finally:
        srv.stop()


def test_threads_of_a_worker_share_the_shared_version() -> None:
    """The version one process publishes is read by a process forked before it."""
    from garrison.workers import SharedVersion

    shared = SharedVersion()
    shared.publish(5)
    pid = os.fork()
    if pid == 0:
        shared.publish(9)
        shared.publish(7)  # never backwards
        os._exit(0)
    os.waitpid(pid, 0)
    assert shared.read() == 9


def test_the_commit_lock_excludes_another_process(tmp_path: Path) -> None:
    from garrison.workers import CommitLock

    path = str(tmp_path / "lock")
    held = CommitLock(path)
    held.acquire()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        other = CommitLock(path)
        other.acquire()  # blocks until the parent lets go
        os.write(write, b"x")
        os._exit(0)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(os.read(read, 1)), daemon=True)
    reader.start()
    reader.join(0.5)
    assert got == []  # still waiting
    held.release()
    reader.join(10)
    assert got == [b"x"]
    os.waitpid(pid, 0)
    held.close()
