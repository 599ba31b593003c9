"""Rotation rules and windows, as "Schedule expressions in Secrets Manager rotation" defines them.

    RotationRules = {AutomaticallyAfterDays: 1..1000}            (a window per N days)
                  | {ScheduleExpression: "rate(N hours|days)"    (N hours >= 4, days <= 999)
                                       | "cron(0 H DoM Mon DoW *)"}
                    + Duration "Nh" (1..24)                      (the window's length)

A window always opens on the hour (UTC). For `rate()` and AutomaticallyAfterDays it
opens at midnight; for `cron()` at the hours the expression names. Without a
Duration it closes after one hour for a schedule in hours and at the end of the UTC
day for a schedule in days; it must never reach into the next UTC day nor into the
next window. `next_window(rules, after)` is the first window opening after a time.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from garrison.services.secretsmanager.errors import InvalidParameterException

HOUR = 3600.0
DAY = 86400.0
_RATE = re.compile(r"rate\((\d+) (hour|hours|day|days)\)")
_CRON = re.compile(r"cron\(([^()]*)\)")
_DURATION = re.compile(r"(\d+)h")
_MONTHS = {m.upper(): i for i, m in enumerate(calendar.month_abbr) if m}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}


def _bad(expression: str) -> InvalidParameterException:
    return InvalidParameterException(
        f"Invalid ScheduleExpression: {expression}. Use a rate() expression in hours (at least "
        "4 hours) or days, or a cron() expression cron(0 Hours Day-of-month Month Day-of-week *)."
    )


@dataclass(frozen=True)
class Field:
    """The values one cron field allows (None: every value, `*` or `?`)."""

    values: frozenset[int] | None
    last: bool = False  # L (day of month): the last day; NL (day of week): the last N
    nth: tuple[int, int] | None = None  # D#N (day of week): the N-th weekday D


def _names(text: str, names: dict[str, int]) -> str:
    for name, number in names.items():
        text = text.replace(name, str(number))
    return text


def _field(text: str, low: int, high: int, expr: str, *, kind: str = "") -> Field:
    if text in ("*", "?"):
        return Field(None)
    if kind == "dom" and text == "L":
        return Field(None, last=True)
    if kind == "dow":
        m = re.fullmatch(r"([1-7])#([1-5])", text)
        if m:
            return Field(frozenset({int(m.group(1))}), nth=(int(m.group(1)), int(m.group(2))))
        m = re.fullmatch(r"([1-7])?L", text)
        if m:
            return Field(frozenset({int(m.group(1) or 7)}), last=True)
    out: set[int] = set()
    for part in text.split(","):
        m = re.fullmatch(r"(\*|\d+)(?:-(\d+))?(?:/(\d+))?", part)
        if m is None:
            raise _bad(expr)
        start = low if m.group(1) == "*" else int(m.group(1))
        end = (
            int(m.group(2)) if m.group(2) else (high if m.group(1) == "*" or m.group(3) else start)
        )
        step = int(m.group(3)) if m.group(3) else 1
        if not low <= start <= high or not low <= end <= high or start > end or step < 1:
            raise _bad(expr)
        out.update(range(start, end + 1, step))
    return Field(frozenset(out))


@dataclass(frozen=True)
class Cron:
    hours: Field
    dom: Field
    month: Field
    dow: Field
    hourly: bool  # more than one window a day: a schedule "in hours"

    def day_matches(self, day: datetime) -> bool:
        if self.month.values is not None and day.month not in self.month.values:
            return False
        last_day = calendar.monthrange(day.year, day.month)[1]
        if self.dom.last:
            if day.day != last_day:
                return False
        elif self.dom.values is not None and day.day not in self.dom.values:
            return False
        weekday = (day.isoweekday() % 7) + 1  # SUN=1 .. SAT=7
        if self.dow.values is not None and weekday not in self.dow.values:
            return False
        if self.dow.nth is not None and (day.day - 1) // 7 + 1 != self.dow.nth[1]:
            return False
        return not (self.dow.last and day.day + 7 <= last_day)


def parse_cron(expr: str, body: str) -> Cron:
    parts = body.split()
    if len(parts) != 6:
        raise _bad(expr)
    minutes, hours, dom, month, dow, year = parts
    if minutes != "0" or year != "*":
        raise _bad(expr)  # windows open on the hour; no schedule more than a year apart
    if (dom == "?") == (dow == "?"):
        raise _bad(expr)  # one of Day-of-month and Day-of-week is "?", not both
    hour_field = _field(hours, 0, 23, expr)
    return Cron(
        hours=hour_field,
        dom=_field(dom, 1, 31, expr, kind="dom"),
        month=_field(_names(month.upper(), _MONTHS), 1, 12, expr),
        dow=_field(_names(dow.upper(), _DAYS), 1, 7, expr, kind="dow"),
        hourly=hour_field.values is None or len(hour_field.values) > 1,
    )


@dataclass(frozen=True)
class Schedule:
    """A checked RotationRules: how windows open and how long they stay open."""

    rules: dict[str, Any]  # as RotationRules, for DescribeSecret
    rate_hours: int | None = None
    rate_days: int | None = None
    cron: Cron | None = None
    duration_hours: int | None = None

    @property
    def in_hours(self) -> bool:
        return self.rate_hours is not None or (self.cron is not None and self.cron.hourly)

    def window_length(self, opens: float) -> float:
        if self.duration_hours is not None:
            return self.duration_hours * HOUR
        if self.in_hours:
            return HOUR
        return DAY - (opens % DAY)  # to the end of the UTC day

    def next_window(self, after: float) -> float:
        """The first window opening strictly after `after` (epoch seconds)."""
        day = after - (after % DAY)
        if self.rate_days is not None:
            return day + self.rate_days * DAY
        if self.rate_hours is not None:
            # windows at midnight and every N hours after it, reset each day
            opens = day
            while opens <= after:
                opens += self.rate_hours * HOUR
                if opens >= day + DAY:
                    opens = day = day + DAY
            return opens
        assert self.cron is not None
        start = datetime.fromtimestamp(day, UTC)
        for n in range(0, 366 * 2):
            candidate = start + timedelta(days=n)
            if not self.cron.day_matches(candidate):
                continue
            hours = sorted(self.cron.hours.values or range(24))
            for hour in hours:
                opens = candidate.timestamp() + hour * HOUR
                if opens > after:
                    return opens
        return after + 365 * DAY  # not reached for a valid expression


def parse_rules(rules: dict[str, Any]) -> Schedule:
    """Check RotationRules as RotateSecret does; InvalidParameterException when wrong."""
    days = rules.get("AutomaticallyAfterDays")
    expression = rules.get("ScheduleExpression")
    duration = rules.get("Duration")
    out: dict[str, Any] = {}
    if days is not None and expression is not None:
        raise InvalidParameterException(
            "You can't specify both AutomaticallyAfterDays and ScheduleExpression. Use one of "
            "them to set the rotation schedule."
        )
    schedule = Schedule(rules=out)
    if days is not None:
        if not 1 <= int(days) <= 1000:
            raise InvalidParameterException(
                "AutomaticallyAfterDays must be between 1 and 1000 days."
            )
        out["AutomaticallyAfterDays"] = int(days)
        schedule = Schedule(rules=out, rate_days=int(days))
    elif expression is not None:
        text = str(expression).strip()
        rate = _RATE.fullmatch(text)
        cron = _CRON.fullmatch(text)
        if rate is not None:
            n = int(rate.group(1))
            if rate.group(2).startswith("hour"):
                if not 4 <= n <= 999 * 24:
                    raise InvalidParameterException(
                        f"Invalid ScheduleExpression: {text}. You can rotate a secret as often "
                        "as every four hours."
                    )
                schedule = Schedule(rules=out, rate_hours=n)
            else:
                if not 1 <= n <= 999:
                    raise InvalidParameterException(
                        f"Invalid ScheduleExpression: {text}. The rotation period must be "
                        "between 1 and 999 days."
                    )
                schedule = Schedule(rules=out, rate_days=n)
                # DescribeSecret shows the interval a days schedule implies, as AWS does
                out["AutomaticallyAfterDays"] = n
        elif cron is not None:
            schedule = Schedule(rules=out, cron=parse_cron(text, cron.group(1)))
        else:
            raise _bad(text)
        out["ScheduleExpression"] = text
    elif duration is not None:
        raise InvalidParameterException(
            "You must specify a rotation schedule (ScheduleExpression or AutomaticallyAfterDays) "
            "with Duration."
        )
    else:
        raise InvalidParameterException(
            "RotationRules must specify AutomaticallyAfterDays or ScheduleExpression."
        )
    if duration is not None:
        m = _DURATION.fullmatch(str(duration))
        if m is None or not 1 <= int(m.group(1)) <= 24:
            raise InvalidParameterException(
                f"Invalid Duration: {duration}. Specify the window in hours from 1h to 24h."
            )
        hours = int(m.group(1))
        schedule = Schedule(
            rules=out,
            rate_hours=schedule.rate_hours,
            rate_days=schedule.rate_days,
            cron=schedule.cron,
            duration_hours=hours,
        )
        _check_window(schedule, str(duration))
        out["Duration"] = f"{hours}h"
    return schedule


def _check_window(schedule: Schedule, duration: str) -> None:
    hours = schedule.duration_hours or 0
    if schedule.rate_hours is not None and hours > schedule.rate_hours:
        raise InvalidParameterException(
            f"The rotation window ({duration}) can't extend into the next rotation window."
        )
    starts = [0]
    if schedule.cron is not None:
        starts = sorted(schedule.cron.hours.values or range(24))
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        if gaps and hours > min(gaps):
            raise InvalidParameterException(
                f"The rotation window ({duration}) can't extend into the next rotation window."
            )
    if max(starts) + hours > 24:
        raise InvalidParameterException(
            f"The rotation window ({duration}) can't extend into the next UTC day."
        )


def stored_schedule(rules: dict[str, Any]) -> Schedule:
    """The schedule of RotationRules as stored (and shown): a ScheduleExpression in days
    is shown with the AutomaticallyAfterDays it implies, which is not a second schedule."""
    if "ScheduleExpression" in rules:
        rules = {k: v for k, v in rules.items() if k != "AutomaticallyAfterDays"}
    return parse_rules(rules)
