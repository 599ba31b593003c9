"""Secrets Manager's use cases: secrets, versions and staging labels, deletion, tags and
resource policies.

Lookups (`SecretId`) resolve as AWS does: a full ARN (exact), a partial ARN (the
ARN without its ``-XXXXXX`` suffix: the name in that account and Region) or a
name in the caller's account and Region. Another account's secret is reached
only by ARN, and only when its resource policy allows it (cross-account
evaluation in the authorizer); its value also needs the key's policy to allow
the caller's kms:Decrypt, which the AWS managed key never does.

Versions (the developer guide's "Secret versions"): each new value is a new
version whose id is the ClientRequestToken; AWSCURRENT moves to it (unless
PutSecretValue's VersionStages says otherwise) and AWSPREVIOUS to the version
that had AWSCURRENT; AWSPENDING and custom labels stay where they are unless
named. A version without labels is deprecated; beyond 100 versions the oldest
deprecated ones created more than 24 hours ago are removed. A retried token
with the same value is the same version (success); with another value,
ResourceExistsException.

Every refusal happens before anything is written, and the pipeline rolls the
call's savepoint back on any error: nothing is ever half-written.
"""

from __future__ import annotations

import re
import secrets as pyrandom
import string
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import orjson

from garrison.api import Call
from garrison.errors import AwsError
from garrison.iam.authorizer import Authorizer
from garrison.iam.policy import compile_policy
from garrison.services.kms.service import KmsService
from garrison.services.secretsmanager import store
from garrison.services.secretsmanager.actions import ACTIONS
from garrison.services.secretsmanager.cache import LookupKey, SecretCache, SecretView
from garrison.services.secretsmanager.domain import (
    CURRENT,
    DAY,
    KEEP_YOUNGER_THAN,
    MARKED_DELETED,
    MAX_STAGES,
    MAX_TAGS,
    MAX_VERSIONS,
    NAME,
    NOT_FOUND,
    PREVIOUS,
    RESOURCE_TYPE,
    NewValue,
    Opened,
    check_stage,
    check_tags,
    check_token,
    day_of,
    digest_input,
    new_token,
)
from garrison.services.secretsmanager.errors import (
    InvalidParameterException,
    InvalidRequestException,
    LimitExceededException,
    MalformedPolicyDocumentException,
    PublicPolicyException,
    ResourceExistsException,
    ResourceNotFoundException,
)
from garrison.services.secretsmanager.listing import (
    SORT_BY,
    check_filters,
    matches,
    page_size,
    read_token,
    sort_key,
    token_after,
)
from garrison.services.secretsmanager.policies import is_public, policy_errors
from garrison.services.secretsmanager.replication import (
    Replication,
    check_add_regions,
    refuse_on_replica,
)
from garrison.services.secretsmanager.store import Secret, Version
from garrison.services.secretsmanager.values import SecretValues, digest, same_value

_ARN = re.compile(r"arn:(aws[a-z-]*):secretsmanager:([a-z0-9-]+):(\d{12}):secret:(.+)")
# GetSecretValue's condition keys when it names neither a version nor a stage
_CURRENT_STAGE: dict[str, list[str]] = {"secretsmanager:VersionStage": [CURRENT]}
_SUFFIX = string.ascii_letters + string.digits


