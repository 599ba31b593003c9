"""The built-in rotators' ``ssl`` key against a PostgreSQL server that speaks TLS only.

A cluster of its own (`PgCluster`, scram-sha-256) switched to TLS with a certificate
for ``localhost`` signed by a CA made here, and ``pg_hba.conf`` turned to ``hostssl``:
a login without TLS is refused. The Garrison server trusts that CA through
``SSL_CERT_FILE`` (the system bundle's override), so ``ssl: true`` rotates with the
certificate and host name verified; the same server at ``127.0.0.1`` (a name the
certificate does not carry) fails verification; ``ssl: false`` can't log in at all;
no ``ssl`` key tries TLS first and rotates.
"""

from __future__ import annotations

import datetime
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import (
    ACCOUNT_ID,
    BACKENDS,
    REGION,
    ServerProcess,
    create_pg_database,
    drop_pg_database,
)
from tests.e2e.rotation_dbs import RUN_AS, PgCluster, password
from tests.e2e.test_secrets_rotation import service_events, wait_for, wait_rotated

FN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:garrison-postgresql-single-user"


def _cert(
    subject: str, key: Any, issuer: x509.Name | None, issuer_key: Any, ca: bool
) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer or name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:  # localhost only: 127.0.0.1 is not a name of this certificate
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def tls_dir(tmp_root: Path) -> Path:
    """ca.pem, and server.crt / server.key for ``localhost`` signed by it."""
    out = tmp_root / f"tls-{secrets.token_hex(3)}"
    out.mkdir()
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("Garrison test CA", ca_key, None, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert("localhost", key, ca.subject, ca_key, ca=False)
    (out / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (out / "server.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return out


@pytest.fixture(scope="module")
def tls_pg(tls_dir: Path) -> Iterator[PgCluster]:
    cluster = PgCluster.start()
    for name in ("server.crt", "server.key"):
        target = cluster.root / name
        shutil.copy(tls_dir / name, target)
        os.chmod(target, 0o600)
        if RUN_AS:
            shutil.chown(target, "postgres")
    hba = cluster.root / "data" / "pg_hba.conf"
    lines = hba.read_text().splitlines()
    hba.write_text("\n".join("hostssl" + ln[4:] if ln.startswith("host ") else ln for ln in lines))
    with _superuser(cluster, "disable") as conn:
        conn.execute(f"ALTER SYSTEM SET ssl_cert_file = '{cluster.root / 'server.crt'}'")
        conn.execute(f"ALTER SYSTEM SET ssl_key_file = '{cluster.root / 'server.key'}'")
        conn.execute("ALTER SYSTEM SET ssl = on")
        conn.execute("SELECT pg_reload_conf()")
    wait_for(lambda: _logs_in(cluster, cluster.superuser, cluster.superuser_password, "require"),
             "the cluster's TLS")  # fmt: skip
    assert not _logs_in(cluster, cluster.superuser, cluster.superuser_password, "disable")
    yield cluster
    cluster.stop()


def _superuser(cluster: PgCluster, sslmode: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=cluster.host,
        port=cluster.port,
        user=cluster.superuser,
        password=cluster.superuser_password,
        dbname="postgres",
        autocommit=True,
        sslmode=sslmode,
    )


def _logs_in(cluster: PgCluster, user: str, pw: str, sslmode: str) -> bool:
    try:
        psycopg.connect(
            host=cluster.host,
            port=cluster.port,
            user=user,
            password=pw,
            dbname="postgres",
            connect_timeout=5,
            sslmode=sslmode,
        ).close()
        return True
    except psycopg.OperationalError:
        return False


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_root: Path, tls_dir: Path
) -> Iterator[ServerProcess]:
    url = create_pg_database() if request.param == "postgresql" else ""
    srv = ServerProcess(
        tmp_root / f"sm-rotation-tls-{request.param}",
        database_url=url,
        env={"SSL_CERT_FILE": str(tls_dir / "ca.pem")},
    ).start()
    yield srv
    srv.stop()
    if url:
        drop_pg_database(url)


def _rotate(server: ServerProcess, creds: dict[str, Any]) -> tuple[Any, str, str]:
    sm = server.client("secretsmanager")
    arn = sm.create_secret(Name=f"rot/tls/{secrets.token_hex(4)}", SecretString=json.dumps(creds))[
        "ARN"
    ]
    token = sm.rotate_secret(SecretId=arn, RotationLambdaARN=FN)["VersionId"]
    return sm, arn, token


def _user(cluster: PgCluster) -> tuple[str, str]:
    u, pw = f"tls_{secrets.token_hex(3)}", password()
    with _superuser(cluster, "require") as conn:
        conn.execute(f"CREATE ROLE \"{u}\" WITH LOGIN PASSWORD '{pw}'")
    return u, pw


@pytest.mark.parametrize("ssl", [True, "true", None])
def test_tls_with_a_verified_certificate_rotates(
    server: ServerProcess, tls_pg: PgCluster, ssl: bool | str | None
) -> None:
    u, pw = _user(tls_pg)
    creds: dict[str, Any] = {**tls_pg.creds(u, pw), "host": "localhost"}
    if ssl is not None:
        creds["ssl"] = ssl
    sm, arn, token = _rotate(server, creds)
    wait_rotated(sm, arn, token)
    new = json.loads(sm.get_secret_value(SecretId=arn)["SecretString"])
    assert _logs_in(tls_pg, u, new["password"], "require")
    assert not _logs_in(tls_pg, u, pw, "require")


@pytest.mark.parametrize(
    ("host", "ssl", "why"),
    [
        ("127.0.0.1", True, "the secret's ssl key requires TLS"),  # not the certificate's name
        ("localhost", False, ""),  # the server refuses logins without TLS
    ],
)
def test_tls_that_fails_leaves_awscurrent_working(
    server: ServerProcess, tls_pg: PgCluster, host: str, ssl: bool, why: str
) -> None:
    u, pw = _user(tls_pg)
    creds = {**tls_pg.creds(u, pw), "host": host, "ssl": ssl}
    sm, arn, token = _rotate(server, creds)
    wait_for(lambda: bool(service_events(server, arn, "RotationFailed")), "RotationFailed")
    [failed] = service_events(server, arn, "RotationFailed")
    details = failed["serviceEventDetails"]
    assert details["step"] == "setSecret" and details["versionId"] == token
    assert details["failureReason"].startswith("RotationStepError: Unable to log into database")
    assert why in details["failureReason"]
    assert json.loads(sm.get_secret_value(SecretId=arn)["SecretString"]) == creds
    assert _logs_in(tls_pg, u, pw, "require")
    sm.cancel_rotate_secret(SecretId=arn)
