"""The storage barrier and the root keyring, on a real store (SQLite and PostgreSQL).

Each test gets a freshly initialised store (the seal tables are emptied between
tests, the schema is migrated once per backend) and one or more `Database`
objects over it, each standing for one node with its own barrier.
"""

from __future__ import annotations

import base64
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from garrison.crypto import shamir
from garrison.crypto.aead import Aead, DecryptionError, new_key
from garrison.storage import schema
from garrison.storage.barrier import Barrier, SealedError, open_term_key
from garrison.storage.database import Database
from garrison.storage.seal import (
    RootKey,
    SealError,
    ShamirUnsealer,
    get_meta,
    init_file_seal,
    init_shamir_seal,
    read_key_file,
    rotate_keyring,
    seal_type,
    set_meta,
    unseal_with_key,
)
from garrison.storage.sql import delete, select, update
from garrison.storage.writer import Tx

SEAL_TABLES = (schema.keyring, schema.meta)


@pytest.fixture
def node(store_url: str) -> Iterator[Callable[[], Database]]:
    """Opens `Database` objects (nodes) over an empty store; closes them after."""
    opened: list[Database] = []

    def make() -> Database:
        db = Database(store_url)
        opened.append(db)
        return db

    first = make()
    first.write(lambda tx: [tx.execute(delete(t)) for t in SEAL_TABLES])
    yield make
    for db in opened:
        db.close()


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "root.key"


def unsealed(node: Callable[[], Database], key_path: Path) -> tuple[Database, bytes]:
    """A node of a store initialised with a key file, unsealed with that file."""
    db = node()
    init_file_seal(db, key_path)
    key = read_key_file(key_path)
    unseal_with_key(db, key)
    return db, key


def put(db: Database, name: str, plaintext: bytes) -> bytes:
    """Seal `plaintext` for the row garrison_meta[name].value and store it; the stored bytes."""

    def unit(tx: Tx) -> bytes:
        sealed = tx.barrier.seal("garrison_meta", name, "value", plaintext)
        set_meta(tx, name, sealed)
        return sealed

    return db.write(unit)


def get(db: Database, name: str) -> bytes:
    def read(tx: Tx) -> bytes:
        value = get_meta(tx, name)
        assert value is not None
        return tx.barrier.open("garrison_meta", name, "value", value)

    return db.read(read)


def raw_rows(db: Database, *tables: Any) -> bytes:
    """Every column of every row of `tables`, as the bytes the database holds."""
    out: list[bytes] = []

    def read(tx: Tx) -> None:
        for table in tables:
            for row in tx.execute(select(table)).all():
                for value in row:
                    out.append(bytes(value) if isinstance(value, bytes | memoryview) else b"")
                    out.append(str(value).encode())

    db.read(read)
    return b"\x00".join(out)


def header(value: bytes) -> tuple[int, int]:
    version, term = struct.unpack_from(">BI", value)
    return int(version), int(term)


# -- a value opens only where it was sealed ----------------------------------------


def test_sealed_value_opens_for_its_own_row_and_column(
    node: Callable[[], Database], key_path: Path
) -> None:
    db, _ = unsealed(node, key_path)
    stored = put(db, "row-a", b"the plaintext of row a")
    assert get(db, "row-a") == b"the plaintext of row a"
    assert b"the plaintext of row a" not in stored
    assert header(stored) == (1, 1)


def test_value_copied_to_another_row_does_not_open(
    node: Callable[[], Database], key_path: Path
) -> None:
    db, _ = unsealed(node, key_path)
    put(db, "row-a", b"secret of a")
    put(db, "row-b", b"secret of b")
    # what a database administrator could do: copy a's ciphertext over b's
    sealed_a = db.read(lambda tx: get_meta(tx, "row-a"))
    db.write(
        lambda tx: tx.execute(
            update(schema.meta).where(schema.meta.c.name == "row-b").values(value=sealed_a)
        )
    )
    with pytest.raises(DecryptionError):
        get(db, "row-b")
    assert get(db, "row-a") == b"secret of a"


@pytest.mark.parametrize(
    "where",
    [
        ("garrison_meta", "row-b", "value"),  # another row
        ("garrison_meta", "row-a", "name"),  # another column
        ("access_keys", "row-a", "value"),  # another table
        ("garrison_meta", "row-a\x00value", ""),  # the parts shifted
    ],
)
def test_value_does_not_open_under_another_identity(
    node: Callable[[], Database], key_path: Path, where: tuple[str, str, str]
) -> None:
    db, _ = unsealed(node, key_path)
    stored = put(db, "row-a", b"secret of a")
    with pytest.raises(DecryptionError):
        db.barrier.open(*where, stored)


