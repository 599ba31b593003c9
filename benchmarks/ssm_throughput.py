"""SSM GetParameter throughput: a SecureString read WithDecryption, in the KMS harness.

Issue 5's benchmark. It runs on the harness of ``kms_throughput.py`` (imported,
not copied: the same servers, pre-signed requests, wrk Lua script, audit count,
CPU and profile measurement), one target loaded at a time:

    (i)   Garrison as ``kms_throughput.py`` starts it: ``garrison server`` (not
          --dev) on a fresh data directory, SQLite in WAL mode (each
          batch flushed before its answers), audit on, the root credentials it prints, KMS request
          quotas off (the default symmetric quota, 10,000/s, is above what is
          reached here either way)
    (ii)  the bare ASGI app (benchmarks/bare_asgi.py), sent the same GetParameter
          requests (it reads the body and answers a small JSON document)
    (iii) moto_server, if it serves GetParameter WithDecryption (checked: moto
          keeps the value itself and calls no KMS; its figure is a baseline, not
          the same work)

On (i) and (iii) it puts ``--requests`` SecureString parameters (``/bench/sNNNN``,
each a distinct random 64-character value, under the AWS managed key
``alias/aws/ssm`` unless ``--key customer``) and as many String parameters, and
pre-signs one GetParameter request per parameter with botocore's SigV4Auth:

    GetParameter-Secure   WithDecryption true: the parameter read, then a KMS
                          Decrypt under the caller's identity; two audit events
                          per request (AWS records the inner Decrypt as its own
                          CloudTrail event, invokedBy ssm.amazonaws.com)
    GetParameter-String   the same read of a String (no KMS): one audit event
    KMS-Decrypt           KMS Decrypt of 100-byte ciphertexts (kms_throughput's
                          requests), for reference: one audit event

Before each run one request is sent on its own and must be answered 200 with the
parameter's value (for Decrypt, a Plaintext). Then wrk (one thread,
``--connections`` connections, ``--warmup`` then ``--duration`` seconds) cycles
through the requests. Garrison's ``audit_events`` must grow by exactly the events
per request times the requests wrk sent (in-flight ones at the stop included),
warm-ups included.

(i) and (ii) are started once and measured in ``--rounds`` alternating rounds
(default 3): every Garrison run, then the bare app's, while the other server
idles. The host's speed drifts over minutes, so the target is checked on the
median of the rounds' ratios, each taken from adjacent runs; every round's ratio
is printed. (iii) runs once, after them.

Printed: requests/s, p50/p99/max, the server's CPU (cores) and CPU per request,
the ratios to bare ASGI and to moto_server, the load average before and after,
and PASS/FAIL for issue 5's target (GetParameter-Secure >= 20 % of bare ASGI
requests/s, the median of the rounds), no non-2xx or socket errors, and the audit growth.

    python benchmarks/ssm_throughput.py [--duration 10] [--connections 32]
        [--requests 1000] [--warmup 2] [--rounds 3] [--key aws-managed|customer]
        [--skip bare|moto|string|decrypt] [--json FILE]
        [--profile DIR [--profile-format raw] [--profile-gil] [--profile-rate 100]]
        [--garrison-command "python -m garrison"]

Needs wrk (apt-get install -y wrk) and, for moto, ``pip install -e '.[bench]'``;
for --profile, py-spy (pip install py-spy). Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kms_throughput as kt  # noqa: E402  (benchmarks/ is not a package)

TARGET_RATIO = 0.20  # issue 5: GetParameter-Secure >= 20 % of bare ASGI requests/s
SECURE = "GetParameter-Secure"
STRING = "GetParameter-String"
DECRYPT = "KMS-Decrypt"
EVENTS_PER_REQUEST = {SECURE: 2, STRING: 1, DECRYPT: 1}


def ssm_client(target: kt.Target) -> Any:
    return boto3.client(
        "ssm",
        endpoint_url=target.endpoint,
        region_name=kt.REGION,
        aws_access_key_id=target.credentials.access_key,
        aws_secret_access_key=target.credentials.secret_key,
        config=Config(retries={"max_attempts": 1}, max_pool_connections=16),
    )


def put_parameters(target: kt.Target, kind: str, n: int, key_id: str | None) -> dict[str, str]:
    """`n` parameters of type `kind` with distinct random values: name -> value."""
    client = ssm_client(target)
    letter = "s" if kind == "SecureString" else "p"
    values = {f"/bench/{letter}{i:04d}": secrets.token_hex(32) for i in range(n)}

    def put(item: tuple[str, str]) -> None:
        extra = {"KeyId": key_id} if key_id and kind == "SecureString" else {}
        client.put_parameter(Name=item[0], Value=item[1], Type=kind, **extra)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, values.items()))
    return values


def get_parameter_requests(
    target: kt.Target, values: dict[str, str], *, decrypt: bool
) -> kt.Workload:
    """One pre-signed GetParameter per parameter."""
    requests = [
        kt._raw_request(
            target,
            "GetParameter",
            {"Name": name, "WithDecryption": decrypt},
            service="ssm",
            target_prefix="AmazonSSM",
        )
        for name in values
    ]
    return kt.Workload(requests, list(values.values()))


def ssm_workloads(
    target: kt.Target, n: int, key: str, skip: list[str], nbytes: int
) -> dict[str, kt.Workload]:
    key_id = None
    if key == "customer":
        key_id = kt.with_key(target).key_id
    out = {
        SECURE: get_parameter_requests(
            target, put_parameters(target, "SecureString", n, key_id), decrypt=True
        )
    }
    if "string" not in skip:
        values = put_parameters(target, "String", n, None)
        out[STRING] = get_parameter_requests(target, values, decrypt=False)
    if "decrypt" not in skip:
        out[DECRYPT] = kt.Workload(kt.decrypt_requests(kt.with_key(target), n, nbytes), [])
    return out


def check_answer(endpoint: str, op: str, workload: kt.Workload, *, bare: bool = False) -> None:
    """The first request, alone: 200 and (but for bare ASGI) the parameter's value."""
    body = kt.probe(endpoint, workload.requests[0], "Decrypt" if op == DECRYPT else None)
    if bare or op == DECRYPT:
        return
    try:
        value = json.loads(body)["Parameter"]["Value"]
    except (ValueError, KeyError, TypeError):
        raise SystemExit(f"{endpoint} {op}: no Parameter.Value in the answer") from None
    if value != workload.expected[0]:  # the value itself is not printed
        raise SystemExit(f"{endpoint} {op}: the answer does not hold the parameter's value")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kt.add_common_arguments(parser)
    parser.add_argument("--requests", type=int, default=1000, help="parameters (and requests)")
    parser.add_argument("--plaintext-bytes", type=int, default=100, help="for KMS-Decrypt")
    parser.add_argument("--key", choices=["aws-managed", "customer"], default="aws-managed")
    parser.add_argument(
        "--skip", action="append", default=[], choices=["bare", "moto", "string", "decrypt"]
    )
    kt.add_rounds_argument(parser)
    args = kt.checked_arguments(parser)

    work = Path(tempfile.mkdtemp(prefix="garrison-ssm-bench-"))
    bench = kt.Bench(args, work)
    notes: list[str] = []

    def measure(
        name: str, pid: int, url: str, op: str, workload: kt.Workload, db: Path | None
    ) -> None:
        check_answer(url, op, workload, bare=name == "bare")  # before any audit count
        per = EVENTS_PER_REQUEST[op]
        bench.measure(name, pid, url, op, workload.requests, db, per_request=per)

    def workloads(target: kt.Target) -> dict[str, kt.Workload]:
        return ssm_workloads(target, args.requests, args.key, args.skip, args.plaintext_bytes)

    kt.measure_targets(bench, workloads, measure, check_answer, baseline=SECURE, notes=notes)
    return report(args, bench.runs, bench.audit_ok, notes)


