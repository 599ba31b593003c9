"""Key lifecycle use cases: create, describe, list, enable/disable, deletion,
description, key policy, tags, last usage.

Each method takes the `Call` (context, transaction, audit resources) and the
request's members as arguments, does AWS's checks in AWS's order (find the
key, authorise, check the key state, validate), then changes the store and
drops what the cache held of the key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from garrison.api import Call
from garrison.services.kms import store
from garrison.services.kms.access import KeyAccess, Target, audit_key
from garrison.services.kms.asymmetric import new_key_material
from garrison.services.kms.cache import KmsCache
from garrison.services.kms.ciphertext import new_material
from garrison.services.kms.domain import (
    DEFAULT_PENDING_WINDOW_DAYS,
    ENCRYPT_DECRYPT,
    KEY_SPEC_USAGES,
    MAX_PENDING_WINDOW_DAYS,
    MIN_PENDING_WINDOW_DAYS,
    ORIGIN_AWS_KMS,
    ORIGIN_EXTERNAL,
    SYMMETRIC_DEFAULT,
    UNSUPPORTED_KEY_SPECS,
    Key,
    KeyManager,
    KeyState,
    KeyVersion,
    LastUsage,
    key_arn,
    new_key_id,
    new_multi_region_key_id,
    row_key_id,
)
from garrison.services.kms.errors import (
    CustomKeyStoreNotFoundException,
    LimitExceededException,
    NotFoundException,
    TagException,
    UnsupportedOperationException,
    ValidationException,
)
from garrison.services.kms.identifiers import decode_marker, encode_marker, page_size
from garrison.services.kms.import_material import check_importable
from garrison.services.kms.import_store import insert_external_key, materials_imported
from garrison.services.kms.keypolicy import (
    caller_context,
    check_lockout,
    compile_key_policy,
    default_key_policy,
    request_tags_context,
)
from garrison.services.kms.multiregion_store import check_region_name, has_replicas
from garrison.services.kms.multiregion_store import insert_set as insert_multi_region_set
from garrison.storage.writer import Tx

T = TypeVar("T")

MAX_TAGS_PER_KEY = 50
POLICY_NAME = "default"


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    """One page of a listing; `next_marker` is None on the last page."""

    items: list[T]
    next_marker: str | None = None


def new_material_id() -> str:
    return new_material().hex()  # 64 hex digits, as KMS's key material ids


def insert_new_key(
    tx: Tx,
    *,
    key_id: str | None = None,
    account_id: str,
    region: str,
    now: datetime,
    description: str,
    policy: str,
    key_manager: KeyManager,
    rotation_period_days: int | None = None,
    next_rotation_at: datetime | None = None,
    key_spec: str = SYMMETRIC_DEFAULT,
    key_usage: str = ENCRYPT_DECRYPT,
) -> Key:
    """Create a key and its first key material (generated for its key spec)."""
    key_id = key_id or new_key_id()
    first = KeyVersion(key_id, 1, new_material_id(), now, None)
    key = Key(
        key_id=key_id,
        account_id=account_id,
        region=region,
        description=description,
        key_usage=key_usage,
        key_spec=key_spec,
        origin=ORIGIN_AWS_KMS,
        key_manager=key_manager,
        state=KeyState.ENABLED,
        created_at=now,
        policy=policy,
        current_version=1,
        current_material_id=first.material_id,
        rotation_period_days=rotation_period_days,
        next_rotation_at=next_rotation_at,
    )
    store.insert_key(tx, key)
    material = new_material() if key_spec == SYMMETRIC_DEFAULT else new_key_material(key_spec)
    store.insert_version(tx, first, material)
    tx.mark_changed()
    return key


def parse_tags(tags: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    """The Tags member as a dict (a repeated tag key keeps its last value)."""
    return {tag["TagKey"]: tag["TagValue"] for tag in tags or ()}


def check_tag_keys(names: Sequence[str]) -> None:
    for name in names:
        if name.lower().startswith("aws:"):
            raise TagException("Tags beginning with aws: are reserved")


def check_tag_count(count: int) -> None:
    if count > MAX_TAGS_PER_KEY:
        raise LimitExceededException(
            f"The request was rejected because a KMS key can have at most {MAX_TAGS_PER_KEY} tags."
        )


def check_spec_and_usage(spec: str, usage: str, *, explicit_usage: bool) -> None:
    """AWS's errors for a KeySpec this release does not create, or a KeyUsage it does not admit."""
    if spec in UNSUPPORTED_KEY_SPECS:
        raise UnsupportedOperationException(
            f"KeySpec {spec} is not supported by this Garrison release: "
            f"{UNSUPPORTED_KEY_SPECS[spec]}."
        )
    allowed = KEY_SPEC_USAGES.get(spec)
    if allowed is None:  # a spec of a newer model than the pinned one
        raise UnsupportedOperationException(
            f"KeySpec {spec} is not supported by this Garrison release."
        )
    if usage not in allowed:
        hint = "" if explicit_usage else " KeyUsage is required for this KeySpec."
        raise ValidationException(
            f"KeyUsage {usage} is not compatible with KeySpec {spec}; "
            f"valid usages: {', '.join(allowed)}.{hint}"
        )


