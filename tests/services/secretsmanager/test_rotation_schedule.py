"""Rotation windows: where `next_window` opens them, and how long they stay open."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from garrison.services.secretsmanager.errors import InvalidParameterException
from garrison.services.secretsmanager.rotation_schedule import parse_rules, stored_schedule


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M")


@pytest.mark.parametrize(
    ("rules", "after", "opens"),
    [
        ({"AutomaticallyAfterDays": 7}, "2026-03-10T15:20", "2026-03-17T00:00"),
        ({"ScheduleExpression": "rate(10 days)"}, "2026-03-10T00:00", "2026-03-20T00:00"),
        ({"ScheduleExpression": "rate(4 hours)"}, "2026-03-10T09:30", "2026-03-10T12:00"),
        ({"ScheduleExpression": "rate(10 hours)"}, "2026-03-10T21:00", "2026-03-11T00:00"),
        ({"ScheduleExpression": "cron(0 16 1,15 * ? *)"}, "2026-03-10T00:00", "2026-03-15T16:00"),
        ({"ScheduleExpression": "cron(0 4/12 * * ? *)"}, "2026-03-10T05:00", "2026-03-10T16:00"),
        ({"ScheduleExpression": "cron(0 16 L * ? *)"}, "2026-02-03T00:00", "2026-02-28T16:00"),
        # the first Sunday of April 2026 is the 5th
        ({"ScheduleExpression": "cron(0 0 ? * SUN#1 *)"}, "2026-03-31T00:00", "2026-04-05T00:00"),
        ({"ScheduleExpression": "cron(0 8 ? * MON-FRI *)"}, "2026-03-13T09:00", "2026-03-16T08:00"),
        ({"ScheduleExpression": "cron(0 1 1 JAN,JUL ? *)"}, "2026-03-01T00:00", "2026-07-01T01:00"),
    ],
)
def test_next_window_opens_where_aws_opens_it(
    rules: dict[str, object], after: str, opens: str
) -> None:
    assert iso(parse_rules(rules).next_window(ts(after))) == opens


def test_window_lengths() -> None:
    midnight = ts("2026-03-10T00:00")
    assert parse_rules({"ScheduleExpression": "rate(4 hours)"}).window_length(midnight) == 3600
    assert parse_rules({"ScheduleExpression": "rate(2 days)"}).window_length(midnight) == 86400
    at_16 = ts("2026-03-10T16:00")
    cron = parse_rules({"ScheduleExpression": "cron(0 16 * * ? *)"})
    assert cron.window_length(at_16) == 8 * 3600  # to the end of the UTC day
    with_duration = parse_rules({"ScheduleExpression": "cron(0 16 * * ? *)", "Duration": "3h"})
    assert with_duration.window_length(at_16) == 3 * 3600


def test_a_days_expression_shows_its_interval_and_reads_back() -> None:
    schedule = parse_rules({"ScheduleExpression": "rate(10 days)", "Duration": "2h"})
    assert schedule.rules == {
        "ScheduleExpression": "rate(10 days)",
        "AutomaticallyAfterDays": 10,
        "Duration": "2h",
    }
    assert stored_schedule(schedule.rules).rate_days == 10


@pytest.mark.parametrize(
    "expression",
    [
        "cron(0 10 * * * *)",  # neither day field is ?
        "cron(0 10 ? * ? *)",  # both are
        "cron(0 10 32 * ? *)",
        "cron(0 10 * 13 ? *)",
        "cron(0 10 ? * 8 *)",
        "cron(0 10-8 * * ? *)",
        "cron(0 10 * * ?)",
        "rate(0 days)",
        "rate(3 hours)",
        "rate(1 week)",
    ],
)
def test_bad_expressions(expression: str) -> None:
    with pytest.raises(InvalidParameterException):
        parse_rules({"ScheduleExpression": expression})
