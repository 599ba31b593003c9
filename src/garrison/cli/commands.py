"""What each `garrison` subcommand does."""

from __future__ import annotations

import getpass
import shutil
import socket
import sys
import tempfile
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

import orjson

from garrison.config import Settings
from garrison.placement import check_cpu_affinity, parse_cpu_list, place

if TYPE_CHECKING:
    from garrison.app import Garrison


def _print(text: str) -> None:
    print(text, flush=True)


def init(settings: Settings) -> int:
    from garrison.app import Garrison
    from garrison.bootstrap import key_file_path, print_credentials
    from garrison.storage.database import display_url
    from garrison.storage.seal import SealError

    g = Garrison(settings)
    try:
        g.open()
    except SealError as err:
        _print(f"error: {err}")
        return 1
    finally:
        g.close()
    if g.created_credentials is None:
        _print(f"The store {display_url(g.db.url)} is already initialised; nothing to do.")
        return 1
    _print(f"Initialised {display_url(g.db.url)}")
    _print(f"Root key file:         {key_file_path(settings.data_path).resolve()}")
    _print(print_credentials(g.created_credentials))
    return 0


def server(settings: Settings) -> int:
    from garrison.workers import worker_count

    tls = bool(settings.tls_cert_file)
    if tls != bool(settings.tls_key_file):
        _print("error: --tls-cert-file and --tls-key-file go together")
        return 1
    if settings.http_protocol not in ("native", "asgi"):
        _print(f"error: --http-protocol {settings.http_protocol!r}: expected native or asgi")
        return 1
    if settings.cpu_placement_interval_seconds <= 0:
        _print("error: --cpu-placement-interval-seconds must be positive")
        return 1
    if settings.cpu_affinity not in ("auto", "any"):
        try:
            parse_cpu_list(settings.cpu_affinity)
        except ValueError as err:
            _print(f"error: --cpu-affinity {settings.cpu_affinity!r}: {err}")
            return 1
    try:
        workers = worker_count(
            settings.workers, dev=settings.dev, cpu_affinity=settings.cpu_affinity
        )
    except ValueError as err:
        _print(f"error: --workers {settings.workers!r}: {err}")
        return 1
    if workers > 1:
        try:
            check_cpu_affinity(settings.cpu_affinity)
        except ValueError as err:
            _print(f"error: --cpu-affinity {settings.cpu_affinity!r}: {err}")
            return 1
    temp_dir: str | None = None
    if settings.dev and "data_dir" not in settings.explicit and not settings.database_url:
        temp_dir = tempfile.mkdtemp(prefix="garrison-dev-")
        settings = settings.replace(data_dir=temp_dir)
    sock = _bound_socket(settings.host, settings.port, shared_port=workers > 1)
    port = sock.getsockname()[1]
    endpoint = f"{'https' if tls else 'http'}://{settings.host}:{port}"
    try:
        if workers > 1:
            return _serve_workers(settings, sock, endpoint, workers)
        return _serve_one(settings, sock, endpoint)
    finally:
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)


def _bound_socket(host: str, port: int, *, shared_port: bool) -> socket.socket:
    """A socket bound to (host, port); with `shared_port` (Linux), each worker binds the
    same port with SO_REUSEPORT and listens on its own socket, and the kernel spreads
    the connections over them (one shared listening socket left most of them with
    whichever worker woke first). The parent's socket then only holds the port."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared_port and _REUSE_PORT:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


# the kernel balances connections over SO_REUSEPORT listeners on Linux (elsewhere the
# option means other things, or nothing)
_REUSE_PORT = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _worker_socket(parent: socket.socket) -> socket.socket:
    """A worker's listening socket: its own on the parent's port (see `_bound_socket`),
    else the parent's, shared."""
    if not _REUSE_PORT:
        parent.listen(2048)
        return parent
    host, port = parent.getsockname()[:2]
    sock = _bound_socket(host, port, shared_port=True)
    sock.listen(2048)
    return sock


def _serve_one(settings: Settings, sock: socket.socket, endpoint: str) -> int:
    """The server as one process."""
    from garrison.app import Garrison
    from garrison.bootstrap import print_credentials
    from garrison.storage.seal import SealError

    # Before the server's threads start: threads inherit the affinity of their creator.
    try:
        placement = place(settings.cpu_affinity, settings.cpu_placement_interval_seconds)
    except (ValueError, OSError) as err:
        _print(f"error: --cpu-affinity {settings.cpu_affinity!r}: {err}")
        return 1
    g = Garrison(settings)
    try:
        try:
            g.open()
        except SealError as err:
            _print(f"error: {err}")
            return 1
        g.start()
        if g.created_credentials is not None:
            _print(print_credentials(g.created_credentials, endpoint))
        elif settings.dev:
            _print(f"Endpoint:              {endpoint}")
        if g.db.barrier.sealed:
            _print("The server is SEALED: give it its key shares with `garrison operator unseal`.")
        _print(f"Garrison listening on {endpoint}" + (" (dev mode)" if settings.dev else ""))
        _run_http(g, settings, sock)
    finally:
        g.close()
        if placement is not None:
            placement.stop()
    return 0


