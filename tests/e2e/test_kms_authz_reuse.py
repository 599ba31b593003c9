"""What the KMS hot path keeps between calls never outlives the state it came from.

The authorizer keeps a verdict that read no request context beyond what its lookup
holds (no Condition for the action, or Conditions only on keys the principal, the
Region, the source address, TLS and the calling service fix), per principal policy
set, compiled key policy and those request facts; `KeyAccess` reuses a key it found
earlier in the same call. These tests change each input of a kept verdict between
two identical calls -- the key policy, the caller's IAM policy, an alias, the Region
-- and show the second call decided anew; and that a policy with a Condition on the
request's own context is decided per request, never from a kept verdict.
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import ServerProcess
from tests.e2e.helpers import error_of, iam_user, name, session_client
from tests.e2e.helpers import iam as iam  # the fixture
from tests.e2e.policies import ALLOW_ROOT, deny, policy

REPEAT = 5  # enough calls for a verdict to be kept and reused


def denied(call: Any, **kwargs: Any) -> str:
    with pytest.raises(ClientError) as exc:
        call(**kwargs)
    code, message = error_of(exc)
    assert code == "AccessDeniedException"
    return message


def test_root_verdict_follows_a_put_key_policy(kms: Any) -> None:
    key_id = kms.create_key(Policy=policy(ALLOW_ROOT))["KeyMetadata"]["KeyId"]
    for _ in range(REPEAT):
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"x")["CiphertextBlob"]

    kms.put_key_policy(
        KeyId=key_id, PolicyName="default", Policy=policy(ALLOW_ROOT, deny("kms:Encrypt"))
    )
    for _ in range(REPEAT):
        message = denied(kms.encrypt, KeyId=key_id, Plaintext=b"x")
        assert "with an explicit deny in a resource-based policy" in message
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"  # another action

    kms.put_key_policy(KeyId=key_id, PolicyName="default", Policy=policy(ALLOW_ROOT))
    for _ in range(REPEAT):
        assert kms.encrypt(KeyId=key_id, Plaintext=b"x")["KeyId"].endswith(key_id)


def test_user_verdict_follows_its_identity_policy(
    server: ServerProcess, kms: Any, iam: Any
) -> None:
    key = kms.create_key()["KeyMetadata"]  # the default policy: delegation to IAM
    encrypt = {"Effect": "Allow", "Action": "kms:Encrypt", "Resource": key["Arn"]}
    user, secret = iam_user(iam, "reuse", encrypt, policy_name="use")
    user_kms = session_client(server, "kms", secret)
    for _ in range(REPEAT):
        user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")

    iam.delete_user_policy(UserName=user, PolicyName="use")
    for _ in range(REPEAT):
        message = denied(user_kms.encrypt, KeyId=key["KeyId"], Plaintext=b"x")
        assert "because no identity-based policy allows the kms:Encrypt action" in message

    iam.put_user_policy(UserName=user, PolicyName="use", PolicyDocument=policy(encrypt))
    for _ in range(REPEAT):
        user_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")


def test_a_condition_is_decided_per_request(kms: Any) -> None:
    only_tagged = deny(
        "kms:Encrypt", Null={"kms:EncryptionContext:purpose": "true"}
    )  # Encrypt needs an encryption context with "purpose"
    key_id = kms.create_key(Policy=policy(ALLOW_ROOT, only_tagged))["KeyMetadata"]["KeyId"]
    for _ in range(REPEAT):
        kms.encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext={"purpose": "test"})
        denied(kms.encrypt, KeyId=key_id, Plaintext=b"x")
        denied(kms.encrypt, KeyId=key_id, Plaintext=b"x", EncryptionContext={"other": "y"})


def test_an_alias_repointed_between_calls_is_followed(kms: Any) -> None:
    first = kms.create_key()["KeyMetadata"]
    second = kms.create_key()["KeyMetadata"]
    alias = f"alias/{name('reuse')}"
    kms.create_alias(AliasName=alias, TargetKeyId=first["KeyId"])
    for _ in range(REPEAT):
        assert kms.encrypt(KeyId=alias, Plaintext=b"x")["KeyId"] == first["Arn"]

    kms.update_alias(AliasName=alias, TargetKeyId=second["KeyId"])
    for _ in range(REPEAT):
        blob = kms.encrypt(KeyId=alias, Plaintext=b"x")
        assert blob["KeyId"] == second["Arn"]
        opened = kms.decrypt(CiphertextBlob=blob["CiphertextBlob"], KeyId=alias)
        assert opened["KeyId"] == second["Arn"]


def test_a_verdict_kept_under_a_region_condition_follows_the_region(
    server: ServerProcess, iam: Any
) -> None:
    """A Condition on aws:RequestedRegion (a key the kept verdict's lookup holds) is
    kept per Region: the same user, action and resource decide anew in another Region."""
    east_only = {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*",
                 "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}}  # fmt: skip
    user, key = iam_user(iam, "region", east_only)
    east = session_client(server, "iam", key)
    west = boto3.client(
        "iam",
        endpoint_url=server.endpoint,
        region_name="eu-west-1",
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
        config=Config(retries={"total_max_attempts": 1}),
    )
    for _ in range(REPEAT):
        assert east.get_user(UserName=user)["User"]["UserName"] == user
        with pytest.raises(ClientError) as exc:
            west.get_user(UserName=user)
        assert exc.value.response["Error"]["Code"] == "AccessDenied"
