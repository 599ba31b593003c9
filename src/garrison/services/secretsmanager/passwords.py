"""GetRandomPassword: AWS's options and defaults, randomness from `secrets`."""

from __future__ import annotations

import secrets
import string

from garrison.services.secretsmanager.errors import InvalidParameterException

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def random_password(
    length: int | None = None,
    exclude_characters: str = "",
    exclude_numbers: bool = False,
    exclude_punctuation: bool = False,
    exclude_uppercase: bool = False,
    exclude_lowercase: bool = False,
    include_space: bool = False,
    require_each_included_type: bool = True,
) -> str:
    size = 32 if length is None else length
    if not 1 <= size <= 4096:
        raise InvalidParameterException("Password length must be between 1 and 4096.")
    groups = []
    if not exclude_lowercase:
        groups.append(string.ascii_lowercase)
    if not exclude_uppercase:
        groups.append(string.ascii_uppercase)
    if not exclude_numbers:
        groups.append(string.digits)
    if not exclude_punctuation:
        groups.append(PUNCTUATION)
    if include_space:
        groups.append(" ")
    groups = ["".join(c for c in g if c not in exclude_characters) for g in groups]
    groups = [g for g in groups if g]
    if not groups:
        raise InvalidParameterException(
            "The password can't be generated: every character type is excluded."
        )
    if require_each_included_type and size < len(groups):
        raise InvalidParameterException(
            "The password length is too short to include every required character type."
        )
    alphabet = "".join(groups)
    while True:
        chosen = [secrets.choice(alphabet) for _ in range(size)]
        if not require_each_included_type or all(any(c in g for c in chosen) for g in groups):
            return "".join(chosen)
