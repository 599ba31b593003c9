"""The query protocol over whole service models, and under random forms.

Every operation of several query services (IAM, STS, ELBv2, SNS with its maps,
SimpleDB with its flattened lists, Redshift with its unions) round-trips values
drawn from its model through botocore's own serialiser (requests) and parser
(responses), so each shape feature is covered where botocore uses it. A
Hypothesis property then throws forms made of the models' own parameter names,
indexes and junk at the parser: each is parsed or refused with an AWS error.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.model import OperationModel, Shape
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from garrison.errors import SerializationException, ValidationException
from garrison.protocol import query_protocol
from garrison.protocol.query_parser import build_tree, read_request
from garrison.protocol.specs import ServiceSpec, load_service
from tests.protocol.test_query_protocol import FORM, botocore_body, botocore_reads

ROUND_TRIP_SERVICES = ["iam", "sts", "elbv2", "sns", "sdb", "redshift"]


# -- model-wide round trips ------------------------------------------------------------


class Values:
    """Values for a model's shapes, every member filled, recursion cut at a depth."""

    def __init__(self) -> None:
        self.counter = 0

    def value(self, shape: Shape, depth: int = 0) -> Any:
        self.counter += 1
        kind = shape.type_name
        if kind == "structure":
            members = shape.members
            if shape.metadata.get("union"):
                first = next(iter(members))
                return {first: self.value(members[first], depth + 1)}
            if depth > 5:
                return {}
            return {name: self.value(member, depth + 1) for name, member in members.items()}
        if kind == "list":
            if depth > 5:
                return []
            return [self.value(shape.member, depth + 1) for _ in range(2)]
        if kind == "map":
            keys = shape.key.enum or [f"key-{self.counter}-{i}" for i in range(2)]
            return {key: self.value(shape.value, depth + 1) for key in keys[:2]}
        if kind == "string":
            if shape.enum:
                return shape.enum[self.counter % len(shape.enum)]
            return f"v{self.counter} <&> é 鍵 \"q\" 'a' +%= \t\n"
        if kind in ("integer", "long"):
            return -self.counter if self.counter % 2 else self.counter * 1_000_003
        if kind in ("float", "double"):
            return self.counter + 0.25
        if kind == "boolean":
            return self.counter % 2 == 0
        if kind == "timestamp":
            micro = 0 if self.counter % 2 else 123_000
            return datetime(2026, 11, 29, 1, 2, 3, micro, tzinfo=UTC)
        if kind == "blob":
            return bytes([0, 255, self.counter % 256]) + b"blob"
        raise AssertionError(f"unexpected shape type {kind}")


@pytest.mark.parametrize("service", ROUND_TRIP_SERVICES)
def test_every_input_shape_round_trips_through_botocore(service: str) -> None:
    spec = load_service(service)
    checked = 0
    for name in spec.operation_names:
        operation = spec.operation(name)
        assert operation is not None
        if operation.input_shape is None:
            continue
        params = Values().value(operation.input_shape)
        body = botocore_body(operation, params, validate=False)
        form = query_protocol.read_params(b"", body, FORM)
        assert read_request(operation, build_tree(form)) == params, name
        checked += 1
    assert checked >= 3


@pytest.mark.parametrize("service", ROUND_TRIP_SERVICES)
def test_every_output_shape_round_trips_through_botocore(service: str) -> None:
    spec = load_service(service)
    checked = 0
    for name in spec.operation_names:
        operation = spec.operation(name)
        assert operation is not None
        if operation.output_shape is None:
            continue
        data = Values().value(operation.output_shape)
        body = query_protocol.serialize_response(operation, data, request_id="req-1")
        parsed = botocore_reads(operation, body)
        assert parsed.pop("ResponseMetadata")["RequestId"] == "req-1"
        assert parsed == data, name
        checked += 1
    assert checked >= 3


# -- robustness -----------------------------------------------------------------------


def _wire_names(spec: ServiceSpec) -> list[str]:
    names: set[str] = set()
    for name in spec.operation_names:
        operation = spec.operation(name)
        shape = operation.input_shape if operation else None
        stack = [shape] if shape is not None else []
        seen: set[str] = set()
        while stack:
            current = stack.pop()
            if current.name in seen:
                continue
            seen.add(current.name)
            if current.type_name == "structure":
                for member_name, member in current.members.items():
                    names.add(member.serialization.get("name", member_name))
                    stack.append(member)
            elif current.type_name == "list":
                stack.append(current.member)
            elif current.type_name == "map":
                stack += [current.key, current.value]
    return sorted(names)


_QUERY_SPECS = [load_service("iam"), load_service("sts")]
_SEGMENTS = st.sampled_from(
    sorted({n for spec in _QUERY_SPECS for n in _wire_names(spec)})
    + ["member", "entry", "key", "value", "1", "2", "3", "0", "01", "-1", "x", "", "999999"]
)
_VALUES = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", "true", "False", "1", "-1", "2147483648", "1e3", "NaN", "2026-01-01T00:00:00Z",
         "AAAA", "!!", "arn:aws:iam::111122223333:role/x", "\x00", "\ud800", "7" * 5000]
    ),
)  # fmt: skip
_OPERATIONS = st.sampled_from(
    [spec.operation(name) for spec in _QUERY_SPECS for name in spec.operation_names]
)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    operation=_OPERATIONS,
    params=st.dictionaries(
        st.lists(_SEGMENTS, min_size=1, max_size=6).map(".".join), _VALUES, max_size=10
    ),
)
def test_any_form_is_parsed_or_refused_with_an_aws_error(
    operation: OperationModel, params: dict[str, str]
) -> None:
    try:
        request = query_protocol.parse_request(operation, params)
    except (SerializationException, ValidationException) as err:
        assert err.message and err.status == 400
    else:
        assert isinstance(request, dict)
        assert set(request) <= set(operation.input_shape.members if operation.input_shape else ())
