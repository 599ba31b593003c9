"""One frozen `Settings` object, built from flags, environment and a TOML file.

One naming rule for every setting: the flag `--some-flag` is also read from the
environment variable `GARRISON_SOME_FLAG` and from `some_flag` in the TOML file
given with `--config`. Precedence: flag, then environment, then file, then the
default. Nothing else in Garrison reads `os.environ`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "GARRISON_"


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 4600
    data_dir: str = "./garrison-data"
    database_url: str = ""
    dev: bool = False
    # dev mode: the root credentials and account id (printed defaults otherwise)
    root_access_key_id: str = ""
    root_secret_access_key: str = ""
    account_id: str = ""
    node_id: str = ""
    # TLS: a PEM certificate (chain) and its key; plain HTTP when unset
    tls_cert_file: str = ""
    tls_key_file: str = ""
    max_request_bytes: int = 1_048_576
    # background work
    scheduler_interval_seconds: float = 10.0
    audit_digest_interval_seconds: float = 3600.0
    cache_poll_seconds: float = 0.25
    log_level: str = "info"
    access_log: bool = False
    # the HTTP/1.1 front end: "native" (garrison/httpserver.py: requests straight to the
    # pipeline) or "asgi" (uvicorn's httptools protocol and the ASGI app, for diagnosis)
    http_protocol: str = "native"
    # where the server's threads run: "auto" (together on one CPU, moved to a less busy
    # one when theirs is shared; garrison/placement.py), "any" (the kernel decides) or a
    # CPU list, e.g. "1" or "0-1,4"; its threads share one GIL, see docs/performance.md
    cpu_affinity: str = "auto"
    cpu_placement_interval_seconds: float = 2.0
    # how many processes serve (garrison/workers.py): "auto" (one per CPU the server may
    # use; one in dev mode) or a number; each is a node, the parent supervises them
    workers: str = "auto"
    # KMS quotas (resource counts)
    kms_max_keys: int = 100_000
    kms_max_aliases: int = 100_000
    kms_max_grants_per_key: int = 50_000  # AWS's "Grants for a KMS key"
    # SSM Parameter Store quotas (parameters per account and Region, by tier)
    ssm_max_standard_parameters: int = 10_000
    ssm_max_advanced_parameters: int = 100_000
    # event bus, NATS targets (events/senders/nats.py): the server (nats:// or tls://, user
    # and password may ride in the URL), JetStream publish-with-ack instead of core publish,
    # and a stream Garrison creates (or extends) to capture its targets' subjects ("": the
    # operator creates the streams)
    events_nats_url: str = "nats://127.0.0.1:4222"
    events_nats_jetstream: bool = False
    events_nats_stream: str = ""
    # event bus, file targets (events/senders/file.py): the directory every file target must
    # be under ("": <data dir>/events)
    events_file_target_root: str = ""
    # event bus, API destinations (events/senders/http.py): plain-HTTP endpoints allowed
    # (AWS requires HTTPS; dev mode turns this on), a PEM bundle of CAs to trust for
    # HTTPS targets instead of the system's ("": the system's), and the retry backoff
    # (exponential from base to cap seconds, with jitter; the target's RetryPolicy bounds it)
    events_allow_http_targets: bool = False
    events_target_ca_file: str = ""
    events_retry_base_seconds: float = 1.0
    events_retry_max_seconds: float = 300.0
    # KMS request quotas (requests per second per account and Region; 0 = off), see
    # services/kms/quotas.py: the shared cryptographic quotas at AWS's smallest
    # Region class; per-operation quotas "" (none), "aws" (AWS's table) and/or
    # "Operation=rate,..." overrides
    kms_symmetric_request_rate: float = 10_000.0
    kms_rsa_request_rate: float = 1_000.0
    kms_ecc_request_rate: float = 1_000.0
    kms_ml_dsa_request_rate: float = 1_000.0
    kms_operation_request_rates: str = ""
    # Secrets Manager rotation functions beyond the built-in ones (garrison/rotation/registry.py):
    # "name=module:function,..." (Python callables) and "name=https://host/path,..." (webhooks)
    secretsmanager_rotation_functions: str = ""
    secretsmanager_rotation_webhooks: str = ""
    # which of the above were given explicitly (flag, environment or file)
    explicit: frozenset[str] = frozenset()

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_path / 'garrison.db').resolve()}"

    @property
    def events_file_root(self) -> Path:
        """Where file targets may write: `events_file_target_root`, else <data dir>/events."""
        root = self.events_file_target_root or str(self.data_path / "events")
        return Path(os.path.abspath(root))

    @property
    def events_http_targets_allowed(self) -> bool:
        """Plain-HTTP API destinations: the setting when given, else on in dev mode."""
        if "events_allow_http_targets" in self.explicit:
            return self.events_allow_http_targets
        return self.events_allow_http_targets or self.dev

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, target: Any, value: Any) -> Any:
    if isinstance(target, bool):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError(f"setting {name}: {value!r} is not a boolean")
    if isinstance(target, int):
        return int(value)
    if isinstance(target, float):
        return float(value)
    return str(value)


def load_settings(
    flags: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    config_file: str | None = None,
) -> Settings:
    """Build Settings; `flags` holds only the flags the user actually gave."""
    environ = os.environ if environ is None else environ
    flags = dict(flags or {})
    config_file = config_file or flags.pop("config", None) or environ.get(ENV_PREFIX + "CONFIG")
    from_file: dict[str, Any] = {}
    if config_file:
        with open(config_file, "rb") as fh:
            from_file = tomllib.load(fh)
    defaults = Settings()
    known = {f.name for f in fields(Settings)} - {"explicit"}
    unknown = set(from_file) - known
    if unknown:
        raise ValueError(f"unknown settings in {config_file}: {', '.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for f in fields(Settings):
        if f.name == "explicit":
            continue
        default = getattr(defaults, f.name)
        env_name = ENV_PREFIX + f.name.upper()
        if flags.get(f.name) is not None:
            raw: Any = flags[f.name]
        elif env_name in environ:
            raw = environ[env_name]
        elif f.name in from_file:
            raw = from_file[f.name]
        else:
            continue
        values[f.name] = _coerce(f.name, default, raw)
    return Settings(**values, explicit=frozenset(values))
