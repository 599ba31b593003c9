"""Secrets Manager GetSecretValue throughput, in the KMS harness.

Issue 6's benchmark. It runs on the harness of ``kms_throughput.py`` (imported,
not copied, as ``ssm_throughput.py`` does: the same servers, pre-signed requests,
wrk Lua script, audit count, CPU and profile measurement), one target after the
other:

    (i)   Garrison as ``kms_throughput.py`` starts it: ``garrison server`` (not
          --dev) on a fresh data directory, SQLite in WAL mode (each
          batch flushed before its answers), audit on, the root credentials it prints, KMS request
          quotas off (as in every run of the harness)
    (ii)  the bare ASGI app (benchmarks/bare_asgi.py), sent the same GetSecretValue
          requests (it reads the body and answers a small JSON document)
    (iii) moto_server's GetSecretValue (moto keeps the value itself and calls no
          KMS: its figure is a baseline, not the same work)

On (i) and (iii) it creates ``--requests`` secrets (``bench/sNNNN``, each a
distinct random 64-character SecretString, under the AWS managed key
``aws/secretsmanager`` unless ``--key customer``) and pre-signs one GetSecretValue
(SecretId only: the AWSCURRENT version) per secret with botocore's SigV4Auth.
Garrison audits two events per request: the GetSecretValue and the KMS Decrypt
Secrets Manager makes on the caller's behalf (AWS records that inner Decrypt as
its own CloudTrail event, invokedBy secretsmanager.amazonaws.com); the audit
count checks exactly that. ``--decrypt`` adds a run of plain KMS Decrypt
(kms_throughput's requests, one event each) for reference.

Before each run one request is sent on its own and must be answered 200 with the
secret's value (bare ASGI: 200). wrk (one thread, ``--connections`` connections,
``--warmup`` then ``--duration`` seconds) cycles through the requests. Garrison's
``audit_events`` must grow by exactly the events per request times the requests
wrk sent (in-flight ones at the stop included), warm-ups included, and by event
name: one GetSecretValue (secretsmanager) and one Decrypt (kms) per request. After
the Garrison runs, no secret value may appear in any audit event's body.

(i) and (ii) are started once and measured in ``--rounds`` alternating rounds
(default 3): every Garrison run, then the bare app's, while the other server
idles. The host's speed drifts over minutes, so the target is checked on the
median of the rounds' ratios, each taken from adjacent runs; every round's ratio
is printed. (iii) runs once, after them.

Printed: requests/s, p50/p99/max, the server's CPU (cores) and CPU per request,
the ratios to bare ASGI and to moto_server, the load average before and after,
and PASS/FAIL for issue 6's target (GetSecretValue >= 20 % of bare ASGI
requests/s, the median of the rounds), no non-2xx or socket errors, and the audit growth.

    python benchmarks/secrets_throughput.py [--duration 10] [--connections 32]
        [--requests 1000] [--warmup 2] [--rounds 3] [--key aws-managed|customer] [--decrypt]
        [--skip bare|moto] [--json FILE]
        [--profile DIR [--profile-format raw] [--profile-gil] [--profile-rate 100]]
        [--garrison-command "python -m garrison"]

Needs wrk (apt-get install -y wrk) and, for moto, ``pip install -e '.[bench]'``;
for --profile, py-spy (pip install py-spy). Exit status 0 when every check passes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import secrets
import sqlite3
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kms_throughput as kt  # noqa: E402  (benchmarks/ is not a package)

HEX64 = re.compile(r"[0-9a-f]{64}")
TARGET_RATIO = 0.20  # issue 6: GetSecretValue >= 20 % of bare ASGI requests/s
GET = "GetSecretValue"
DECRYPT = "KMS-Decrypt"
EVENTS_PER_REQUEST = {GET: 2, DECRYPT: 1}
# which events those are: (eventSource, eventName) -> events per request
EVENT_NAMES = {
    GET: {("secretsmanager.amazonaws.com", GET): 1, ("kms.amazonaws.com", "Decrypt"): 1},
    DECRYPT: {("kms.amazonaws.com", "Decrypt"): 1},
}


def sm_client(target: kt.Target) -> Any:
    return boto3.client(
        "secretsmanager",
        endpoint_url=target.endpoint,
        region_name=kt.REGION,
        aws_access_key_id=target.credentials.access_key,
        aws_secret_access_key=target.credentials.secret_key,
        config=Config(retries={"max_attempts": 1}, max_pool_connections=16),
    )


def create_secrets(target: kt.Target, n: int, key_id: str | None) -> dict[str, str]:
    """`n` secrets with distinct random values: name -> value."""
    client = sm_client(target)
    values = {f"bench/s{i:04d}": secrets.token_hex(32) for i in range(n)}

    def create(item: tuple[str, str]) -> None:
        extra = {"KmsKeyId": key_id} if key_id else {}
        client.create_secret(Name=item[0], SecretString=item[1], **extra)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(create, values.items()))
    return values


def get_secret_value_requests(target: kt.Target, values: dict[str, str]) -> kt.Workload:
    """One pre-signed GetSecretValue per secret."""
    requests = [
        kt._raw_request(
            target,
            GET,
            {"SecretId": name},
            service="secretsmanager",
            target_prefix="secretsmanager",
        )
        for name in values
    ]
    return kt.Workload(requests, list(values.values()))


def sm_workloads(
    target: kt.Target, n: int, key: str, decrypt: bool, nbytes: int
) -> dict[str, kt.Workload]:
    key_id = kt.with_key(target).key_id if key == "customer" else None
    out = {GET: get_secret_value_requests(target, create_secrets(target, n, key_id))}
    if decrypt:
        out[DECRYPT] = kt.Workload(kt.decrypt_requests(kt.with_key(target), n, nbytes), [])
    return out


def audit_by_name(db_file: Path) -> Counter[tuple[str, str]]:
    """Audit events so far, by (eventSource, eventName)."""
    with contextlib.closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as conn:
        rows = conn.execute(
            "SELECT event_source, event_name, count(*) FROM audit_events "
            "GROUP BY event_source, event_name"
        ).fetchall()
    return Counter({(str(src), str(name)): int(n) for src, name, n in rows})


def values_in_audit(db_file: Path, values: set[str]) -> int:
    """How many of `values` (64 hex digits each) appear in any audit event's body."""
    found: set[str] = set()
    with contextlib.closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as conn:
        for (body,) in conn.execute("SELECT body FROM audit_events"):
            found.update(HEX64.findall(str(body)))
    return len(found & values)