def unsupported_for_aws_managed(key: Key, operation: str) -> None:
    """AWS managed keys are managed by AWS: their policies refuse this, and so do we."""
    if key.aws_managed:
        raise UnsupportedOperationException(
            f"{key.arn} is an AWS managed key; {operation} applies to customer managed keys only."
        )


class KeyUseCases:
    def __init__(self, access: KeyAccess, cache: KmsCache, *, max_keys: int) -> None:
        self.access = access
        self.cache = cache
        self.max_keys = max_keys

    def _save(self, call: Call, key: Key, *, material: bool = False) -> None:
        store.update_key(call.tx, key)
        self.cache.invalidate_key(call.tx, key.key_id, material=material)
        call.tx.mark_changed()

    def _find_and_authorize(
        self,
        call: Call,
        key_id: str,
        action: str,
        *,
        aliases: bool = False,
        fresh: bool = True,
        extra: Mapping[str, Sequence[str]] | None = None,
    ) -> Target:
        target = self.access.find(call, key_id, aliases=aliases, fresh=fresh)
        self.access.authorize(call, target, action, extra)
        return target

    # -- CreateKey ---------------------------------------------------------------
    def create_key(
        self,
        call: Call,
        *,
        description: str = "",
        key_usage: str | None = None,
        key_spec: str | None = None,
        customer_master_key_spec: str | None = None,
        origin: str | None = None,
        custom_key_store_id: str | None = None,
        xks_key_id: str | None = None,
        multi_region: bool | None = None,
        policy: str | None = None,
        bypass_policy_lockout_safety_check: bool = False,
        tags: Sequence[Mapping[str, str]] | None = None,
    ) -> Key:
        ctx = call.ctx
        requested_tags = parse_tags(tags)
        spec = key_spec or customer_master_key_spec or SYMMETRIC_DEFAULT
        usage = key_usage or ENCRYPT_DECRYPT
        key_origin = origin or ORIGIN_AWS_KMS
        condition_keys: dict[str, Sequence[str]] = {
            "kms:KeySpec": (spec,),
            "kms:KeyUsage": (usage,),
            "kms:KeyOrigin": (key_origin,),
            "kms:MultiRegion": ("true" if multi_region else "false",),
            "kms:BypassPolicyLockoutSafetyCheck": (
                "true" if bypass_policy_lockout_safety_check else "false",
            ),
        }
        if requested_tags:
            condition_keys.update(request_tags_context(requested_tags))
        self.access.authorize_identity(call, "kms:CreateKey", "*", condition_keys)

        if key_spec and customer_master_key_spec:
            raise ValidationException(
                "You cannot specify KeySpec and CustomerMasterKeySpec in the same request. "
                "CustomerMasterKeySpec is deprecated."
            )
        if custom_key_store_id is not None:
            raise CustomKeyStoreNotFoundException(
                f"Custom key store '{custom_key_store_id}' does not exist."
            )
        if xks_key_id is not None:
            raise UnsupportedOperationException(
                "XksKeyId applies to keys in an external key store, which this Garrison "
                "release does not support."
            )
        if key_origin not in (ORIGIN_AWS_KMS, ORIGIN_EXTERNAL):
            raise UnsupportedOperationException(
                f"Origin {key_origin} is not supported by this Garrison release; "
                f"only {ORIGIN_AWS_KMS} and {ORIGIN_EXTERNAL} keys can be created."
            )
        if key_origin == ORIGIN_EXTERNAL:  # imported key material (import_material.py)
            check_importable(spec)
        check_spec_and_usage(spec, usage, explicit_usage=key_usage is not None)
        check_tag_keys(list(requested_tags))
        check_tag_count(len(requested_tags))
        if store.count_customer_keys(call.tx, ctx.account_id, ctx.region) >= self.max_keys:
            raise LimitExceededException(
                f"The request was rejected because the account and Region already have "
                f"{self.max_keys} customer managed KMS keys, the quota."
            )

        # a multi-Region key (multiregion.py): mrk- id, store id mrk-...@<region>
        if multi_region:
            check_region_name(ctx.region)
        new_id = row_key_id(new_multi_region_key_id(), ctx.region) if multi_region else new_key_id()
        document = policy if policy is not None else default_key_policy(ctx.account_id)
        compiled = compile_key_policy(document)
        if policy is not None and not bypass_policy_lockout_safety_check:
            arn = key_arn(ctx.account_id, ctx.region, new_id)
            check_lockout(compiled, ctx, arn, caller_context(ctx))

        create = insert_external_key if key_origin == ORIGIN_EXTERNAL else insert_new_key
        key = create(
            call.tx,
            key_id=new_id,
            account_id=ctx.account_id,
            region=ctx.region,
            now=ctx.now,
            description=description,
            policy=document,
            key_manager=KeyManager.CUSTOMER,
            key_spec=spec,
            key_usage=usage,
        )
        store.put_tags(call.tx, key.key_id, requested_tags)
        if multi_region:  # the primary of a new set of related multi-Region keys
            insert_multi_region_set(call.tx, key.public_id, key.account_id, key.region)
        audit_key(call, key.arn)
        return key

    # -- reading -------------------------------------------------------------------
    def describe_key(self, call: Call, key_id: str) -> Key:
        # AWS: DescribeKey on a predefined AWS alias with no key creates its AWS managed key
        target = self.access.find(call, key_id, aliases=True, create_predefined=True)
        self.access.authorize(call, target, "kms:DescribeKey")
        return target.key

    def list_keys(self, call: Call, *, limit: int | None, marker: str | None) -> Page[str]:
        """Key ARNs of the caller's account and Region (every state), by key id."""
        self.access.authorize_identity(call, "kms:ListKeys")
        after = decode_marker("keys", marker)
        size = page_size(limit, default=100, maximum=1000)
        ctx = call.ctx
        ids = store.list_key_ids(call.tx, ctx.account_id, ctx.region, after, size + 1)
        more = len(ids) > size
        ids = ids[:size]
        arns = [key_arn(ctx.account_id, ctx.region, key_id) for key_id in ids]
        return Page(arns, encode_marker("keys", ids[-1]) if more else None)

    # -- state ---------------------------------------------------------------------
    def enable_key(self, call: Call, key_id: str) -> None:
        target = self._find_and_authorize(call, key_id, "kms:EnableKey")
        unsupported_for_aws_managed(target.key, "EnableKey")
        self._save(call, target.key.enable())

    def disable_key(self, call: Call, key_id: str) -> None:
        target = self._find_and_authorize(call, key_id, "kms:DisableKey")
        unsupported_for_aws_managed(target.key, "DisableKey")
        self._save(call, target.key.disable())

    def schedule_key_deletion(self, call: Call, key_id: str, days: int | None) -> Key:
        window = DEFAULT_PENDING_WINDOW_DAYS if days is None else days
        target = self._find_and_authorize(
            call,
            key_id,
            "kms:ScheduleKeyDeletion",
            extra={"kms:ScheduleKeyDeletionPendingWindowInDays": (str(window),)},
        )
        if window < MIN_PENDING_WINDOW_DAYS or window > MAX_PENDING_WINDOW_DAYS:
            bound = (
                f"greater than or equal to {MIN_PENDING_WINDOW_DAYS}"
                if window < MIN_PENDING_WINDOW_DAYS
                else f"less than or equal to {MAX_PENDING_WINDOW_DAYS}"
            )
            raise ValidationException(
                f"1 validation error detected: Value '{window}' at 'pendingWindowInDays' "
                f"failed to satisfy constraint: Member must have value {bound}"
            )
        unsupported_for_aws_managed(target.key, "ScheduleKeyDeletion")
        key = target.key.schedule_deletion(call.ctx.now, window)
        if has_replicas(call.tx, key):  # multi-Region primary: its replicas go first
            key = key.pending_replica_deletion()
        self._save(call, key)
        return key

    def cancel_key_deletion(self, call: Call, key_id: str) -> Key:
        target = self._find_and_authorize(call, key_id, "kms:CancelKeyDeletion")
        complete = target.key.origin != ORIGIN_EXTERNAL or materials_imported(
            call.tx, target.key.key_id, target.key.current_version
        )
        key = target.key.cancel_deletion(materials_imported=complete)
        self._save(call, key)
        return key

    def update_key_description(self, call: Call, key_id: str, description: str) -> None:
        target = self._find_and_authorize(call, key_id, "kms:UpdateKeyDescription")
        unsupported_for_aws_managed(target.key, "UpdateKeyDescription")
        self._save(call, target.key.with_description(description))

    # -- key policy ------------------------------------------------------------------
    @staticmethod
    def _check_policy_name(name: str | None) -> None:
        if name is not None and name != POLICY_NAME:
            raise NotFoundException("No such policy exists")

    def get_key_policy(self, call: Call, key_id: str, policy_name: str | None) -> str:
        target = self._find_and_authorize(call, key_id, "kms:GetKeyPolicy", fresh=False)
        self._check_policy_name(policy_name)
        return target.key.policy

    def put_key_policy(
        self,
        call: Call,
        key_id: str,
        *,
        policy: str,
        policy_name: str | None,
        bypass_policy_lockout_safety_check: bool = False,
    ) -> None:
        bypass = "true" if bypass_policy_lockout_safety_check else "false"
        target = self._find_and_authorize(
            call,
            key_id,
            "kms:PutKeyPolicy",
            extra={"kms:BypassPolicyLockoutSafetyCheck": (bypass,)},
        )
        self._check_policy_name(policy_name)
        unsupported_for_aws_managed(target.key, "PutKeyPolicy")
        compiled = compile_key_policy(policy)
        if not bypass_policy_lockout_safety_check:
            check_lockout(compiled, call.ctx, target.key.arn, caller_context(call.ctx))
        self._save(call, target.key.with_policy(policy))

    def list_key_policies(
        self, call: Call, key_id: str, *, limit: int | None, marker: str | None
    ) -> Page[str]:
        self._find_and_authorize(call, key_id, "kms:ListKeyPolicies", fresh=False)
        # One policy fits any Limit (>= 1), so no page has a successor and no marker is valid.
        decode_marker("policies", marker)
        return Page([POLICY_NAME])

    # -- tags ------------------------------------------------------------------------
    def tag_resource(self, call: Call, key_id: str, tags: Sequence[Mapping[str, str]]) -> None:
        requested = parse_tags(tags)
        target = self._find_and_authorize(
            call, key_id, "kms:TagResource", extra=request_tags_context(requested)
        )
        key = target.key
        key.require("TagResource")
        unsupported_for_aws_managed(key, "TagResource")
        check_tag_keys(list(requested))
        existing = target.view.facts.tags
        check_tag_count(len(set(existing) | set(requested)))
        store.put_tags(call.tx, key.key_id, requested)
        self.cache.invalidate_key(call.tx, key.key_id)
        call.tx.mark_changed()

    def untag_resource(self, call: Call, key_id: str, tag_keys: Sequence[str]) -> None:
        target = self._find_and_authorize(
            call, key_id, "kms:UntagResource", extra={"aws:TagKeys": tuple(tag_keys)}
        )
        key = target.key
        key.require("UntagResource")
        unsupported_for_aws_managed(key, "UntagResource")
        check_tag_keys(tag_keys)
        store.remove_tags(call.tx, key.key_id, tag_keys)
        self.cache.invalidate_key(call.tx, key.key_id)
        call.tx.mark_changed()

    def list_resource_tags(
        self, call: Call, key_id: str, *, limit: int | None, marker: str | None
    ) -> Page[tuple[str, str]]:
        target = self._find_and_authorize(call, key_id, "kms:ListResourceTags", fresh=False)
        after = decode_marker("tags", marker)
        size = page_size(limit, default=50, maximum=50)
        pairs = sorted(target.view.facts.tags.items())
        if after is not None:
            pairs = [pair for pair in pairs if pair[0] > after]
        more = len(pairs) > size
        pairs = pairs[:size]
        return Page(pairs, encode_marker("tags", pairs[-1][0]) if more else None)

    # -- GetKeyLastUsage -----------------------------------------------------------
    def get_key_last_usage(
        self, call: Call, key_id: str
    ) -> tuple[Key, LastUsage | None, str | None]:
        """The key, its last successful cryptographic use and that call's CloudTrail event id."""
        target = self._find_and_authorize(call, key_id, "kms:GetKeyLastUsage", fresh=False)
        found = store.last_usage(call.tx, target.key.key_id)
        if found is None:
            return target.key, None, None
        return target.key, found[0], found[1]
