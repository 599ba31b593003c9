"""The one wrapper around each KMS handler (services/common/handlers.py): the request
quota first, then unknown members, then grant tokens, then the handler."""

from __future__ import annotations

from typing import Any

import pytest

from garrison.api import Call, Request, Response
from garrison.errors import AwsError, UnsupportedOperationException
from garrison.services.common.handlers import guarded_handlers
from tests.services.kms.conftest import KmsHarness


def test_checks_run_in_order_and_only_where_the_member_is_handled() -> None:
    seen: list[str] = []

    def handler(call: Call, request: Request) -> Response:
        seen.append("handler")
        return {}

    def before(op: str) -> Any:
        return None if op == "Free" else lambda call, r: seen.append("before")

    def tokens(value: Any) -> None:
        seen.append(f"tokens {value}")
        if value == ["bad"]:
            raise UnsupportedOperationException("bad token")

    guarded = guarded_handlers(
        {"Op": handler, "Free": handler},
        {"Op": frozenset({"A", "GrantTokens"}), "Free": frozenset({"A"})},
        lambda op: op == "Op",
        before=before,
        member_checks={"GrantTokens": tokens},
    )
    call: Any = type("FakeCall", (), {"hide_response": False})()
    guarded["Op"](call, {"A": 1, "GrantTokens": ["t"]})
    assert seen == ["before", "tokens ['t']", "handler"]
    assert call.hide_response is True
    seen.clear()
    with pytest.raises(UnsupportedOperationException) as err:
        guarded["Op"](call, {"A": 1, "B": 2, "GrantTokens": ["bad"]})
    assert err.value.message == "The B parameter of Op is not supported by this Garrison release."
    assert seen == ["before"]  # the quota is charged first; the tokens never looked at
    seen.clear()
    with pytest.raises(UnsupportedOperationException, match="bad token"):
        guarded["Op"](call, {"GrantTokens": ["bad"]})
    assert seen == ["before", "tokens ['bad']"]
    seen.clear()
    other: Any = type("FakeCall", (), {"hide_response": False})()
    guarded["Free"](other, {"A": 1})  # no quota, no GrantTokens member, responses kept
    assert seen == ["handler"]
    assert other.hide_response is False


def test_a_malformed_grant_token_is_refused_before_the_key_is_looked_up(
    harness: KmsHarness,
) -> None:
    missing = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    request = {"KeyId": missing, "Plaintext": b"x", "GrantTokens": ["not-a-token"]}
    with pytest.raises(AwsError) as err:
        harness.call("Encrypt", request)
    assert err.value.code == "InvalidGrantTokenException"
    with pytest.raises(AwsError) as err:
        harness.call("Encrypt", {"KeyId": missing, "Plaintext": b"x", "GrantTokens": []})
    assert err.value.code == "NotFoundException"


def test_decrypt_with_a_recipient_is_refused_before_the_key_is_looked_up(
    harness: KmsHarness,
) -> None:
    # the provider finds a Decrypt's key itself (RSA or symmetric?) only without one
    missing = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    recipient = {"AttestationDocument": b"doc", "KeyEncryptionAlgorithm": "RSAES_OAEP_SHA_256"}
    request = {"KeyId": missing, "CiphertextBlob": b"x" * 80, "Recipient": recipient}
    with pytest.raises(AwsError) as err:
        harness.call("Decrypt", request)
    assert err.value.code == "UnsupportedOperationException"
    del request["Recipient"]
    with pytest.raises(AwsError) as err:
        harness.call("Decrypt", request)
    assert err.value.code == "NotFoundException"
