"""java_regex.py: model patterns (Java syntax) enforced by Python's re."""

from __future__ import annotations

import pytest

from garrison.protocol.java_regex import compile_pattern


@pytest.mark.parametrize(
    ("pattern", "value", "matches"),
    [
        (r"^[a-zA-Z0-9:/_-]+$", "alias/Example_1", True),
        (r"^[a-zA-Z0-9:/_-]+$", "alias/x\n", False),
        (r"cluster-[2-7a-zA-Z]{11,16}", "xcluster-abcdefghijk", False),  # whole-string match
        (r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$", "Ünïcode tag 42", True),
        (r"^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$", "semi;colon", False),
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "emoji 😀", True),
        (r"[\u0020-\uD7FF\uE000-\uFFFD\uD800\uDC00-\uDBFF\uDFFF\t]*", "bell\x07", False),
        (r"[\p{Print}&&[^|:/]]+", "plain", True),
        (r"[\p{Print}&&[^|:/]]+", "pi|pe", False),
        (r"^(?i)(true|false)$", "TRUE", True),
        (r"\Asnap-[0-9a-f]{8}\z", "snap-0123abcd", True),
        (r"\Asnap-[0-9a-f]{8}\z", "snap-0123abcd\n", False),
        (r"[\w-_]*", "a-_b", True),
        (r"\w+", "é", False),  # Java's \w is ASCII
        (r"\p{Alnum}+", "é", False),  # so are its POSIX classes
        (r"^[-_a-zA-Z0-9]*${2,64}$", "abc", True),  # a quantified anchor
        (r"[a-z\x{0022}]+", 'a"b', True),
        (r"\p{IsLatin}+", "anything", True),  # unknown property: permissive
    ],
)
def test_java_patterns(pattern: str, value: str, matches: bool) -> None:
    regex = compile_pattern(pattern)
    assert regex is not None
    assert (regex.fullmatch(value) is not None) is matches


def test_untranslatable_pattern_is_not_enforced_rather_than_crashing() -> None:
    assert compile_pattern(r"[0-9a-zA-Z]{11}{0,1011}") is None
    assert compile_pattern("[unterminated") is None