def test_altered_or_truncated_value_does_not_open(
    node: Callable[[], Database], key_path: Path
) -> None:
    db, _ = unsealed(node, key_path)
    stored = put(db, "row-a", b"secret of a")
    for i in (0, 4, 5, len(stored) // 2, len(stored) - 1):
        altered = bytearray(stored)
        altered[i] ^= 0x01
        with pytest.raises(DecryptionError):
            db.barrier.open("garrison_meta", "row-a", "value", bytes(altered))
    for cut in (0, 3, 5, 20, len(stored) - 1):
        with pytest.raises(DecryptionError):
            db.barrier.open("garrison_meta", "row-a", "value", stored[:cut])


# -- keyring rotation -------------------------------------------------------------


def test_rotation_adds_a_term_and_old_values_still_open(
    node: Callable[[], Database], key_path: Path
) -> None:
    db, key = unsealed(node, key_path)
    old = put(db, "before", b"sealed under term 1")
    version_before = db.state_version()
    assert rotate_keyring(db, key) == 2
    assert db.state_version() > version_before  # running nodes notice it
    new = put(db, "after", b"sealed under term 2")
    assert header(old) == (1, 1)
    assert header(new) == (1, 2)
    assert get(db, "before") == b"sealed under term 1"
    assert get(db, "after") == b"sealed under term 2"
    assert rotate_keyring(db, key) == 3
    assert header(put(db, "third", b"x")) == (1, 3)

    # a node unsealed afterwards knows every term and seals under the newest
    fresh = node()
    unseal_with_key(fresh, key)
    assert fresh.barrier.terms == {1, 2, 3}
    assert fresh.barrier.active_term == 3
    assert get(fresh, "before") == b"sealed under term 1"
    assert get(fresh, "after") == b"sealed under term 2"


def test_a_running_node_picks_up_a_term_added_elsewhere(
    node: Callable[[], Database], key_path: Path
) -> None:
    db, key = unsealed(node, key_path)
    other = node()
    root = unseal_with_key(other, key)
    assert other.barrier.active_term == 1
    assert rotate_keyring(db, key) == 2
    sealed_by_db = put(db, "new", b"from the node that rotated")
    assert header(sealed_by_db) == (1, 2)

    # the other node opens it at once (the unknown term is looked up) ...
    assert get(other, "new") == b"from the node that rotated"
    assert 2 in other.barrier.terms
    assert other.barrier.active_term == 2
    # ... and a third node does the same on its state-version poll
    third = node()
    third_root = unseal_with_key(third, key)
    assert rotate_keyring(db, key) == 3
    assert third_root.load_new_terms() == [3]
    assert third_root.load_new_terms() == []
    assert third.barrier.active_term == 3
    assert header(put(third, "by-third", b"y")) == (1, 3)
    assert root.load_new_terms() == [3]


def test_a_value_naming_an_unknown_term_does_not_open(
    node: Callable[[], Database], key_path: Path
) -> None:
    db, _ = unsealed(node, key_path)
    stored = put(db, "row-a", b"secret")
    forged = struct.pack(">BI", 1, 99) + stored[5:]
    with pytest.raises(DecryptionError):
        db.barrier.open("garrison_meta", "row-a", "value", forged)
    wrong_version = b"\x02" + stored[1:]
    with pytest.raises(DecryptionError):
        db.barrier.open("garrison_meta", "row-a", "value", wrong_version)


# -- the root key -------------------------------------------------------------------


def test_a_wrong_root_key_is_refused(node: Callable[[], Database], key_path: Path) -> None:
    db, key = unsealed(node, key_path)
    put(db, "row-a", b"secret")
    other = node()
    with pytest.raises(SealError, match="does not match"):
        unseal_with_key(other, new_key())
    with pytest.raises(SealError):
        unseal_with_key(other, key[:16])
    with pytest.raises(SealError):
        rotate_keyring(other, new_key())
    assert not other.barrier.has_keys
    assert other.barrier.sealed
    with pytest.raises(SealedError):
        get(other, "row-a")
    with pytest.raises(SealedError):
        other.barrier.seal("garrison_meta", "x", "value", b"x")
    assert db.read(lambda tx: tx.execute(select(schema.keyring.c.term)).all()) == [(1,)]


def test_loading_the_keyring_does_not_serve_until_told(
    node: Callable[[], Database], key_path: Path
) -> None:
    db, _ = unsealed(node, key_path)
    assert db.barrier.has_keys
    assert db.barrier.sealed  # the node finishes its start-up first
    db.barrier.unseal()
    assert not db.barrier.sealed
    db.barrier.seal_off()
    assert db.barrier.sealed and not db.barrier.has_keys
    with pytest.raises(SealedError):
        Barrier().unseal()


def test_the_store_holds_no_key_in_clear(node: Callable[[], Database], key_path: Path) -> None:
    db, key = unsealed(node, key_path)
    rotate_keyring(db, key)
    root = Aead(key)
    rows = db.read(lambda tx: tx.execute(select(schema.keyring)).all())
    assert [r.term for r in rows] == [1, 2]
    term_keys = [open_term_key(root, r.term, bytes(r.sealed_key)) for r in rows]
    assert all(len(k) == 32 for k in term_keys)
    assert term_keys[0] != term_keys[1]
    # a term key sealed for one term does not open as another's
    with pytest.raises(DecryptionError):
        open_term_key(root, 2, bytes(rows[0].sealed_key))
    dump = raw_rows(db, *schema.metadata.sorted_tables)
    for secret in (key, *term_keys):
        assert secret not in dump
        assert base64.b64encode(secret) not in dump
        assert secret.hex().encode() not in dump
    assert key_path.stat().st_mode & 0o777 == 0o600


def test_init_refuses_an_initialised_store_and_an_existing_key_file(
    node: Callable[[], Database], key_path: Path, tmp_path: Path
) -> None:
    db, _ = unsealed(node, key_path)
    original = key_path.read_bytes()
    with pytest.raises(SealError, match="already initialised"):
        init_file_seal(db, tmp_path / "other.key")
    assert not (tmp_path / "other.key").exists()
    with pytest.raises(SealError, match="already initialised"):
        init_shamir_seal(db, 5, 3)
    assert key_path.read_bytes() == original
    assert seal_type(db) == "file"


def test_init_never_overwrites_a_key_file(node: Callable[[], Database], tmp_path: Path) -> None:
    db = node()
    existing = tmp_path / "root.key"
    existing.write_bytes(b"precious\n")
    with pytest.raises(SealError, match="refusing to overwrite"):
        init_file_seal(db, existing)
    assert existing.read_bytes() == b"precious\n"
    assert seal_type(db) is None


def test_missing_key_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SealError, match="missing"):
        read_key_file(tmp_path / "root.key")
    (tmp_path / "short.key").write_bytes(base64.b64encode(b"x" * 16))
    with pytest.raises(SealError, match="32-byte"):
        read_key_file(tmp_path / "short.key")


