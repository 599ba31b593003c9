"""Sealing end to end: Shamir init, a sealed server, unsealing, restarts, rotation.

Real `garrison` processes only: `garrison operator init` creates a store whose
root key exists only as shares, `garrison server` (not dev mode) starts sealed
and refuses every call, `garrison operator unseal` feeds it shares from stdin,
and `garrison operator rotate` adds a keyring term that a running server
picks up without a restart. `garrison init` is covered here too.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from garrison.crypto import shamir
from garrison.crypto.aead import new_key
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import select
from tests.conftest import (
    ACCESS_KEY_ID,
    BACKENDS,
    REGION,
    SECRET_ACCESS_KEY,
    ServerProcess,
    create_pg_database,
    drop_pg_database,
)

PICKUP_SECONDS = 1.0


def garrison(*args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `garrison` CLI as an operator would (no GARRISON_* settings around)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARRISON_")}
    return subprocess.run(
        [sys.executable, "-m", "garrison.cli.main", *args],
        capture_output=True,
        text=True,
        input=input,
        env=env,
        timeout=120,
    )


@dataclass
class Store:
    data_dir: Path
    database_url: str

    @property
    def args(self) -> list[str]:
        out = ["--data-dir", str(self.data_dir)]
        return out + (["--database-url", self.database_url] if self.database_url else [])

    def server(self) -> ServerProcess:
        return ServerProcess(self.data_dir, database_url=self.database_url, dev=False)

    def material_terms(self) -> dict[str, int]:
        """key id -> the keyring term its first key material is sealed under (raw header)."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'garrison.db'}"
        db = Database(url)
        try:
            t = schema.kms_key_versions
            rows = db.read(
                lambda tx: tx.execute(
                    select(t.c.key_id, t.c.material).where(t.c.version == 1)
                ).all()
            )
        finally:
            db.close()
        out = {}
        for key_id, material in rows:
            raw = bytes(material)
            assert raw[0] == 1, "barrier format byte"
            out[key_id] = int.from_bytes(raw[1:5], "big")
        return out


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[Store]:
    url = create_pg_database() if request.param == "postgresql" else ""
    yield Store(tmp_root / f"sealing-{secrets.token_hex(4)}", url)
    if url:
        drop_pg_database(url)


@pytest.fixture
def servers() -> Iterator[Callable[[ServerProcess], ServerProcess]]:
    """Registers servers to stop after the test."""
    started: list[ServerProcess] = []

    def track(srv: ServerProcess) -> ServerProcess:
        started.append(srv)
        return srv

    yield track
    for srv in started:
        srv.stop()


@dataclass
class Initialised:
    shares: list[str]
    account_id: str
    access_key_id: str
    secret_access_key: str


def parse_init(out: str) -> Initialised:
    shares = re.findall(r"^Unseal key share \d+: (\S+)$", out, re.M)

    def field(name: str) -> str:
        match = re.search(rf"^{name}:\s+(\S+)$", out, re.M)
        assert match, f"{name} not printed:\n{out}"
        return match.group(1)

    return Initialised(
        shares,
        field("Account id"),
        field("Root access key id"),
        field("Root secret access key"),
    )


def client(srv: ServerProcess, service: str, init: Initialised | None = None) -> Any:
    """A boto3 client that tries once: a sealed server's 503 is not retried."""
    return boto3.client(
        service,
        endpoint_url=srv.endpoint,
        region_name=REGION,
        aws_access_key_id=init.access_key_id if init else ACCESS_KEY_ID,
        aws_secret_access_key=init.secret_access_key if init else SECRET_ACCESS_KEY,
        config=Config(retries={"total_max_attempts": 1}),
    )


def kms_client(srv: ServerProcess, init: Initialised) -> Any:
    return client(srv, "kms", init)


def unseal(srv: ServerProcess, *shares: str) -> subprocess.CompletedProcess[str]:
    return garrison(
        "operator", "unseal", "--endpoint", srv.endpoint, input="".join(s + "\n" for s in shares)
    )


