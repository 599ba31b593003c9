"""Parameter Store's use cases: put, read, list, history, delete, labels.

PutParameter, in the order its checks run (each refusal is AWS's error):

    name rules                    ValidationException / HierarchyLevelLimitExceeded
    Tags with Overwrite           ValidationException
    authorise                     ssm:PutParameter (+ ssm:AddTagsToResource with Tags)
    exists without Overwrite      ParameterAlreadyExists
    Type, DataType, KeyId         ValidationException; SecureString <-> other types:
                                  HierarchyTypeMismatchException
    AllowedPattern                InvalidAllowedPatternException /
                                  ParameterPatternMismatchException
    Policies                      InvalidPolicy* / IncompatiblePolicy / PoliciesLimit
    tier and value size           ValidationException (size, Advanced -> Standard,
                                  policies on Standard)
    quota of the tier             ParameterLimitExceeded
    version limit                 the oldest version goes, unless it has a label:
                                  ParameterMaxVersionLimitExceeded
      -> encrypt (SecureString, KMS as the caller), store the version sealed,
         tags, policy actions

On overwrite, members left out keep the previous version's value (Type,
Description, AllowedPattern, KeyId, DataType, Tier, Policies); Policies "[]"
removes them.

Every failure happens before anything is written, and the pipeline rolls the
call's savepoint back on any error: nothing is ever half-written.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Sequence
from dataclasses import replace

from garrison.api import Call
from garrison.iam.authorizer import Authorizer
from garrison.services.kms.service import KmsService
from garrison.services.ssm import store
from garrison.services.ssm.actions import ACTIONS, ADD_TAGS
from garrison.services.ssm.cache import ParameterCache, ParameterView
from garrison.services.ssm.domain import (
    ADVANCED,
    DEFAULT_KEY_ID,
    MAX_LABELS_PER_VERSION,
    MAX_VALUE_BYTES,
    MAX_VERSIONS,
    SECURE_STRING,
    STANDARD,
    TEXT,
    UNSERVED_DATA_TYPES,
    Parameter,
    ParameterVersion,
    PutRequest,
    Resolved,
    choose_tier,
    parameter_arn,
)
from garrison.services.ssm.errors import (
    HierarchyTypeMismatchException,
    InvalidNextToken,
    ParameterAlreadyExists,
    ParameterLimitExceeded,
    ParameterMaxVersionLimitExceeded,
    ParameterNotFound,
    ParameterVersionLabelLimitExceeded,
    ParameterVersionNotFound,
    TooManyUpdates,
    UnsupportedOperationException,
    ValidationException,
)
from garrison.services.ssm.events import CREATE, DELETE, LABEL, UPDATE, Publish, change_event
from garrison.services.ssm.filters import PathFilters
from garrison.services.ssm.jobs import schedule_actions
from garrison.services.ssm.names import (
    Reference,
    check_new_name,
    check_path,
    parse_reference,
    spellings,
    valid_label,
)
from garrison.services.ssm.paging import next_token_after, read_token
from garrison.services.ssm.policies import (
    from_stored,
    parse_policies,
    stored_text,
)
from garrison.services.ssm.rules import (
    ALREADY_EXISTS,
    DOWNGRADE,
    QUOTA,
    TAGS_WITH_OVERWRITE,
    TYPE_CHANGE,
    check_pattern,
    check_tags,
    too_large,
)
from garrison.services.ssm.secure import SecureStrings
from garrison.services.ssm.sharing import policy_of
from garrison.storage.sql import IntegrityError

DEFAULT_MAX_STANDARD = 10_000
DEFAULT_MAX_ADVANCED = 100_000
MAX_REFERENCES = 4096  # names parsed and kept (`_reference`; at most ~8 MB), then all dropped


class ParameterStore:
    def __init__(
        self,
        authorizer: Authorizer,
        kms: KmsService,
        *,
        max_standard: int = DEFAULT_MAX_STANDARD,
        max_advanced: int = DEFAULT_MAX_ADVANCED,
        publish: Publish | None = None,
    ) -> None:
        self.authorizer = authorizer
        self.secure = SecureStrings(kms)
        self.quotas = {STANDARD: max_standard, ADVANCED: max_advanced}
        self.publish = publish  # the event bus (None: events are not published)
        self.cache = ParameterCache()  # the reads' (cache.py)
        # a read's Name -> (its reference, the spellings of its name), parsed once
        self._references: dict[str, tuple[Reference | None, tuple[str, ...]]] = {}

    # -- authorisation -----------------------------------------------------------------
    def _authorize(
        self,
        call: Call,
        operation: str,
        arn: str,
        parameter: Parameter | None,
        extra: dict[str, list[str]] | None = None,
        view: ParameterView | None = None,
    ) -> None:
        """`view`: the cached view of `parameter` (its tags and resource policy, no read)."""
        context: dict[str, list[str]] = dict(extra or {})
        if parameter is None:
            self.authorizer.authorize(call, ACTIONS[operation].action, arn, context)
            return
        if view is not None:
            if context:
                context.update(view.tag_context)
            else:
                context = view.tag_context  # read only: the authorizer copies what it merges
            policy = view.policy
        else:
            for key, value in store.tags_of(call.tx, parameter.parameter_id).items():
                context[f"aws:ResourceTag/{key}"] = [value]
            policy = policy_of(call.tx, parameter)
        # a shared (Advanced) parameter's resource policies: cross-account reads
        self.authorizer.authorize(
            call,
            ACTIONS[operation].action,
            arn,
            context,
            resource_policy=policy,
            resource_account=parameter.account_id,
        )

    def authorize_on(
        self, call: Call, operation: str, arn: str, parameter: Parameter | None
    ) -> None:
        """`operation` on `arn` (the parameter's, if it exists), for the tag, describe and
        sharing use cases."""
        self._authorize(call, operation, arn, parameter)

    def _changed(self, call: Call, operation: str, version: ParameterVersion | None) -> None:
        """Publish "Parameter Store Change" for `version`'s parameter, in the call's tx."""
        if self.publish is None or version is None:
            return
        ctx = call.ctx
        event = change_event(
            account_id=ctx.account_id,
            region=ctx.region,
            time=ctx.now,
            operation=operation,
            name=version.parameter.name,
            type=version.type,
            description=version.description,
        )
        self.publish(call.tx, (event,))

    def _arn(self, call: Call, name: str) -> str:
        return parameter_arn(call.ctx.region, call.ctx.account_id, name)

    def _find(self, call: Call, name: str) -> Parameter | None:
        ctx = call.ctx
        return store.find(call.tx, ctx.account_id, ctx.region, spellings(name))

    def _existing(self, call: Call, operation: str, name: str) -> Parameter:
        """The parameter `name` (or its ARN) names, once `operation` is authorised on it;
        ParameterNotFound (after authorising on the ARN it would have) otherwise."""
        ref = parse_reference(name, selectors=False)
        parameter = self._lookup(call, ref) if ref is not None else None
        arn = parameter.arn if parameter is not None else self._arn(call, ref.name if ref else name)
        self._authorize(call, operation, arn, parameter)
        if parameter is None:
            raise ParameterNotFound(f"Parameter {name} not found.")
        call.audit_resource("AWS::SSM::Parameter", arn)
        return parameter

    # -- PutParameter ------------------------------------------------------------------
    def put(self, call: Call, req: PutRequest) -> tuple[int, str]:
        ctx = call.ctx
        name = check_new_name(req.name, ctx.region, ctx.account_id)
        if req.tags and req.overwrite:
            raise ValidationException(TAGS_WITH_OVERWRITE)
        check_tags(req.tags)
        existing = self._find(call, name)
        if existing is not None:
            name = existing.name  # the spelling it was created with
        arn = self._arn(call, name)
        context = {"ssm:Overwrite": ["true" if req.overwrite else "false"]}
        if req.policies is not None:
            context["ssm:Policies"] = [req.policies]
        if req.tags:
            context["aws:TagKeys"] = [k for k, _ in req.tags]
            context.update({f"aws:RequestTag/{k}": [v] for k, v in req.tags})
        self._authorize(call, "PutParameter", arn, existing, context)
        if req.tags:
            self.authorizer.authorize(call, ADD_TAGS, arn, context)
        previous: ParameterVersion | None = None
        if existing is not None:
            if not req.overwrite:
                raise ParameterAlreadyExists(ALREADY_EXISTS)
            previous = store.get_version(call.tx, existing)
        version = self._new_version(call, req, name, existing, previous)
        self._check_quota(call, existing, version.tier)
        if existing is not None:
            self._make_room(call, existing)
        self._store(call, req, version, existing)
        self._changed(call, CREATE if existing is None else UPDATE, version)
        call.audit_resource("AWS::SSM::Parameter", arn)
        return version.version, version.tier

    def _new_version(
        self,
        call: Call,
        req: PutRequest,
        name: str,
        existing: Parameter | None,
        previous: ParameterVersion | None,
    ) -> ParameterVersion:
        ctx = call.ctx
        now = ctx.now.timestamp()
        kind = req.type or (previous.type if previous else None)
        if kind is None:
            raise ValidationException("A parameter type is required when you create a parameter.")
        if (
            previous is not None
            and kind != previous.type
            and SECURE_STRING in (kind, previous.type)
        ):
            raise HierarchyTypeMismatchException(TYPE_CHANGE)
        data_type = req.data_type or (previous.data_type if previous else TEXT)
        if data_type in UNSERVED_DATA_TYPES:
            raise UnsupportedOperationException(
                f"The data type {data_type} is not supported by this Garrison release: it is "
                "validated against a service Garrison does not serve. Use text."
            )
        if data_type != TEXT:
            raise ValidationException(
                f"The following data type is not supported: {data_type} (Data type names are "
                "all lowercase.)"
            )
        if req.key_id is not None and kind != SECURE_STRING:
            raise ValidationException("KeyId is required for SecureString type parameter only.")
        if not req.value:
            raise ValidationException(
                "1 validation error detected: Value at 'value' failed to satisfy constraint: "
                "Member must have length greater than or equal to 1"
            )
        pattern = req.allowed_pattern
        if pattern is None and previous is not None:
            pattern = previous.allowed_pattern
        check_pattern(pattern or None, req.value)
        policies = _policies(req.policies, previous, now)
        has_policies = bool(from_stored(policies))
        size = len(req.value.encode())
        current = existing.tier if existing is not None else None
        tier = choose_tier(req.tier, current, size, has_policies)
        if current == ADVANCED and tier == STANDARD:
            raise ValidationException(DOWNGRADE)
        if size > MAX_VALUE_BYTES[tier]:
            raise ValidationException(too_large(tier))
        if has_policies and tier == STANDARD:
            raise ValidationException(
                "Standard tier parameters don't support parameter policies. To attach policies, "
                "use the advanced-parameter tier (Tier Advanced or Intelligent-Tiering)."
            )
        number = existing.version + 1 if existing is not None else 1
        parameter = existing or Parameter(
            str(uuid.uuid4()), ctx.account_id, ctx.region, name, 0, tier, now
        )
        key_id = None
        if kind == SECURE_STRING:
            key_id = req.key_id or (previous.key_id if previous else None) or DEFAULT_KEY_ID
        description = req.description
        if description is None and previous is not None:
            description = previous.description
        return ParameterVersion(
            parameter=replace(parameter, version=number, tier=tier, last_modified=now),
            version=number,
            type=kind,
            data_type=data_type,
            tier=tier,
            key_id=key_id,
            description=description,
            allowed_pattern=pattern or None,
            policies=policies,
            stored=req.value.encode(),
            last_modified=now,
            last_modified_user=ctx.principal.arn,
        )

    def _check_quota(self, call: Call, existing: Parameter | None, tier: str) -> None:
        if existing is not None and existing.tier == tier:
            return
        ctx = call.ctx
        if store.count_in_tier(call.tx, ctx.account_id, ctx.region, tier) >= self.quotas[tier]:
            raise ParameterLimitExceeded(QUOTA)

    def _make_room(self, call: Call, parameter: Parameter) -> None:
        """AWS's behaviour at 100 versions: the oldest goes, unless it has a label."""
        numbers = store.version_numbers(call.tx, parameter.parameter_id)
        if len(numbers) < MAX_VERSIONS:
            return
        oldest = numbers[0]
        if store.labels_of(call.tx, parameter.parameter_id, oldest):
            raise ParameterMaxVersionLimitExceeded(
                f"You attempted to create a new version of {parameter.name} by calling the "
                f"PutParameter API with the overwrite flag. Version {oldest}, the oldest version, "
                "can't be deleted because it has a label associated with it. Move the label to "
                "another version of the parameter, and try again."
            )
        store.delete_version(call.tx, parameter.parameter_id, oldest)

    def _store(
        self, call: Call, req: PutRequest, version: ParameterVersion, existing: Parameter | None
    ) -> None:
        """Write the new version; another node's concurrent write of the same parameter
        makes this one fail cleanly (ParameterAlreadyExists / TooManyUpdates)."""
        tx = call.tx
        parameter = version.parameter
        if version.type == SECURE_STRING:
            ciphertext = self.secure.encrypt(call, parameter.arn, version.key_id, req.value)
            version = replace(version, stored=ciphertext)
        savepoint = tx.savepoint()
        try:
            if existing is None:
                store.insert_parameter(tx, parameter)
                store.insert_tags(tx, parameter.parameter_id, req.tags)
                raced = False
            else:
                raced = not store.advance_latest(
                    tx, existing, version.version, version.tier, version.last_modified
                )
            if not raced:
                store.insert_version(tx, version)
        except IntegrityError:  # the name (or the version) was written by another node
            raced = True
        if raced:
            savepoint.rollback()
            if existing is None:
                raise ParameterAlreadyExists(ALREADY_EXISTS)
            raise TooManyUpdates(
                "There are concurrent updates for a resource that supports one update at a time."
            )
        savepoint.commit()
        schedule_actions(tx, version)  # the version's parameter policies, for the scheduler

    # -- reads -------------------------------------------------------------------------
    def _resolve(
        self,
        call: Call,
        ref: Reference,
        parameter: Parameter | None,
        with_decryption: bool,
        view: ParameterView | None = None,
    ) -> Resolved:
        """The version of `parameter` that `ref` names, its value decrypted or not;
        ParameterNotFound / ParameterVersionNotFound otherwise. `view`: the cached
        view of `parameter`, which serves its latest version without a read."""
        if parameter is None:
            raise ParameterNotFound(f"Parameter {ref.given} not found.")
        if view is not None and ref.label is None and ref.version in (None, view.latest.version):
            latest = view.latest_version(call.tx)
            value = self.value_of(call, latest, with_decryption, view.arn)
            return Resolved(latest, value, ref.selector)
        number: int | None = ref.version
        if ref.label is not None:
            number = store.labelled_version(call.tx, parameter.parameter_id, ref.label)
            if number is None:
                raise ParameterVersionNotFound(
                    f"Systems Manager could not find label {ref.label} of {parameter.name}. "
                    "Verify the label and try again."
                )
        version = store.get_version(call.tx, parameter, number)
        if version is None:
            raise ParameterVersionNotFound(
                f"Systems Manager could not find version {number} of {parameter.name}. "
                "Verify the version and try again."
            )
        return Resolved(version, self.value_of(call, version, with_decryption), ref.selector)

    def _lookup(self, call: Call, ref: Reference) -> Parameter | None:
        ctx = call.ctx
        if ref.region not in (None, ctx.region):
            return None
        if ref.account_id not in (None, ctx.account_id):
            # another account's parameter, by its ARN: readable if its resource policy
            # shares it (the authorizer decides, as for any cross-account request)
            return store.find(call.tx, ref.account_id, ctx.region, spellings(ref.name))
        return self._find(call, ref.name)

    def _reference(self, given: str) -> tuple[Reference | None, tuple[str, ...]]:
        """`parse_reference(given)` and the spellings of its name, kept per `given`
        (both depend on the text only): each GetParameter of a name parses it once."""
        found = self._references.get(given)
        if found is None:
            ref = parse_reference(given)
            found = (ref, spellings(ref.name) if ref is not None else ())
            if len(self._references) >= MAX_REFERENCES:
                self._references.clear()
            self._references[given] = found
        return found

    def _view(
        self, call: Call, ref: Reference, names: tuple[str, ...] | None = None
    ) -> ParameterView | None:
        """`_lookup` through the read cache (`names`: `spellings(ref.name)`, if known)."""
        ctx = call.ctx
        if ref.region is not None and ref.region != ctx.region:
            return None
        account_id = ctx.account_id if ref.account_id is None else ref.account_id
        return self.cache.find(call.tx, account_id, ctx.region, names or spellings(ref.name))

    def value_of(
        self, call: Call, version: ParameterVersion, with_decryption: bool, arn: str = ""
    ) -> str:
        """`arn`: the parameter's, if known (else formatted from `version`)."""
        if not version.secure:
            return version.stored.decode()
        if not with_decryption:
            return base64.b64encode(version.stored).decode()
        arn = arn or version.parameter.arn
        return self.secure.decrypt(call, arn, version.key_id, version.stored)

    def get(self, call: Call, name: str, with_decryption: bool) -> Resolved:
        ref, names = self._reference(name)
        if ref is None:
            raise ParameterNotFound(f"Parameter {name} not found.")
        view = self._view(call, ref, names)
        found = view.parameter if view is not None else None
        arn = view.arn if view is not None else self._arn(call, ref.name)
        self._authorize(call, "GetParameter", arn, found, view=view)
        resolved = self._resolve(call, ref, found, with_decryption, view)
        call.audit_resource("AWS::SSM::Parameter", arn)
        return resolved

    def get_many(
        self, call: Call, names: Sequence[str], with_decryption: bool
    ) -> tuple[list[Resolved], list[str]]:
        """GetParameters: the parameters found and the names that named none."""
        found: list[Resolved] = []
        invalid: list[str] = []
        refs: list[tuple[str, Reference | None, ParameterView | None]] = []
        for given in dict.fromkeys(names):  # duplicates answered once
            ref, spelled = self._reference(given)
            view = self._view(call, ref, spelled) if ref is not None else None
            if ref is not None:
                parameter = view.parameter if view is not None else None
                arn = parameter.arn if parameter is not None else self._arn(call, ref.name)
                self._authorize(call, "GetParameters", arn, parameter, view=view)
            refs.append((given, ref, view))
        for given, ref, view in refs:
            if ref is None:
                invalid.append(given)
                continue
            parameter = view.parameter if view is not None else None
            try:
                resolved = self._resolve(call, ref, parameter, with_decryption, view)
            except (ParameterNotFound, ParameterVersionNotFound):
                invalid.append(given)
                continue
            found.append(resolved)
            call.audit_resource("AWS::SSM::Parameter", resolved.version.parameter.arn)
        return found, invalid

    def by_path(
        self,
        call: Call,
        path: str,
        *,
        recursive: bool,
        filters: PathFilters,
        with_decryption: bool,
        max_results: int,
        next_token: str | None,
    ) -> tuple[list[Resolved], str | None]:
        ctx = call.ctx
        prefix = check_path(path)
        self._authorize(call, "GetParametersByPath", self._arn(call, prefix.rstrip("/")), None)
        after = read_token(next_token)
        out: list[Resolved] = []
        for parameter in store.list_by_prefix(call.tx, ctx.account_id, ctx.region, prefix, after):
            if not recursive and "/" in parameter.name[len(prefix) :]:
                continue
            version = self._filtered_version(call, parameter, filters)
            if version is None:
                continue
            if len(out) == max_results:
                return out, next_token_after(out[-1].version.parameter.name)
            out.append(Resolved(version, self.value_of(call, version, with_decryption)))
        return out, None

    def _filtered_version(
        self, call: Call, parameter: Parameter, filters: PathFilters
    ) -> ParameterVersion | None:
        number: int | None = None
        if filters.labels is None:
            view = self.cache.of(call.tx, parameter)
            if view is None:
                return None
            latest = view.latest_version(call.tx)
            return latest if filters.admits(latest) else None
        if filters.labels is not None:
            numbers = {
                n
                for label in filters.labels
                if (n := store.labelled_version(call.tx, parameter.parameter_id, label)) is not None
            }
            if not numbers:
                return None
            number = max(numbers)
        version = store.get_version(call.tx, parameter, number)
        if version is None or not filters.admits(version):
            return None
        return version

    def history(
        self,
        call: Call,
        name: str,
        *,
        with_decryption: bool,
        max_results: int,
        next_token: str | None,
    ) -> tuple[list[Resolved], str | None]:
        parameter = self._existing(call, "GetParameterHistory", name)
        after = read_token(next_token)
        if after is not None and not after.isdigit():
            raise InvalidNextToken("The specified token is not valid.")
        versions = store.versions(
            call.tx, parameter, int(after) if after else None, max_results + 1
        )
        more = len(versions) > max_results
        token = next_token_after(str(versions[max_results - 1].version)) if more else None
        out = [Resolved(v, self.value_of(call, v, with_decryption)) for v in versions[:max_results]]
        return out, token

    # -- deletes -----------------------------------------------------------------------
    def delete(self, call: Call, name: str) -> None:
        parameter = self._existing(call, "DeleteParameter", name)
        latest = store.get_version(call.tx, parameter) if self.publish else None
        store.delete_parameter(call.tx, parameter.parameter_id)
        self._changed(call, DELETE, latest)

    def delete_many(self, call: Call, names: Sequence[str]) -> tuple[list[str], list[str]]:
        deleted: list[str] = []
        invalid: list[str] = []
        targets: list[tuple[str, Parameter | None]] = []
        for given in dict.fromkeys(names):
            ref = parse_reference(given, selectors=False)
            parameter = self._lookup(call, ref) if ref is not None else None
            if ref is not None:
                arn = parameter.arn if parameter is not None else self._arn(call, ref.name)
                self._authorize(call, "DeleteParameters", arn, parameter)
            targets.append((given, parameter))
        for given, parameter in targets:
            if parameter is None:
                invalid.append(given)
                continue
            latest = store.get_version(call.tx, parameter) if self.publish else None
            store.delete_parameter(call.tx, parameter.parameter_id)
            self._changed(call, DELETE, latest)
            deleted.append(given)
            call.audit_resource("AWS::SSM::Parameter", parameter.arn)
        return deleted, invalid

    # -- labels ------------------------------------------------------------------------
    def _labelled(
        self, call: Call, operation: str, name: str, version: int | None
    ) -> tuple[Parameter, int]:
        parameter = self._existing(call, operation, name)
        number = parameter.version if version is None else version
        if number not in store.version_numbers(call.tx, parameter.parameter_id):
            raise ParameterVersionNotFound(
                f"Systems Manager could not find version {number} of {parameter.name}. "
                "Verify the version and try again."
            )
        return parameter, number

    def label(
        self, call: Call, name: str, version: int | None, labels: Sequence[str]
    ) -> tuple[int, list[str]]:
        """LabelParameterVersion: (the version labelled, the labels refused)."""
        parameter, number = self._labelled(call, "LabelParameterVersion", name, version)
        pid = parameter.parameter_id
        good = [label for label in dict.fromkeys(labels) if valid_label(label)]
        invalid = [label for label in dict.fromkeys(labels) if not valid_label(label)]
        current = set(store.labels_of(call.tx, pid, number))
        if len(current | set(good)) > MAX_LABELS_PER_VERSION:
            raise ParameterVersionLabelLimitExceeded(
                "A parameter version can have maximum 10 labels.Move one or more labels to "
                "another version and try again."
            )
        for label in good:
            if label not in current:
                store.put_label(call.tx, pid, label, number)
        if good and self.publish:
            self._changed(call, LABEL, store.get_version(call.tx, parameter, number))
        return number, invalid

    def unlabel(
        self, call: Call, name: str, version: int, labels: Sequence[str]
    ) -> tuple[list[str], list[str]]:
        """UnlabelParameterVersion: (the labels removed, the labels not on that version)."""
        parameter, number = self._labelled(call, "UnlabelParameterVersion", name, version)
        removed: list[str] = []
        invalid: list[str] = []
        for label in dict.fromkeys(labels):
            if store.remove_label(call.tx, parameter.parameter_id, label, number):
                removed.append(label)
            else:
                invalid.append(label)
        return removed, invalid


def _policies(given: str | None, previous: ParameterVersion | None, now: float) -> str | None:
    """The new version's policies as stored: the request's (checked; ``[]`` for none),
    else the previous version's."""
    if given is None:
        return previous.policies if previous is not None else None
    parsed = parse_policies(given, now)
    return stored_text(parsed) if parsed else None