def report(args: argparse.Namespace, runs: list[kt.Run], audit_ok: bool, notes: list[str]) -> int:
    print()
    print("per request (server CPU / responses):")
    for run in runs:
        if run.server_cpu is not None and run.rps > 0:
            name = kt.run_label(run, args.rounds)
            print(f"  {name:<12} {run.operation:<20} {run.server_cpu / run.rps * 1e6:7.0f} µs")
    print()
    print("settings:")
    print(
        f"  wrk 1 thread, {args.connections} connections, {args.duration:g} s per run after "
        f"{args.warmup:g} s warm-up, {args.rounds} rounds of Garrison then the bare app; "
        f"{args.requests} parameters per type, one distinct "
        f"pre-signed GetParameter each, cycled; SecureStrings under "
        f"{'alias/aws/ssm' if args.key == 'aws-managed' else 'a customer key'}"
    )
    print(
        "  garrison: `garrison server --data-dir <fresh dir> --port 0` (not --dev; SQLite "
        "WAL, flushed before answers, audit on; root credentials as printed); "
        + " ".join(kt.QUOTAS_OFF)
    )
    print("  bare: benchmarks/bare_asgi.py on uvicorn + uvloop + httptools (GetParameter requests)")
    print("  moto: moto_server -H 127.0.0.1 (threaded werkzeug; no KMS call behind SecureStrings)")
    kt.print_machine_and_versions(args.load_before, args.load_after, notes)
    checks: list[tuple[str, bool]] = []
    medians = kt.print_ratios(runs, SECURE)
    to_decrypt = kt.round_ratios(runs, ("garrison", SECURE), ("garrison", DECRYPT))
    if to_decrypt:
        print(f"  Garrison {SECURE} / Garrison {DECRYPT}: {statistics.median(to_decrypt):6.1%}")
    if SECURE in medians:
        checks.append(
            (
                f"Garrison {SECURE} >= {TARGET_RATIO:.0%} of bare ASGI req/s "
                f"(the median of {args.rounds} rounds' ratios)",
                medians[SECURE] >= TARGET_RATIO,
            )
        )
    checks.append(("no non-2xx responses and no socket errors", all(r.clean for r in runs)))
    checks.append(
        ("Garrison's audit trail grew by exactly the events per request x requests sent", audit_ok)
    )
    print()
    for label, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {"runs": [vars(r) for r in runs], "checks": dict(checks), "notes": notes},
                indent=2,
            )
        )
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
