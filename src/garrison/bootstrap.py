"""Creating a store: root key, keyring, first account, root credentials, audit key.

`garrison init`, the first `garrison server` start and `garrison operator init`
all come through here. Root credentials are returned to be printed once; the
secret is stored only sealed by the barrier.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from garrison.crypto.signing import DigestSigner
from garrison.iam.credentials import (
    create_root_access_key,
    new_access_key_id,
    new_account_id,
    new_secret_access_key,
)
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.seal import get_meta, set_meta
from garrison.storage.writer import Tx

DEV_ACCOUNT_ID = "000000000000"
DEV_ACCESS_KEY_ID = "AKIAGARRISONDEV00001"
# dev mode only; printed at start, never used outside --dev
DEV_SECRET_ACCESS_KEY = "gArRiSoNdEvSeCrEtAcCeSsKeY00000000000000"  # noqa: S105
AUDIT_KEY_META = "audit_signing_key"
AUDIT_PUBLIC_META = "audit_public_key"


@dataclass(frozen=True)
class RootCredentials:
    account_id: str
    access_key_id: str
    secret_access_key: str


def is_initialized(db: Database) -> bool:
    return db.read(lambda tx: get_meta(tx, "initialized")) is not None


def create_first_account(
    db: Database,
    now: float,
    *,
    account_id: str = "",
    access_key_id: str = "",
    secret_access_key: str = "",
) -> RootCredentials:
    """Needs an unsealed barrier. Idempotent only in the sense that it refuses twice."""
    creds = RootCredentials(
        account_id or new_account_id(),
        access_key_id or new_access_key_id(),
        secret_access_key or new_secret_access_key(),
    )

    def unit(tx: Tx) -> None:
        if get_meta(tx, "initialized") is not None:
            raise RuntimeError("the store is already initialised")
        tx.execute(
            schema.accounts.insert(),
            {"account_id": creds.account_id, "name": "root", "created_at": now},
        )
        create_root_access_key(
            tx, creds.account_id, creds.access_key_id, creds.secret_access_key, now
        )
        private = DigestSigner.generate_private()
        set_meta(
            tx, AUDIT_KEY_META, tx.barrier.seal("garrison_meta", AUDIT_KEY_META, "value", private)
        )
        set_meta(tx, AUDIT_PUBLIC_META, DigestSigner(private).public_pem().encode())
        set_meta(tx, "initialized", b"1")

    db.writer.run_sync(unit)
    return creds


def load_signer(db: Database) -> DigestSigner:
    def load(tx: Tx) -> DigestSigner:
        sealed = get_meta(tx, AUDIT_KEY_META)
        if sealed is None:
            raise RuntimeError("the store has no audit signing key")
        return DigestSigner(tx.barrier.open("garrison_meta", AUDIT_KEY_META, "value", sealed))

    return db.read(load)


def audit_public_key(db: Database) -> str | None:
    value = db.read(lambda tx: get_meta(tx, AUDIT_PUBLIC_META))
    return value.decode() if value else None


def key_file_path(data_dir: Path) -> Path:
    return data_dir / "root.key"


def print_credentials(creds: RootCredentials, endpoint: str | None = None) -> str:
    lines = []
    if endpoint:
        lines.append(f"Endpoint:              {endpoint}")
    lines += [
        f"Account id:            {creds.account_id}",
        f"Root access key id:    {creds.access_key_id}",
        f"Root secret access key: {creds.secret_access_key}",
        "These credentials are shown once; store them safely.",
    ]
    return "\n".join(lines)