class SecretsManager:
    def __init__(self, authorizer: Authorizer, kms: KmsService) -> None:
        self.authorizer = authorizer
        self.values = SecretValues(kms)
        self.replication = Replication(self.values)
        self.cache = SecretCache()

    # -- lookup and authorisation ------------------------------------------------------
    def _lookup(self, call: Call, secret_id: str) -> tuple[Secret | None, str]:
        """(the secret `secret_id` names, the ARN to authorise on)."""
        ctx = call.ctx
        m = _ARN.fullmatch(secret_id)
        if m is None:
            found = store.by_name(call.tx, ctx.account_id, ctx.region, secret_id)
            arn = f"arn:aws:secretsmanager:{ctx.region}:{ctx.account_id}:secret:{secret_id}"
            return found, found.arn if found else arn
        if m.group(2) != ctx.region:
            return None, secret_id
        found = store.by_arn(call.tx, secret_id)
        if found is None:  # a partial ARN: the name, without the six characters
            found = store.by_name(call.tx, m.group(3), m.group(2), m.group(4))
        return found, found.arn if found else secret_id

    def _authorize(
        self,
        call: Call,
        operation: str,
        arn: str,
        secret: Secret | None,
        extra: dict[str, list[str]] | None = None,
    ) -> None:
        context: dict[str, list[str]] = {"secretsmanager:SecretId": [arn], **(extra or {})}
        if secret is None:
            self.authorizer.authorize(call, ACTIONS[operation].action, arn, context)
            return
        for key, value in store.tags(call.tx, secret.secret_id).items():
            context[f"aws:ResourceTag/{key}"] = [value]
            context[f"secretsmanager:ResourceTag/{key}"] = [value]
        document = store.policy(call.tx, secret.secret_id)
        self.authorizer.authorize(
            call,
            ACTIONS[operation].action,
            arn,
            context,
            resource_policy=None if document is None else compile_policy(document),
            resource_account=secret.account_id,
        )

    def _lookup_view(self, call: Call, secret_id: str) -> tuple[SecretView | None, str]:
        """`_lookup` through the read cache (cache.py): (the view of the secret, the ARN)."""
        ctx = call.ctx
        m = _ARN.fullmatch(secret_id)
        key: LookupKey
        if m is None:
            key = ("name", ctx.account_id, ctx.region, secret_id)
        elif m.group(2) != ctx.region:
            return None, secret_id
        else:
            key = ("arn", secret_id)
        view = self.cache.cached(key)
        if view is not None:
            return view, view.secret.arn
        generation = self.cache.miss()
        secret, arn = self._lookup(call, secret_id)
        if secret is None:
            return None, arn
        return self.cache.load(call.tx, key, secret, generation), arn

    def _existing_view(
        self, call: Call, operation: str, secret_id: str, extra: dict[str, list[str]]
    ) -> SecretView:
        """`existing` for the reads of values, through the read cache."""
        if not secret_id:
            raise InvalidParameterException("You must specify a SecretId.")
        view, arn = self._lookup_view(call, secret_id)
        if view is None:
            self._authorize(call, operation, arn, None, extra)
            raise ResourceNotFoundException(NOT_FOUND)
        secret = view.secret
        action = ACTIONS[operation].action
        # A verdict no policy needed the context for (the common shapes) is kept by the
        # authorizer: then no context is built (as KMS's access.py does).
        verdict = self.authorizer.settled(
            call, action, arn, resource_policy=view.policy, resource_account=secret.account_id
        )
        if verdict is None or not verdict.allowed:
            self.authorizer.authorize(
                call,
                action,
                arn,
                {"secretsmanager:SecretId": [arn], **extra, **view.tag_context},
                resource_policy=view.policy,
                resource_account=secret.account_id,
            )
        call.audit_resource(RESOURCE_TYPE, secret.arn)
        refuse_on_replica(secret, operation)
        if secret.deleted_at is not None:
            raise InvalidRequestException(MARKED_DELETED)
        return view

    def existing(
        self,
        call: Call,
        operation: str,
        secret_id: str,
        *,
        extra: dict[str, list[str]] | None = None,
        deleted_ok: bool = False,
    ) -> Secret:
        if not secret_id:
            raise InvalidParameterException("You must specify a SecretId.")
        secret, arn = self._lookup(call, secret_id)
        self._authorize(call, operation, arn, secret, extra)
        if secret is None:
            raise ResourceNotFoundException(NOT_FOUND)
        call.audit_resource(RESOURCE_TYPE, secret.arn)
        refuse_on_replica(secret, operation)
        if secret.deleted_at is not None and not deleted_ok:
            raise InvalidRequestException(MARKED_DELETED)
        return secret

    # -- CreateSecret ------------------------------------------------------------------
    def create(
        self,
        call: Call,
        name: str,
        token: str | None,
        value: NewValue | None,
        *,
        description: str | None,
        kms_key_id: str | None,
        tags: Sequence[tuple[str, str]],
        replica_regions: Sequence[Any],
        force_overwrite_replica: bool = False,
    ) -> tuple[Secret, str | None]:
        ctx = call.ctx
        if not NAME.fullmatch(name):
            raise InvalidParameterException(
                "Invalid name. Must be a valid name containing alphanumeric characters, or any "
                "of the following: -/_+=.@!"
            )
        check_token(token)
        if description is not None and len(description) > 2048:
            raise InvalidParameterException("Description must be at most 2048 characters long.")
        if kms_key_id is not None and not 1 <= len(kms_key_id) <= 2048:
            raise InvalidParameterException("KmsKeyId must be 1 to 2048 characters long.")
        if len(tags) > MAX_TAGS:
            raise InvalidParameterException(f"A secret can have at most {MAX_TAGS} tags.")
        check_tags(tags)
        existing = store.by_name(call.tx, ctx.account_id, ctx.region, name)
        arn = existing.arn if existing else self._new_arn(call, name)
        context: dict[str, list[str]] = {"secretsmanager:Name": [name]}
        if description is not None:
            context["secretsmanager:Description"] = [description]
        if kms_key_id is not None:
            context["secretsmanager:KmsKeyId"] = [kms_key_id]
        if tags:
            context["aws:TagKeys"] = [k for k, _ in tags]
            context.update({f"aws:RequestTag/{k}": [v] for k, v in tags})
        if replica_regions:
            context["secretsmanager:AddReplicaRegions"] = [
                str(r.get("Region")) for r in replica_regions if isinstance(r, dict)
            ]
        if force_overwrite_replica:
            context["secretsmanager:ForceOverwriteReplicaSecret"] = ["true"]
        self._authorize(call, "CreateSecret", arn, existing, context)
        regions = check_add_regions(call, replica_regions) if replica_regions else []
        if regions:  # AWS: adding replica Regions also needs ReplicateSecretToRegions
            self._authorize(call, "ReplicateSecretToRegions", arn, existing, context)
        if existing is not None:
            call.audit_resource(RESOURCE_TYPE, existing.arn)
            if existing.deleted_at is not None:
                raise InvalidRequestException(
                    "You can't create this secret because a secret with this name is already "
                    "scheduled for deletion."
                )
            if token is not None and value is not None:
                same = store.get_version(call.tx, existing.secret_id, token)
                if same is not None and same_value(same.digest, digest_input(value)):
                    return existing, token  # a retry of the same request
            raise ResourceExistsException(
                f"The operation failed because the secret {name} already exists."
            )
        now = ctx.now.timestamp()
        secret = Secret(
            secret_id=str(pyrandom.token_hex(16)),
            account_id=ctx.account_id,
            region=ctx.region,
            name=name,
            arn=arn,
            description=description,
            kms_key_id=kms_key_id,
            created_at=now,
            last_changed=now,
            last_accessed=None,
            deleted_at=None,
            deletion_date=None,
            rotation_enabled=False,
            owning_service=None,
            primary_arn=None,
        )
        store.insert_secret(call.tx, secret)
        for key, tag_value in tags:
            store.put_tag(call.tx, secret.secret_id, key, tag_value)
        version_id = None
        if value is not None:
            version_id = token or new_token()
            self._add_version(call, secret, version_id, value, [CURRENT])
        call.audit_resource(RESOURCE_TYPE, arn)
        if regions:
            fresh = {version_id: value} if version_id and value else {}
            self.replication.add_regions(call, secret, regions, force_overwrite_replica, fresh)
        call.tx.mark_changed()
        return secret, version_id

    def _new_arn(self, call: Call, name: str) -> str:
        ctx = call.ctx
        suffix = "".join(pyrandom.choice(_SUFFIX) for _ in range(6))
        return f"arn:aws:secretsmanager:{ctx.region}:{ctx.account_id}:secret:{name}-{suffix}"

    # -- versions ----------------------------------------------------------------------
    def _add_version(
        self,
        call: Call,
        secret: Secret,
        version_id: str,
        value: NewValue,
        stages: Sequence[str],
    ) -> None:
        now = call.ctx.now.timestamp()
        current = store.stages(call.tx, secret.secret_id)
        after = {s: v for s, v in current.items() if s not in stages}
        after.update({s: version_id for s in stages})
        if CURRENT in stages and current.get(CURRENT) not in (None, version_id):
            after[PREVIOUS] = current[CURRENT]
        if len(after) > MAX_STAGES:
            raise LimitExceededException(
                f"A secret can have at most {MAX_STAGES} staging labels attached across its "
                "versions."
            )
        envelope, key_arn = self.values.encrypt(
            call, secret.arn, version_id, secret.kms_key_id, value.data
        )
        store.insert_version(
            call.tx,
            secret.secret_id,
            version_id,
            value.kind,
            envelope,
            digest(digest_input(value)),
            key_arn,
            now,
        )
        for stage, holder in after.items():
            if current.get(stage) != holder:
                store.set_stage(call.tx, secret.secret_id, stage, holder)
        store.update_secret(call.tx, secret.secret_id, last_changed=now)
        self._clean_deprecated(call, secret, now)

    def _clean_deprecated(self, call: Call, secret: Secret, now: float) -> None:
        versions = store.versions(call.tx, secret.secret_id)
        extra = len(versions) - MAX_VERSIONS
        if extra <= 0:
            return
        labelled = set(store.stages(call.tx, secret.secret_id).values())
        for version in reversed(versions):  # oldest first
            if extra <= 0:
                break
            if version.version_id in labelled or now - version.created_at < KEEP_YOUNGER_THAN:
                continue
            store.delete_version(call.tx, secret.secret_id, version.version_id)
            extra -= 1

    def _retry(self, call: Call, secret: Secret, token: str, value: NewValue) -> bool:
        """True: `token` names a version of `secret` holding `value` (a retried request);
        ResourceExistsException: it holds another value."""
        found = store.get_version(call.tx, secret.secret_id, token)
        if found is None:
            return False
        if not same_value(found.digest, digest_input(value)):
            raise ResourceExistsException(
                "You can't modify an existing version, you can only create a new version."
            )
        return True

    # -- PutSecretValue, UpdateSecret ----------------------------------------------------
    def put_value(
        self,
        call: Call,
        secret_id: str,
        token: str | None,
        value: NewValue | None,
        stages: Sequence[str] | None,
    ) -> tuple[Secret, str, list[str]]:
        check_token(token)
        if stages is not None:
            if not 1 <= len(stages) <= MAX_STAGES:
                raise InvalidParameterException(
                    f"VersionStages must list 1 to {MAX_STAGES} staging labels."
                )
            for stage in stages:
                check_stage(stage)
        if value is None:
            raise InvalidParameterException("You must provide either SecretString or SecretBinary.")
        secret = self.existing(call, "PutSecretValue", secret_id)
        version_id = token or new_token()
        chosen = list(dict.fromkeys(stages)) if stages is not None else [CURRENT]
        placeholder = store.get_version(call.tx, secret.secret_id, version_id)
        if placeholder is not None and placeholder.value is None:
            # RotateSecret's AWSPENDING version (rotation.py): createSecret gives its value
            store.delete_version(call.tx, secret.secret_id, version_id)
        if self._retry(call, secret, version_id, value):
            held = store.stages(call.tx, secret.secret_id)
            return secret, version_id, sorted(s for s, v in held.items() if v == version_id)
        self._add_version(call, secret, version_id, value, chosen)
        self.replication.propagate(call, secret, {version_id: value})
        call.tx.mark_changed()
        return secret, version_id, chosen

    def update(
        self,
        call: Call,
        secret_id: str,
        token: str | None,
        value: NewValue | None,
        description: str | None,
        kms_key_id: str | None,
    ) -> tuple[Secret, str | None]:
        check_token(token)
        if description is not None and len(description) > 2048:
            raise InvalidParameterException("Description must be at most 2048 characters long.")
        if kms_key_id is not None and not 1 <= len(kms_key_id) <= 2048:
            raise InvalidParameterException("KmsKeyId must be 1 to 2048 characters long.")
        extra: dict[str, list[str]] = {}
        if description is not None:
            extra["secretsmanager:Description"] = [description]
        if kms_key_id is not None:
            extra["secretsmanager:KmsKeyId"] = [kms_key_id]
        secret = self.existing(call, "UpdateSecret", secret_id, extra=extra)
        now = call.ctx.now.timestamp()
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = description
        if kms_key_id is not None:
            changes["kms_key_id"] = kms_key_id
        if changes:
            store.update_secret(call.tx, secret.secret_id, last_changed=now, **changes)
            secret = replace(secret, **changes)
        version_id = None
        if value is not None:
            version_id = token or new_token()
            if not self._retry(call, secret, version_id, value):
                self._add_version(call, secret, version_id, value, [CURRENT])
        self.replication.propagate(
            call, secret, {version_id: value} if version_id and value else {}
        )
        call.tx.mark_changed()
        return secret, version_id

    # -- GetSecretValue ------------------------------------------------------------------
    def get_value(
        self,
        call: Call,
        secret_id: str,
        version_id: str | None,
        stage: str | None,
        operation: str = "GetSecretValue",
    ) -> Opened:
        if version_id is not None and not 32 <= len(version_id) <= 64:
            raise InvalidParameterException("VersionId must be 32 to 64 characters long.")
        if stage is not None:
            check_stage(stage)
        extra: dict[str, list[str]]
        if version_id is None and stage is None:
            extra = _CURRENT_STAGE  # the common read: read only below (merged, copied)
        else:
            extra = {}
            if version_id is not None:
                extra["secretsmanager:VersionId"] = [version_id]
            label = stage or (CURRENT if version_id is None else "")
            if label:
                extra["secretsmanager:VersionStage"] = [label]
        view = self._existing_view(call, operation, secret_id, extra)
        secret = view.secret
        held = view.stages
        if version_id is None:
            label = stage or CURRENT
            chosen = held.get(label)
            if chosen is None:
                raise ResourceNotFoundException(
                    "Secrets Manager can't find the specified secret value for staging label: "
                    f"{label}"
                )
        else:
            chosen = version_id
            if stage is not None and held.get(stage) != version_id:
                raise ResourceNotFoundException(
                    "Secrets Manager can't find the specified secret value for VersionId: "
                    f"{version_id} and staging label: {stage}"
                )
        version = view.opened(call.tx, chosen)
        if version is None:  # not labelled: not cached
            version = store.get_version(call.tx, secret.secret_id, chosen)
        if version is None or version.value is None or version.value_type is None:
            raise ResourceNotFoundException(
                f"Secrets Manager can't find the specified secret value for VersionId: {chosen}"
            )
        plaintext = self.values.decrypt(call, secret.arn, chosen, secret.kms_key_id, version.value)
        today = day_of(call.ctx.now.timestamp())
        stale_secret = secret.last_accessed != today  # LastAccessedDate: a date, once a day
        stale_version = version.last_accessed != today
        if stale_secret or stale_version:
            store.record_access(
                call.tx, secret.secret_id, chosen, today, secret=stale_secret, version=stale_version
            )
        return Opened(
            secret, version, view.stages_of(chosen), NewValue(version.value_type, plaintext)
        )

    def batch_get(
        self,
        call: Call,
        ids: Sequence[str] | None,
        filters: Sequence[Any] | None,
        max_results: int | None,
        next_token: str | None,
    ) -> tuple[list[Opened], list[dict[str, str]], str | None]:
        if (ids is None) == (filters is None):
            raise InvalidParameterException(
                "Either SecretIdList or Filters must be specified, but not both."
            )
        if ids is not None and (max_results is not None or next_token is not None):
            raise InvalidParameterException(
                "MaxResults and NextToken can only be used with Filters."
            )
        if ids is not None and not 1 <= len(ids) <= 20:
            raise InvalidParameterException("SecretIdList must list 1 to 20 secrets.")
        self.authorizer.authorize(call, ACTIONS["BatchGetSecretValue"].action, "*", {})
        token = None
        if ids is None:
            assert filters is not None
            size = page_size(max_results, 20)
            matching = self._filtered(call, filters, include_deleted=False)
            start = read_token(next_token)
            page = matching[start : start + size]
            token = token_after(start + size) if start + size < len(matching) else None
            ids = [s.arn for s in page]
        found: list[Opened] = []
        errors: list[dict[str, str]] = []
        for secret_id in dict.fromkeys(ids):
            savepoint = call.tx.savepoint()
            try:
                found.append(self.get_value(call, secret_id, None, None))
                savepoint.commit()
            except AwsError as err:
                savepoint.rollback()
                errors.append(
                    {"SecretId": secret_id, "ErrorCode": err.code, "Message": err.message}
                )
        return found, errors, token

    # -- UpdateSecretVersionStage ---------------------------------------------------------
    def move_stage(
        self,
        call: Call,
        secret_id: str,
        stage: str,
        remove_from: str | None,
        move_to: str | None,
    ) -> Secret:
        check_stage(stage)
        for vid in (remove_from, move_to):
            if vid is not None and not 32 <= len(vid) <= 64:
                raise InvalidParameterException("A version ID must be 32 to 64 characters long.")
        secret = self.existing(
            call,
            "UpdateSecretVersionStage",
            secret_id,
            extra={"secretsmanager:VersionStage": [stage]},
        )
        held = store.stages(call.tx, secret.secret_id)
        holder = held.get(stage)
        if move_to is None and remove_from is None:
            raise InvalidParameterException(
                "You must specify MoveToVersionId, RemoveFromVersionId or both."
            )
        if move_to is not None and store.get_version(call.tx, secret.secret_id, move_to) is None:
            raise ResourceNotFoundException(
                f"Secrets Manager can't find the specified secret version: {move_to}"
            )
        if move_to is None:
            if stage == CURRENT:
                raise InvalidParameterException(
                    "You can only move staging label AWSCURRENT to a different secret version. "
                    "It can't be completely removed."
                )
            if holder != remove_from:
                raise InvalidParameterException(
                    f"The staging label {stage} is not attached to version {remove_from}."
                )
            store.remove_stage(call.tx, secret.secret_id, stage)
        else:
            if holder is not None and holder != move_to and remove_from != holder:
                raise InvalidParameterException(
                    f"The staging label {stage} is currently attached to version {holder}, so "
                    "you must explicitly reference that version in RemoveFromVersionId."
                )
            if remove_from is not None and holder != remove_from:
                raise InvalidParameterException(
                    f"The staging label {stage} is not attached to version {remove_from}."
                )
            if holder != move_to:
                if stage not in held and len(held) + 1 > MAX_STAGES:
                    raise LimitExceededException(
                        f"A secret can have at most {MAX_STAGES} staging labels attached across "
                        "its versions."
                    )
                store.set_stage(call.tx, secret.secret_id, stage, move_to)
                if stage == CURRENT and holder is not None:
                    store.set_stage(call.tx, secret.secret_id, PREVIOUS, holder)
        store.update_secret(call.tx, secret.secret_id, last_changed=call.ctx.now.timestamp())
        self.replication.propagate(call, secret)
        call.tx.mark_changed()
        return secret

    # -- reads of metadata ----------------------------------------------------------------
    def describe(self, call: Call, secret_id: str) -> Secret:
        return self.existing(call, "DescribeSecret", secret_id, deleted_ok=True)

    def list_versions(
        self,
        call: Call,
        secret_id: str,
        include_deprecated: bool,
        max_results: int | None,
        next_token: str | None,
    ) -> tuple[Secret, list[tuple[Version, list[str]]], str | None]:
        size = page_size(max_results, 100)
        start = read_token(next_token)
        secret = self.existing(call, "ListSecretVersionIds", secret_id, deleted_ok=True)
        held = store.stages(call.tx, secret.secret_id)
        rows: list[tuple[Version, list[str]]] = []
        for version in store.versions(call.tx, secret.secret_id):
            labels = sorted(s for s, v in held.items() if v == version.version_id)
            if labels or include_deprecated:
                rows.append((version, labels))
        page = rows[start : start + size]
        token = token_after(start + size) if start + size < len(rows) else None
        return secret, page, token

    def list_secrets(
        self,
        call: Call,
        filters: Sequence[Any],
        include_deleted: bool,
        sort_order: str | None,
        sort_by: str | None,
        max_results: int | None,
        next_token: str | None,
    ) -> tuple[list[Secret], str | None]:
        size = page_size(max_results, 100)
        start = read_token(next_token)
        if sort_order not in (None, "asc", "desc"):
            raise InvalidParameterException("SortOrder must be asc or desc.")
        if sort_by is not None and sort_by not in SORT_BY:
            raise InvalidParameterException(
                "SortBy must be one of created-date, last-accessed-date, last-changed-date, name."
            )
        self.authorizer.authorize(call, ACTIONS["ListSecrets"].action, "*", {})
        matching = self._filtered(call, filters, include_deleted)
        matching.sort(key=lambda s: sort_key(s, sort_by), reverse=sort_order != "asc")
        page = matching[start : start + size]
        token = token_after(start + size) if start + size < len(matching) else None
        return page, token

    def _filtered(self, call: Call, filters: Sequence[Any], include_deleted: bool) -> list[Secret]:
        checked = check_filters(filters)
        ctx = call.ctx
        out = []
        for secret in store.all_secrets(call.tx, ctx.account_id, ctx.region):
            if secret.deleted_at is not None and not include_deleted:
                continue
            tags = store.tags(call.tx, secret.secret_id) if checked else {}
            if all(matches(secret, tags, key, values) for key, values in checked):
                out.append(secret)
        return out

    # -- DeleteSecret, RestoreSecret --------------------------------------------------------
    def delete(
        self, call: Call, secret_id: str, window: int | None, force: bool | None
    ) -> tuple[Secret, float]:
        if window is not None and force:
            raise InvalidParameterException(
                "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays."
            )
        if window is not None and not 7 <= window <= 30:
            raise InvalidParameterException(
                "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive)."
            )
        extra: dict[str, list[str]] = {}
        if window is not None:
            extra["secretsmanager:RecoveryWindowInDays"] = [str(window)]
        if force is not None:
            extra["secretsmanager:ForceDeleteWithoutRecovery"] = [str(bool(force)).lower()]
        secret = self.existing(call, "DeleteSecret", secret_id, extra=extra, deleted_ok=True)
        self.replication.refuse_delete_with_replicas(call, secret)
        now = call.ctx.now.timestamp()
        if force:
            store.delete_secret(call.tx, secret.secret_id)
            call.tx.mark_changed()
            return secret, now
        if secret.deleted_at is not None:
            raise InvalidRequestException(MARKED_DELETED)
        when = now + (30 if window is None else window) * DAY
        store.update_secret(call.tx, secret.secret_id, deleted_at=now, deletion_date=when)
        call.tx.mark_changed()
        return secret, when

    def restore(self, call: Call, secret_id: str) -> Secret:
        secret = self.existing(call, "RestoreSecret", secret_id, deleted_ok=True)
        if secret.deleted_at is not None:
            store.update_secret(call.tx, secret.secret_id, deleted_at=None, deletion_date=None)
            call.tx.mark_changed()
        return secret

    # -- tags ---------------------------------------------------------------------------
    def tag(self, call: Call, secret_id: str, tags: Sequence[tuple[str, str]]) -> None:
        check_tags(tags)
        context: dict[str, list[str]] = {"aws:TagKeys": [k for k, _ in tags]}
        context.update({f"aws:RequestTag/{k}": [v] for k, v in tags})
        secret = self.existing(call, "TagResource", secret_id, extra=context)
        current = store.tags(call.tx, secret.secret_id)
        if len(set(current) | {k for k, _ in tags}) > MAX_TAGS:
            raise InvalidParameterException(f"A secret can have at most {MAX_TAGS} tags.")
        for key, value in tags:
            store.put_tag(call.tx, secret.secret_id, key, value)
        self.replication.propagate(call, secret)
        call.tx.mark_changed()

    def untag(self, call: Call, secret_id: str, keys: Sequence[str]) -> None:
        for key in keys:
            if not 1 <= len(key) <= 128:
                raise InvalidParameterException("A tag key must be 1 to 128 characters long.")
        secret = self.existing(call, "UntagResource", secret_id, extra={"aws:TagKeys": list(keys)})
        for key in keys:
            store.remove_tag(call.tx, secret.secret_id, key)
        self.replication.propagate(call, secret)
        call.tx.mark_changed()

    def tags_of(self, call: Call, secret: Secret) -> dict[str, str]:
        return store.tags(call.tx, secret.secret_id)

    def stages_of(self, call: Call, secret: Secret) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for stage, version_id in sorted(store.stages(call.tx, secret.secret_id).items()):
            out.setdefault(version_id, []).append(stage)
        return out

    # -- resource policies ---------------------------------------------------------------
    def put_policy(
        self, call: Call, secret_id: str, document: str, block_public: bool | None
    ) -> Secret:
        extra = {}
        if block_public is not None:
            extra["secretsmanager:BlockPublicPolicy"] = [str(bool(block_public)).lower()]
        secret = self.existing(call, "PutResourcePolicy", secret_id, extra=extra)
        errors = policy_errors(document)
        if errors:
            raise MalformedPolicyDocumentException(errors[0])
        if block_public and is_public(orjson.loads(document)):
            raise PublicPolicyException(
                "This resource policy contains a public policy, which Secrets Manager blocks "
                "because BlockPublicPolicy is set to true."
            )
        store.put_policy(call.tx, secret.secret_id, document)
        self.replication.propagate(call, secret)
        call.tx.mark_changed()
        return secret

    def get_policy(self, call: Call, secret_id: str) -> tuple[Secret, str | None]:
        secret = self.existing(call, "GetResourcePolicy", secret_id, deleted_ok=True)
        return secret, store.policy(call.tx, secret.secret_id)

    def delete_policy(self, call: Call, secret_id: str) -> Secret:
        secret = self.existing(call, "DeleteResourcePolicy", secret_id)
        store.delete_policy(call.tx, secret.secret_id)
        self.replication.propagate(call, secret)
        call.tx.mark_changed()
        return secret

    def validate_policy(
        self, call: Call, secret_id: str | None, document: str
    ) -> list[dict[str, str]]:
        if secret_id is not None:
            self.existing(call, "ValidateResourcePolicy", secret_id)
        else:
            self.authorizer.authorize(call, ACTIONS["ValidateResourcePolicy"].action, "*", {})
        errors = [
            {"CheckName": "MALFORMED_POLICY_DOCUMENT", "ErrorMessage": text}
            for text in policy_errors(document)
        ]
        if not errors and is_public(orjson.loads(document)):
            errors.append(
                {
                    "CheckName": "BROAD_ACCESS",
                    "ErrorMessage": "This resource policy grants broad (public) access to the "
                    "secret: its principal is a wildcard not restricted by a condition.",
                }
            )
        return errors
