"""Encryption at rest: the raw database holds no plaintext, no key material, no secret.

A real server creates keys, encrypts known plaintexts and hands out a data key;
then every byte the database keeps is searched: for SQLite the database file and
its -wal/-shm files (while the server runs and after it stops), for PostgreSQL
every column of every table as the driver returns it and as text, plus the
database's own files and the WAL on disk when this machine's cluster is local.

The search is for each known plaintext, the data key, the root secret access
key, the root key (raw and as its file holds it), the keyring's term keys and
each KMS key's material. The test learns the last two by opening the keyring
with the root key file, as only the server should, and proves the material it
found is real by decrypting the server's ciphertext with it. Finally, without
the key file the server refuses to start: the store alone is useless.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from garrison.crypto.aead import Aead, new_key
from garrison.services.kms.ciphertext import MaterialCipher, read_header
from garrison.storage.barrier import Barrier, open_term_key
from tests.conftest import BACKENDS, SECRET_ACCESS_KEY, ServerProcess

BARRIER_HEADER_BYTES = 5  # format byte, term (uint32 big-endian)
GCM_OVERHEAD = 12 + 16  # nonce, tag


def variants(secret: bytes) -> list[bytes]:
    """The forms a leaked value could take in a row: raw, base64, hex."""
    forms = [secret, base64.b64encode(secret), secret.hex().encode(), secret.hex().upper().encode()]
    # a base64 run also shows up unpadded, or cut at another 3-byte boundary
    forms.append(base64.b64encode(secret).rstrip(b"="))
    return forms


@dataclass
class Needle:
    what: str
    value: bytes


def assert_absent(haystack: bytes, needles: list[Needle], where: str) -> None:
    for needle in needles:
        for form in variants(needle.value):
            assert form not in haystack, f"{needle.what} found in {where}"


# -- reading the store raw ---------------------------------------------------------


def sqlite_bytes(data_dir: Path) -> bytes:
    """Every file of the SQLite store but the key file (db, -wal, -shm)."""
    files = sorted(p for p in data_dir.iterdir() if p.name != "root.key")
    assert any(p.name == "garrison.db" for p in files)
    return b"".join(p.read_bytes() for p in files)


def pg_rows(url: str) -> tuple[bytes, dict[str, list[dict[str, Any]]]]:
    """Every value of every table: as the driver returns it and each row as text."""
    out: list[bytes] = []
    tables: dict[str, list[dict[str, Any]]] = {}
    with psycopg.connect(url) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        ]
        assert "kms_key_versions" in names and "audit_events" in names
        for name in names:
            cur = conn.execute(f'SELECT * FROM "{name}"')  # noqa: S608 - catalog names
            columns = [d.name for d in cur.description or []]
            rows = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
            tables[name] = rows
            for row in rows:
                for value in row.values():
                    out.append(bytes(value) if isinstance(value, bytes | memoryview) else b"")
                    out.append(str(value).encode())
            for (text,) in conn.execute(f'SELECT t::text FROM "{name}" t'):  # noqa: S608
                out.append(text.encode())
    return b"\x00".join(out), tables


def pg_files(url: str) -> bytes | None:
    """The database's heap files and the cluster's WAL, if this machine can read them.

    The WAL is read first: a row missing from a heap file read afterwards can
    only be one a checkpoint has not written yet, and such a row's WAL is kept
    until that checkpoint ends. (Heap first, then WAL, misses rows when a
    checkpoint ends in between and its old segments are reused.)
    """
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('data_directory'), oid FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    data_dir, oid = Path(row[0]), row[1]
    try:
        files = [*(data_dir / "pg_wal").iterdir(), *(data_dir / "base" / str(oid)).iterdir()]
    except OSError:
        return None  # a remote or unreadable cluster: the row dump still ran
    chunks = []
    for path in files:
        try:
            if path.is_file():
                chunks.append(path.read_bytes())
        except FileNotFoundError:
            continue  # a WAL segment recycled while we read
    return b"".join(chunks)


def sqlite_tables(data_dir: Path) -> dict[str, list[dict[str, Any]]]:
    import sqlite3

    conn = sqlite3.connect(f"file:{data_dir / 'garrison.db'}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        tables: dict[str, list[dict[str, Any]]] = {}
        for name in ("keyring", "kms_key_versions", "access_keys"):
            tables[name] = [dict(r) for r in conn.execute(f'SELECT * FROM "{name}"')]  # noqa: S608
        return tables
    finally:
        conn.close()


# -- the test ------------------------------------------------------------------


@dataclass
class Workload:
    plaintexts: list[bytes]
    ciphertexts: dict[bytes, tuple[bytes, dict[str, str]]]  # plaintext -> (blob, context)
    data_key: bytes
    data_key_blob: bytes
    key_ids: list[str]


def run_workload(kms: Any) -> Workload:
    marker = secrets.token_hex(8)
    plaintexts = [
        f"garrison-at-rest-{marker}-ascii".encode(),
        secrets.token_bytes(64),
        (f"{marker}-" * 200).encode()[:4096],  # long, compressible: TOAST would squeeze it
    ]
    key_ids = [kms.create_key(Description=f"at rest {i}")["KeyMetadata"]["KeyId"] for i in (1, 2)]
    kms.rotate_key_on_demand(KeyId=key_ids[1])  # a second material version
    ciphertexts = {}
    for i, plaintext in enumerate(plaintexts):
        context = {"purpose": f"at-rest-{i}"}
        blob = kms.encrypt(KeyId=key_ids[i % 2], Plaintext=plaintext, EncryptionContext=context)[
            "CiphertextBlob"
        ]
        assert kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"] == plaintext
        ciphertexts[plaintext] = (blob, context)
    reencrypted = kms.re_encrypt(
        CiphertextBlob=ciphertexts[plaintexts[0]][0],
        SourceEncryptionContext=ciphertexts[plaintexts[0]][1],
        DestinationKeyId=key_ids[1],
    )["CiphertextBlob"]
    ciphertexts[plaintexts[0] + b"(re-encrypted)"] = (reencrypted, {})
    data_key = kms.generate_data_key(KeyId=key_ids[0], KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32
    return Workload(
        plaintexts, ciphertexts, data_key["Plaintext"], data_key["CiphertextBlob"], key_ids
    )


def open_keyring(tables: dict[str, list[dict[str, Any]]], root_key: bytes) -> dict[int, bytes]:
    root = Aead(root_key)
    return {
        int(r["term"]): open_term_key(root, int(r["term"]), bytes(r["sealed_key"]))
        for r in tables["keyring"]
    }


def check_sealed_columns(
    tables: dict[str, list[dict[str, Any]]], term_keys: dict[int, bytes], work: Workload
) -> list[Needle]:
    """Each sealed column is the barrier's ciphertext; returns the secrets it opens to."""
    barrier = Barrier()
    barrier.load(term_keys)
    found: list[Needle] = []
    materials: dict[tuple[str, int], bytes] = {}
    versions = [r for r in tables["kms_key_versions"] if r["key_id"] in work.key_ids]
    assert len(versions) == 3  # two keys, one rotated once
    for row in versions:
        sealed = bytes(row["material"])
        assert sealed[0] == 1
        assert int.from_bytes(sealed[1:5], "big") in term_keys
        assert len(sealed) == BARRIER_HEADER_BYTES + GCM_OVERHEAD + 32
        pk = f"{row['key_id']}/{row['version']}"
        material = barrier.open("kms_key_versions", pk, "material", sealed)
        materials[(row["key_id"], int(row["version"]))] = material
        found.append(Needle(f"material of {pk}", material))
    # the material is the real key: it decrypts what the server encrypted
    for plaintext, (blob, context) in work.ciphertexts.items():
        header = read_header(blob)
        cipher = MaterialCipher(
            header.key_id, header.version, materials[(header.key_id, header.version)]
        )
        assert cipher.open(blob, context) == plaintext.removesuffix(b"(re-encrypted)")
    header = read_header(work.data_key_blob)
    cipher = MaterialCipher(
        header.key_id, header.version, materials[(header.key_id, header.version)]
    )
    assert cipher.open(work.data_key_blob, None) == work.data_key

    for row in tables["access_keys"]:
        sealed = bytes(row["secret"])
        assert sealed[0] == 1
        secret = barrier.open("access_keys", row["access_key_id"], "secret", sealed)
        found.append(Needle(f"secret of {row['access_key_id']}", secret))
    assert any(n.value == SECRET_ACCESS_KEY.encode() for n in found)
    return found


