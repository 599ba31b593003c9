"""DescribeKey on a predefined AWS alias (``alias/aws/<service>``) with no key yet.

AWS: "If you call DescribeKey on a predefined AWS alias, that is, an AWS alias
with no key ID, KMS creates an AWS managed key. Then, it associates the alias
with the new KMS key, and returns the KeyId and Arn of the new KMS key." AWS
documents that for DescribeKey only: the other operations on such an alias
answer NotFoundException, as before.

Each backend gets its own server, so "no key yet" holds whatever other test
modules did to the shared one; each test uses its own predefined aliases.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import ACCOUNT_ID, BACKENDS, REGION, ServerProcess, backend_server


@pytest.fixture(scope="module", params=BACKENDS)
def own_server(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[ServerProcess]:
    data_dir = tmp_root / f"aws-managed-alias-{request.param}-{secrets.token_hex(3)}"
    yield from backend_server(data_dir, request.param)


@pytest.fixture
def kms(own_server: ServerProcess) -> Any:
    return own_server.client("kms")


def error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return (
        response["Error"]["Code"],
        response["Error"]["Message"],
        response["ResponseMetadata"]["HTTPStatusCode"],
    )


def aliases(kms: Any) -> dict[str, str | None]:
    """Alias name -> target key id, over every page."""
    found: dict[str, str | None] = {}
    for page in kms.get_paginator("list_aliases").paginate():
        for entry in page["Aliases"]:
            found[entry["AliasName"]] = entry.get("TargetKeyId")
    return found


def alias_arn(name: str) -> str:
    return f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:{name}"


def test_describe_key_creates_the_aws_managed_key_of_a_predefined_alias(kms: Any) -> None:
    assert "alias/aws/ebs" not in aliases(kms)

    meta = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]

    assert meta["KeyManager"] == "AWS"
    assert meta["KeyState"] == "Enabled" and meta["Enabled"] is True
    assert meta["KeySpec"] == "SYMMETRIC_DEFAULT"
    assert meta["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert meta["Origin"] == "AWS_KMS"
    assert meta["Arn"] == f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{meta['KeyId']}"
    assert (
        meta["Description"] == "Default key that protects my ebs data when no other key is defined"
    )
    # the alias now names the new key, and names the same key from now on
    assert aliases(kms)["alias/aws/ebs"] == meta["KeyId"]
    again = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    assert again["KeyId"] == meta["KeyId"]
    assert kms.describe_key(KeyId=meta["KeyId"])["KeyMetadata"]["KeyManager"] == "AWS"
    listed = {k["KeyId"] for p in kms.get_paginator("list_keys").paginate() for k in p["Keys"]}
    assert meta["KeyId"] in listed


def test_the_alias_arn_of_the_callers_own_account_creates_it_too(kms: Any) -> None:
    arn = alias_arn("alias/aws/rds")
    meta = kms.describe_key(KeyId=arn)["KeyMetadata"]
    assert meta["KeyManager"] == "AWS"
    assert kms.describe_key(KeyId="alias/aws/rds")["KeyMetadata"]["KeyId"] == meta["KeyId"]


def test_the_created_key_is_an_aws_managed_key(kms: Any) -> None:
    key_id = kms.describe_key(KeyId="alias/aws/lambda")["KeyMetadata"]["KeyId"]

    policy = json.loads(kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"])
    via = {
        s["Condition"]["StringEquals"]["kms:ViaService"]
        for s in policy["Statement"]
        if "Condition" in s
    }
    assert via == {f"lambda.{REGION}.amazonaws.com"}
    assert kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
    # its policy allows no key management, even to the account's root
    with pytest.raises(ClientError) as exc:
        kms.disable_key(KeyId=key_id)
    assert error(exc)[0] == "AccessDeniedException"
    # its policy lets the account use it only through the service, not directly
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId="alias/aws/lambda", Plaintext=b"x")
    assert error(exc)[0] == "AccessDeniedException"


@pytest.mark.parametrize("name", ["alias/aws/not-an-aws-service", "alias/aws/S3", "alias/awsx/s3"])
def test_other_aws_aliases_stay_not_found(kms: Any, name: str) -> None:
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=name)
    assert error(exc) == ("NotFoundException", f"Alias {alias_arn(name)} is not found.", 400)
    assert name not in aliases(kms)


def test_an_alias_arn_of_another_account_creates_nothing(kms: Any) -> None:
    arn = f"arn:aws:kms:{REGION}:444455556666:alias/aws/dynamodb"
    with pytest.raises(ClientError) as exc:
        kms.describe_key(KeyId=arn)
    assert error(exc) == ("NotFoundException", f"Alias {arn} is not found.", 400)
    assert "alias/aws/dynamodb" not in aliases(kms)


def test_cryptographic_operations_do_not_create_it(kms: Any) -> None:
    name = "alias/aws/sqs"
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=name, Plaintext=b"x")
    assert error(exc) == ("NotFoundException", f"Alias {alias_arn(name)} is not found.", 400)
    with pytest.raises(ClientError) as exc:
        kms.generate_data_key(KeyId=name, KeySpec="AES_256")
    assert error(exc)[0] == "NotFoundException"
    assert name not in aliases(kms)
    # DescribeKey creates it; then Encrypt finds it (and its policy refuses a direct call)
    kms.describe_key(KeyId=name)
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=name, Plaintext=b"x")
    assert error(exc)[0] == "AccessDeniedException"


def test_concurrent_first_describes_agree_on_one_key(kms: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        ids = set(
            pool.map(
                lambda _: kms.describe_key(KeyId="alias/aws/sns")["KeyMetadata"]["KeyId"],
                range(16),
            )
        )
    assert len(ids) == 1
    assert aliases(kms)["alias/aws/sns"] == ids.pop()
    managed = [
        k["KeyId"]
        for p in kms.get_paginator("list_keys").paginate()
        for k in p["Keys"]
        if kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["Description"].startswith(
            "Default key that protects my sns data"
        )
    ]
    assert len(managed) == 1
