"""TLS termination: the server speaks HTTPS when given a certificate and key."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import make_client
from tests.e2e.policies import ALLOW_ROOT, deny, policy


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_https_round_trip_and_secure_transport_condition(
    fresh_server_factory: Any, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path)
    server = fresh_server_factory(
        extra_args=["--tls-cert-file", str(cert), "--tls-key-file", str(key)]
    )
    server.start()
    assert server.endpoint.startswith("https://")
    kms = make_client(server.endpoint, "kms", verify=str(cert))
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key_id, Plaintext=b"over tls")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"over tls"
    cloudtrail = make_client(server.endpoint, "cloudtrail", verify=str(cert))
    events = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Encrypt"}]
    )["Events"]
    body = json.loads(events[0]["CloudTrailEvent"])
    assert body["eventName"] == "Encrypt" and "errorCode" not in body
    # aws:SecureTransport is true over HTTPS: a key that denies plain HTTP works here
    tls_only = kms.create_key(Policy=policy(ALLOW_ROOT, PLAIN_HTTP_DENIED))["KeyMetadata"]["KeyId"]
    assert kms.encrypt(KeyId=tls_only, Plaintext=b"x")["KeyId"].endswith(tls_only)


PLAIN_HTTP_DENIED = deny("kms:Encrypt", "*", Bool={"aws:SecureTransport": "false"})


def test_secure_transport_is_false_over_plain_http(kms: Any) -> None:
    key_id = kms.create_key(Policy=policy(ALLOW_ROOT, PLAIN_HTTP_DENIED))["KeyMetadata"]["KeyId"]
    with pytest.raises(ClientError) as exc:
        kms.encrypt(KeyId=key_id, Plaintext=b"x")
    assert exc.value.response["Error"]["Code"] == "AccessDeniedException"