def health(srv: ServerProcess) -> requests.Response:
    return requests.get(srv.endpoint + "/_garrison/health", timeout=5)


def assert_sealed(srv: ServerProcess, init: Initialised) -> None:
    r = health(srv)
    assert r.status_code == 503
    assert r.json()["sealed"] is True
    kms = kms_client(srv, init)
    calls: list[Callable[[], Any]] = [
        kms.list_keys,
        lambda: kms.create_key(Description="while sealed"),
        lambda: kms.encrypt(KeyId="alias/anything", Plaintext=b"x"),
        lambda: kms.generate_random(NumberOfBytes=16),
        lambda: client(srv, "cloudtrail", init).lookup_events(),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        err = exc.value.response
        assert err["Error"]["Code"] == "ServiceUnavailableException"
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 503
        assert "sealed" in err["Error"]["Message"]
        assert "garrison operator unseal" in err["Error"]["Message"]
    # unsigned garbage is refused the same way: a sealed node reveals nothing
    raw = requests.post(srv.endpoint + "/", data=b"{}", timeout=5)
    assert raw.status_code == 503
    assert raw.json()["__type"] == "ServiceUnavailableException"


def foreign_share(taken: list[str]) -> str:
    """A well-formed share of another root key, at an x-coordinate not yet given."""
    xs = {base64.b64decode(s)[-1] for s in taken}
    for part in shamir.split(new_key(), 5, 3):
        if part[-1] not in xs:
            return base64.b64encode(part).decode()
    raise AssertionError("no free x-coordinate")


def operator_init(store: Store) -> Initialised:
    result = garrison("operator", "init", "--shares", "5", "--threshold", "3", *store.args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "5 key shares, threshold 3" in result.stdout
    return parse_init(result.stdout)


def sealed_server(store: Store, servers: Callable[[ServerProcess], ServerProcess]) -> ServerProcess:
    srv = servers(store.server())
    srv.start(wait_healthy=False)
    srv.wait_healthy(expect_sealed=True)
    return srv


def test_shamir_store_starts_sealed_unseals_with_shares_and_again_after_restart(
    store: Store, servers: Callable[[ServerProcess], ServerProcess]
) -> None:
    init = operator_init(store)
    assert len(init.shares) == 5 and len(set(init.shares)) == 5
    assert re.fullmatch(r"\d{12}", init.account_id)
    # the root key is nowhere on disk: only the shares can rebuild it
    assert not (store.data_dir / "root.key").exists()

    srv = sealed_server(store, servers)
    output = "".join(srv.output)
    assert "SEALED" in output
    assert init.secret_access_key not in output and "Root secret access key" not in output
    assert_sealed(srv, init)

    ok = unseal(srv, init.shares[1], init.shares[3], init.shares[4])
    assert ok.returncode == 0, ok.stdout
    assert "progress 1/3" in ok.stdout and "progress 2/3" in ok.stdout
    assert "Unsealed." in ok.stdout
    assert health(srv).json() == {"status": "ok", "sealed": False}

    kms = kms_client(srv, init)
    key_id = kms.create_key(Description="made after unsealing")["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"survives restarts")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"survives restarts"
    arn = kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    assert f":{init.account_id}:key/" in arn
    # the dev credentials the fixture puts in the server's environment are not this store's
    with pytest.raises(ClientError) as exc:
        client(srv, "kms").list_keys()
    assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException"

    # a restart is sealed again; other shares of the same split unseal it
    srv.stop()
    srv2 = sealed_server(store, servers)
    assert_sealed(srv2, init)
    ok = unseal(srv2, init.shares[4], init.shares[0], init.shares[2])
    assert ok.returncode == 0, ok.stdout
    kms = kms_client(srv2, init)
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"survives restarts"
    assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["Description"] == "made after unsealing"

    # rotating a Shamir store takes the threshold of shares; the running
    # server (which kept the combined root key) picks the new term up
    rotated = garrison("operator", "rotate", *store.args, input="\n".join(init.shares[2:]) + "\n")
    assert rotated.returncode == 0, rotated.stdout
    assert "term 2" in rotated.stdout
    new_key_id = wait_for_term(kms, store, 2)
    assert store.material_terms()[key_id] == 1
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"survives restarts"
    new_blob = kms.encrypt(KeyId=new_key_id, Plaintext=b"under term 2")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=new_blob)["Plaintext"] == b"under term 2"


def test_wrong_and_duplicate_shares_are_refused_and_the_server_stays_sealed(
    tmp_root: Path, servers: Callable[[ServerProcess], ServerProcess]
) -> None:
    store = Store(tmp_root / f"sealing-{secrets.token_hex(4)}", "")
    init = operator_init(store)
    again = garrison("operator", "init", "--shares", "5", "--threshold", "3", *store.args)
    assert again.returncode == 1
    assert "already initialised" in again.stdout
    assert "Unseal key share" not in again.stdout
    srv = sealed_server(store, servers)

    # a share twice is refused with a clear message, and the server stays sealed
    dup = unseal(srv, init.shares[0], init.shares[0])
    assert dup.returncode == 1
    assert "already given" in dup.stdout
    assert health(srv).status_code == 503
    # forget it, then two good shares and one of another key: refused, still sealed
    reset = garrison("operator", "unseal", "--endpoint", srv.endpoint, "--reset")
    assert reset.returncode == 0 and "progress 0/3" in reset.stdout
    alien = foreign_share(init.shares[:2])
    wrong = unseal(srv, init.shares[0], init.shares[1], alien)
    assert wrong.returncode == 1
    assert "do not unseal this store" in wrong.stdout
    assert_sealed(srv, init)
    # the endpoint the CLI talks to, directly: not a share, a share at an
    # x-coordinate already given (another split's), progress kept between calls
    r = srv.post("/_garrison/unseal", {"key": "this is not a share"})
    assert r.status_code == 400 and "base64" in r.json()["message"]
    r = srv.post("/_garrison/unseal", {"key": init.shares[3]})
    assert r.status_code == 200
    assert r.json() == {"sealed": True, "progress": 1, "threshold": 3}
    clash = base64.b64encode(bytes(32) + base64.b64decode(init.shares[3])[-1:]).decode()
    r = srv.post("/_garrison/unseal", {"key": clash})
    assert r.status_code == 400 and "does not belong" in r.json()["message"]
    assert r.json()["progress"] == 0 and r.json()["sealed"] is True
    short = unseal(srv, init.shares[3])
    assert short.returncode == 1 and "ran out of shares" in short.stdout
    assert "progress 1/3" in short.stdout
    assert health(srv).status_code == 503
    r = srv.post("/_garrison/unseal", {"reset": True})
    assert r.json()["progress"] == 0

    # a wrong share when rotating
    bad = garrison(
        "operator", "rotate", *store.args, input="\n".join([*init.shares[:2], alien]) + "\n"
    )
    assert bad.returncode == 1 and "does not match" in bad.stdout

    ok = unseal(srv, init.shares[1], init.shares[3], init.shares[4])
    assert ok.returncode == 0, ok.stdout
    done = garrison("operator", "unseal", "--endpoint", srv.endpoint)  # reads no share
    assert done.returncode == 0 and "not sealed" in done.stdout
    assert health(srv).status_code == 200


def wait_for_term(kms: Any, store: Store, term: int) -> str:
    """Create keys until one is sealed under `term`; fails past PICKUP_SECONDS. Its key id."""
    start = time.monotonic()
    while True:
        key_id = str(kms.create_key()["KeyMetadata"]["KeyId"])
        if store.material_terms()[key_id] == term:
            return key_id
        if time.monotonic() - start > PICKUP_SECONDS:
            pytest.fail(f"the server still seals under an old term after {PICKUP_SECONDS} s")
        time.sleep(0.05)


def test_rotate_on_a_running_server_seals_new_values_under_the_new_term(
    store: Store, servers: Callable[[ServerProcess], ServerProcess]
) -> None:
    srv = servers(ServerProcess(store.data_dir, database_url=store.database_url)).start()
    kms = srv.client("kms")
    old_key = kms.create_key(Description="term 1")["KeyMetadata"]["KeyId"]
    old_blob = kms.encrypt(KeyId=old_key, Plaintext=b"old")["CiphertextBlob"]
    assert store.material_terms()[old_key] == 1

    rotated = srv.cli("operator", "rotate")
    assert rotated.returncode == 0, rotated.stdout + rotated.stderr
    assert "term 2" in rotated.stdout
    new_key = wait_for_term(kms, store, 2)
    # from now on every new value is sealed under term 2; old ones stay as they were
    later = kms.create_key()["KeyMetadata"]["KeyId"]
    terms = store.material_terms()
    assert terms[later] == 2
    assert terms[old_key] == 1
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"old"
    kms.rotate_key_on_demand(KeyId=old_key)  # new material of an old key: term 2
    blob = kms.encrypt(KeyId=old_key, Plaintext=b"new material")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"new material"
    assert kms.decrypt(CiphertextBlob=old_blob)["Plaintext"] == b"old"
    assert kms.encrypt(KeyId=new_key, Plaintext=b"n")["KeyId"].endswith(new_key)


@pytest.fixture
def pg_store(tmp_root: Path) -> Iterator[Store]:
    url = create_pg_database()
    yield Store(tmp_root / f"two-nodes-{secrets.token_hex(4)}", url)
    drop_pg_database(url)


def test_a_value_sealed_by_another_node_under_a_new_term_opens_at_once(
    pg_store: Store, servers: Callable[[ServerProcess], ServerProcess]
) -> None:
    # A never polls (an hour's interval): only the barrier's unknown-term
    # lookup can teach it the term that B seals under
    a = ServerProcess(
        pg_store.data_dir,
        database_url=pg_store.database_url,
        env={"GARRISON_CACHE_POLL_SECONDS": "3600"},
    )
    servers(a).start()
    old_key = a.client("kms").create_key()["KeyMetadata"]["KeyId"]
    assert a.cli("operator", "rotate").returncode == 0
    b = servers(ServerProcess(pg_store.data_dir, database_url=pg_store.database_url)).start()
    key_id = b.client("kms").create_key()["KeyMetadata"]["KeyId"]
    assert pg_store.material_terms()[key_id] == 2
    blob = a.client("kms").encrypt(KeyId=key_id, Plaintext=b"across nodes")["CiphertextBlob"]
    assert b.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"across nodes"
    # having learnt term 2, A seals new values under it too
    newer = a.client("kms").create_key()["KeyMetadata"]["KeyId"]
    terms = pg_store.material_terms()
    assert terms[newer] == 2 and terms[old_key] == 1


def test_init_twice_and_a_server_on_an_initialised_store(
    store: Store, servers: Callable[[ServerProcess], ServerProcess]
) -> None:
    first = garrison("init", *store.args)
    assert first.returncode == 0, first.stdout + first.stderr
    init = parse_init(first.stdout)
    key_file = store.data_dir / "root.key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert store.data_dir.stat().st_mode & 0o777 == 0o700
    assert len(base64.b64decode(key_file.read_bytes().strip())) == 32
    key_bytes = key_file.read_bytes()

    second = garrison("init", *store.args)
    assert second.returncode == 1
    assert "already initialised" in second.stdout
    assert "Root secret access key" not in second.stdout
    assert key_file.read_bytes() == key_bytes

    srv = servers(store.server()).start()
    output = "".join(srv.output)
    assert "Root secret access key" not in output and init.secret_access_key not in output
    assert "Account id" not in output
    kms = kms_client(srv, init)
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"hello")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"hello"
    assert f":{init.account_id}:key/" in kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
    # the environment's dev credentials were not made this store's
    with pytest.raises(ClientError) as exc:
        srv.client("kms").list_keys()
    assert exc.value.response["Error"]["Code"] == "UnrecognizedClientException"