# -- Shamir shares -----------------------------------------------------------------


def test_shamir_threshold_of_shares_unseals_and_fewer_or_foreign_do_not(
    node: Callable[[], Database],
) -> None:
    db = node()
    shares = init_shamir_seal(db, 5, 3)
    assert len(set(shares)) == 5
    assert seal_type(db) == "shamir"

    unsealer = ShamirUnsealer(db, 3)
    assert unsealer.submit(shares[4]) is False
    with pytest.raises(SealError, match="already given"):
        unsealer.submit(shares[4])
    assert unsealer.progress == 1
    with pytest.raises(SealError, match="base64"):
        unsealer.submit("not a share!")
    assert unsealer.submit(shares[0]) is False
    assert unsealer.submit(shares[2]) is True
    assert isinstance(unsealer.root, RootKey)
    assert db.barrier.has_keys

    # shares of another store's split: combine to a wrong key, refused, parts reset
    other = node()
    foreign = shares_of_another_key()
    wrong = ShamirUnsealer(other, 3)
    wrong.submit(shares[0])
    wrong.submit(shares[1])
    with pytest.raises(SealError, match="do not unseal"):
        wrong.submit(next(s for s in foreign if _x(s) not in {_x(shares[0]), _x(shares[1])}))
    assert wrong.progress == 0
    assert not other.barrier.has_keys


def shares_of_another_key() -> list[str]:
    """Shares of a different root key (split the same way, never stored)."""
    return [base64.b64encode(p).decode() for p in shamir.split(new_key(), 5, 3)]


def _x(share: str) -> int:
    return base64.b64decode(share)[-1]


def test_a_stopped_writer_refuses_units(tmp_path: Path) -> None:
    from garrison.storage.database import Database

    db = Database(f"sqlite:///{tmp_path / 'w.db'}")
    db.migrate()
    db.writer.start()
    assert db.writer.run_sync(lambda tx: 1) == 1
    db.writer.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        db.writer.run_sync(lambda tx: 2)
    db.close()
