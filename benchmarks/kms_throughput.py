"""KMS throughput: Garrison against a bare ASGI app and moto_server.

Operations: Encrypt, Decrypt, Sign and Verify (ECC_NIST_P256), GenerateDataKey.

One run starts, one after the other (never two at once, so each has the machine):

    (i)   Garrison with default settings: `garrison server` (not --dev) on a fresh
          data directory, so SQLite in WAL mode, each batch flushed (fdatasync)
          before its answers, and the audit trail on; the root credentials are the
          ones it prints on first start. Only
          the KMS request quotas are switched off (rate 0): the benchmark measures
          the server, not the quota (ECC's default is 1,000 Sign/Verify a second)
    (ii)  a bare ASGI app on the same stack (uvicorn + uvloop + httptools), which
          reads the body and answers a small JSON document (benchmarks/bare_asgi.py)
    (iii) moto_server (moto[server], the `bench` extra)

For (i) and (iii) it creates a symmetric key and an ECC_NIST_P256 SIGN_VERIFY
key, then pre-signs with botocore's SigV4Auth ``--requests`` distinct requests of
each operation:

    Encrypt          random plaintexts (symmetric key)
    Decrypt          ciphertexts made through that target
    Sign             random messages, MessageType RAW, ECDSA_SHA_256 (ECC key)
    Verify           signatures of random messages made through that target
    GenerateDataKey  KeySpec AES_256 (symmetric key); the body is the same for every
                     call, so each request carries its own amz-sdk-invocation-id
                     header (signed, as botocore sends one with every call)

A signature stays valid for 15 minutes, so the requests are written once into a
wrk Lua script that cycles through them. Before a run, one of its requests is
sent on its own and must be answered 200 with the operation's result (for
Verify, SignatureValid true). wrk (one thread; the machine has two cores, which
wrk and the server share; wrk is not pinned, the server keeps its threads on one CPU
as it does by default) then replays them with
``--connections`` connections for ``--duration`` seconds per target and
operation, after a ``--warmup``. The bare app gets the Encrypt requests; every
operation's ratio to it is printed.

Garrison is also measured with Encrypt requests signed by an IAM user holding
10 managed policies with 50 statements in all (issue 3: within 15% of root's),
right after root's Encrypt requests once more (``garrison-root``): the two runs
compared are adjacent, as the host's speed drifts over a run of minutes.

Printed: requests/s, p50 and p99 latency, the ratios Garrison/bare and
Garrison/moto for each operation, and PASS/FAIL for the targets of issues 2 and 3:

    Garrison Encrypt >= 25% of bare ASGI requests/s, >= 10x moto_server requests/s,
    p99 <= 10 ms at 32 connections; no non-2xx and no socket errors on any target;
    Garrison's audit trail grows by exactly the number of requests it was sent

The audit check counts ``audit_events`` rows in Garrison's SQLite file before and
after each Garrison wrk run (every operation, warm-ups included). wrk stops with
up to one request in flight per connection: the server still answers (and
audits) those, to a closed socket, so the trail must grow by exactly the
requests wrk *sent* (counted by the Lua script), which is wrk's count of
responses (non-2xx included) plus the ones in flight at the stop.

    python benchmarks/kms_throughput.py [--duration 10] [--connections 32]
        [--requests 1000] [--warmup 2] [--skip bare|moto] [--json FILE]
        [--profile DIR [--profile-format raw] [--profile-gil] [--profile-rate 100]]
        [--garrison-command "python -m garrison"]

Also printed per run: the CPU the server process used (in cores), and the load
average before the run (the machine may be shared: compare ratios from one run).
``--profile DIR`` records Garrison under the load with py-spy (flame graphs, or
collapsed stacks with ``--profile-format raw`` for benchmarks/profile_summary.py;
``--profile-gil`` samples only the thread holding the GIL); it costs the server
CPU, so figures from a profiled run are not the ones to quote. Needs: `wrk`
(apt-get install wrk), `pip install -e '.[bench]'` (moto[server]) and, for
--profile, py-spy (pip install py-spy). Exit status 0 when every target passes.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import operator
import os
import platform
import re
import secrets
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"
RESULT_MARK = "WRK-RESULT "
USER_AGENT = "garrison-benchmark/wrk"
SIGNING_ALGORITHM = "ECDSA_SHA_256"  # the one AWS pairs with ECC_NIST_P256
# The benchmark measures the server, not the quota: every request quota off.
QUOTAS_OFF = [f"--kms-{kind}-request-rate=0" for kind in ("symmetric", "rsa", "ecc", "ml-dsa")]
# What a correct answer to each operation holds: (member, value or None for any).
EXPECTED: dict[str, tuple[str, object]] = {
    "Encrypt": ("CiphertextBlob", None),
    "Decrypt": ("Plaintext", None),
    "Sign": ("Signature", None),
    "Verify": ("SignatureValid", True),
    "GenerateDataKey": ("CiphertextBlob", None),
}

# wrk's side: cycle through the pre-signed requests, count what was sent, report.
LUA_TEMPLATE = """
local requests = {
%(requests)s
}
local count = #requests
local index = %(offset)d
sent = 0

