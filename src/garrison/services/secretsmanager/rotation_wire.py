"""RotateSecret and CancelRotateSecret: wire shapes in and out (the provider's rotation part)."""

from __future__ import annotations

from typing import Any

from garrison.api import Call, Request, Response
from garrison.services.secretsmanager.rotation import RotationApi

HANDLED: dict[str, frozenset[str]] = {
    "RotateSecret": frozenset(
        [
            "SecretId",
            "ClientRequestToken",
            "RotationLambdaARN",
            "RotationRules",
            "RotateImmediately",
        ]
    ),
    "CancelRotateSecret": frozenset({"SecretId"}),
}


def rotate_secret(api: RotationApi, call: Call, r: Request) -> Response:
    secret, version_id = api.rotate(
        call,
        r["SecretId"],
        r.get("ClientRequestToken"),
        r.get("RotationLambdaARN"),
        r.get("RotationRules"),
        r.get("RotateImmediately"),
    )
    out: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name}
    if version_id is not None:
        out["VersionId"] = version_id
    return out


def cancel_rotate_secret(api: RotationApi, call: Call, r: Request) -> Response:
    secret, version_id = api.cancel(call, r["SecretId"])
    out: dict[str, Any] = {"ARN": secret.arn, "Name": secret.name}
    if version_id is not None:
        out["VersionId"] = version_id
    return out
