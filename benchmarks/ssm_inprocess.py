"""Parameter Store's GetParameter without HTTP: `Pipeline.handle` driven in-process,
with the SQL statements each call runs counted.

Builds a Garrison node on a fresh data directory (default settings: SQLite, each
batch flushed before its answers, audit on), puts ``--requests`` parameters (SecureStrings under
the AWS managed key, or Strings with ``--type String``), then runs
``--concurrency`` tasks sending pre-signed GetParameter requests (WithDecryption
for SecureStrings) straight to `Pipeline.handle`. Reports calls/s, CPU per call,
the SQL statements per call the writer's connection ran (a cached GetParameter
runs none: the batch's audit INSERTs and COMMIT are the only statements), and
the hits and misses of the SSM read cache and of the KMS cache (the inner KMS
Decrypt of a SecureString must hit it).

    python benchmarks/ssm_inprocess.py [--type SecureString|String] [--duration 5]
        [--concurrency 32] [--requests 300] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop
from botocore.credentials import Credentials
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).parent))
from pipeline_inprocess import call  # noqa: E402
from pipeline_inprocess import signed as pipeline_signed  # noqa: E402

from garrison.app import Garrison  # noqa: E402
from garrison.config import Settings  # noqa: E402
from garrison.pipeline import HttpRequest  # noqa: E402


def signed(creds: Credentials, operation: str, payload: dict[str, object]) -> HttpRequest:
    return pipeline_signed(creds, operation, payload, "ssm")


async def run(args: argparse.Namespace, g: Garrison, creds: Credentials) -> None:
    pipeline = g.pipeline
    secure = args.type == "SecureString"
    requests = []
    expected = []
    for i in range(args.requests):
        name = f"/bench/p{i:04d}"
        value = secrets.token_hex(32)
        await call(pipeline, signed(creds, "PutParameter", {"Name": name, "Value": value,
                                                            "Type": args.type}))  # fmt: skip
        requests.append(signed(creds, "GetParameter", {"Name": name, "WithDecryption": secure}))
        expected.append(value)
    for req, value in zip(requests, expected, strict=True):  # checked once each
        got = (await call(pipeline, req))["Parameter"]["Value"]
        assert got == value, "wrong value"

    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(g.db.engine, "before_cursor_execute", count)
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

    ssm_cache = g.ssm.parameters.cache
    kms_cache = g.kms.kms.cache
    before = (ssm_cache.hits, ssm_cache.misses, kms_cache.hits, kms_cache.misses)
    batches0, units0, statements0 = g.db.writer.batches, g.db.writer.units, statements[0]
    cpu0 = time.process_time()
    await asyncio.gather(*(client(i * 31) for i in range(args.concurrency)))
    cpu = time.process_time() - cpu0
    batches = g.db.writer.batches - batches0
    units = g.db.writer.units - units0
    ran = statements[0] - statements0
    after = (ssm_cache.hits, ssm_cache.misses, kms_cache.hits, kms_cache.misses)
    ssm_hits, ssm_misses, kms_hits, kms_misses = (a - b for a, b in zip(after, before, strict=True))
    latencies.sort()
    n = len(latencies)
    print(
        f"GetParameter {args.type}: {n / args.duration:,.0f} calls/s over {args.duration:g} s, "
        f"{args.concurrency} concurrent; p50 {latencies[n // 2] * 1e3:.2f} ms, "
        f"p99 {latencies[int(n * 0.99)] * 1e3:.2f} ms, mean {statistics.fmean(latencies) * 1e3:.2f}"
        f" ms; {units / max(batches, 1):.1f} units per commit ({batches} commits); "
        f"{cpu / max(units, 1) * 1e6:.0f} us CPU per call; "
        f"{ran / max(units, 1):.2f} SQL statements per call ({ran / max(batches, 1):.1f} per "
        f"commit); SSM cache {ssm_hits} hits / {ssm_misses} misses; "
        f"KMS cache {kms_hits} hits / {kms_misses} misses"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--type", default="SecureString", choices=["SecureString", "String"])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--requests", type=int, default=300)
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