def _serve_workers(settings: Settings, sock: socket.socket, endpoint: str, workers: int) -> int:
    """The server as `workers` processes (garrison/workers.py): the store opened once
    here, then one node per worker, forked, each accepting on `sock`."""
    from garrison.app import Garrison
    from garrison.bootstrap import print_credentials
    from garrison.storage.seal import SealError
    from garrison.workers import SharedVersion, Supervisor

    g = Garrison(settings)
    try:
        try:
            g.open()  # migrations and the first start's account, once
        except SealError as err:
            _print(f"error: {err}")
            return 1
        sealed = g.db.barrier.sealed
        created = g.created_credentials
    finally:
        g.close()
    if sealed:  # every worker would need the key shares: one process serves
        _print("The store is sealed with key shares: one process serves (--workers 1).")
        return _serve_one(settings, sock, endpoint)
    if created is not None:
        _print(print_credentials(created, endpoint))
    _print(f"Garrison listening on {endpoint} ({workers} worker processes)")
    shared = SharedVersion()

    def run_worker(index: int) -> int:
        placement = place(settings.cpu_affinity, settings.cpu_placement_interval_seconds, index)
        node = Garrison(settings, workers=workers, shared=shared)
        try:
            node.open()
            node.start()
            _run_http(node, settings, _worker_socket(sock))
        finally:
            node.close()
            if placement is not None:
                placement.stop()
        return 0

    return Supervisor(workers, run_worker).run()


def _run_http(g: Garrison, settings: Settings, sock: socket.socket) -> None:
    """Serve HTTP on `sock` until a signal stops it."""
    import uvicorn

    from garrison.asgi import GarrisonASGI
    from garrison.httpserver import protocol_class

    app = GarrisonASGI(g)
    native = settings.http_protocol == "native"
    config = uvicorn.Config(
        # the lifespan goes through the ASGI app either way; requests skip ASGI when
        # native: the HTTP layer's instructions per request fell from 178k to 90k
        # (docs/performance.md, "Fourth pass")
        app,
        loop="uvloop",
        http=protocol_class(app) if native else "httptools",
        # no `server: uvicorn` from the native protocol (uvicorn does not speak HTTP there)
        server_header=not native,
        lifespan="on",
        log_level=settings.log_level,
        access_log=settings.access_log,
        timeout_graceful_shutdown=5,
        # X-Forwarded-For is not trusted: sourceIPAddress and aws:SourceIp
        # are the peer's address, which no client can forge
        proxy_headers=False,
        ssl_certfile=settings.tls_cert_file or None,
        ssl_keyfile=settings.tls_key_file or None,
    )
    uvicorn.Server(config).run(sockets=[sock])


def operator_init(settings: Settings, shares: int, threshold: int) -> int:
    from garrison.app import Garrison
    from garrison.bootstrap import print_credentials
    from garrison.storage.database import display_url
    from garrison.storage.seal import SealError, init_shamir_seal, seal_type

    g = Garrison(settings)
    parts: list[str] = []
    try:
        if g.db.is_sqlite:
            settings.data_path.mkdir(mode=0o700, parents=True, exist_ok=True)
        g.db.migrate()
        if seal_type(g.db) is not None:
            _print(f"error: the store {display_url(g.db.url)} is already initialised")
            return 1
        parts = init_shamir_seal(g.db, shares, threshold)
        # Unseal in this process to create the first account and its audit key.
        g.open()
        for part in parts[:threshold]:
            g.unseal(part)
        creds = g.created_credentials
    except SealError as err:
        _print(f"error: {err}")
        if not parts:
            return 1
        # The store is sealed under these shares already: losing them would
        # lose the store, so they are printed even though start-up failed.
        creds = None
    finally:
        g.close()
    _print(f"Initialised {display_url(g.db.url)} with {shares} key shares, threshold {threshold}.")
    for i, part in enumerate(parts, 1):
        _print(f"Unseal key share {i}: {part}")
    if creds is not None:
        _print(print_credentials(creds))
    _print(
        f"The shares are shown once; give them to {shares} different people. The server "
        f"starts sealed; unseal it with {threshold} shares: "
        "`garrison operator unseal --endpoint URL`."
    )
    return 0 if creds is not None else 1