def needles(work: Workload, root_file: bytes, term_keys: dict[int, bytes]) -> list[Needle]:
    root_key = base64.b64decode(root_file.strip())
    out = [Needle(f"plaintext {i}", p) for i, p in enumerate(work.plaintexts)]
    out += [
        Needle("the data key", work.data_key),
        Needle("the root secret access key", SECRET_ACCESS_KEY.encode()),
        Needle("the root key", root_key),
        Needle("the root key file", root_file.strip()),
    ]
    out += [Needle(f"keyring term {t}", k) for t, k in term_keys.items()]
    return out


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def srv(backend: str, fresh_server_factory: Any) -> Iterator[ServerProcess]:
    server: ServerProcess = fresh_server_factory(backend)
    yield server.start()


def test_the_raw_database_holds_no_plaintext_key_material_or_secret(
    srv: ServerProcess, backend: str
) -> None:
    work = run_workload(srv.client("kms"))
    root_file = (srv.data_dir / "root.key").read_bytes()
    assert (srv.data_dir / "root.key").stat().st_mode & 0o777 == 0o600

    raw_while_running = sqlite_bytes(srv.data_dir) if backend == "sqlite" else b""
    srv.stop()

    if backend == "sqlite":
        raw = sqlite_bytes(srv.data_dir)
        tables = sqlite_tables(srv.data_dir)
        sources = {"the SQLite files while running": raw_while_running, "the SQLite files": raw}
    else:
        raw, tables = pg_rows(srv.database_url)
        sources = {"the PostgreSQL tables": raw}
        on_disk = pg_files(srv.database_url)
        if on_disk is not None:
            sources["the PostgreSQL files and WAL"] = on_disk

    term_keys = open_keyring(tables, base64.b64decode(root_file.strip()))
    assert term_keys, "the keyring has at least one term"
    search = needles(work, root_file, term_keys) + check_sealed_columns(tables, term_keys, work)
    # the search itself works: a ciphertext the server stored is found
    stored = bytes(tables["kms_key_versions"][0]["material"])
    for where, haystack in sources.items():
        assert len(haystack) > 0
        assert stored in haystack, where
        assert_absent(haystack, search, where)


