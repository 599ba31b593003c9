"""AWS event patterns (garrison.events.patterns): the documented pairs of
tests/services/events/pattern_cases.py, the refused patterns with AWS's reasons,
and the rules AWS states in words (limits, duplicate keys, arrays, precision)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from garrison.errors import AwsError
from garrison.events.patterns import (
    MAX_PATTERN_CHARS,
    InvalidEventPatternException,
    compile_pattern,
)
from tests.services.events.pattern_cases import CASES, INVALID, Case, Invalid, envelope


def test_the_table_is_large_and_covers_every_operator() -> None:
    assert len(CASES) >= 60
    assert len({c.name for c in CASES}) == len(CASES)
    assert len({c.name for c in INVALID}) == len(INVALID)
    text = " ".join(c.pattern for c in CASES)
    for operator in (
        '"prefix"', '"suffix"', '"anything-but"', '"numeric"', '"exists"', '"cidr"',
        '"wildcard"', '"equals-ignore-case"', '"$or"', "null", "true",
    ):  # fmt: skip
        assert operator in text, operator
    assert {True, False} == {c.expected for c in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_documented_pair(case: Case) -> None:
    assert compile_pattern(case.pattern).matches(case.event) is case.expected


@pytest.mark.parametrize("case", INVALID, ids=[c.name for c in INVALID])
def test_refused_pattern(case: Invalid) -> None:
    with pytest.raises(InvalidEventPatternException) as caught:
        compile_pattern(case.pattern)
    error = caught.value
    assert error.reason.startswith(case.reason), error.reason
    assert error.message == f"Event pattern is not valid. Reason: {error.reason}"


def test_the_error_is_the_events_apis_error() -> None:
    with pytest.raises(AwsError) as caught:
        compile_pattern('{"source": "aws.ec2"}')
    assert caught.value.code == "InvalidEventPatternException"
    assert caught.value.status == 400
    assert caught.value.sender_fault


def test_pattern_size_is_limited_to_the_quota() -> None:
    # EventBridge quotas: "Event pattern size: 2,048 characters" (adjustable).
    values = ", ".join(f'"{i:04d}"' for i in range(400))
    text = '{"source": [' + values + "]}"
    assert len(text) > MAX_PATTERN_CHARS
    with pytest.raises(InvalidEventPatternException, match="maximum is 2048"):
        compile_pattern(text)
    assert compile_pattern(text, max_chars=len(text)).matches(envelope(source="0399"))


def test_deep_nesting_is_refused_not_a_crash() -> None:
    deep = '{"a": ' * 150 + '["x"]' + "}" * 150
    with pytest.raises(InvalidEventPatternException, match="nested too deeply"):
        compile_pattern(deep, max_chars=10_000)
    brackets = "[" * 5000 + "]" * 5000
    with pytest.raises(InvalidEventPatternException):
        compile_pattern('{"a": ' + brackets + "}", max_chars=20_000)


def test_nan_and_infinity_are_not_json() -> None:
    for literal in ("NaN", "Infinity", "-Infinity"):
        with pytest.raises(InvalidEventPatternException):
            compile_pattern('{"detail": {"x": [{"numeric": [">", ' + literal + "]}]}}")


def test_a_key_given_twice_counts_once_the_last() -> None:
    # [CF] "if you include a key more than once the last reference will be the one used"
    pattern = compile_pattern(
        '{"detail": {"location": [{"prefix": "us-"}], "location": [{"anything-but": "us-east"}]}}'
    )
    assert pattern.matches(envelope({"location": "eu-west"}))
    assert not pattern.matches(envelope({"location": "us-east"}))


def test_exists_false_holds_only_when_no_array_element_has_the_field() -> None:
    pattern = compile_pattern('{"detail": {"items": {"sku": [{"exists": false}]}}}')
    assert pattern.matches(envelope({"items": [{"qty": 1}, {"qty": 2}]}))
    assert pattern.matches(envelope({"items": []}))
    assert pattern.matches(envelope({"other": 1}))
    assert not pattern.matches(envelope({"items": [{"qty": 1}, {"sku": "A-1"}]}))


def test_exists_false_beside_other_fields_is_judged_in_the_matched_element() -> None:
    # array-consistent: the element that has qty 1 has no sku
    pattern = compile_pattern('{"detail": {"items": {"qty": [1], "sku": [{"exists": false}]}}}')
    assert pattern.matches(envelope({"items": [{"qty": 2, "sku": "A-1"}, {"qty": 1}]}))
    assert not pattern.matches(envelope({"items": [{"qty": 1, "sku": "A-1"}, {"qty": 2}]}))


def test_exists_true_on_an_empty_array_or_null() -> None:
    pattern = compile_pattern('{"detail": {"tags": [{"exists": true}]}}')
    assert not pattern.matches(envelope({"tags": []}))
    assert pattern.matches(envelope({"tags": None}))  # null is a value
    assert pattern.matches(envelope({"tags": ["a"]}))


def test_numbers_compare_by_value_and_within_six_decimals() -> None:
    exact = compile_pattern('{"detail": {"n": [300]}}')
    assert exact.matches(envelope({"n": 300.0}))
    assert exact.matches(envelope({"n": 3.0e2}))
    assert not exact.matches(envelope({"n": True}))
    account = compile_pattern('{"detail": {"acct": [123456789012]}}')  # beyond numeric range
    assert account.matches(envelope({"acct": 123456789012}))
    ranged = compile_pattern('{"detail": {"n": [{"numeric": [">", 0.000001]}]}}')
    assert ranged.matches(envelope({"n": 0.000002}))
    assert not ranged.matches(envelope({"n": 0.0000015}))  # seven decimals: not comparable
    assert not ranged.matches(envelope({"n": True}))
    edge = compile_pattern('{"detail": {"n": [{"numeric": [">=", -5e9, "<", 0]}]}}')
    assert edge.matches(envelope({"n": -5_000_000_000}))
    assert not edge.matches(envelope({"n": -5_000_000_001}))


def test_exact_ip_addresses_match_by_address() -> None:
    pattern = compile_pattern('{"detail": {"ip": ["2001:db8::1"]}}')
    assert pattern.matches(envelope({"ip": "2001:0db8:0000:0000:0000:0000:0000:0001"}))
    assert not pattern.matches(envelope({"ip": "2001:db8::2"}))


def test_string_operators_ignore_non_strings_and_anything_but_needs_a_value() -> None:
    for text in (
        '{"detail": {"v": [{"suffix": "1"}]}}',
        '{"detail": {"v": [{"equals-ignore-case": "1"}]}}',
        '{"detail": {"v": [{"wildcard": "*"}]}}',
        '{"detail": {"v": [{"cidr": "0.0.0.0/0"}]}}',
    ):
        assert not compile_pattern(text).matches(envelope({"v": 1})), text
    assert compile_pattern('{"detail": {"v": [{"wildcard": "*"}]}}').matches(envelope({"v": ""}))
    but = compile_pattern('{"detail": {"v": [{"anything-but": {"prefix": "x"}}]}}')
    assert but.matches(envelope({"v": 1}))
    assert not but.matches(envelope({"v": {"nested": "y"}}))
    assert not but.matches(envelope({}))


def test_anything_but_excludes_only_values_of_its_own_kind() -> None:
    numbers = compile_pattern('{"detail": {"v": [{"anything-but": [100]}]}}')
    assert numbers.matches(envelope({"v": "100"}))
    assert not numbers.matches(envelope({"v": 100.0}))
    strings = compile_pattern('{"detail": {"v": [{"anything-but": "x"}]}}')
    assert strings.matches(envelope({"v": 5}))
    assert strings.matches(envelope({"v": None}))
    assert not strings.matches(envelope({"v": []}))


def test_anything_but_on_an_array_needs_one_element_outside_the_list() -> None:
    pattern = compile_pattern('{"detail": {"state": [{"anything-but": ["stopped"]}]}}')
    assert pattern.matches(envelope({"state": ["stopped", "running"]}))
    assert not pattern.matches(envelope({"state": ["stopped", "stopped"]}))


def test_wildcard_matching_is_linear() -> None:
    pattern = compile_pattern('{"detail": {"v": [{"wildcard": "*a*a*a*a*a*a*a*a*b"}]}}')
    event = envelope({"v": "a" * 100_000})
    started = time.perf_counter()
    assert not pattern.matches(event)
    assert time.perf_counter() - started < 0.5


def test_matching_is_fast_once_compiled() -> None:
    pattern = compile_pattern(
        json.dumps(
            {
                "source": ["aws.ssm"],
                "detail-type": ["Parameter Store Change"],
                "detail": {
                    "operation": ["Create", "Update"],
                    "name": [{"prefix": "/prod/"}],
                    "type": [{"anything-but": "SecureString"}],
                },
            }
        )
    )
    event: dict[str, Any] = envelope(
        {"operation": "Update", "name": "/prod/app/db", "type": "String"},
        source="aws.ssm",
        detail_type="Parameter Store Change",
    )
    started = time.perf_counter()
    for _ in range(20_000):
        assert pattern.matches(event)
    assert time.perf_counter() - started < 2.0  # ~5 us a match on this machine


def test_cidr_ranges_run_from_the_address_as_written() -> None:
    # event-ruler (EventBridge's engine) does not mask the address: 10.0.0.5/24 is .5-.255
    pattern = compile_pattern('{"detail": {"ip": [{"cidr": "10.0.0.5/24"}]}}')
    assert pattern.matches(envelope({"ip": "10.0.0.255"}))
    assert pattern.matches(envelope({"ip": "10.0.0.5"}))
    assert not pattern.matches(envelope({"ip": "10.0.0.4"}))
    assert not pattern.matches(envelope({"ip": "::ffff:10.0.0.5"}))
    everything = compile_pattern('{"detail": {"ip": [{"cidr": "::/0"}]}}')
    assert everything.matches(envelope({"ip": "fe80::1"}))
    assert not everything.matches(envelope({"ip": "10.0.0.1"}))


def test_one_sided_ranges_run_to_the_numeric_limits() -> None:
    below = compile_pattern('{"detail": {"n": [{"numeric": ["<", 0]}]}}')
    assert below.matches(envelope({"n": -5_000_000_000}))
    assert not below.matches(envelope({"n": -5_000_000_000.5}))
    assert not below.matches(envelope({"n": 0}))
