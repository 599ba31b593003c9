"""specs.py: botocore model loading and the routing indexes."""

from __future__ import annotations

import pytest

from garrison.protocol.specs import ServiceSpec, SpecRegistry, load_service


def test_kms_spec_carries_routing_facts() -> None:
    kms = load_service("kms")
    assert (kms.name, kms.protocol, kms.target_prefix, kms.signing_name, kms.json_version) == (
        "kms",
        "json",
        "TrentService",
        "kms",
        "1.1",
    )
    encrypt = kms.operation("Encrypt")
    assert encrypt is not None and encrypt.name == "Encrypt"
    assert kms.operation("encrypt") is None
    assert kms.operation("Nope") is None


def test_load_service_is_cached() -> None:
    assert load_service("cloudtrail") is load_service("cloudtrail")
    assert load_service("kms").operation("Encrypt") is load_service("kms").operation("Encrypt")


def test_unknown_service_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="no service model named 'nope'"):
        load_service("nope")


def test_registry_routes_by_target_prefix_and_signing_name() -> None:
    registry = SpecRegistry(["kms", "cloudtrail", "secretsmanager", "iam"])
    assert registry.by_target_prefix("TrentService") is load_service("kms")
    assert registry.by_target_prefix(
        "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101"
    ) is load_service("cloudtrail")
    assert registry.by_signing_name("secretsmanager") is load_service("secretsmanager")
    assert registry.by_signing_name("iam") is load_service("iam")
    assert registry.by_target_prefix("Nope") is None
    assert registry.get("kms") is load_service("kms")
    assert len(registry) == 4


def test_registry_refuses_ambiguous_routing() -> None:
    kms = load_service("kms")
    twin = ServiceSpec.from_model("kms-twin", kms.model)
    with pytest.raises(ValueError, match="share the X-Amz-Target prefix 'TrentService'"):
        SpecRegistry([kms, twin])
