"""Crash safety: SIGKILL while clients create keys and encrypt loses nothing answered.

A success response is released only once the change and its audit event are
durable (group commit, DESIGN §5). So after a SIGKILL at an arbitrary moment
and a restart on the same data, every request that was answered with success
is there: its key exists, its ciphertext decrypts, its audit event (found by
the request id the client saw) is in the trail, and the trail verifies.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.conftest import ServerProcess

CLIENTS = 3
RUN_SECONDS = 1.0


@dataclass
class Answered:
    """What the clients were told succeeded, before the server died."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: list[str] = field(default_factory=list)
    ciphertexts: list[tuple[bytes, bytes, str]] = field(default_factory=list)
    # request id -> the event name its audit record must carry
    requests: dict[str, str] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)


def client_loop(kms: Any, n: int, answered: Answered, stop: threading.Event) -> None:
    i = 0
    key_id = ""
    while not stop.is_set():
        i += 1
        try:
            if not key_id or i % 4 == 0:
                out = kms.create_key(Description=f"crash client {n} #{i}")
                key_id = out["KeyMetadata"]["KeyId"]
                with answered.lock:
                    answered.keys.append(key_id)
                    answered.requests[out["ResponseMetadata"]["RequestId"]] = "CreateKey"
            else:
                plaintext = f"client {n} message {i}".encode()
                out = kms.encrypt(KeyId=key_id, Plaintext=plaintext)
                with answered.lock:
                    answered.ciphertexts.append((plaintext, out["CiphertextBlob"], key_id))
                    answered.requests[out["ResponseMetadata"]["RequestId"]] = "Encrypt"
        except (BotoCoreError, ClientError) as err:
            # the connection dies with the server; anything else is a real failure
            if not stop.is_set() and isinstance(err, ClientError):
                with answered.lock:
                    answered.failures.append(str(err))
            return


def audited_request_ids(server: ServerProcess) -> dict[str, str]:
    query = "SELECT body FROM audit_events"
    if server.database_url:
        import psycopg

        with psycopg.connect(server.database_url) as conn:
            bodies = [str(r[0]) for r in conn.execute(query).fetchall()]
    else:
        conn = sqlite3.connect(server.data_dir / "garrison.db")
        try:
            bodies = [str(r[0]) for r in conn.execute(query).fetchall()]
        finally:
            conn.close()
    events = [json.loads(body) for body in bodies]
    return {e["requestID"]: e["eventName"] for e in events}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkill_loses_no_answered_request(fresh_server_factory: Any, backend: str) -> None:
    # A stable node id: the restarted node continues its own chain, the harder case
    # for the trail (its head must be re-read exactly where the crash left it).
    node_id = f"crash-node-{os.getpid()}"
    server: ServerProcess = fresh_server_factory(backend, env={"GARRISON_NODE_ID": node_id})
    server.start()
    answered = Answered()
    stop = threading.Event()
    threads = [
        threading.Thread(target=client_loop, args=(server.client(), n, answered, stop))
        for n in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    time.sleep(RUN_SECONDS)
    with answered.lock:
        answered_before_kill = len(answered.requests)
    server.kill()  # SIGKILL, mid-flight
    stop.set()
    for t in threads:
        t.join(30)
    assert not answered.failures, answered.failures
    assert answered_before_kill > 20, "the clients barely ran; the test proves nothing"

    server.start()
    # boto3's default session is not thread-safe: make the clients here, one per thread
    clients = [server.client() for _ in range(CLIENTS)]

    def key_exists(kms: Any, key_ids: list[str]) -> None:
        for key_id in key_ids:
            assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"

    def decrypts(kms: Any, items: list[tuple[bytes, bytes, str]]) -> None:
        for plaintext, blob, key_id in items:
            out = kms.decrypt(CiphertextBlob=blob)
            assert out["Plaintext"] == plaintext
            assert out["KeyId"].endswith(key_id)

    with ThreadPoolExecutor(CLIENTS) as pool:
        checks = [
            pool.submit(key_exists, kms, answered.keys[n::CLIENTS]) for n, kms in enumerate(clients)
        ] + [
            pool.submit(decrypts, kms, answered.ciphertexts[n::CLIENTS])
            for n, kms in enumerate(clients)
        ]
        for check in checks:
            check.result()

    audited = audited_request_ids(server)
    missing = {rid: name for rid, name in answered.requests.items() if rid not in audited}
    assert not missing, f"{len(missing)} answered requests have no audit event: {missing}"
    wrong = {rid for rid, name in answered.requests.items() if audited[rid] != name}
    assert not wrong

    result = server.cli("audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK:" in result.stdout
