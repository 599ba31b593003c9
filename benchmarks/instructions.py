"""Instructions per KMS call through `Pipeline.handle`, counted by valgrind (callgrind).

CPU time per request moves by 10-20 % with whatever else runs on a shared
machine; instruction counts do not. Runs the request path in-process twice
under callgrind, with ``--small`` and ``--large`` calls after the same start-up
and warm-up, and prints (large - small) / (large - small calls): the start-up
cancels out.

    python benchmarks/instructions.py [--operation Encrypt] [--small 300] [--large 1300]

``--operation GetParameter``: Parameter Store's GetParameter of a SecureString
(AWS managed key) with decryption, its inner KMS Decrypt included.
``--operation GetSecretValue``: Secrets Manager's GetSecretValue of a secret
(AWS managed key) by name, its inner KMS Decrypt included.

Valgrind runs one thread at a time, so the writer's batches differ from a
native run: use it to compare two versions of the code, not as a CPU figure.
Each run takes 1-3 minutes. ``--worker`` is the run itself (internal).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Read through caches: every request is warmed, twice (a secret's first read of the day
# writes its LastAccessedDate, which drops its cached view), so the count is of hits only.
READS = ("GetParameter", "GetSecretValue")


def worker(operation: str, calls: int) -> None:
    import uvloop
    from botocore.credentials import Credentials

    sys.path.insert(0, str(HERE))
    from pipeline_inprocess import signed

    from garrison.app import Garrison
    from garrison.config import Settings

    work = Path(tempfile.mkdtemp(prefix="garrison-instr-"))
    # the server, not KMS's request quota (10,000 symmetric calls a second by default)
    g = Garrison(Settings(data_dir=str(work), kms_symmetric_request_rate=0))
    try:
        g.open()
        g.start()
        assert g.created_credentials is not None
        c = g.created_credentials
        creds = Credentials(c.access_key_id, c.secret_access_key)

        async def run() -> None:
            pipeline = g.pipeline
            created = await pipeline.handle(signed(creds, "CreateKey", {}))
            key_id = json.loads(created.body)["KeyMetadata"]["KeyId"]
            requests = []
            for n in range(200 if operation == "GetParameter" else 0):
                # a SecureString under the AWS managed key, read with decryption: the
                # GetParameter unit and its inner KMS Decrypt (two audit events)
                put = {"Name": f"/bench/p{n:03d}", "Value": secrets.token_hex(32)}
                put["Type"] = "SecureString"
                assert (
                    await pipeline.handle(signed(creds, "PutParameter", put, "ssm"))
                ).status == 200
                get = {"Name": put["Name"], "WithDecryption": True}
                requests.append(signed(creds, "GetParameter", get, "ssm"))
            for n in range(200 if operation == "GetSecretValue" else 0):
                # a secret under the AWS managed key, read by name: the GetSecretValue
                # unit and its inner KMS Decrypt of the data key (two audit events)
                create = {"Name": f"bench/s{n:03d}", "SecretString": secrets.token_hex(32)}
                made = await pipeline.handle(
                    signed(creds, "CreateSecret", create, "secretsmanager")
                )
                assert made.status == 200, made.body
                requests.append(
                    signed(creds, "GetSecretValue", {"SecretId": create["Name"]}, "secretsmanager")
                )
            for _ in range(200 if operation in ("Encrypt", "Decrypt") else 0):
                plaintext = base64.b64encode(secrets.token_bytes(100)).decode()
                req = signed(creds, "Encrypt", {"KeyId": key_id, "Plaintext": plaintext})
                if operation == "Decrypt":
                    blob = json.loads((await pipeline.handle(req)).body)["CiphertextBlob"]
                    req = signed(creds, "Decrypt", {"CiphertextBlob": blob})
                requests.append(req)
            for req in requests * 2 if operation in READS else requests[:50]:  # warm the caches
                assert (await pipeline.handle(req)).status == 200
            left = [calls]

            async def client(i: int) -> None:
                while left[0] > 0:
                    left[0] -= 1
                    answer = await pipeline.handle(requests[i % len(requests)])
                    assert answer.status == 200, answer.body
                    i += 1

            await asyncio.gather(*(client(i * 7) for i in range(32)))

        uvloop.run(run())
    finally:
        g.close()
        shutil.rmtree(work, ignore_errors=True)


def count(operation: str, calls: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={tmp}/out",
            sys.executable,
            __file__,
            "--worker",
            "--operation",
            operation,
            "--calls",
            str(calls),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        found = re.search(r"Collected\s*:\s*(\d+)", done.stderr)
        if done.returncode != 0 or not found:
            raise SystemExit(f"callgrind failed ({done.returncode}):\n{done.stderr[-2000:]}")
        return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--operation",
        default="Encrypt",
        choices=["Encrypt", "Decrypt", "GetParameter", "GetSecretValue"],
    )
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--large", type=int, default=1300)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--calls", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.operation, args.calls)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind not found: apt-get install -y valgrind")
    small = count(args.operation, args.small)
    large = count(args.operation, args.large)
    per_call = (large - small) / (args.large - args.small)
    print(
        f"{args.operation}: {per_call:,.0f} instructions per call "
        f"({small:,} with {args.small} calls, {large:,} with {args.large})"
    )


if __name__ == "__main__":
    main()
