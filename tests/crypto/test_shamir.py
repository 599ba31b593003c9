"""Shamir's secret sharing over GF(2^8)."""

from __future__ import annotations

import itertools
import random
import secrets

import pytest

from garrison.crypto import shamir
from garrison.crypto.shamir import combine, split

SECRET = secrets.token_bytes(32)


@pytest.mark.parametrize(
    ("shares", "threshold"), [(2, 2), (3, 2), (5, 3), (10, 5), (20, 20), (255, 2)]
)
def test_round_trip(shares: int, threshold: int) -> None:
    parts = split(SECRET, shares, threshold)
    assert len(parts) == shares
    assert combine(parts[:threshold]) == SECRET
    assert combine(parts[-threshold:]) == SECRET
    assert combine(parts) == SECRET  # more than the threshold works too


def test_any_k_of_n_combine() -> None:
    parts = split(SECRET, 5, 3)
    for chosen in itertools.permutations(parts, 3):
        assert combine(list(chosen)) == SECRET


def test_fewer_than_threshold_shares_yield_another_secret() -> None:
    parts = split(SECRET, 5, 3)
    for pair in itertools.combinations(parts, 2):
        assert combine(list(pair)) != SECRET
    parts = split(SECRET, 7, 5)
    for four in itertools.combinations(parts, 4):
        assert combine(list(four)) != SECRET


def test_share_layout_is_y_bytes_then_a_distinct_nonzero_x() -> None:
    parts = split(b"secret", 255, 3)
    assert all(len(p) == len(b"secret") + 1 for p in parts)
    xs = [p[-1] for p in parts]
    assert sorted(xs) == list(range(1, 256))


def test_one_share_of_threshold_one_is_the_secret() -> None:
    assert split(SECRET, 1, 1) == [SECRET]


def test_injected_randomness_is_used() -> None:
    class Seeded:
        def __init__(self, seed: int) -> None:
            self._random = random.Random(seed)

        def token_bytes(self, n: int, /) -> bytes:
            return self._random.randbytes(n)

        def randbelow(self, n: int, /) -> int:
            return self._random.randrange(n)

    assert split(SECRET, 5, 3, rng=Seeded(7)) == split(SECRET, 5, 3, rng=Seeded(7))
    assert split(SECRET, 5, 3, rng=Seeded(7)) != split(SECRET, 5, 3, rng=Seeded(8))


@pytest.mark.parametrize(
    ("secret", "shares", "threshold"),
    [(b"", 3, 2), (b"s", 3, 1), (b"s", 2, 3), (b"s", 256, 2), (b"s", 1, 2), (b"s", 256, 256)],
)
def test_split_rejects_bad_parameters(secret: bytes, shares: int, threshold: int) -> None:
    with pytest.raises(ValueError):
        split(secret, shares, threshold)


def test_combine_rejects_duplicates() -> None:
    parts = split(SECRET, 5, 3)
    with pytest.raises(ValueError, match="duplicate part"):
        combine([parts[0], parts[0], parts[1]])


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([b"\x01\x02"], "less than two parts"),
        ([], "less than two parts"),
        ([b"\x01", b"\x02"], "at least two bytes"),
        ([b"\x01\x02", b"\x01\x02\x03"], "same length"),
        ([b"\x01\x00", b"\x02\x03"], "x-coordinate 0"),
    ],
)
def test_combine_rejects_malformed_parts(parts: list[bytes], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        combine(parts)


def test_field_arithmetic_matches_fips_197() -> None:
    # FIPS-197 section 4.2: {57} x {83} = {c1} and {57} x {13} = {fe}.
    assert shamir._mul(0x57, 0x83) == 0xC1
    assert shamir._mul(0x57, 0x13) == 0xFE
    assert all(shamir._mul(a, shamir._inv(a)) == 1 for a in range(1, 256))
