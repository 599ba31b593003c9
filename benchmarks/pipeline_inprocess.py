"""The request path without HTTP: `Pipeline.handle` driven in-process.

Builds a Garrison node on a fresh data directory (default settings: SQLite, each
batch flushed before its answers, audit on), creates a key, then runs ``--concurrency`` tasks
that each send pre-signed Encrypt (or Decrypt) requests straight to
`Pipeline.handle` for ``--duration`` seconds. Separates Garrison's own cost from
uvicorn's and wrk's, and reports the writer's batches (mean units per commit) and
each thread's CPU per call (the event loop's, the writer's, the committer's).

    python benchmarks/pipeline_inprocess.py [--operation Encrypt] [--duration 5]
        [--concurrency 32] [--data-dir DIR]

``--data-dir`` picks the file system (fsync cost differs: the default is a
temporary directory).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import uvloop
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from garrison.app import Garrison
from garrison.config import Settings
from garrison.pipeline import HttpRequest, Pipeline

REGION = "us-east-1"
# botocore's service name -> its X-Amz-Target prefix (JSON 1.1)
TARGET_PREFIXES = {"kms": "TrentService", "ssm": "AmazonSSM", "secretsmanager": "secretsmanager"}


def signed(
    creds: Credentials, operation: str, payload: dict[str, object], service: str = "kms"
) -> HttpRequest:
    """A pre-signed JSON 1.1 request of `service` (KMS by default), as Pipeline.handle
    receives it from the HTTP front end."""
    body = json.dumps(payload).encode()
    request = AWSRequest(
        method="POST",
        url="http://127.0.0.1:4600/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{TARGET_PREFIXES[service]}.{operation}",
        },
    )
    SigV4Auth(creds, service, REGION).add_auth(request)
    headers = [(b"host", b"127.0.0.1:4600"), (b"user-agent", b"garrison-benchmark/inprocess")]
    headers += [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
    headers.append((b"content-length", str(len(body)).encode()))
    return HttpRequest("POST", b"/", b"", headers, body, "127.0.0.1", False)


async def call(pipeline: Pipeline, req: HttpRequest) -> dict[str, Any]:
    response = await pipeline.handle(req)
    if response.status != 200:
        raise SystemExit(f"{response.status}: {response.body!r}")
    return dict(json.loads(response.body))


async def run(args: argparse.Namespace, g: Garrison, creds: Credentials) -> None:
    pipeline = g.pipeline
    created = await call(pipeline, signed(creds, "CreateKey", {}))
    key_id = str(created["KeyMetadata"]["KeyId"])
    requests = []
    for _ in range(args.requests):
        plaintext = base64.b64encode(secrets.token_bytes(100)).decode()
        enc = signed(creds, "Encrypt", {"KeyId": key_id, "Plaintext": plaintext})
        if args.operation == "Decrypt":
            blob = (await call(pipeline, enc))["CiphertextBlob"]
            enc = signed(creds, "Decrypt", {"CiphertextBlob": blob})
        requests.append(enc)
    latencies: list[float] = []
    stop = time.perf_counter() + args.warmup + args.duration
    measure_from = time.perf_counter() + args.warmup

    async def client(offset: int) -> None:
        i = offset
        while (now := time.perf_counter()) < stop:
            await call(pipeline, requests[i % len(requests)])
            if now >= measure_from:
                latencies.append(time.perf_counter() - now)
            i += 1

    batches0, units0 = g.db.writer.batches, g.db.writer.units
    threads0 = thread_cpu()
    cpu0 = time.process_time()
    await asyncio.gather(*(client(i * 31) for i in range(args.concurrency)))
    cpu = time.process_time() - cpu0
    threads1 = thread_cpu()
    batches = g.db.writer.batches - batches0
    units = g.db.writer.units - units0
    latencies.sort()
    n = len(latencies)
    print(
        f"{args.operation}: {n / args.duration:,.0f} calls/s over {args.duration:g} s, "
        f"{args.concurrency} concurrent; p50 {latencies[n // 2] * 1e3:.2f} ms, "
        f"p99 {latencies[int(n * 0.99)] * 1e3:.2f} ms, mean {statistics.fmean(latencies) * 1e3:.2f}"
        f" ms; {units / max(batches, 1):.1f} units per commit ({batches} commits); "
        f"{cpu / (args.warmup + args.duration):.2f} cores, "
        f"{cpu / max(units, 1) * 1e6:.0f} us CPU per call"
    )
    for name, (user, system) in sorted(threads1.items()):
        user0, system0 = threads0.get(name, (0.0, 0.0))
        print(
            f"  thread {name:20s} user {(user - user0) / max(units, 1) * 1e6:5.1f} us"
            f" + sys {(system - system0) / max(units, 1) * 1e6:5.1f} us per call"
        )


def thread_cpu() -> dict[str, tuple[float, float]]:
    """User and system CPU seconds of each of this process's threads, by name."""
    tick = os.sysconf("SC_CLK_TCK")
    names = {t.native_id: t.name for t in threading.enumerate()}
    out: dict[str, tuple[float, float]] = {}
    for task in Path("/proc/self/task").iterdir():
        name = names.get(int(task.name), "other")
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # the thread ended meanwhile
            continue
        user, system = out.get(name, (0.0, 0.0))
        out[name] = (user + int(fields[11]) / tick, system + int(fields[12]) / tick)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operation", default="Encrypt", choices=["Encrypt", "Decrypt"])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--data-dir", type=Path)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="garrison-inproc-", dir=args.data_dir))
    # the server, not KMS's request quota (10,000 symmetric calls a second by default)
    g = Garrison(Settings(data_dir=str(work), kms_symmetric_request_rate=0))
    try:
        g.open()
        g.start()
        assert g.created_credentials is not None
        c = g.created_credentials
        creds = Credentials(c.access_key_id, c.secret_access_key)
        uvloop.run(run(args, g, creds))
    finally:
        g.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
