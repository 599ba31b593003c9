"""KMS Encrypt through the whole request path: the account root vs an IAM user with
10 policies of 5 statements (and a permissions boundary), in-process.

The user and its policies are made through IAM's own API on the same pipeline;
then both principals run the same Encrypt load (``--concurrency`` tasks for
``--duration`` seconds, alternating root / user ``--rounds`` times) and the CPU
per call and throughput of each are printed with the user/root ratio (the
budget: within 15%).

    python benchmarks/authz_pipeline.py [--duration 3] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import shutil
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import uvloop
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

sys.path.insert(0, str(Path(__file__).parent))
from authz_inprocess import user_policy as policy  # noqa: E402
from pipeline_inprocess import REGION, call, signed  # noqa: E402

from garrison.app import Garrison  # noqa: E402
from garrison.config import Settings  # noqa: E402
from garrison.pipeline import HttpRequest, Pipeline  # noqa: E402


def signed_iam(creds: Credentials, action: str, params: dict[str, str]) -> HttpRequest:
    body = urllib.parse.urlencode({"Action": action, "Version": "2010-05-08", **params}).encode()
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:4600/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    SigV4Auth(creds, "iam", REGION).add_auth(request)
    headers = [(b"host", b"127.0.0.1:4600"), (b"user-agent", b"garrison-benchmark/authz")]
    headers += [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    headers.append((b"content-length", str(len(body)).encode()))
    return HttpRequest("POST", b"/", b"", headers, body, "127.0.0.1", False)


async def iam(pipeline: Pipeline, creds: Credentials, action: str, **params: str) -> str:
    response = await pipeline.handle(signed_iam(creds, action, params))
    if response.status != 200:
        raise SystemExit(f"{action}: {response.status}: {response.body!r}")
    return response.body.decode()


async def make_user(g: Garrison, root: Credentials, account: str) -> Credentials:
    p = g.pipeline
    everything = [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]
    boundary = json.dumps({"Version": "2012-10-17", "Statement": everything})
    await iam(p, root, "CreatePolicy", PolicyName="bound", PolicyDocument=boundary)
    await iam(p, root, "CreateUser", UserName="bench",
              PermissionsBoundary=f"arn:aws:iam::{account}:policy/bound")  # fmt: skip
    # managed policies: an IAM user's inline policies may total only 2,048 bytes
    for n in range(10):
        await iam(p, root, "CreatePolicy", PolicyName=f"p{n}", PolicyDocument=policy(n, account))
        await iam(p, root, "AttachUserPolicy", UserName="bench",
                  PolicyArn=f"arn:aws:iam::{account}:policy/p{n}")  # fmt: skip
    body = await iam(p, root, "CreateAccessKey", UserName="bench")
    key_id = body.split("<AccessKeyId>")[1].split("<")[0]
    secret = body.split("<SecretAccessKey>")[1].split("<")[0]
    return Credentials(key_id, secret)


async def load(
    g: Garrison, creds: Credentials, key_id: str, args: argparse.Namespace
) -> tuple[float, float]:
    """(calls per second, CPU microseconds per call) of one Encrypt load."""
    pipeline = g.pipeline
    requests = [
        signed(creds, "Encrypt", {"KeyId": key_id,
                                  "Plaintext": base64.b64encode(secrets.token_bytes(100)).decode()})
        for _ in range(args.requests)
    ]  # fmt: skip
    await call(pipeline, requests[0])  # warm the caches
    done = 0
    stop = time.perf_counter() + args.duration

    async def client(offset: int) -> None:
        nonlocal done
        i = offset
        while time.perf_counter() < stop:
            await call(pipeline, requests[i % len(requests)])
            done += 1
            i += 1

    cpu0 = time.process_time()
    await asyncio.gather(*(client(i * 31) for i in range(args.concurrency)))
    cpu = time.process_time() - cpu0
    return done / args.duration, cpu / max(done, 1) * 1e6


async def run(args: argparse.Namespace, g: Garrison, root: Credentials, account: str) -> None:
    user = await make_user(g, root, account)
    created = await call(g.pipeline, signed(root, "CreateKey", {}))
    key_id = str(created["KeyMetadata"]["KeyId"])
    figures: dict[str, list[tuple[float, float]]] = {"root": [], "user": []}
    for _ in range(args.rounds):
        for name, creds in (("root", root), ("user", user)):
            figures[name].append(await load(g, creds, key_id, args))
    for name, runs in figures.items():
        rate = sum(r for r, _ in runs) / len(runs)
        cpu = sum(c for _, c in runs) / len(runs)
        print(f"{name:5} {rate:8,.0f} calls/s  {cpu:6.0f} us CPU per call")
    root_cpu = sum(c for _, c in figures["root"]) / args.rounds
    user_cpu = sum(c for _, c in figures["user"]) / args.rounds
    print(f"user / root CPU per call: {user_cpu / root_cpu:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="garrison-authz-"))
    # the server, not KMS's request quota (10,000 symmetric calls a second by default)
    g = Garrison(Settings(data_dir=str(work), kms_symmetric_request_rate=0))
    try:
        g.open()
        g.start()
        assert g.created_credentials is not None
        c = g.created_credentials
        account = c.account_id
        uvloop.run(run(args, g, Credentials(c.access_key_id, c.secret_access_key), account))
    finally:
        g.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
