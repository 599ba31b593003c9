"""Opaque NextTokens: the key of the last item a page returned, base64 of JSON."""

from __future__ import annotations

import base64

import orjson

from garrison.services.ssm.errors import InvalidNextToken


def next_token_after(after: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"after": after})).decode()


def read_token(token: str | None) -> str | None:
    if token is None:
        return None
    try:
        after = orjson.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise InvalidNextToken("The specified token is not valid.") from None
    if not isinstance(after, str):
        raise InvalidNextToken("The specified token is not valid.")
    return after
