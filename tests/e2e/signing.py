"""Raw signed requests, for tests that need to send what boto3 never would."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from tests.conftest import ACCESS_KEY_ID, REGION, SECRET_ACCESS_KEY


def signed(
    endpoint: str,
    target: str | None,
    body: bytes,
    *,
    access_key: str = ACCESS_KEY_ID,
    secret_key: str = SECRET_ACCESS_KEY,
    region: str = REGION,
    service: str = "kms",
    when: dt.datetime | None = None,
    extra_headers: dict[str, str] | None = None,
) -> tuple[str, dict[str, str], bytes]:
    headers = {"Content-Type": "application/x-amz-json-1.1", **(extra_headers or {})}
    if target is not None:
        headers["X-Amz-Target"] = target
    req = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=headers)
    auth = SigV4Auth(Credentials(access_key, secret_key), service, region)
    if when is None:
        auth.add_auth(req)
    else:
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            auth.add_auth(req)
    prepared = req.prepare()
    return prepared.url, dict(prepared.headers), body


def post(endpoint: str, target: str | None, body: bytes, **kwargs: Any) -> requests.Response:
    url, headers, data = signed(endpoint, target, body, **kwargs)
    return requests.post(url, headers=headers, data=data, timeout=30)
