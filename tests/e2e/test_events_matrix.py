"""docs/compatibility/events.md against the code: the EventBridge matrix stays true.

Every operation of botocore's `events` model is listed exactly once; the rows marked
"supported" are exactly the operations the provider handles (its own table and the
connections/API destinations table it merges), each naming a test; every test the page
names exists; the counts in its introduction are the rows'. Those checks need no
server: the handled sets are module constants. One test drives a real server: every
operation listed as planned is answered `UnsupportedOperationException`, never half-done.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import botocore
import pytest
from botocore import xform_name
from botocore.exceptions import ClientError

from garrison.services.events import connections_wire
from garrison.services.events.provider import HANDLED
from tests.conftest import ServerProcess
from tests.e2e.compat import ROOT, check_matrix

MATRIX = ROOT / "docs" / "compatibility" / "events.md"
SERVED = set(HANDLED) | set(connections_wire.HANDLED)

# strings for the planned operations' required members: the first that matches the
# member's model pattern (names, partner source names, accounts, ARNs, Regions)
_CANDIDATES = (
    "x",
    "aws.partner/example.com/orders",
    "111122223333",
    "arn:aws:events:us-east-1:111122223333:event-bus/default",
    "arn:aws:route53:::healthcheck/abc-123",
    "us-east-1",
)


def _string(shape: Any) -> str:
    pattern = shape.metadata.get("pattern")
    size = int(shape.metadata.get("min", 1))
    for value in _CANDIDATES:
        if len(value) >= size and (pattern is None or re.fullmatch(pattern, value)):
            return value
    raise AssertionError(f"no candidate value for {shape.name} ({pattern})")


def _rows() -> list[tuple[str, str, str]]:
    return check_matrix("events", SERVED, supported_proof="tests/")


def test_matrix_lists_every_operation_of_the_model_once() -> None:
    rows = _rows()
    assert len(rows) == 57  # botocore 1.43.11's events model; a new model: update the page


def test_supported_is_what_the_provider_handles_and_named_tests_exist() -> None:
    rows = _rows()
    assert {name for name, status, _ in rows if status == "supported"} == SERVED
    assert {name for name, status, _ in rows if status == "planned"}.isdisjoint(SERVED)


def test_the_counts_in_the_introduction_match_the_rows() -> None:
    rows = _rows()
    text = MATRIX.read_text()
    supported = sum(1 for _, status, _ in rows if status == "supported")
    assert f"**{botocore.__version__}**" in text
    assert f"**{len(rows)} operations**" in text
    assert f"**{supported} are supported**" in text
    assert f"**{len(rows) - supported} are planned**" in text


def _minimal(shape: Any) -> Any:
    """A smallest value of a model shape that passes the model's validation."""
    kind = shape.type_name
    if kind == "structure":
        return {m: _minimal(shape.members[m]) for m in shape.required_members}
    if kind == "list":
        return [_minimal(shape.member)] * int(shape.metadata.get("min", 1))
    if kind in ("integer", "long"):
        return int(shape.metadata.get("min", 1))
    if kind == "boolean":
        return False
    if kind == "timestamp":
        return datetime(2026, 1, 1, tzinfo=UTC)
    if shape.enum:
        return shape.enum[0]
    return _string(shape)


@pytest.fixture
def events(sqlite_server: ServerProcess) -> Any:
    return sqlite_server.client("events")


def test_every_planned_operation_is_refused_by_name(events: Any) -> None:
    """What docs/compatibility/events.md lists as planned is answered, never half-done."""
    planned = sorted(name for name, status, _ in _rows() if status == "planned")
    assert len(planned) == 31
    model = events.meta.service_model
    for op in planned:
        request = _minimal(model.operation_model(op).input_shape)
        with pytest.raises(ClientError) as exc:
            getattr(events, xform_name(op))(**request)
        error = exc.value.response["Error"]
        assert error["Code"] == "UnsupportedOperationException", (op, error)
        assert error["Message"] == f"{op} is not supported by this Garrison release yet."