def _read_share(prompt: str) -> str | None:
    """One share from the terminal (not echoed) or one line of stdin; None at end of input."""
    while True:
        if sys.stdin.isatty():
            try:
                share = getpass.getpass(prompt)
            except EOFError:
                return None
        else:
            line = sys.stdin.readline()
            if not line:
                return None
            share = line
        share = share.strip()
        if share:
            return share


def operator_unseal(endpoint: str, reset: bool) -> int:
    url = endpoint.rstrip("/") + "/_garrison/unseal"
    try:
        if reset:
            status, data = _post(url, {"reset": True})
            _print(
                f"sealed: {data.get('sealed')}, "
                f"progress {data.get('progress')}/{data.get('threshold')}"
            )
            return 0 if status == 200 else 1
        if not _is_sealed(endpoint):
            _print("The server is not sealed; nothing to do.")
            return 0
        while True:
            share = _read_share("Unseal key share: ")
            if share is None:
                _print("error: ran out of shares before the server unsealed")
                return 1
            status, data = _post(url, {"key": share})
            if status != 200:
                _print(f"error: {data.get('message', status)}")
                return 1
            if not data.get("sealed"):
                _print("Unsealed.")
                return 0
            _print(f"progress {data.get('progress')}/{data.get('threshold')}")
    except urllib.error.URLError as err:
        _print(f"error: cannot reach {endpoint}: {err.reason}")
        return 1


def _is_sealed(endpoint: str) -> bool:
    url = endpoint.rstrip("/") + "/_garrison/health"
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:  # noqa: S310 - operator-given
            return bool(orjson.loads(resp.read()).get("sealed"))
    except urllib.error.HTTPError as err:
        if err.code == 503:
            return True
        raise


def _post(url: str, payload: dict[str, object]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(  # noqa: S310 - an operator-given URL
        url, data=orjson.dumps(payload), headers={"content-type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:  # noqa: S310
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        try:
            return err.code, orjson.loads(err.read())
        except orjson.JSONDecodeError:
            return err.code, {"message": str(err)}


def operator_rotate(settings: Settings) -> int:
    from garrison.bootstrap import key_file_path
    from garrison.storage.database import Database
    from garrison.storage.seal import (
        SealError,
        combine_shares,
        decode_share,
        read_key_file,
        rotate_keyring,
        seal_type,
        shamir_threshold,
    )

    if not settings.database_url and not (settings.data_path / "garrison.db").exists():
        _print(f"error: there is no store in {settings.data_path}")
        return 1
    db = Database(settings.effective_database_url)
    try:
        db.migrate()
        kind = seal_type(db)
        if kind is None:
            _print("error: the store is not initialised")
            return 1
        if kind == "file":
            key = read_key_file(key_file_path(settings.data_path))
        else:
            threshold = shamir_threshold(db)
            parts: list[bytes] = []
            while len(parts) < threshold:
                share = _read_share(f"Unseal key share ({len(parts) + 1}/{threshold}): ")
                if share is None:
                    _print(f"error: rotating needs {threshold} unseal key shares")
                    return 1
                part = decode_share(share)
                if part in parts:
                    raise SealError("this share was already given")
                parts.append(part)
            key = combine_shares(parts)
        term = rotate_keyring(db, key)
    except SealError as err:
        _print(f"error: {err}")
        return 1
    finally:
        db.close()
    _print(
        f"Keyring rotated: new values are sealed under term {term}; "
        "running servers pick the term up within a second."
    )
    return 0


def audit_verify(settings: Settings, public_key_file: str | None) -> int:
    from garrison.audit.store import iter_event_rows, load_all_digests, load_heads
    from garrison.audit.verify import verify_chains
    from garrison.bootstrap import audit_public_key
    from garrison.storage.database import Database

    db = Database(settings.effective_database_url)
    try:
        if public_key_file:
            with open(public_key_file) as fh:
                public_pem: str | None = fh.read()
        else:
            public_pem = audit_public_key(db)
        report = verify_chains(
            iter_event_rows(db), load_heads(db), public_pem, load_all_digests(db)
        )
    finally:
        db.close()
    if report.problem is not None:
        _print(f"FAILED: {report.problem}")
        return 1
    _print(f"OK: {report.events} events in {report.chains} chain(s) verified.")
    return 0


def audit_public_key(settings: Settings) -> int:
    from garrison.bootstrap import audit_public_key as load
    from garrison.storage.database import Database

    db = Database(settings.effective_database_url)
    try:
        pem = load(db)
    finally:
        db.close()
    if pem is None:
        _print("error: the store has no audit key")
        return 1
    sys.stdout.write(pem)
    return 0
