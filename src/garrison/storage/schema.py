"""Every table Garrison keeps. Migrations in `migrations/` create them.

Columns marked (barrier) hold values sealed by `Barrier`: the database never
sees their plaintext.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

# Instance-wide facts: seal type, root-key check value, digest public key ...
meta = Table(
    "garrison_meta",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", LargeBinary, nullable=False),
)

# Keyring terms: each term key sealed under the root key.
keyring = Table(
    "keyring",
    metadata,
    Column("term", Integer, primary_key=True, autoincrement=False),
    Column("sealed_key", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Bumped once per committed batch that changed state; nodes poll it to drop caches.
state_version = Table(
    "state_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    Column("account_id", String(12), nullable=False, index=True),
    Column("principal_arn", String(2048), nullable=False),
    Column("principal_type", String(32), nullable=False),
    Column("user_id", String(128), nullable=False),
    Column("user_name", String(128), nullable=False),
    Column("secret", LargeBinary, nullable=False),  # (barrier)
    Column("status", String(16), nullable=False),
    Column("created_at", Float, nullable=False),
)

kms_keys = Table(
    "kms_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("key_usage", String(32), nullable=False),
    Column("key_spec", String(32), nullable=False),
    Column("origin", String(32), nullable=False),
    Column("key_manager", String(16), nullable=False),
    Column("state", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("deletion_date", Float, nullable=True),
    Column("pending_window_days", Integer, nullable=True),
    Column("policy", Text, nullable=False),
    Column("rotation_period_days", Integer, nullable=True),  # NULL: rotation off
    Column("next_rotation_at", Float, nullable=True),
    Column("current_version", Integer, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Column("last_used_operation", String(64), nullable=True),
    Column("last_used_event_id", String(64), nullable=True),  # CloudTrail eventId, if known
    Column("last_used_request_id", String(64), nullable=True),
    Index("ix_kms_keys_scope", "account_id", "region"),
    Index("ix_kms_keys_deletion", "state", "deletion_date"),
    Index("ix_kms_keys_rotation", "next_rotation_at"),
)

kms_key_versions = Table(
    "kms_key_versions",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("material_id", String(64), nullable=False),
    Column("material", LargeBinary, nullable=False),  # (barrier)
    Column("created_at", Float, nullable=False),
    Column("rotation_type", String(16), nullable=True),  # NULL for the first material
)

kms_aliases = Table(
    "kms_aliases",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("alias_name", String(256), primary_key=True),
    Column("target_key_id", String(64), nullable=False, index=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

kms_tags = Table(
    "kms_tags",
    metadata,
    Column("key_id", String(64), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False),
)

# The audit trail: one hash chain per node, append-only.
audit_events = Table(
    "audit_events",
    metadata,
    Column("node_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_time", Float, nullable=False, index=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("event_name", String(128), nullable=False),
    Column("event_source", String(128), nullable=False),
    Column("read_only", Boolean, nullable=False),
    Column("username", String(256), nullable=False),
    Column("access_key_id", String(128), nullable=False),
    Column("body", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_events_account_time", "account_id", "event_time"),
)

audit_resources = Table(
    "audit_resources",
    metadata,
    Column("node_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ordinal", Integer, primary_key=True, autoincrement=False),
    Column("resource_type", String(128), nullable=False, index=True),
    Column("resource_name", String(2048), nullable=False),
)

# The signed head of each chain, rewritten with every batch: a truncated tail
# no longer matches it.
audit_heads = Table(
    "audit_heads",
    metadata,
    Column("node_id", String(64), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("signed_at", Float, nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

# Periodic digests: every chain's head at one moment, signed.
audit_digests = Table(
    "audit_digests",
    metadata,
    Column("digest_id", String(64), primary_key=True),
    Column("created_at", Float, nullable=False, index=True),
    Column("body", Text, nullable=False),
    Column("signature", LargeBinary, nullable=False),
)

# One holder per background job across nodes.
leases = Table(
    "leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("holder", String(128), nullable=False),
    Column("expires_at", Float, nullable=False),
)

# Tables that `POST /_garrison/reset` empties (dev mode): all service state and the trail.
RESETTABLE = (
    kms_tags,
    kms_aliases,
    kms_key_versions,
    kms_keys,
    audit_resources,
    audit_events,
    audit_heads,
    audit_digests,
    leases,
)
