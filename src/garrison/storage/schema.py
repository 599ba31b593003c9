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
    Column("last_used_at", Float, nullable=True),
    Column("last_used_service", String(64), nullable=True),
    Column("last_used_region", String(32), nullable=True),
)

# -- IAM (one account's identities; names are unique per account case-insensitively,
#    so each named table keeps `name_lower` under a unique index) -------------------
iam_users = Table(
    "iam_users",
    metadata,
    Column("user_id", String(32), primary_key=True),  # AIDA...
    Column("account_id", String(12), nullable=False),
    Column("user_name", String(64), nullable=False),
    Column("name_lower", String(64), nullable=False),
    Column("path", String(512), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("permissions_boundary", String(2048), nullable=True),  # a managed policy ARN
    Column("created_at", Float, nullable=False),
    Index("ux_iam_users_name", "account_id", "name_lower", unique=True),
)

iam_groups = Table(
    "iam_groups",
    metadata,
    Column("group_id", String(32), primary_key=True),  # AGPA...
    Column("account_id", String(12), nullable=False),
    Column("group_name", String(128), nullable=False),
    Column("name_lower", String(128), nullable=False),
    Column("path", String(512), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ux_iam_groups_name", "account_id", "name_lower", unique=True),
)

iam_group_members = Table(
    "iam_group_members",
    metadata,
    Column("group_id", String(32), primary_key=True),
    Column("user_id", String(32), primary_key=True),
    Column("added_at", Float, nullable=False),
    Index("ix_iam_group_members_user", "user_id"),
)

iam_roles = Table(
    "iam_roles",
    metadata,
    Column("role_id", String(32), primary_key=True),  # AROA...
    Column("account_id", String(12), nullable=False),
    Column("role_name", String(64), nullable=False),
    Column("name_lower", String(64), nullable=False),
    Column("path", String(512), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("trust_policy", Text, nullable=False),  # AssumeRolePolicyDocument
    Column("description", Text, nullable=False),
    Column("max_session_duration", Integer, nullable=False),
    Column("permissions_boundary", String(2048), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=True),
    Column("last_used_region", String(32), nullable=True),
    Index("ux_iam_roles_name", "account_id", "name_lower", unique=True),
)

# Customer managed policies (account_id set) and the AWS managed ones Garrison
# ships (account_id "aws"); ARNs are unique.
iam_policies = Table(
    "iam_policies",
    metadata,
    Column("policy_id", String(32), primary_key=True),  # ANPA...
    Column("account_id", String(12), nullable=False),
    Column("policy_name", String(128), nullable=False),
    Column("name_lower", String(128), nullable=False),
    Column("path", String(512), nullable=False),
    Column("arn", String(2048), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("default_version_id", String(16), nullable=False),
    Column("next_version", Integer, nullable=False),  # v<n> for the next CreatePolicyVersion
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Index("ux_iam_policies_name", "account_id", "name_lower", unique=True),
)

iam_policy_versions = Table(
    "iam_policy_versions",
    metadata,
    Column("policy_id", String(32), primary_key=True),
    Column("version_id", String(16), primary_key=True),  # v1, v2, ...
    Column("document", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Managed policy attached to a user, group or role (principal_kind: user|group|role).
iam_attachments = Table(
    "iam_attachments",
    metadata,
    Column("principal_kind", String(8), primary_key=True),
    Column("principal_id", String(32), primary_key=True),
    Column("policy_arn", String(2048), primary_key=True),
    Column("attached_at", Float, nullable=False),
    Index("ix_iam_attachments_policy", "policy_arn"),
)

iam_inline_policies = Table(
    "iam_inline_policies",
    metadata,
    Column("principal_kind", String(8), primary_key=True),
    Column("principal_id", String(32), primary_key=True),
    Column("policy_name", String(128), primary_key=True),
    Column("document", Text, nullable=False),
)

# Tags of users, roles and managed policies (by their id).
iam_tags = Table(
    "iam_tags",
    metadata,
    Column("resource_id", String(32), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False),
)

# -- STS: temporary credentials issued by AssumeRole --------------------------------
sts_sessions = Table(
    "sts_sessions",
    metadata,
    Column("access_key_id", String(32), primary_key=True),  # ASIA...
    Column("account_id", String(12), nullable=False),
    Column("secret", LargeBinary, nullable=False),  # (barrier)
    Column("token_hash", LargeBinary, nullable=False),  # SHA-256 of the session token
    Column("role_id", String(32), nullable=False, index=True),
    Column("role_arn", String(2048), nullable=False),
    Column("session_name", String(64), nullable=False),
    Column("assumed_role_arn", String(2048), nullable=False),
    Column("source_identity", String(64), nullable=True),
    Column("session_policy", Text, nullable=True),  # inline Policy of AssumeRole
    Column("policy_arns", Text, nullable=False),  # JSON list of PolicyArns
    Column("tags", Text, nullable=False),  # JSON object: session tags (incl. transitive)
    Column("transitive_tag_keys", Text, nullable=False),  # JSON list
    Column("chained", Boolean, nullable=False),  # assumed with role-session credentials
    Column("issued_by", String(2048), nullable=False),  # ARN of the caller of AssumeRole
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
)

# -- Organizations -------------------------------------------------------------------
org_organizations = Table(
    "org_organizations",
    metadata,
    Column("org_id", String(34), primary_key=True),  # o-xxxxxxxxxx
    Column("management_account_id", String(12), nullable=False, unique=True),
    Column("feature_set", String(16), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("created_at", Float, nullable=False),
)

# Roots and organizational units: the tree accounts hang in. kind: root|ou.
org_units = Table(
    "org_units",
    metadata,
    Column("unit_id", String(68), primary_key=True),  # r-xxxx / ou-xxxx-xxxxxxxx
    Column("org_id", String(34), nullable=False, index=True),
    Column("kind", String(8), nullable=False),
    Column("parent_id", String(68), nullable=True, index=True),
    Column("name", String(128), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("policy_types", Text, nullable=False),  # JSON list of enabled types (roots)
)

org_accounts = Table(
    "org_accounts",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("org_id", String(34), nullable=False, index=True),
    Column("parent_id", String(68), nullable=False, index=True),
    Column("name", String(128), nullable=False),
    Column("email", String(256), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("status", String(16), nullable=False),
    Column("joined_method", String(16), nullable=False),
    Column("joined_at", Float, nullable=False),
)

org_create_account_status = Table(
    "org_create_account_status",
    metadata,
    Column("request_id", String(64), primary_key=True),  # car-...
    Column("org_id", String(34), nullable=False, index=True),
    Column("account_name", String(128), nullable=False),
    Column("state", String(16), nullable=False),
    Column("account_id", String(12), nullable=True),
    Column("failure_reason", String(64), nullable=True),
    Column("requested_at", Float, nullable=False),
    Column("completed_at", Float, nullable=True),
)

org_policies = Table(
    "org_policies",
    metadata,
    Column("policy_id", String(136), primary_key=True),  # p-xxxxxxxx
    Column("org_id", String(34), nullable=False, index=True),
    Column("name", String(128), nullable=False),
    Column("description", Text, nullable=False),
    Column("type", String(64), nullable=False),
    Column("content", Text, nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("aws_managed", Boolean, nullable=False),
)

org_policy_targets = Table(
    "org_policy_targets",
    metadata,
    Column("policy_id", String(136), primary_key=True),
    Column("target_id", String(68), primary_key=True),  # root, OU or account id
    Index("ix_org_policy_targets_target", "target_id"),
)

# Tags of organization resources (accounts, OUs, roots, policies) by their id.
org_tags = Table(
    "org_tags",
    metadata,
    Column("resource_id", String(136), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False),
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
    Column("material", LargeBinary, nullable=True),  # (barrier); NULL: imported, deleted
    Column("created_at", Float, nullable=False),
    Column("rotation_type", String(16), nullable=True),  # NULL for the first material
    # -- imported key material (Origin EXTERNAL, migration 0004) -------------------
    # material is NULL while imported material is deleted or expired (PENDING_IMPORT).
    Column("import_state", String(16), nullable=True),  # NULL unless imported
    Column("expiration_model", String(32), nullable=True),
    Column("valid_to", Float, nullable=True),
    Column("material_description", String(256), nullable=True),
    Column("material_digest", LargeBinary, nullable=True),  # keyed digest, never the material
    Index("ix_kms_key_versions_valid_to", "valid_to"),
)

# -- KMS imported key material (GetParametersForImport, migration 0004) ------------
# One row per import token; the RSA wrapping private key is sealed by the barrier.
kms_import_tokens = Table(
    "kms_import_tokens",
    metadata,
    Column("token_id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("wrapping_algorithm", String(32), nullable=False),
    Column("wrapping_key_spec", String(16), nullable=False),
    Column("private_key", LargeBinary, nullable=False),  # (barrier)
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Index("ix_kms_import_tokens_key", "key_id"),
    Index("ix_kms_import_tokens_expiry", "expires_at"),
)
# -- end KMS imported key material -------------------------------------------------

# -- KMS multi-Region keys (services/kms/multiregion.py) ---------------------------
# One row per set of related multi-Region keys: which Region holds its primary key.
# The keys themselves are kms_keys rows with store id ``mrk-<32 hex>@<region>``.
kms_multi_region_keys = Table(
    "kms_multi_region_keys",
    metadata,
    Column("key_id", String(64), primary_key=True),  # mrk-<32 hex>
    Column("account_id", String(12), nullable=False),
    Column("primary_region", String(32), nullable=False),
)
# -- end KMS multi-Region keys -----------------------------------------------------

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

# KMS grants (CreateGrant): who may use a key for which operations, under which
# encryption context constraint. Operations are space-separated; the constraint
# context is canonical JSON.
kms_grants = Table(
    "kms_grants",
    metadata,
    Column("grant_id", String(64), primary_key=True),
    Column("key_id", String(64), nullable=False),
    Column("issuing_account", String(12), nullable=False),
    Column("grantee_principal", String(256), nullable=False),
    Column("retiring_principal", String(256), nullable=True),
    Column("operations", Text, nullable=False),
    Column("constraint_type", String(32), nullable=True),
    Column("constraint_context", Text, nullable=True),
    Column("name", String(256), nullable=True),
    Column("created_at", Float, nullable=False),
    Index("ix_kms_grants_key", "key_id", "grant_id"),
    Index("ix_kms_grants_retiring", "retiring_principal"),
)

# -- SSM Parameter Store (migration 0006) ------------------------------------------
# A parameter is a name in an account and Region with a history of versions; the
# row id outlives nothing: DeleteParameter removes the parameter with its history,
# labels, tags and policies, and a parameter created again under the name starts
# at version 1 (AWS).
ssm_parameters = Table(
    "ssm_parameters",
    metadata,
    Column("parameter_id", String(36), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(2048), nullable=False),
    Column("version", Integer, nullable=False),  # the latest version
    Column("tier", String(32), nullable=False),  # Standard or Advanced (the latest's)
    Column("last_modified", Float, nullable=False),
    Index("ux_ssm_parameters_name", "account_id", "region", "name", unique=True),
)

# One row per version. `value` (barrier) is the parameter's value, or for a
# SecureString the KMS ciphertext of it (encryption context PARAMETER_ARN).
# `policies` is a JSON array of {"text", "status"} (ssm.policies.stored_text; the
# status moves as the scheduler acts, migration 0009).
ssm_parameter_versions = Table(
    "ssm_parameter_versions",
    metadata,
    Column("parameter_id", String(36), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("type", String(16), nullable=False),
    Column("data_type", String(128), nullable=False),
    Column("tier", String(32), nullable=False),
    Column("key_id", String(256), nullable=True),  # SecureString: the KeyId as given
    Column("description", String(1024), nullable=True),
    Column("allowed_pattern", String(1024), nullable=True),
    Column("policies", Text, nullable=True),  # parameter policies with their statuses
    Column("value", LargeBinary, nullable=False),  # (barrier)
    Column("last_modified", Float, nullable=False),
    Column("last_modified_user", String(2048), nullable=False),
)

# LabelParameterVersion: a label names one version of one parameter at a time.
ssm_parameter_labels = Table(
    "ssm_parameter_labels",
    metadata,
    Column("parameter_id", String(36), primary_key=True),
    Column("label", String(100), primary_key=True),
    Column("version", Integer, nullable=False),
    Index("ix_ssm_parameter_labels_version", "parameter_id", "version"),
)

ssm_parameter_tags = Table(
    "ssm_parameter_tags",
    metadata,
    Column("parameter_id", String(36), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False),
)

# PutResourcePolicy: policies that share an Advanced parameter with other accounts.
ssm_resource_policies = Table(
    "ssm_resource_policies",
    metadata,
    Column("parameter_id", String(36), primary_key=True),
    Column("policy_id", String(64), primary_key=True),
    Column("policy_hash", String(64), nullable=False),
    Column("policy", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

# Parameter policies' actions the scheduler runs: each Pending Expiration,
# ExpirationNotification, NoChangeNotification of the latest version, once, at
# `due_at`; `policy_index` is the policy's place in the version's `policies` (which
# hold each policy's status; migration 0009 keyed the rows by it, for several
# policies of one type).
ssm_policy_actions = Table(
    "ssm_policy_actions",
    metadata,
    Column("parameter_id", String(36), primary_key=True),
    Column("policy_index", Integer, primary_key=True, autoincrement=False),
    Column("policy_type", String(32), nullable=False),
    Column("version", Integer, nullable=False),
    Column("due_at", Float, nullable=False),
    Index("ix_ssm_policy_actions_due", "due_at"),
)

# -- The event bus: EventBridge's rules, targets, connections, API destinations
# (migration 0007) ---------------------------------------------------------------
events_rules = Table(
    "events_rules",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("event_bus", String(256), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("event_pattern", Text, nullable=True),
    Column("schedule_expression", String(256), nullable=True),
    Column("state", String(64), nullable=False),
    Column("description", String(512), nullable=True),
    Column("role_arn", String(1600), nullable=True),
    Column("managed_by", String(128), nullable=True),
    Column("created_at", Float, nullable=False),
)

events_rule_tags = Table(
    "events_rule_tags",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("event_bus", String(256), primary_key=True),
    Column("rule", String(64), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False),
)

# A target of a rule; `target` (barrier) is the Target as PutTargets gave it (its
# Input may carry secrets), `arn` stays clear for lookups.
events_targets = Table(
    "events_targets",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("event_bus", String(256), primary_key=True),
    Column("rule", String(64), primary_key=True),
    Column("target_id", String(64), primary_key=True),
    Column("arn", String(1600), nullable=False),
    Column("target", LargeBinary, nullable=False),  # (barrier)
    Column("created_at", Float, nullable=False),
)

# CreateConnection: `secrets` (barrier) holds the authorisation parameters' secret
# values (API key value, password, OAuth client secret and token); `parameters` the
# rest, as DescribeConnection shows them.
events_connections = Table(
    "events_connections",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("connection_id", String(36), nullable=False),
    Column("authorization_type", String(32), nullable=False),
    Column("state", String(32), nullable=False),
    Column("state_reason", String(512), nullable=True),
    Column("description", String(512), nullable=True),
    Column("parameters", Text, nullable=False),
    Column("secrets", LargeBinary, nullable=False),  # (barrier)
    Column("created_at", Float, nullable=False),
    Column("last_modified_at", Float, nullable=False),
    Column("last_authorized_at", Float, nullable=True),
)

events_api_destinations = Table(
    "events_api_destinations",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("region", String(32), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("destination_id", String(36), nullable=False),
    Column("connection_arn", String(1600), nullable=False),
    Column("endpoint", String(2048), nullable=False),
    Column("http_method", String(16), nullable=False),
    Column("rate_limit", Integer, nullable=True),
    Column("state", String(32), nullable=False),
    Column("description", String(512), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("last_modified_at", Float, nullable=False),
)

# The outbox: one row per (event, matched target), written in the transaction of
# the change that produced the event, deleted once delivered. `payload` (barrier)
# is what the target receives (the event after the target's input transformation).
events_outbox = Table(
    "events_outbox",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("event_bus", String(256), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("payload", LargeBinary, nullable=False),  # (barrier)
    Column("created_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("lease_until", Float, nullable=True),
    Column("lease_holder", String(128), nullable=True),
    Column("last_error", String(1024), nullable=True),
    Index("ix_events_outbox_due", "next_attempt_at"),
)

# Deliveries given up (retry policy exhausted, or a target that cannot be reached),
# kept for listing: the dead-letter record.
events_dead_letters = Table(
    "events_dead_letters",
    metadata,
    Column("delivery_id", String(36), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("event_bus", String(256), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("target_id", String(64), nullable=False),
    Column("target_arn", String(1600), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("payload", LargeBinary, nullable=False),  # (barrier)
    Column("attempts", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("failed_at", Float, nullable=False),
    Column("error", String(1024), nullable=False),
    Index("ix_events_dead_letters_account", "account_id", "region", "failed_at"),
)

# -- Secrets Manager (migration 0008) ----------------------------------------------
# A secret in an account and Region. Its ARN ends in the name and AWS's six random
# characters; `primary_arn` is set on a replica (the primary's ARN: writes refused,
# changes propagated), `deleted_at`/`deletion_date` while it waits for deletion.
sm_secrets = Table(
    "sm_secrets",
    metadata,
    Column("secret_id", String(36), primary_key=True),
    Column("account_id", String(12), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(256), nullable=False),
    Column("arn", String(2048), nullable=False),
    Column("description", String(2048), nullable=True),
    Column("kms_key_id", String(2048), nullable=True),  # as given; None: aws/secretsmanager
    Column("created_at", Float, nullable=False),
    Column("last_changed", Float, nullable=False),
    Column("last_accessed", Float, nullable=True),  # a date (AWS rounds to the day)
    Column("deleted_at", Float, nullable=True),
    Column("deletion_date", Float, nullable=True),
    Column("rotation_enabled", Boolean, nullable=False),
    Column("rotation_lambda_arn", String(2048), nullable=True),
    Column("rotation_rules", Text, nullable=True),  # JSON as RotationRules
    Column("last_rotated", Float, nullable=True),
    Column("next_rotation", Float, nullable=True),
    Column("owning_service", String(128), nullable=True),
    Column("primary_arn", String(2048), nullable=True),
    Index("ux_sm_secrets_name", "account_id", "region", "name", unique=True),
    Index("ux_sm_secrets_arn", "arn", unique=True),
    Index("ix_sm_secrets_next_rotation", "next_rotation"),
    Index("ix_sm_secrets_deletion", "deletion_date"),
)

# One row per version. `value` (barrier) is the KMS ciphertext of the secret value
# (SecretString or SecretBinary, `value_type`); `value_digest` a keyed digest that
# recognises a ClientRequestToken retried with the same value, never the value.
sm_secret_versions = Table(
    "sm_secret_versions",
    metadata,
    Column("secret_id", String(36), primary_key=True),
    Column("version_id", String(64), primary_key=True),
    Column("value_type", String(8), nullable=True),  # string | binary; None: no value yet
    Column("value", LargeBinary, nullable=True),  # (barrier)
    Column("value_digest", LargeBinary, nullable=True),
    Column("kms_key_arn", String(2048), nullable=True),  # the key that encrypted it
    Column("created_at", Float, nullable=False),
    Column("last_accessed", Float, nullable=True),
    Index("ix_sm_secret_versions_created", "secret_id", "created_at"),
)

# Staging labels (AWSCURRENT, AWSPREVIOUS, AWSPENDING, custom): a label is on one
# version of a secret at a time.
sm_version_stages = Table(
    "sm_version_stages",
    metadata,
    Column("secret_id", String(36), primary_key=True),
    Column("stage", String(256), primary_key=True),
    Column("version_id", String(64), nullable=False),
    Index("ix_sm_version_stages_version", "secret_id", "version_id"),
)

sm_tags = Table(
    "sm_tags",
    metadata,
    Column("secret_id", String(36), primary_key=True),
    Column("tag_key", String(128), primary_key=True),
    Column("tag_value", String(256), nullable=False),
)

sm_resource_policies = Table(
    "sm_resource_policies",
    metadata,
    Column("secret_id", String(36), primary_key=True),
    Column("policy", Text, nullable=False),
)

# The replicas of a primary secret: one row per replica Region, with the status
# DescribeSecret shows (InSync, InProgress, Failed and its message).
sm_replicas = Table(
    "sm_replicas",
    metadata,
    Column("secret_id", String(36), primary_key=True),  # the primary's
    Column("region", String(32), primary_key=True),
    Column("kms_key_id", String(2048), nullable=True),
    Column("status", String(16), nullable=False),
    Column("status_message", String(1024), nullable=True),
    Column("last_accessed", Float, nullable=True),
    Column("replica_secret_id", String(36), nullable=True),
)

# A rotation in progress: the rotator's steps done so far for the pending version
# (createSecret, setSecret, testSecret, finishSecret), attempts, the last failure.
sm_rotations = Table(
    "sm_rotations",
    metadata,
    Column("secret_id", String(36), primary_key=True),
    Column("version_id", String(64), nullable=False),
    Column("step", String(16), nullable=False),
    Column("started_at", Float, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("last_error", String(1024), nullable=True),
    Index("ix_sm_rotations_due", "next_attempt_at"),
)

# The audit trail: one hash chain per node, append-only. Every index costs every
# audited call a B-tree insert, so there are three: the chain's order (primary key),
# event_id (LookupEvents by EventId) and (account_id, event_time) (every other lookup).
# An event's resources live in its body only; LookupEvents filters on them there.
audit_events = Table(
    "audit_events",
    metadata,
    Column("node_id", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_time", Float, nullable=False),
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
    sm_rotations,  # Secrets Manager
    sm_replicas,
    sm_resource_policies,
    sm_tags,
    sm_version_stages,
    sm_secret_versions,
    sm_secrets,
    events_dead_letters,  # the event bus
    events_outbox,
    events_api_destinations,
    events_connections,
    events_targets,
    events_rule_tags,
    events_rules,
    ssm_policy_actions,  # SSM Parameter Store
    ssm_resource_policies,
    ssm_parameter_tags,
    ssm_parameter_labels,
    ssm_parameter_versions,
    ssm_parameters,
    org_tags,
    org_policy_targets,
    org_policies,
    org_create_account_status,
    org_accounts,
    org_units,
    org_organizations,
    sts_sessions,
    iam_tags,
    iam_inline_policies,
    iam_attachments,
    iam_policy_versions,
    iam_policies,
    iam_roles,
    iam_group_members,
    iam_groups,
    iam_users,
    kms_grants,
    kms_import_tokens,  # KMS imported key material
    kms_multi_region_keys,  # KMS multi-Region keys
    kms_tags,
    kms_aliases,
    kms_key_versions,
    kms_keys,
    audit_events,
    audit_heads,
    audit_digests,
    leases,
)