def garrison_server(srv: ServerProcess) -> subprocess.CompletedProcess[str]:
    args = [sys.executable, "-m", "garrison.cli.main", "server", "--port", "0"]
    args += ["--data-dir", str(srv.data_dir)]
    if srv.database_url:
        args += ["--database-url", srv.database_url]
    env = {k: v for k, v in os.environ.items() if not k.startswith("GARRISON_")}
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)


def test_without_its_key_file_the_store_is_useless(srv: ServerProcess) -> None:
    kms = srv.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"needs the key")["CiphertextBlob"]
    srv.stop()
    key_file = srv.data_dir / "root.key"
    saved = key_file.read_bytes()

    key_file.unlink()
    missing = garrison_server(srv)
    assert missing.returncode == 1
    assert "root key file" in missing.stdout and "missing" in missing.stdout
    assert "Garrison listening" not in missing.stdout
    assert not key_file.exists()  # it did not make itself a new one

    key_file.write_bytes(base64.b64encode(new_key()) + b"\n")
    key_file.chmod(0o600)
    wrong = garrison_server(srv)
    assert wrong.returncode == 1
    assert "does not match this store" in wrong.stdout
    assert "Garrison listening" not in wrong.stdout

    # the same store with its own key is whole again
    key_file.write_bytes(saved)
    srv.start()
    assert srv.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"needs the key"


def test_a_live_backup_restores_with_the_key_file_kept_apart(
    fresh_server_factory: Any, tmp_path: Path
) -> None:
    # docs/operations.md: back up the database with SQLite's online backup while
    # the server runs, and the key file separately; together they restore
    import sqlite3

    srv: ServerProcess = fresh_server_factory("sqlite").start()
    kms = srv.client("kms")
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"restored")["CiphertextBlob"]
    backup = tmp_path / "backup.db"
    with sqlite3.connect(srv.data_dir / "garrison.db") as live, sqlite3.connect(backup) as copy:
        live.backup(copy)
    key_copy = (srv.data_dir / "root.key").read_bytes()
    srv.stop()

    restored = fresh_server_factory("sqlite")
    restored.data_dir.mkdir(mode=0o700)
    (restored.data_dir / "garrison.db").write_bytes(backup.read_bytes())
    without_key = garrison_server(restored)  # the database alone does not start
    assert without_key.returncode == 1
    assert "missing" in without_key.stdout
    (restored.data_dir / "root.key").write_bytes(key_copy)
    restored.start()
    assert restored.client("kms").decrypt(CiphertextBlob=blob)["Plaintext"] == b"restored"