def check_answer(endpoint: str, op: str, workload: kt.Workload, *, bare: bool = False) -> None:
    """The first request, alone: 200 and (but for bare ASGI) the secret's value."""
    body = kt.probe(endpoint, workload.requests[0], "Decrypt" if op == DECRYPT else None)
    if bare or op == DECRYPT:
        return
    try:
        value = json.loads(body)["SecretString"]
    except (ValueError, KeyError, TypeError):
        raise SystemExit(f"{endpoint} {op}: no SecretString in the answer") from None
    if value != workload.expected[0]:  # the value itself is not printed
        raise SystemExit(f"{endpoint} {op}: the answer does not hold the secret's value")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kt.add_common_arguments(parser)
    parser.add_argument("--requests", type=int, default=1000, help="secrets (and requests)")
    parser.add_argument("--plaintext-bytes", type=int, default=100, help="for --decrypt")
    parser.add_argument("--key", choices=["aws-managed", "customer"], default="aws-managed")
    parser.add_argument("--decrypt", action="store_true", help="also run KMS Decrypt")
    parser.add_argument("--skip", action="append", default=[], choices=["bare", "moto"])
    kt.add_rounds_argument(parser)
    args = kt.checked_arguments(parser)

    work = Path(tempfile.mkdtemp(prefix="garrison-sm-bench-"))
    bench = kt.Bench(args, work)
    plaintext_ok = False
    notes: list[str] = []

    def measure(
        name: str, pid: int, url: str, op: str, workload: kt.Workload, db: Path | None
    ) -> None:
        check_answer(url, op, workload, bare=name == "bare")  # before any audit count

        def by_name() -> Callable[[kt.Run], None]:
            """The trail's events by name must grow by EVENT_NAMES[op] a request."""
            assert db is not None
            names_before = audit_by_name(db)

            def check(run: kt.Run) -> None:
                grown = audit_by_name(db) - names_before
                want = Counter({k: n * run.sent for k, n in EVENT_NAMES[op].items()})
                if grown != want:
                    bench.audit_ok = False
                    notes.append(f"{op}: audit events by name {dict(grown)}, expected {dict(want)}")

            return check

        per = EVENTS_PER_REQUEST[op]
        bench.measure(name, pid, url, op, workload.requests, db, per_request=per, after_run=by_name)

    def workloads(target: kt.Target) -> dict[str, kt.Workload]:
        return sm_workloads(target, args.requests, args.key, args.decrypt, args.plaintext_bytes)

    def no_value_audited(db: Path, ops: dict[str, kt.Workload]) -> None:
        nonlocal plaintext_ok
        plaintext_ok = values_in_audit(db, set(ops[GET].expected)) == 0

    kt.measure_targets(
        bench,
        workloads,
        measure,
        check_answer,
        baseline=GET,
        notes=notes,
        after_garrison=no_value_audited,
    )
    return report(args, bench.runs, bench.audit_ok, plaintext_ok, notes)


def report(
    args: argparse.Namespace,
    runs: list[kt.Run],
    audit_ok: bool,
    plaintext_ok: bool,
    notes: list[str],
) -> int:
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
        f"{args.requests} secrets, one distinct pre-signed "
        f"GetSecretValue each (AWSCURRENT), cycled; secrets under "
        f"{'aws/secretsmanager' if args.key == 'aws-managed' else 'a customer key'}"
    )
    print(
        "  garrison: `garrison server --data-dir <fresh dir> --port 0` (not --dev; SQLite "
        "WAL, flushed before answers, audit on; root credentials as printed); "
        + " ".join(kt.QUOTAS_OFF)
    )
    print(
        "  bare: benchmarks/bare_asgi.py on uvicorn + uvloop + httptools (GetSecretValue requests)"
    )
    print("  moto: moto_server -H 127.0.0.1 (threaded werkzeug; no KMS call behind the value)")
    kt.print_machine_and_versions(args.load_before, args.load_after, notes)
    checks: list[tuple[str, bool]] = []
    medians = kt.print_ratios(runs, GET)
    to_decrypt = kt.round_ratios(runs, ("garrison", GET), ("garrison", DECRYPT))
    if to_decrypt:
        print(f"  Garrison {GET} / Garrison {DECRYPT}: {statistics.median(to_decrypt):6.1%}")
    if GET in medians:
        checks.append(
            (
                f"Garrison {GET} >= {TARGET_RATIO:.0%} of bare ASGI req/s "
                f"(the median of {args.rounds} rounds' ratios)",
                medians[GET] >= TARGET_RATIO,
            )
        )
    checks.append(("no non-2xx responses and no socket errors", all(r.clean for r in runs)))
    checks.append(
        (
            "Garrison's audit trail grew by exactly the events per request x requests sent "
            "(GetSecretValue and its inner KMS Decrypt, one each)",
            audit_ok,
        )
    )
    checks.append(("no secret value in any audit event", plaintext_ok))
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
