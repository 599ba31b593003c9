"""The protocol layer under fuzzing: no request yields a 5xx or hurts the server.

Hypothesis draws requests (strategies in tests/protocol/fuzz_strategies.py)
and sends them to a dedicated `garrison server --dev` process over one kept-alive
HTTP connection. Every answer must be below 500 and, for an API call, a JSON
body (with `__type` and `message` when it is an error), and the health endpoint
must still answer "ok" after each example. Unexpected exceptions surface as 500
InternalFailure (tests/test_pipeline.py proves that), so a crash anywhere behind
the protocol layer fails these tests rather than hiding in a 400.

The budget is bounded for CI (`FUZZ_EXAMPLES` per property, 150 by default);
benchmarks/fuzz_protocol.py runs the same strategies for as long as asked.
Hypothesis prints the falsifying example and a reproduction blob on failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.conftest import (
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    ServerProcess,
    backend_server,
)
from tests.protocol.fuzz_strategies import (
    JSON_11,
    Answer,
    FuzzClient,
    Plan,
    Pool,
    auth_requests,
    internal_requests,
    kms_calls,
    model_requests,
    raw_requests,
    seed_pool,
    target_requests,
)

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_server(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[ServerProcess]:
    """A server of its own: fuzzed calls create, disable and delete keys at random."""
    yield from backend_server(tmp_root / f"fuzz-{request.param}", request.param)


@pytest.fixture(scope="module")
def wire(fuzz_server: ServerProcess) -> Iterator[FuzzClient]:
    client = FuzzClient(fuzz_server.endpoint, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    yield client
    client.close()


@pytest.fixture(scope="module")
def pool(fuzz_server: ServerProcess) -> Pool:
    return seed_pool(fuzz_server.client("kms"))


def _send_and_check(wire: FuzzClient, plan: Plan) -> None:
    wire.check(plan, wire.send(plan))


def test_the_property_sees_a_server_error(wire: FuzzClient) -> None:
    """The check is not vacuous: a 500, a non-JSON body or a body without __type fails it."""
    plan = Plan(label="self-test")
    with pytest.raises(AssertionError):
        wire.check(plan, Answer(500, "application/json", b'{"__type": "InternalFailure"}'))
    with pytest.raises(AssertionError):
        wire.check(plan, Answer(400, "text/plain", b"Invalid HTTP request received."))
    with pytest.raises(AssertionError):
        wire.check(plan, Answer(400, "application/json", b'{"message": "no type"}'))
    wire.check(plan, Answer(400, JSON_11, b'{"__type": "ValidationException", "message": "m"}'))


@FUZZ
@given(plan=target_requests())
def test_random_targets_get_aws_errors(wire: FuzzClient, plan: Plan) -> None:
    _send_and_check(wire, plan)


def test_model_shaped_bodies_get_aws_errors(wire: FuzzClient, pool: Pool) -> None:
    strategy = model_requests(pool)

    @FUZZ
    @given(plan=strategy)
    def fuzz(plan: Plan) -> None:
        _send_and_check(wire, plan)

    fuzz()


@FUZZ
@given(plan=auth_requests())
def test_broken_signatures_and_headers_get_aws_errors(wire: FuzzClient, plan: Plan) -> None:
    _send_and_check(wire, plan)


@FUZZ
@given(plan=raw_requests())
def test_random_bytes_bodies_get_aws_errors(wire: FuzzClient, plan: Plan) -> None:
    _send_and_check(wire, plan)


@settings(FUZZ)
@given(plan=internal_requests())
def test_the_nodes_own_endpoints_never_fail(wire: FuzzClient, plan: Plan) -> None:
    _send_and_check(wire, plan)


def test_random_valid_kms_calls_never_fail(fuzz_server: ServerProcess, wire: FuzzClient) -> None:
    run_state_machine_as_test(
        kms_calls(fuzz_server.client("kms"), wire),
        settings=settings(FUZZ, max_examples=max(EXAMPLES // 5, 10), stateful_step_count=20),
    )