function request()
  index = index %% count + 1
  sent = sent + 1
  return requests[index]
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, _requests)
  -- wrk calls request() once on the first thread to check the script before it
  -- connects (script_verify_request): that one is never sent.
  local total_sent = -1
  for _, t in ipairs(threads) do
    total_sent = total_sent + t:get("sent")
  end
  local e = summary.errors
  io.write(string.format(
    '%(mark)s{"responses": %%d, "duration_us": %%d, "sent": %%d, "non2xx": %%d, ' ..
    '"connect": %%d, "read": %%d, "write": %%d, "timeout": %%d, ' ..
    '"p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d, "mean_us": %%.1f}\\n',
    summary.requests, summary.duration, total_sent, e.status, e.connect, e.read,
    e.write, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""


# --------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[str]
    endpoint: str
    lines: list[str] = field(default_factory=list)

    @property
    def netloc(self) -> str:
        return self.endpoint.split("://", 1)[1]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _clean_env() -> dict[str, str]:
    """The environment without GARRISON_* settings: the server runs on its defaults."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GARRISON_")}


def _start(name: str, cmd: list[str], ready: re.Pattern[str], log: Path) -> Server:
    """Start `cmd`; wait for a stdout line matching `ready` (group 1: the endpoint)."""
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
        env=_clean_env(),
    )
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    endpoint = ""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        found = ready.search(line)
        if found:
            endpoint = found.group(1)
            break
    if not endpoint:
        proc.kill()
        raise SystemExit(f"{name} did not start:\n" + "\n".join(lines) + log.read_text())
    stdout = proc.stdout

    def drain() -> None:  # keep the pipe from filling up
        for line in stdout:
            lines.append(line.rstrip("\n"))

    threading.Thread(target=drain, daemon=True).start()
    return Server(name, proc, endpoint, lines)


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception as err:  # any answer at all, 4xx included, means it listens
            if getattr(err, "code", None) is not None:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"{url} did not answer: {err}") from err
            time.sleep(0.1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --------------------------------------------------------------------------
# requests
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A KMS endpoint with a key and credentials."""

    endpoint: str
    credentials: Credentials
    key_id: str = ""

    def client(self) -> Any:
        return boto3.client(
            "kms",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=self.credentials.access_key,
            aws_secret_access_key=self.credentials.secret_key,
            config=Config(retries={"max_attempts": 1}, max_pool_connections=16),
        )


def _raw_request(
    target: Target,
    operation: str,
    payload: dict[str, Any],
    extra: dict[str, str] | None = None,
    *,
    service: str = "kms",
    target_prefix: str = "TrentService",
) -> bytes:
    """One SigV4-signed request (KMS unless `service` and `target_prefix` say
    otherwise, as for SSM's in ssm_throughput.py), as the bytes wrk writes.

    `extra` headers are signed with the rest (SigV4Auth signs every header it sees).
    """
    body = json.dumps(payload, separators=(",", ":")).encode()
    request = AWSRequest(
        method="POST",
        url=target.endpoint + "/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"{target_prefix}.{operation}",
            **(extra or {}),
        },
    )
    SigV4Auth(target.credentials, service, REGION).add_auth(request)
    netloc = target.endpoint.split("://", 1)[1]
    head = ["POST / HTTP/1.1", f"Host: {netloc}", f"User-Agent: {USER_AGENT}"]
    head += [f"{name}: {value}" for name, value in request.headers.items()]
    head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def encrypt_requests(target: Target, n: int, plaintext_bytes: int) -> list[bytes]:
    return [
        _raw_request(
            target,
            "Encrypt",
            {
                "KeyId": target.key_id,
                "Plaintext": base64.b64encode(secrets.token_bytes(plaintext_bytes)).decode(),
            },
        )
        for _ in range(n)
    ]


def decrypt_requests(target: Target, n: int, plaintext_bytes: int) -> list[bytes]:
    """`n` distinct Decrypt requests, each of a ciphertext the target made."""
    client = target.client()

    def one(_: int) -> bytes:
        blob = client.encrypt(KeyId=target.key_id, Plaintext=secrets.token_bytes(plaintext_bytes))
        return bytes(blob["CiphertextBlob"])

    with ThreadPoolExecutor(8) as pool:
        blobs = list(pool.map(one, range(n)))
    return [
        _raw_request(target, "Decrypt", {"CiphertextBlob": base64.b64encode(b).decode()})
        for b in blobs
    ]


def sign_requests(target: Target, n: int, message_bytes: int) -> list[bytes]:
    """`n` Sign requests of random messages (RAW) with the target's ECC key."""
    return [
        _raw_request(
            target,
            "Sign",
            {
                "KeyId": target.key_id,
                "Message": base64.b64encode(secrets.token_bytes(message_bytes)).decode(),
                "MessageType": "RAW",
                "SigningAlgorithm": SIGNING_ALGORITHM,
            },
        )
        for _ in range(n)
    ]


def verify_requests(target: Target, n: int, message_bytes: int) -> list[bytes]:
    """`n` Verify requests, each of a distinct message and a signature the target made."""
    client = target.client()

    def one(_: int) -> tuple[bytes, bytes]:
        message = secrets.token_bytes(message_bytes)
        signed = client.sign(
            KeyId=target.key_id,
            Message=message,
            MessageType="RAW",
            SigningAlgorithm=SIGNING_ALGORITHM,
        )
        return message, bytes(signed["Signature"])

    with ThreadPoolExecutor(8) as pool:
        pairs = list(pool.map(one, range(n)))
    return [
        _raw_request(
            target,
            "Verify",
            {
                "KeyId": target.key_id,
                "Message": base64.b64encode(message).decode(),
                "MessageType": "RAW",
                "Signature": base64.b64encode(signature).decode(),
                "SigningAlgorithm": SIGNING_ALGORITHM,
            },
        )
        for message, signature in pairs
    ]


def data_key_requests(target: Target, n: int) -> list[bytes]:
    """`n` GenerateDataKey (AES_256) requests, told apart by a signed invocation id
    as botocore's own calls are: the body alone would be the same every time."""
    payload = {"KeyId": target.key_id, "KeySpec": "AES_256"}
    return [
        _raw_request(
            target, "GenerateDataKey", payload, {"amz-sdk-invocation-id": str(uuid.uuid4())}
        )
        for _ in range(n)
    ]


def workloads(target: Target, signer: Target, n: int, nbytes: int) -> dict[str, list[bytes]]:
    """Every operation's pre-signed requests, in the order they are measured."""
    return {
        "Encrypt": encrypt_requests(target, n, nbytes),
        "Decrypt": decrypt_requests(target, n, nbytes),
        "Sign": sign_requests(signer, n, nbytes),
        "Verify": verify_requests(signer, n, nbytes),
        "GenerateDataKey": data_key_requests(target, n),
    }


def probe(endpoint: str, request: bytes, operation: str | None) -> bytes:
    """Send one pre-signed `request` on its own; stop unless it is answered 200 and,
    for a KMS `operation`, with the member (and value) a correct answer holds.
    Returns the response body."""
    host, port = endpoint.split("://", 1)[1].rsplit(":", 1)
    line, rest = request.split(b"\r\n", 1)
    # Connection is not a signed header: adding it leaves the signature valid.
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(line + b"\r\nConnection: close\r\n" + rest)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"?"
    ok = status == b"200"
    if ok and operation is not None:
        member, value = EXPECTED[operation]
        try:
            answer = json.loads(body)
        except ValueError:
            answer = {}
        ok = member in answer and (value is None or answer[member] == value)
    if not ok:
        raise SystemExit(
            f"{endpoint} {operation or ''}: unexpected answer {status.decode()}: {body[:300]!r}"
        )
    return body


def _lua_string(data: bytes) -> str:
    out = ['"']
    for byte in data:
        ch = chr(byte)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= byte < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\{byte:03d}")
    out.append('"')
    return "".join(out)


def write_lua(path: Path, requests: list[bytes]) -> Path:
    body = ",\n".join(_lua_string(r) for r in requests)
    offset = secrets.randbelow(len(requests))
    path.write_text(LUA_TEMPLATE % {"requests": body, "offset": offset, "mark": RESULT_MARK})
    return path


# --------------------------------------------------------------------------
# measuring
# --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process `pid` (all its threads) and of its running
    child processes (a server's workers) so far."""
    total = 0.0
    for proc in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # a child that ended meanwhile
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except FileNotFoundError:
        return []
    return [int(child) for child in text.split()]


@dataclass
class Run:
    target: str
    operation: str
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    responses: int
    sent: int
    non2xx: int
    socket_errors: int
    audit_growth: int | None = None
    server_cpu: float | None = None  # cores the server process used during the run
    round: int = 0  # which round of `measure_targets` (--rounds)

    @property
    def clean(self) -> bool:
        return self.non2xx == 0 and self.socket_errors == 0


def wrk(url: str, script: Path, *, duration: float, connections: int) -> Run:
    cmd = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{duration:g}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    found = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if done.returncode != 0 or not found:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    r = json.loads(found[-1][len(RESULT_MARK) :])
    return Run(
        target="",
        operation="",
        rps=r["responses"] / (r["duration_us"] / 1e6),
        p50_ms=r["p50_us"] / 1000,
        p90_ms=r["p90_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        responses=r["responses"],
        sent=r["sent"],
        non2xx=r["non2xx"],
        socket_errors=r["connect"] + r["read"] + r["write"] + r["timeout"],
    )


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every throughput benchmark takes (kms_, ssm_, secrets_throughput.py)."""
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--profile", type=Path, help="directory for py-spy recordings of Garrison")
    parser.add_argument("--profile-format", default="flamegraph", choices=["flamegraph", "raw"])
    parser.add_argument(
        "--profile-gil", action="store_true", help="sample only the thread holding the GIL"
    )
    parser.add_argument("--profile-rate", type=int, default=100, help="py-spy samples a second")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument(
        "--garrison-command",
        default=f"{sys.executable} -m garrison",
        help="how to run `garrison` (for experiments: a wrapper that instruments it)",
    )


def checked_arguments(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse; check that wrk is there; note the load average before the runs."""
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
    args.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return args


HEADER = (
    f"{'target':<13} {'op':<15} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} "
    f"{'responses':>9} {'sent':>9} {'non2xx':>6} {'sockerr':>6} {'audit+':>8} {'cpu':>5}"
)


# what a run of the audited server checks after its timed run (given the Run), made
# just before it (so that it can note where the store stood)
AfterRun = Callable[[], Callable[[Run], None]]


@dataclass
class Bench:
    """One benchmark's wrk runs: warm-up, timed run under an optional py-spy recording,
    the server's CPU, and the audit trail's growth (`per_request` events a request)."""

    args: argparse.Namespace
    work: Path
    runs: list[Run] = field(default_factory=list)
    audit_ok: bool = True
    round: int = 0  # the round runs are measured in (`measure_targets`)

    def measure(
        self,
        name: str,
        pid: int | None,
        url: str,
        op: str,
        requests: list[bytes],
        db: Path | None = None,
        *,
        per_request: int = 1,
        after_run: AfterRun | None = None,
    ) -> Run:
        args = self.args
        script = write_lua(self.work / f"{name}-{op}.lua", requests)
        if args.warmup > 0:
            before = audit_count(db) if db else 0
            warm = wrk(url, script, duration=args.warmup, connections=args.connections)
            if db is not None:
                grown = settled_audit_count(db, before + per_request * warm.sent) - before
                self.audit_ok = self.audit_ok and grown == per_request * warm.sent
        before = audit_count(db) if db else 0
        check = after_run() if after_run is not None and db is not None else None
        out = None
        if args.profile and pid is not None and name.startswith("garrison"):
            ext = "svg" if args.profile_format == "flamegraph" else "txt"
            out = args.profile / f"{name}-{op.lower()}.{ext}"
        cpu0, t0 = (cpu_seconds(pid) if pid else 0.0), time.monotonic()
        with profiling(
            pid or 0,
            out,
            args.profile_format,
            args.duration,
            gil=args.profile_gil,
            rate=args.profile_rate,
        ):
            run = wrk(url, script, duration=args.duration, connections=args.connections)
        if pid:
            run.server_cpu = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)
        run.target, run.operation, run.round = name, op, self.round
        if db is not None:
            expected = per_request * run.sent
            run.audit_growth = settled_audit_count(db, before + expected) - before
            self.audit_ok = self.audit_ok and run.audit_growth == expected
            if check is not None:
                check(run)
        print(_fmt_run(run, rounds=getattr(args, "rounds", 1)), flush=True)
        self.runs.append(run)
        return run


def audit_count(db_file: Path) -> int:
    with contextlib.closing(sqlite3.connect(f"file:{db_file}?mode=ro", uri=True)) as conn:
        return int(conn.execute("SELECT count(*) FROM audit_events").fetchone()[0])


def settled_audit_count(db_file: Path, expected: int, timeout: float = 15.0) -> int:
    """The row count once the server has answered what was in flight at wrk's stop."""
    deadline = time.monotonic() + timeout
    last, stable_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        count = audit_count(db_file)
        if count != last:
            last, stable_since = count, time.monotonic()
        elif count >= expected or time.monotonic() - stable_since > 2.0:
            return count
        time.sleep(0.1)
    return last


@contextlib.contextmanager
def profiling(
    pid: int, out: Path | None, fmt: str, seconds: float, *, gil: bool, rate: int
) -> Iterator[None]:
    """py-spy record of `pid` and its worker processes for the body's duration
    (no-op without `out`).

    With `gil`, only samples of the thread holding the GIL: where the one core
    Python can use goes. Without, every thread's samples when it is not idle.
    """
    if out is None:
        yield
        return
    cmd = ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--threads", "--nonblocking"]
    cmd += ["--rate", str(rate)]
    cmd += ["--gil"] if gil else []
    cmd += ["--format", fmt, "-o", str(out), "--duration", str(int(seconds) + 1)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)  # let it attach
    try:
        yield
    finally:
        _, err = proc.communicate(timeout=120)
        if proc.returncode != 0:
            print(f"py-spy failed: {err.strip()}", file=sys.stderr)


# --------------------------------------------------------------------------
# the three targets
# --------------------------------------------------------------------------


def start_garrison(work: Path, command: list[str]) -> tuple[Server, Target, Path]:
    data_dir = work / "garrison-data"
    cmd = [*command, "server", "--data-dir", str(data_dir), "--port", "0", *QUOTAS_OFF]
    server = _start(
        "garrison", cmd, re.compile(r"Garrison listening on (http://\S+)"), work / "garrison.log"
    )
    text = "\n".join(server.lines)

    def printed(label: str) -> str:
        found = re.search(rf"{label}:\s+(\S+)", text)
        if not found:
            raise SystemExit(f"garrison did not print its {label}:\n{text}")
        return found.group(1)

    try:
        creds = Credentials(printed("Root access key id"), printed("Root secret access key"))
        _wait_http(server.endpoint + "/_garrison/health")
    except BaseException:
        server.stop()
        raise
    return server, Target(server.endpoint, creds), data_dir / "garrison.db"


def start_moto(work: Path) -> tuple[Server, Target]:
    port = _free_port()
    moto = shutil.which("moto_server")
    if moto is None:
        raise SystemExit("moto_server not found: pip install -e '.[bench]'")
    cmd = [moto, "-H", "127.0.0.1", "-p", str(port)]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=(work / "moto.log").open("w"), env=_clean_env()
    )
    server = Server("moto", proc, f"http://127.0.0.1:{port}")  # type: ignore[arg-type]
    try:
        _wait_http(server.endpoint + "/moto-api/")
    except BaseException:
        server.stop()
        raise
    return server, Target(server.endpoint, Credentials("AKIAMOTOBENCH0000000", "moto-secret"))


def start_bare(work: Path) -> Server:
    cmd = [sys.executable, str(HERE / "bare_asgi.py"), "--port", "0"]
    server = _start("bare", cmd, re.compile(r"listening on (http://\S+)"), work / "bare.log")
    try:
        _wait_http(server.endpoint + "/")
    except BaseException:
        server.stop()
        raise
    return server


def with_key(target: Target, **create: str) -> Target:
    """`target` with a new key (symmetric unless `create` says otherwise)."""
    key = target.client().create_key(Description="benchmark key", **create)["KeyMetadata"]
    return Target(target.endpoint, target.credentials, key["KeyId"])


def with_signing_key(target: Target) -> Target:
    return with_key(target, KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")


def as_iam_user(target: Target) -> Target:
    """The same key, used by an IAM user holding 10 managed policies with 50
    statements in all, only the last of which allows kms:Encrypt (issue 3).

    The key's default policy delegates to the account, so every Encrypt is
    decided by the key policy and by the user's ten policies.
    """
    from authz_inprocess import user_policy  # benchmarks/ is on sys.path when run as a script

    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=target.endpoint,
            region_name=REGION,
            aws_access_key_id=target.credentials.access_key,
            aws_secret_access_key=target.credentials.secret_key,
        )

    account = client("sts").get_caller_identity()["Account"]
    iam = client("iam")
    iam.create_user(UserName="bench-user")
    for n in range(10):
        arn = iam.create_policy(PolicyName=f"bench-{n}", PolicyDocument=user_policy(n, account))[
            "Policy"
        ]["Arn"]
        iam.attach_user_policy(UserName="bench-user", PolicyArn=arn)
    key = iam.create_access_key(UserName="bench-user")["AccessKey"]
    user = Target(
        target.endpoint, Credentials(key["AccessKeyId"], key["SecretAccessKey"]), target.key_id
    )
    user.client().encrypt(KeyId=target.key_id, Plaintext=b"allowed?")  # fails loudly if not
    return user


# --------------------------------------------------------------------------
# the three targets in turn (ssm_throughput.py, secrets_throughput.py)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Workload:
    requests: list[bytes]
    expected: list[str]  # what the first request's answer must hold (its value)


# measure(name, server pid, url, operation, workload, Garrison's SQLite file or None)
Measure = Callable[[str, int, str, str, Workload, Path | None], None]


def add_rounds_argument(parser: argparse.ArgumentParser) -> None:
    """--rounds, for the benchmarks built on `measure_targets`."""
    parser.add_argument(
        "--rounds",
        type=_positive_int,
        default=3,
        help="Garrison's runs and the bare app's, alternated this many times (the "
        "ratio checked is the median of the rounds' ratios)",
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def measure_targets(
    bench: Bench,
    workloads: Callable[[Target], dict[str, Workload]],
    measure: Measure,
    check: Callable[[str, str, Workload], None],
    *,
    baseline: str,
    notes: list[str],
    after_garrison: Callable[[Path, dict[str, Workload]], None] | None = None,
) -> None:
    """Garrison and the bare ASGI app in `args.rounds` alternating rounds, then
    moto_server; --skip bare|moto leaves one out. One server is loaded at a time.

    Garrison (`start_garrison`: quotas off) and the bare app are started once and
    both stay up through the rounds (the one not measured is idle). A round runs
    every operation of `workloads(target)` on Garrison, then Garrison's `baseline`
    requests on the bare app: the host's speed drifts over minutes, and a ratio
    taken from adjacent runs, again in each round, is steadier than one taken from
    two runs a minute apart. `after_garrison` (its SQLite file and those workloads)
    runs after the rounds, while Garrison still runs. moto_server then gets every
    operation of its own `workloads(target)` that passes `check(url, op, workload)`,
    once; the others are noted in `notes`. Afterwards the work directory is removed
    and `args.load_after` set.
    """
    args = bench.args
    print(HEADER, flush=True)
    try:
        server, target, db = start_garrison(bench.work, args.garrison_command.split())
        bare: Server | None = None
        try:
            ops = workloads(target)
            if "bare" not in args.skip:
                bare = start_bare(bench.work)
            for number in range(args.rounds):
                bench.round = number
                for op, workload in ops.items():
                    measure("garrison", server.proc.pid, target.endpoint, op, workload, db)
                if bare is not None:
                    measure("bare", bare.proc.pid, bare.endpoint, baseline, ops[baseline], None)
            bench.round = 0
            if after_garrison is not None:
                after_garrison(db, ops)
        finally:
            if bare is not None:
                bare.stop()
            server.stop()
        if "moto" not in args.skip:
            moto, moto_target = start_moto(bench.work)
            try:
                for op, workload in workloads(moto_target).items():
                    try:
                        check(moto_target.endpoint, op, workload)
                    except SystemExit as err:
                        notes.append(f"moto does not serve {op} as AWS does: {err}")
                        continue
                    measure("moto", moto.proc.pid, moto_target.endpoint, op, workload, None)
            finally:
                moto.stop()
    finally:
        shutil.rmtree(bench.work, ignore_errors=True)
    args.load_after = " ".join(f"{x:.2f}" for x in os.getloadavg())


def median_run(runs: list[Run], target: str, operation: str) -> Run | None:
    """The run of median req/s among `target`'s runs of `operation` (the lower of the
    middle two for an even count), or None."""
    found = [r for r in runs if (r.target, r.operation) == (target, operation)]
    found.sort(key=operator.attrgetter("rps"))
    return found[(len(found) - 1) // 2] if found else None


def round_ratios(runs: list[Run], run: tuple[str, str], over: tuple[str, str]) -> list[float]:
    """The req/s of the (target, operation) `run` over that of `over`, per round."""
    base = {r.round: r.rps for r in runs if (r.target, r.operation) == over}
    found = [r for r in runs if (r.target, r.operation) == run and r.round in base]
    return [r.rps / base[r.round] for r in found]


def run_label(run: Run, rounds: int) -> str:
    """A run's target as printed: with its round when there are several."""
    return f"{run.target} #{run.round + 1}" if rounds > 1 and run.target != "moto" else run.target


# --------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _wrk_version() -> str:
    done = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    return (done.stdout or done.stderr).split(" [", 1)[0].strip()


def _fmt_run(run: Run, *, rounds: int = 1) -> str:
    audit = "" if run.audit_growth is None else f"{run.audit_growth:>8}"
    cpu = "" if run.server_cpu is None else f"{run.server_cpu:>5.2f}"
    return (
        f"{run_label(run, rounds):<13} {run.operation:<15} {run.rps:>10,.0f} {run.p50_ms:>8.2f} "
        f"{run.p99_ms:>8.2f} {run.max_ms:>8.1f} {run.responses:>9} {run.sent:>9} "
        f"{run.non2xx:>6} {run.socket_errors:>6} {audit:>8} {cpu}"
    )


def print_machine_and_versions(load_before: str, load_after: str, notes: list[str]) -> None:
    """The settings lines every harness run prints about the machine and the software
    (ssm_throughput.py and secrets_throughput.py)."""
    print(
        f"  machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}; load average before {load_before}, "
        f"after {load_after}"
    )
    print(
        "  versions: "
        + ", ".join(
            f"{d} {_version(d)}"
            for d in ("garrison", "uvicorn", "uvloop", "httptools", "moto", "botocore")
        )
        + f", {_wrk_version()}"
    )
    for note in notes:
        print(f"  note: {note}")
    print()


def print_ratios(runs: list[Run], baseline: str) -> dict[str, float]:
    """Each Garrison operation against the bare app (the median of the rounds' ratios,
    and each round's) and against moto_server's run of it (Garrison's median run).
    Returns the median ratio to the bare app by operation."""
    medians: dict[str, float] = {}
    for op in dict.fromkeys(r.operation for r in runs if r.target == "garrison"):
        ratios = round_ratios(runs, ("garrison", op), ("bare", baseline))
        if ratios:
            medians[op] = statistics.median(ratios)
            each = ", ".join(f"{x:.1%}" for x in ratios)
            print(f"  Garrison {op} / bare ASGI: {medians[op]:6.1%}  (rounds: {each})")
        moto = median_run(runs, "moto", op)
        garrison = median_run(runs, "garrison", op)
        if moto is not None and garrison is not None:
            print(f"  Garrison {op} / moto_server: {garrison.rps / moto.rps:6.1f}x")
    return medians


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--requests", type=int, default=1000, help="distinct signed requests")
    parser.add_argument("--plaintext-bytes", type=int, default=100)
    parser.add_argument("--skip", action="append", default=[], choices=["bare", "moto"])
    args = checked_arguments(parser)

    work = Path(tempfile.mkdtemp(prefix="garrison-bench-"))
    bench = Bench(args, work)

    def measure(name: str, url: str, op: str, reqs: list[bytes], db: Path | None = None) -> Run:
        probe(url, reqs[0], None if name == "bare" else op)  # before any audit count
        return bench.measure(name, server_pids.get(name), url, op, reqs, db)

    server_pids: dict[str, int] = {}
    print(HEADER, flush=True)
    try:
        server, target, db = start_garrison(work, args.garrison_command.split())
        server_pids["garrison"] = server.proc.pid
        try:
            target = with_key(target)
            ops = workloads(target, with_signing_key(target), args.requests, args.plaintext_bytes)
            enc = ops["Encrypt"]
            for op, reqs in ops.items():
                measure("garrison", target.endpoint, op, reqs, db)
            user = as_iam_user(target)
            user_enc = encrypt_requests(user, args.requests, args.plaintext_bytes)
            server_pids["garrison-root"] = server_pids["garrison-iam"] = server.proc.pid
            measure("garrison-root", target.endpoint, "Encrypt", enc, db)
            measure("garrison-iam", target.endpoint, "Encrypt", user_enc, db)
        finally:
            server.stop()
        if "bare" not in args.skip:
            bare = start_bare(work)
            server_pids["bare"] = bare.proc.pid
            try:
                measure("bare", bare.endpoint, "Encrypt", enc)
            finally:
                bare.stop()
        if "moto" not in args.skip:
            moto, moto_target = start_moto(work)
            server_pids["moto"] = moto.proc.pid
            try:
                moto_target = with_key(moto_target)
                mops = workloads(
                    moto_target,
                    with_signing_key(moto_target),
                    args.requests,
                    args.plaintext_bytes,
                )
                for op, reqs in mops.items():
                    measure("moto", moto_target.endpoint, op, reqs)
            finally:
                moto.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    return report(args, bench.runs, bench.audit_ok)


def report(args: argparse.Namespace, runs: list[Run], audit_ok: bool) -> int:
    by = {(r.target, r.operation): r for r in runs}
    g_enc = by[("garrison", "Encrypt")]
    g_iam = by[("garrison-iam", "Encrypt")]
    g_root = by[("garrison-root", "Encrypt")]  # root again, just before the IAM user
    bare = by.get(("bare", "Encrypt"))
    m_enc = by.get(("moto", "Encrypt"))
    g_ops = [r for r in runs if r.target == "garrison"]
    print()
    print("settings:")
    print(
        f"  wrk 1 thread, {args.connections} connections, {args.duration:g} s per run after "
        f"{args.warmup:g} s warm-up; {args.requests} distinct signed requests per target and "
        f"operation, cycled; {args.plaintext_bytes}-byte plaintexts and messages; Sign and "
        f"Verify with an ECC_NIST_P256 key ({SIGNING_ALGORITHM}, RAW); GenerateDataKey AES_256"
    )
    print(
        "  garrison: `garrison server --data-dir <fresh dir> --port 0` (not --dev; default "
        "settings: SQLite WAL, flushed before answers, audit on; root credentials as printed)"
    )
    print(
        f"  garrison request quotas off: {' '.join(QUOTAS_OFF)} (the benchmark measures the "
        "server, not the quota)"
    )
    print("  bare: benchmarks/bare_asgi.py on uvicorn + uvloop + httptools, no access log")
    print("  moto: moto_server -H 127.0.0.1 (threaded werkzeug)")
    print(
        f"  machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, "
        f"Python {platform.python_version()}; wrk and the server share the cores (wrk not "
        "pinned; the server's defaults: one worker process per CPU, --workers auto, each "
        "with its threads on its own CPU, --cpu-affinity auto; server CPU is all workers'); "
        f"load average before the run {args.load_before}"
    )
    print(
        "  versions: "
        + ", ".join(
            f"{d} {_version(d)}" for d in ("garrison", "uvicorn", "uvloop", "httptools", "moto")
        )
        + f", {_wrk_version()}"
    )
    print()
    checks: list[tuple[str, bool | None]] = []
    if bare is not None:
        for run in g_ops:
            ratio = run.rps / bare.rps
            print(f"  Garrison {run.operation} / bare ASGI: {ratio:6.1%}")
        checks.append(("Garrison Encrypt >= 25% of bare ASGI req/s", g_enc.rps >= 0.25 * bare.rps))
    for run in g_ops:
        moto = by.get(("moto", run.operation))
        if moto is not None:
            print(f"  Garrison {run.operation} / moto_server: {run.rps / moto.rps:6.1f}x")
    if m_enc is not None:
        checks.append(("Garrison Encrypt >= 10x moto_server req/s", g_enc.rps >= 10 * m_enc.rps))
    checks.append(
        (f"Garrison Encrypt p99 <= 10 ms at {args.connections} connections", g_enc.p99_ms <= 10)
    )
    print(
        f"  Garrison Encrypt as an IAM user / as root (the run before): "
        f"{g_iam.rps / g_root.rps:6.1%}"
    )
    checks.append(
        ("Garrison Encrypt as an IAM user within 15% of root's", g_iam.rps >= 0.85 * g_root.rps)
    )
    checks.append(("no non-2xx responses and no socket errors", all(r.clean for r in runs)))
    checks.append(("Garrison's audit trail grew by exactly the requests sent", audit_ok))
    print()
    for label, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    for run in g_ops:
        if run is not g_enc:
            print(f"  info  Garrison {run.operation} p99 {run.p99_ms:.2f} ms")
    if args.json:
        args.json.write_text(
            json.dumps({"runs": [vars(r) for r in runs], "checks": dict(checks)}, indent=2)
        )
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
