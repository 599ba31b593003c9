"""Shamir's secret sharing over GF(2^8), as HashiCorp Vault splits its root key.

Each byte of the secret is the constant term of its own random polynomial of
degree ``threshold - 1``; a share holds that polynomial's value at one x for every
byte. Any ``threshold`` shares give the secret back by Lagrange interpolation at
x = 0; fewer reveal nothing about it (every coefficient is uniform, zero included,
which is what makes the scheme perfectly hiding).

Share layout, byte for byte Vault's: ``y_1 .. y_n || x`` where x, the last byte,
is a distinct non-zero x-coordinate drawn at random for each share.

The field is GF(2^8) with AES's reduction polynomial x^8 + x^4 + x^3 + x + 1.
Multiplication is written without data-dependent branches or table lookups
(Vault's current ``mult``), and inversion is a fixed chain of multiplications
(a^254). Python promises no constant-time execution, so this is constant-time
*ish*: no secret-indexed tables, no secret-dependent branches.

Combining does not check that the shares belong together: shares from different
splits give a wrong secret, silently. The caller verifies the result (the root
keyring checks it against what it sealed).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Protocol


class RandomSource(Protocol):
    """What `split` needs from its randomness; the `secrets` module is one."""

    def token_bytes(self, n: int, /) -> bytes: ...

    def randbelow(self, n: int, /) -> int: ...


def _mul(a: int, b: int) -> int:
    """Product in GF(2^8): shift-and-add with masks in place of branches."""
    r = 0
    for i in range(7, -1, -1):
        r = (-((b >> i) & 1) & a) ^ (-(r >> 7) & 0x1B) ^ ((r << 1) & 0xFF)
    return r


def _inv(a: int) -> int:
    """Inverse in GF(2^8) as a^254 (a^-1 since a^255 = 1); 0 maps to 0."""
    # 254 = 0b11111110: square, then multiply in for each of the seven high bits.
    result = a
    for _ in range(6):
        result = _mul(_mul(result, result), a)
    return _mul(result, result)


def split(
    secret: bytes, shares: int, threshold: int, *, rng: RandomSource = secrets
) -> list[bytes]:
    """Split `secret` into `shares` parts of which any `threshold` rebuild it.

    2 <= threshold <= shares <= 255. As in Vault, one share with threshold 1 is
    allowed and is the secret itself (there is nothing to split).
    """
    if not secret:
        raise ValueError("cannot split an empty secret")
    if shares == 1 and threshold == 1:
        return [bytes(secret)]
    if not 2 <= threshold <= 255:
        raise ValueError("threshold must be at least 2 and at most 255")
    if not threshold <= shares <= 255:
        raise ValueError("shares must be at least the threshold and at most 255")

    # Distinct non-zero x-coordinates: a partial Fisher-Yates shuffle of 1..255.
    pool = list(range(1, 256))
    for i in range(shares):
        j = i + rng.randbelow(len(pool) - i)
        pool[i], pool[j] = pool[j], pool[i]
    xs = pool[:shares]

    degree = threshold - 1
    randomness = rng.token_bytes(degree * len(secret))
    # coefficients[k] = [a_1 .. a_degree] of the polynomial for secret byte k
    coefficients = [randomness[k * degree : (k + 1) * degree] for k in range(len(secret))]

    out: list[bytes] = []
    for x in xs:
        ys = bytearray(len(secret) + 1)
        for k, intercept in enumerate(secret):
            acc = 0
            for c in reversed(coefficients[k]):  # Horner: ((a_d x + a_{d-1}) x + ...) x + a_0
                acc = _mul(acc, x) ^ c
            ys[k] = _mul(acc, x) ^ intercept
        ys[-1] = x
        out.append(bytes(ys))
    return out


def combine(parts: Sequence[bytes]) -> bytes:
    """Rebuild the secret from at least `threshold` shares of one split."""
    if len(parts) < 2:
        raise ValueError("less than two parts cannot be used to reconstruct the secret")
    length = len(parts[0])
    if length < 2:
        raise ValueError("parts must be at least two bytes")
    if any(len(p) != length for p in parts):
        raise ValueError("all parts must be the same length")
    xs = [p[-1] for p in parts]
    if 0 in xs:
        raise ValueError("a part has the invalid x-coordinate 0")
    if len(set(xs)) != len(xs):
        raise ValueError("duplicate part detected")

    # Lagrange basis at 0: l_i = prod_{j != i} x_j / (x_j - x_i); minus is XOR here.
    basis = []
    for i, xi in enumerate(xs):
        num, den = 1, 1
        for j, xj in enumerate(xs):
            if i != j:
                num = _mul(num, xj)
                den = _mul(den, xj ^ xi)
        basis.append(_mul(num, _inv(den)))

    secret = bytearray(length - 1)
    for part, weight in zip(parts, basis, strict=True):
        for k in range(length - 1):
            secret[k] ^= _mul(weight, part[k])
    return bytes(secret)
