"""A long fuzzing run of the protocol layer against a server of its own.

The same strategies as tests/e2e/test_fuzz.py (tests/protocol/fuzz_strategies.py),
with as many examples as asked. Starts `garrison server --dev` (SQLite, or a
fresh PostgreSQL database with --backend postgresql), or fuzzes a running dev
server given --endpoint. Prints the answers counted by status and error code,
per strategy, and exits non-zero if any request got a 5xx, a non-AWS error body
or left the server unhealthy (Hypothesis prints the shrunk request).

    python3 benchmarks/fuzz_protocol.py --examples 5000
    python3 benchmarks/fuzz_protocol.py --examples 2000 --backend postgresql --seed 7
    python3 benchmarks/fuzz_protocol.py --strategies auth,raw --examples 20000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from hypothesis.stateful import run_state_machine_as_test  # noqa: E402

from tests.conftest import (  # noqa: E402
    ACCESS_KEY_ID,
    SECRET_ACCESS_KEY,
    ServerProcess,
    create_pg_database,
    drop_pg_database,
    make_client,
)
from tests.protocol.fuzz_strategies import (  # noqa: E402
    STRATEGIES,
    FuzzClient,
    Plan,
    Pool,
    kms_calls,
    seed_pool,
)


def run_strategy(name: str, client: FuzzClient, pool: Pool, args: argparse.Namespace) -> bool:
    """Fuzz with one strategy; True when every example held the property."""
    config = settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )

    @config
    @given(plan=STRATEGIES[name](pool))
    def fuzz(plan: Plan) -> None:
        client.check(plan, client.send(plan))

    if args.seed is not None:
        fuzz = seed(args.seed)(fuzz)
    return _run(name, fuzz)


def run_valid_calls(client: FuzzClient, endpoint: str, args: argparse.Namespace) -> bool:
    machine = kms_calls(make_client(endpoint, "kms"), client)
    config = settings(
        max_examples=max(args.examples // 20, 1),
        stateful_step_count=50,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=list(HealthCheck),
    )
    return _run("valid", lambda: run_state_machine_as_test(machine, settings=config))


def _run(name: str, fuzz: Any) -> bool:
    started = time.monotonic()
    try:
        fuzz()
    except Exception:
        traceback.print_exc()
        print(f"[{name}] FAILED after {time.monotonic() - started:.1f} s", flush=True)
        return False
    print(f"[{name}] passed in {time.monotonic() - started:.1f} s", flush=True)
    return True


def report(name: str, counts: Counter[str]) -> None:
    total = sum(counts.values())
    print(f"\n{name}: {total} answers")
    for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {count:>7}  {key}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per strategy")
    parser.add_argument(
        "--strategies",
        default=",".join([*STRATEGIES, "valid"]),
        help=f"comma-separated, from {', '.join([*STRATEGIES, 'valid'])}",
    )
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--endpoint", help="fuzz this running dev server instead of starting one")
    parser.add_argument("--seed", type=int, help="Hypothesis seed, to repeat a run")
    args = parser.parse_args()
    names = [n.strip() for n in args.strategies.split(",") if n.strip()]
    unknown = set(names) - {*STRATEGIES, "valid"}
    if unknown:
        parser.error(f"unknown strategies: {', '.join(sorted(unknown))}")

    server: ServerProcess | None = None
    database_url = ""
    endpoint = args.endpoint
    if endpoint is None:
        if args.backend == "postgresql":
            database_url = create_pg_database()
        data_dir = Path(tempfile.mkdtemp(prefix="garrison-fuzz-"))
        server = ServerProcess(data_dir, database_url=database_url).start()
        endpoint = server.endpoint
    print(f"fuzzing {endpoint} ({args.backend}), {args.examples} examples per strategy")
    client = FuzzClient(endpoint, ACCESS_KEY_ID, SECRET_ACCESS_KEY)
    ok = True
    try:
        pool = seed_pool(make_client(endpoint, "kms"))
        for name in names:
            client.statuses.clear()
            if name == "valid":
                passed = run_valid_calls(client, endpoint, args)
            else:
                passed = run_strategy(name, client, pool, args)
            ok = ok and passed
            report(name, client.statuses)
    finally:
        client.close()
        if server is not None:
            server.stop()
            crashes = [line for line in server.output if "Traceback" in line]
            if crashes:
                ok = False
                print(f"\nthe server logged {len(crashes)} tracebacks:")
                print("".join(server.output[-200:]))
        if database_url:
            drop_pg_database(database_url)
    print("\nOK" if ok else "\nFAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
