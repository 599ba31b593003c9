"""The keyed HMAC-SHA256 (KMS's per-blob key derivation) and the public randomness pool."""

from __future__ import annotations

import hmac
import os

import pytest

from garrison.crypto.aead import (
    DecryptionError,
    open_once,
    public_random,
    seal_once,
)
from garrison.crypto.prf import HmacSha256


@pytest.mark.parametrize("key_len", [0, 1, 32, 63, 64, 65, 200])
@pytest.mark.parametrize("msg_len", [0, 1, 55, 56, 64, 70, 1000])
def test_hmac_sha256_matches_hmac_digest(key_len: int, msg_len: int) -> None:
    key, message = os.urandom(key_len), os.urandom(msg_len)
    assert HmacSha256(key).digest(message) == hmac.digest(key, message, "sha256")


def test_hmac_sha256_rfc4231_case_2() -> None:
    mac = HmacSha256(b"Jefe").digest(b"what do ya want for nothing?")
    assert mac.hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"


def test_hmac_sha256_is_reusable_and_hides_its_key() -> None:
    prf = HmacSha256(b"k" * 32)
    assert prf.digest(b"a") == prf.digest(b"a") != prf.digest(b"b")
    assert "k" not in repr(prf).replace("key", "")


def test_public_random_never_repeats_and_spans_refills() -> None:
    seen = {public_random(12) for _ in range(2000)}  # ~6 refills of the 4 KiB pool
    assert len(seen) == 2000
    assert all(len(n) == 12 for n in seen)
    assert len(public_random(5000)) == 5000  # larger than the pool: still served


def test_forked_child_does_not_repeat_the_parents_pool() -> None:
    public_random(12)  # the pool holds bytes now
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, public_random(12))
        os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 12)
    os.close(read)
    os.close(write)
    assert child != public_random(12)


def test_seal_once_round_trips_and_fails_opaquely() -> None:
    key = os.urandom(32)
    blob = seal_once(key, b"plaintext", b"ad")
    assert open_once(key, blob, b"ad") == b"plaintext"
    for bad_key, bad_blob, bad_ad in (
        (os.urandom(32), blob, b"ad"),
        (key, blob, b"other"),
        (key, blob[:-1] + bytes([blob[-1] ^ 1]), b"ad"),
        (key, blob[:10], b"ad"),
    ):
        with pytest.raises(DecryptionError):
            open_once(bad_key, bad_blob, bad_ad)
    with pytest.raises(ValueError):
        seal_once(os.urandom(16), b"x", b"ad")  # AES-128 keys are refused, not accepted
