"""Shared fixtures: real Garrison server processes, on SQLite and on PostgreSQL.

A server is started once per test session (per xdist worker) and per backend;
tests share it and create their own keys, so they run in any order.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config

ACCOUNT_ID = "111122223333"
ACCESS_KEY_ID = "AKIAGARRISONTEST0001"
SECRET_ACCESS_KEY = "garrisonTestSecretAccessKey0000000000000"
REGION = "us-east-1"
PG_ADMIN_URL = os.environ.get("GARRISON_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ["sqlite", "postgresql"]


def pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=3):
            return True
    except Exception:
        return False


def create_pg_database() -> str:
    import psycopg

    name = "garrison_test_" + secrets.token_hex(6)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{name}"


def drop_pg_database(url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class ServerProcess:
    """A `garrison server` child process and how to reach it."""

    data_dir: Path
    database_url: str = ""
    dev: bool = True
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    endpoint: str = ""
    output: list[str] = field(default_factory=list)

    def start(self, timeout: float = 30.0, wait_healthy: bool = True) -> ServerProcess:
        args = [
            sys.executable,
            "-m",
            "garrison.cli.main",
            "server",
            "--port",
            "0",
            "--data-dir",
            str(self.data_dir),
            *self.extra_args,
        ]
        if self.dev:
            args.append("--dev")
        if self.database_url:
            args += ["--database-url", self.database_url]
        env = {
            **os.environ,
            "GARRISON_ACCOUNT_ID": ACCOUNT_ID,
            "GARRISON_ROOT_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "GARRISON_ROOT_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
            "GARRISON_SCHEDULER_INTERVAL_SECONDS": "3600",
            **self.env,
        }
        self.proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
        )
        deadline = time.monotonic() + timeout
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("server exited early:\n" + "".join(self.output))
            self.output.append(line)
            if line.startswith("Garrison listening on "):
                self.endpoint = line.split()[3]
                break
        else:
            raise RuntimeError("server did not start:\n" + "".join(self.output))
        # keep draining output so the pipe never fills
        import threading

        def drain() -> None:
            assert self.proc is not None and self.proc.stdout is not None
            for out_line in self.proc.stdout:
                self.output.append(out_line)

        threading.Thread(target=drain, daemon=True).start()
        if wait_healthy:
            self.wait_healthy(deadline - time.monotonic())
        return self

    def wait_healthy(self, timeout: float = 15.0, expect_sealed: bool = False) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                # a test's self-signed certificate is checked by the test itself
                r = requests.get(self.endpoint + "/_garrison/health", timeout=2, verify=False)
                if r.status_code in (200, 503) and (r.status_code == 503) == expect_sealed:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError("server not healthy:\n" + "".join(self.output))

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def client(self, service: str = "kms", **kwargs: Any) -> Any:
        return make_client(self.endpoint, service, **kwargs)

    def post(self, path: str, body: dict[str, Any] | None = None) -> requests.Response:
        return requests.post(self.endpoint + path, json=body or {}, timeout=30)

    def advance(self, seconds: float) -> None:
        r = self.post("/_garrison/clock", {"advance_seconds": seconds})
        assert r.status_code == 200, r.text

    def run_scheduler(self) -> dict[str, int]:
        r = self.post("/_garrison/scheduler/run")
        assert r.status_code == 200, r.text
        jobs: dict[str, int] = r.json()["jobs"]
        return jobs

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        base = [sys.executable, "-m", "garrison.cli.main", *args]
        if self.database_url:
            base += ["--database-url", self.database_url]
        base += ["--data-dir", str(self.data_dir)]
        return subprocess.run(base, capture_output=True, text=True, input=input, timeout=120)


def make_client(
    endpoint: str,
    service: str = "kms",
    *,
    verify: bool | str = True,
    region: str = REGION,
    access_key: str = ACCESS_KEY_ID,
    secret_key: str = SECRET_ACCESS_KEY,
    retries: int = 0,
) -> Any:
    return boto3.client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        verify=verify,
        config=Config(retries={"total_max_attempts": retries + 1, "mode": "standard"}),
    )


@pytest.fixture(scope="module", params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A migrated, empty store on each backend, shared by one test module."""
    from garrison.storage.database import Database

    if request.param == "postgresql":
        assert pg_available(), "PostgreSQL at 127.0.0.1:5432 is required"
        url = create_pg_database()
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'garrison.db'}"
    db = Database(url)
    db.migrate()
    db.close()
    yield url
    if request.param == "postgresql":
        drop_pg_database(url)


@pytest.fixture(scope="session")
def tmp_root() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="garrison-tests-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[ServerProcess]:
    """A shared dev server on each backend."""
    yield from backend_server(tmp_root / f"shared-{request.param}", request.param)


def backend_server(data_dir: Path, backend: str, **options: Any) -> Iterator[ServerProcess]:
    """A started server on `backend` (a fresh PostgreSQL database), stopped after; a dev
    server unless `options` (ServerProcess's fields) say otherwise."""
    url = ""
    if backend == "postgresql":
        if not pg_available():
            pytest.fail("PostgreSQL at 127.0.0.1:5432 is required for the storage tests")
        url = create_pg_database()
    srv = ServerProcess(data_dir, database_url=url, **options).start()
    yield srv
    srv.stop()
    if url:
        drop_pg_database(url)


@pytest.fixture(scope="session")
def sqlite_server(tmp_root: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_root / "sqlite-only").start()
    yield srv
    srv.stop()


@pytest.fixture
def kms(server: ServerProcess) -> Any:
    return server.client("kms")


@pytest.fixture
def cloudtrail(server: ServerProcess) -> Any:
    return server.client("cloudtrail")


@pytest.fixture
def fresh_server_factory(tmp_root: Path) -> Iterator[Any]:
    """Start dedicated servers (for tests that kill, seal or tamper); stopped after."""
    started: list[ServerProcess] = []
    dbs: list[str] = []

    def factory(backend: str = "sqlite", **kwargs: Any) -> ServerProcess:
        url = ""
        if backend == "postgresql":
            url = kwargs.pop("database_url", "") or create_pg_database()
            dbs.append(url)
        data_dir = tmp_root / f"fresh-{secrets.token_hex(4)}"
        srv = ServerProcess(data_dir, database_url=url, **kwargs)
        started.append(srv)
        return srv

    yield factory
    for srv in started:
        srv.stop()
    for url in set(dbs):
        drop_pg_database(url)


def two_nodes(tmp_root: Path, label: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """Two server processes sharing a fresh PostgreSQL database and one data directory
    (the first initialises the store and writes the root key file; the second finds both
    and unseals with the same key): the scale-out tests' fixture body."""
    if not pg_available():
        pytest.fail("PostgreSQL at 127.0.0.1:5432 is required for the scale-out tests")
    url = create_pg_database()
    data_dir = tmp_root / f"{label}-{url.rsplit('_', 1)[1]}"
    a = ServerProcess(data_dir, database_url=url)
    b = ServerProcess(data_dir, database_url=url)
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        b.stop()
        a.stop()
        drop_pg_database(url)
