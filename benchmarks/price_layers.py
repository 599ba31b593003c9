"""What each layer of the Encrypt path costs over HTTP, in server CPU per request.

Starts Garrison (default settings, fresh data directory) once per variant, with
parts of the request path replaced, drives Encrypt with wrk as
kms_throughput.py does (32 connections), and prints the server's user and
system CPU per request:

    http          Pipeline.handle answers a canned Encrypt response at once:
                  uvicorn's sockets, httptools and garrison.httpserver only
    writer        ... after a no-op writer unit: + the hand-off to the writer
                  thread, the batch commit and the answer back to the loop
    full          the real path
    no-sigv4      the real path, each signature check replaced by the first
                  one's result (what SigV4 verification costs)
    no-rows       the real path, the audit events built and chained but their rows
                  (and any other batch rows) never inserted
    no-audit      the real path without the audit view, event and chain row
    no-sign       the real path, the batch's signed audit head with a dummy
                  signature (what Ed25519 signing each batch costs)

    python benchmarks/price_layers.py [--duration 5] [--runs 2] [--variants full,http]

Only Encrypt requests are altered (CreateKey and the set-up run normally), except
by ``no-rows`` and ``no-sign``, which alter every batch.
Compare variants measured in one run, on a quiet machine if possible; the
differences are the layers' costs. ``--serve VARIANT ...`` is the patched
server itself (internal).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VARIANTS = ("http", "writer", "full", "no-sigv4", "no-rows", "no-audit", "no-sign")
_ENCRYPT = (b"x-amz-target", b"TrentService.Encrypt")
_CANNED = (
    b'{"CiphertextBlob":"' + b"A" * 240 + b'","KeyId":"arn:aws:kms:us-east-1:000000000000:key/'
    b'00000000-0000-0000-0000-000000000000","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}'
)


def serve(variant: str, argv: list[str]) -> int:
    """Run `garrison` with `variant` patched into the request path."""
    from garrison import pipeline as p
    from garrison.audit.trail import AuditTrail
    from garrison.cli.main import main as garrison_main
    from garrison.crypto.signing import DigestSigner
    from garrison.protocol.sigv4 import SigV4Verifier
    from garrison.storage.writer import Tx

    real_handle = p.Pipeline.handle
    headers = [(b"content-type", b"application/x-amz-json-1.1"), (b"x-amzn-requestid", b"0" * 36)]

    async def handle(self: p.Pipeline, req: p.HttpRequest) -> p.HttpResponse:
        if _ENCRYPT not in req.headers:
            return await real_handle(self, req)
        if variant == "writer":
            await self.writer.run(lambda tx: None)
        return p.HttpResponse(200, list(headers), _CANNED)

    if variant in ("http", "writer"):
        setattr(p.Pipeline, "handle", handle)  # noqa: B010 - a patch, on purpose
    elif variant == "no-sigv4":
        real_verify = SigV4Verifier.verify
        first: dict[str, Any] = {}

        def verify(self: SigV4Verifier, *args: Any) -> Any:
            if _ENCRYPT not in args[3]:
                return real_verify(self, *args)
            if "identity" not in first:
                first["identity"] = real_verify(self, *args)
            return first["identity"]

        setattr(SigV4Verifier, "verify", verify)  # noqa: B010
    elif variant == "no-audit":
        setattr(p, "audit_view", lambda shape, value: None)  # noqa: B010
        setattr(p, "build_event", lambda record: {})  # noqa: B010
        setattr(AuditTrail, "append", lambda self, tx, event, **kw: None)  # noqa: B010
    elif variant == "no-rows":
        setattr(Tx, "insert_with_batch", lambda self, table, row: None)  # noqa: B010
    elif variant == "no-sign":
        setattr(DigestSigner, "sign", lambda self, message: bytes(64))  # noqa: B010
    sys.argv = ["garrison", *argv]
    return int(garrison_main())


def _cpu(pid: int) -> tuple[float, float]:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def measure(variant: str, duration: float, runs: int) -> list[tuple[float, float, float]]:
    sys.path.insert(0, str(HERE))
    import kms_throughput as kt

    work = Path(tempfile.mkdtemp(prefix="garrison-layers-"))
    command = [sys.executable, __file__, "--serve", variant]
    server, target, _db = kt.start_garrison(work, command)
    try:
        target = kt.with_key(target)
        script = kt.write_lua(work / "encrypt.lua", kt.encrypt_requests(target, 1000, 100))
        url = target.endpoint + "/"
        kt.wrk(url, script, duration=2, connections=32)  # warm-up
        out = []
        for _ in range(runs):
            user0, sys0 = _cpu(server.proc.pid)
            run = kt.wrk(url, script, duration=duration, connections=32)
            user1, sys1 = _cpu(server.proc.pid)
            if not run.clean:
                raise SystemExit(f"{variant}: non-2xx or socket errors")
            n = run.responses
            out.append((run.rps, (user1 - user0) / n * 1e6, (sys1 - sys0) / n * 1e6))
        return out
    finally:
        server.stop()


def main() -> int:
    if len(sys.argv) > 2 and sys.argv[1] == "--serve":
        return serve(sys.argv[2], sys.argv[3:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    for variant in args.variants.split(","):
        if variant not in VARIANTS:
            raise SystemExit(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
        for rps, user, system in measure(variant, args.duration, args.runs):
            print(
                f"{variant:9s} {rps:8,.0f} req/s  user {user:6.1f} us + sys {system:5.1f} us"
                f" = {user + system:6.1f} us CPU per request",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
