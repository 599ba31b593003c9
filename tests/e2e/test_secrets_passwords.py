"""GetRandomPassword with AWS's defaults and every option, on SQLite and PostgreSQL.

Defaults: 32 characters from lowercase and uppercase letters, digits and the
punctuation ``!"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~``, no space, at least one of each
included type (RequireEachIncludedType true).
"""

from __future__ import annotations

import string
from typing import Any

import pytest

from tests.conftest import ServerProcess

PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


@pytest.fixture
def sm(server: ServerProcess) -> Any:
    return server.client("secretsmanager")


def password(sm: Any, **options: Any) -> str:
    value = sm.get_random_password(**options)["RandomPassword"]
    assert isinstance(value, str)
    return value


def test_defaults(sm: Any) -> None:
    seen = set()
    for _ in range(20):
        p = password(sm)
        assert len(p) == 32
        assert " " not in p
        assert set(p) <= set(string.ascii_letters + string.digits + PUNCTUATION)
        for group in (string.ascii_lowercase, string.ascii_uppercase, string.digits, PUNCTUATION):
            assert set(p) & set(group), (p, group)
        seen.add(p)
    assert len(seen) == 20  # random


def test_length_and_exclusions(sm: Any) -> None:
    assert len(password(sm, PasswordLength=4096)) == 4096
    assert len(password(sm, PasswordLength=4)) == 4
    p = password(sm, PasswordLength=200, ExcludeNumbers=True, ExcludePunctuation=True)
    assert set(p) <= set(string.ascii_letters)
    assert set(p) & set(string.ascii_lowercase) and set(p) & set(string.ascii_uppercase)
    p = password(sm, PasswordLength=200, ExcludeUppercase=True, ExcludeLowercase=True)
    assert set(p) <= set(string.digits + PUNCTUATION)
    p = password(sm, PasswordLength=300, ExcludeCharacters="abcdefABCDEF0123!@#")
    assert not set(p) & set("abcdefABCDEF0123!@#")
    p = password(sm, PasswordLength=300, IncludeSpace=True)
    assert " " in p
    only_digits = password(
        sm,
        PasswordLength=50,
        ExcludeUppercase=True,
        ExcludeLowercase=True,
        ExcludePunctuation=True,
    )
    assert only_digits.isdigit()


def test_require_each_included_type_off(sm: Any) -> None:
    # one character cannot hold four types unless the requirement is off
    p = password(sm, PasswordLength=1, RequireEachIncludedType=False)
    assert len(p) == 1
    p = password(sm, PasswordLength=2, RequireEachIncludedType=False, ExcludeCharacters="a")
    assert len(p) == 2 and "a" not in p
