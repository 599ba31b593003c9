"""The cost of authorising one KMS Encrypt, in-process, without HTTP or the database.

Measures `KeyAccess.authorize` (the Authorizer with the key policy, the global
and KMS condition keys, an encryption context) for:

    root              the account root under the default key policy
    user-10x5         an IAM user holding 10 identity policies of 5 statements
                      each (the allow in the last one), under the default key
                      policy (delegation to IAM), plus a permissions boundary
    baseline          the pre-Authorizer path for root: the same context dicts
                      and one key-policy evaluation (what KMS did before)

and prints microseconds per call and the ratios the performance budget names
(user within 15% of root on the whole request path; root within a few percent
of the old path). Compose with benchmarks/pipeline_inprocess.py for the
whole-request figure (about 100-150 us per Encrypt there).

    python benchmarks/authz_inprocess.py [--n 200000]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from garrison.api import Call
from garrison.context import Principal, RequestContext
from garrison.iam.authorizer import Authorizer
from garrison.iam.identity import NO_GUARDS, AccountGuards, PrincipalPolicies, SourcePolicy
from garrison.iam.policy import AuthzRequest, compile_policy
from garrison.services.kms.access import KeyAccess, Target
from garrison.services.kms.cache import KeyView, KmsCache
from garrison.services.kms.keypolicy import (
    KeyFacts,
    caller_context,
    compile_key_policy,
    default_key_policy,
    encryption_context,
    key_context,
)

ACCOUNT = "111122223333"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
ROOT = Principal(f"arn:aws:iam::{ACCOUNT}:root", ACCOUNT, "Root", ACCOUNT, "AKIAROOT")
USER = Principal(
    f"arn:aws:iam::{ACCOUNT}:user/alice", ACCOUNT, "IAMUser", "AIDAALICE", "AKIAALICE", "alice"
)


def user_policy(n: int, account: str) -> str:
    """The n-th of the user's 10 policies: 5 statements; only the 10th allows kms:Encrypt.

    benchmarks/authz_pipeline.py gives its user the same ten.
    """
    statements: list[dict[str, Any]] = [
        {"Effect": "Allow", "Action": [f"s3:Get{n}{s}*", f"dynamodb:Query{s}"],
         "Resource": f"arn:aws:s3:::bucket-{n}-{s}/*"}
        for s in range(4)
    ]  # fmt: skip
    statements.append(
        {"Effect": "Allow", "Action": "kms:Encrypt" if n == 9 else f"sqs:Send{n}",
         "Resource": f"arn:aws:kms:*:{account}:key/*",
         "Condition": {"StringEquals": {"aws:RequestedRegion": "us-east-1"}}}
    )  # fmt: skip
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def ten_policies() -> tuple[SourcePolicy, ...]:
    return tuple(
        SourcePolicy(
            f"p{n}", "user", compile_policy(user_policy(n, ACCOUNT), resource_policy=False)
        )
        for n in range(10)
    )


class Store:
    def __init__(self) -> None:
        boundary = compile_policy(
            json.dumps({"Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}),
            resource_policy=False,
        )  # fmt: skip
        self.held = PrincipalPolicies(
            identity=ten_policies(), boundary=SourcePolicy("b", "boundary", boundary)
        )

    def principal(self, tx: Any, principal: Principal) -> PrincipalPolicies:
        return self.held

    def guards(self, tx: Any, account_id: str) -> AccountGuards:
        return NO_GUARDS


class Tx:
    def after_commit(self, fn: Callable[[], None]) -> None:
        fn()


def ctx(principal: Principal) -> RequestContext:
    return RequestContext(
        request_id="r", service="kms", operation="Encrypt", region="us-east-1",
        principal=principal, now=datetime.now(UTC),
    )  # fmt: skip


class FakeKey:
    arn = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"
    account_id = ACCOUNT


def run(n: int) -> None:
    facts = KeyFacts("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "AWS_KMS", ("alias/app",), {})
    policy = compile_key_policy(default_key_policy(ACCOUNT))
    view = KeyView(FakeKey(), policy, facts)  # type: ignore[arg-type]
    target = Target(view)
    ec = {"kms:EncryptionAlgorithm": ("SYMMETRIC_DEFAULT",), **encryption_context({"a": "b"})}
    access = KeyAccess(KmsCache(), Authorizer(Store()))

    def old_path() -> None:
        c = ctx(ROOT)
        context = caller_context(c)
        context.update(key_context(facts, None))
        context.update(ec)
        req = AuthzRequest.for_principal(c.principal, "kms:Encrypt", FakeKey.arn, context)
        policy.evaluate(req)

    def timed(fn: Callable[[], None]) -> float:
        for _ in range(1000):
            fn()
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            for _ in range(n):
                fn()
            best = min(best, (time.perf_counter() - start) / n * 1e6)
        return best

    # the context build of old_path includes a RequestContext per call; so do the others
    def with_ctx(principal: Principal) -> Callable[[], None]:
        def fn() -> None:
            call = Call(ctx(principal), Tx())  # type: ignore[arg-type]
            access.authorize(call, target, "kms:Encrypt", ec)

        return fn

    baseline = timed(old_path)
    root = timed(with_ctx(ROOT))
    user = timed(with_ctx(USER))
    print(f"baseline (old root path) {baseline:7.2f} us/call")
    print(f"root                     {root:7.2f} us/call  ({root - baseline:+.2f} us)")
    print(f"user 10 policies x 5     {user:7.2f} us/call  ({user - root:+.2f} us over root)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=50_000)
    run(parser.parse_args().n)


if __name__ == "__main__":
    main()
