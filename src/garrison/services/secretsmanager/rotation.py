"""Rotation: RotateSecret, CancelRotateSecret and the "secretsmanager-rotation" job.

As "How rotation works" describes it:

    RotateSecret ──> version <token> (no value yet) labelled AWSPENDING,
                     sm_rotations row (step createSecret, due now), job woken
    job ──> createSecret ─> setSecret ─> testSecret ─> finishSecret   (the function, per step)
            success: AWSPENDING dropped from the new AWSCURRENT, LastRotatedDate, row gone,
                     RotationSucceeded
            failure: RotationFailed (audit trail; the bus as "AWS Service Event via
                     CloudTrail", EventBridge's detail-type for CloudTrail's
                     AwsServiceEvent records); AWSCURRENT untouched unless the
                     function moved it; retried from createSecret with the same token
                     after 5, 10, 20, 40 minutes (the function's steps are idempotent, as
                     AWS's templates are); after MAX_ATTEMPTS the rotation is abandoned
                     (RotationAbandoned), AWSPENDING left where it is, as AWS leaves it.

RotateImmediately=false (AWS: "Secrets Manager tests the rotation configuration by
running the testSecret step of the Lambda rotation function. The test creates an
AWSPENDING version of the secret and then removes it"):

    RotateSecret ──> schedule set; version <token> (no value yet) labelled AWSPENDING,
                     sm_rotations row (step TEST_ONLY), job woken
    job ──> the AWSCURRENT value copied into it (GetSecretValue, PutSecretValue AWSPENDING,
            as the service) ─> testSecret (the function) ─> version removed, row gone
            failure: RotationFailed (step testSecret, "configurationTest": true), the
                     version removed just the same, no retry: the schedule stands and
                     its first window runs a rotation as usual

AWS's documentation says nothing of a failed test; recording it as a failed rotation,
without refusing the RotateSecret call (which returned long before) is Garrison's choice.

Scheduled rotations: a secret with rotation enabled has NextRotationDate, the
opening of its next window (`rotation_schedule`). The job starts a rotation once
the clock passes it (RotationStarted), and moves NextRotationDate to the next
window after the present, so a window is rotated once even when the node was
down through it.

Authorisation model: a rotation function's calls are made by the Secrets Manager
service principal (``secretsmanager.amazonaws.com``, type AWSService) of the
secret's account, never with the RotateSecret caller's credentials (the rotation
may run months later). They are allowed on secrets of that same account only,
and only the calls a rotation function needs (`ROTATION_ACTIONS`); the KMS calls
under them are authorised by the KMS key's policy as for any caller (the AWS
managed key allows them; a customer managed key's policy must allow the
principal ``{"Service": "secretsmanager.amazonaws.com"}``). Enabling rotation is
what the account authorises: RotateSecret needs secretsmanager:RotateSecret.
Every call is audited as its own event, like a Lambda's calls.

Replication: the engine's own writes (the AWSPENDING version RotateSecret and a
scheduled start create, AWSPENDING dropped on success, a configuration test's version
removed) reach a primary's replicas in the same unit, like every other change of the
primary (`Replication.propagate`, as the service principal; its KMS calls audited);
the function's calls (PutSecretValue, UpdateSecretVersionStage) propagate as any
caller's do.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from functools import partial
from typing import Any

import orjson

from garrison.api import Call
from garrison.audit.event import CallRecord, build_event
from garrison.audit.trail import AuditTrail
from garrison.clock import Clock
from garrison.context import Principal, RequestContext
from garrison.errors import AwsError
from garrison.events.envelope import Event, api_call_event
from garrison.iam.authorizer import Authorizer
from garrison.iam.credentials import service_principal
from garrison.iam.policy import AuthzRequest, Decision, Policy
from garrison.scheduler.runner import JobRun
from garrison.services.kms.service import KmsService
from garrison.services.secretsmanager import replication_store, rotation_store, store
from garrison.services.secretsmanager.domain import (
    CURRENT,
    PENDING,
    RESOURCE_TYPE,
    check_token,
    new_token,
    to_datetime,
    value_of,
)
from garrison.services.secretsmanager.errors import (
    AccessDeniedException,
    InvalidParameterException,
    InvalidRequestException,
)
from garrison.services.secretsmanager.passwords import random_password
from garrison.services.secretsmanager.rotation_functions import (
    CANNOT_INVOKE,
    EXCEPTIONS,
    STEPS,
    FunctionRegistry,
    RotationFunction,
    function_name,
)
from garrison.services.secretsmanager.rotation_schedule import (
    Schedule,
    parse_rules,
    stored_schedule,
)
from garrison.services.secretsmanager.service import SecretsManager
from garrison.services.secretsmanager.store import Secret
from garrison.storage.database import Database
from garrison.storage.writer import Tx

log = logging.getLogger(__name__)

JOB_NAME = "secretsmanager-rotation"
SERVICE = "secretsmanager.amazonaws.com"
MAX_ATTEMPTS = 5
RETRY_BASE = 300.0  # seconds before the first retry; doubled each time
SERVICE_EVENT = "AWS Service Event via CloudTrail"  # EventBridge's detail-type for them
IN_PROGRESS = "A previous rotation isn't complete. That rotation will be reattempted."
# sm_rotations.step of RotateImmediately=false's configuration test (not a Lambda step)
TEST_ONLY = "testOnly"
ROTATION_ACTIONS = frozenset(
    {
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
        "secretsmanager:PutSecretValue",
        "secretsmanager:UpdateSecretVersionStage",
        "secretsmanager:GetRandomPassword",
    }
)


# -- the API: RotateSecret, CancelRotateSecret ----------------------------------------------
class RotationApi:
    def __init__(self, secrets: SecretsManager, functions: FunctionRegistry) -> None:
        self.secrets = secrets
        self.functions = functions
        self.wake: Callable[[], None] = lambda: None  # the job, at once (app.py)

    def rotate(
        self,
        call: Call,
        secret_id: str,
        token: str | None,
        lambda_arn: str | None,
        rules: dict[str, Any] | None,
        rotate_immediately: bool | None,
    ) -> tuple[Secret, str | None]:
        check_token(token)
        if lambda_arn is not None and len(lambda_arn) > 2048:
            raise InvalidParameterException("RotationLambdaARN must be at most 2048 characters.")
        schedule = parse_rules(rules) if rules is not None else None
        extra: dict[str, list[str]] = {
            "secretsmanager:ModifyRotationRules": [str(rules is not None).lower()],
            "secretsmanager:RotateImmediately": [str(rotate_immediately is not False).lower()],
        }
        if lambda_arn is not None:
            extra["secretsmanager:RotationLambdaARN"] = [lambda_arn]
        secret = self.secrets.existing(call, "RotateSecret", secret_id, extra=extra)
        arn = lambda_arn or secret.rotation_lambda_arn
        if not arn:
            raise InvalidRequestException(
                "No Lambda rotation function ARN is associated with this secret."
            )
        name = function_name(arn, secret.region, secret.account_id)
        if name is None or self.functions.function(name) is None:
            raise AccessDeniedException(CANNOT_INVOKE)
        tx = call.tx
        if rotation_store.get(tx, secret.secret_id) is not None:
            raise InvalidRequestException(IN_PROGRESS)
        if token is not None and store.get_version(tx, secret.secret_id, token) is not None:
            raise InvalidRequestException(
                f"A version with the ClientRequestToken {token} already exists."
            )
        now = call.ctx.now.timestamp()
        if schedule is None and secret.rotation_rules is not None:
            schedule = stored_schedule(orjson.loads(secret.rotation_rules))
        store.update_secret(
            tx,
            secret.secret_id,
            rotation_enabled=True,
            rotation_lambda_arn=arn,
            rotation_rules=None if schedule is None else orjson.dumps(schedule.rules).decode(),
            next_rotation=None if schedule is None else schedule.next_window(now),
        )
        version_id = None
        if rotate_immediately is not False:
            version_id = token or new_token()
            begin(tx, secret, version_id, now)
        else:  # the configuration test: testSecret on a copy of AWSCURRENT, then removed
            begin(tx, secret, token or new_token(), now, step=TEST_ONLY)
        self.secrets.replication.propagate(call, secret)
        tx.after_commit(self.wake)
        call.tx.mark_changed()
        return secret, version_id

    def cancel(self, call: Call, secret_id: str) -> tuple[Secret, str | None]:
        secret = self.secrets.existing(call, "CancelRotateSecret", secret_id)
        running = rotation_store.get(call.tx, secret.secret_id)
        if running is not None:
            rotation_store.finish(call.tx, secret.secret_id)
        store.update_secret(call.tx, secret.secret_id, rotation_enabled=False, next_rotation=None)
        if running is not None and running.step == TEST_ONLY:
            # a configuration test leaves nothing behind, cancelled or not
            remove_test_version(call.tx, secret.secret_id, running.version_id)
            self.secrets.replication.propagate(call, secret)
            running = None
        call.tx.mark_changed()
        return secret, None if running is None else running.version_id


def begin(tx: Tx, secret: Secret, version_id: str, now: float, step: str = STEPS[0]) -> None:
    """A rotation's start: the AWSPENDING version (its value comes with createSecret, or
    with the configuration test's copy of AWSCURRENT). The caller propagates it."""
    store.insert_version(tx, secret.secret_id, version_id, None, None, None, None, now)
    store.set_stage(tx, secret.secret_id, PENDING, version_id)
    rotation_store.start(tx, secret.secret_id, version_id, step, now)


def remove_test_version(tx: Tx, secret_id: str, version_id: str) -> None:
    """Drop a configuration test's version: its AWSPENDING label, and the version itself
    unless a function labelled it otherwise. The caller propagates it."""
    held = store.stages(tx, secret_id)
    if held.get(PENDING) == version_id:
        store.remove_stage(tx, secret_id, PENDING)
    if not any(v == version_id for s, v in held.items() if s != PENDING):
        store.delete_version(tx, secret_id, version_id)


def next_rotation_of(secret: Secret, after: float) -> float | None:
    if not secret.rotation_enabled or secret.rotation_rules is None:
        return None
    schedule: Schedule = stored_schedule(orjson.loads(secret.rotation_rules))
    return schedule.next_window(after)


# -- the calls a rotation function makes ---------------------------------------------------
class ServiceAuthorizer(Authorizer):
    """Allows the Secrets Manager service principal `ROTATION_ACTIONS` on its own account's
    secrets; refuses everything else (see the module's authorisation model)."""

    def authorize(
        self,
        call: Call,
        action: str,
        resource: str,
        context: Mapping[str, Any] | None = None,
        *,
        resource_policy: Any = None,
        resource_account: str | None = None,
        resource_policy_required: bool = False,
    ) -> None:
        principal = call.ctx.principal
        owner = resource_account
        if owner is None:
            parts = resource.split(":")
            owner = parts[4] if len(parts) > 5 else principal.account_id
        if (
            principal.type == "AWSService"
            and principal.arn == SERVICE
            and owner == principal.account_id
            and action in ROTATION_ACTIONS
            and not _denied_by(resource_policy, principal, action, resource, context)
        ):
            return
        raise AccessDeniedException(
            f"{principal.arn} is not authorized to perform: {action} on resource: {resource}"
        )


def _denied_by(
    policy: Any, principal: Any, action: str, resource: str, context: Mapping[str, Any] | None
) -> bool:
    """An explicit Deny of the secret's resource policy binds rotation too (fail closed:
    a Deny naming the service, or every principal, stops it as it would a Lambda's role)."""
    if not isinstance(policy, Policy):
        return False
    request = AuthzRequest.for_principal(principal, action, resource, context)
    return policy.evaluate(request).decision is Decision.EXPLICIT_DENY


class _Client:
    """`RotationClient` for one rotation: each call one audited unit of its own."""

    exceptions = EXCEPTIONS

    def __init__(self, engine: RotationEngine, account_id: str, region: str) -> None:
        self.engine = engine
        self.account_id = account_id
        self.region = region

    def _call(
        self,
        operation: str,
        read_only: bool,
        params: dict[str, Any],
        fn: Callable[[Call], dict[str, Any]],
    ) -> dict[str, Any]:
        return self.engine.invoke(self.account_id, self.region, operation, read_only, params, fn)

    def describe_secret(self, *, SecretId: str) -> dict[str, Any]:  # noqa: N803
        sm = self.engine.secrets

        def fn(call: Call) -> dict[str, Any]:
            secret = sm.describe(call, SecretId)
            out: dict[str, Any] = {
                "ARN": secret.arn,
                "Name": secret.name,
                "RotationEnabled": secret.rotation_enabled,
                "VersionIdsToStages": sm.stages_of(call, secret),
            }
            if secret.rotation_lambda_arn:
                out["RotationLambdaARN"] = secret.rotation_lambda_arn
            return out

        return self._call("DescribeSecret", True, {"secretId": SecretId}, fn)

    def get_secret_value(
        self,
        *,
        SecretId: str,  # noqa: N803
        VersionId: str | None = None,  # noqa: N803
        VersionStage: str | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        sm = self.engine.secrets

        def fn(call: Call) -> dict[str, Any]:
            opened = sm.get_value(call, SecretId, VersionId, VersionStage)
            out: dict[str, Any] = {
                "ARN": opened.secret.arn,
                "Name": opened.secret.name,
                "VersionId": opened.version.version_id,
                "VersionStages": opened.stages,
                "CreatedDate": to_datetime(opened.version.created_at),
            }
            if opened.value.kind == "binary":
                out["SecretBinary"] = opened.value.data
            else:
                out["SecretString"] = opened.value.data.decode()
            return out

        params = {"secretId": SecretId, "versionId": VersionId, "versionStage": VersionStage}
        return self._call("GetSecretValue", True, _present(params), fn)

    def put_secret_value(
        self,
        *,
        SecretId: str,  # noqa: N803
        ClientRequestToken: str,  # noqa: N803
        VersionStages: list[str],  # noqa: N803
        SecretString: str | None = None,  # noqa: N803
        SecretBinary: bytes | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        return self._put(SecretId, ClientRequestToken, VersionStages, SecretString, SecretBinary)

    def _put(
        self,
        secret_id: str,
        token: str,
        stages: list[str],
        secret_string: str | None,
        secret_binary: bytes | None,
        guard: Callable[[Tx], None] | None = None,
    ) -> dict[str, Any]:
        """PutSecretValue; `guard` runs first in the put's own transaction and may refuse."""
        sm = self.engine.secrets

        def fn(call: Call) -> dict[str, Any]:
            if guard is not None:
                guard(call.tx)
            value = value_of(secret_string, secret_binary)
            secret, version_id, held = sm.put_value(call, secret_id, token, value, stages)
            return {
                "ARN": secret.arn,
                "Name": secret.name,
                "VersionId": version_id,
                "VersionStages": held,
            }

        params = {"secretId": secret_id, "clientRequestToken": token, "versionStages": stages}
        return self._call("PutSecretValue", False, params, fn)

    def update_secret_version_stage(
        self,
        *,
        SecretId: str,  # noqa: N803
        VersionStage: str,  # noqa: N803
        MoveToVersionId: str | None = None,  # noqa: N803
        RemoveFromVersionId: str | None = None,  # noqa: N803
    ) -> dict[str, Any]:
        sm = self.engine.secrets

        def fn(call: Call) -> dict[str, Any]:
            secret = sm.move_stage(
                call, SecretId, VersionStage, RemoveFromVersionId, MoveToVersionId
            )
            return {"ARN": secret.arn, "Name": secret.name}

        params = {
            "secretId": SecretId,
            "versionStage": VersionStage,
            "moveToVersionId": MoveToVersionId,
            "removeFromVersionId": RemoveFromVersionId,
        }
        return self._call("UpdateSecretVersionStage", False, _present(params), fn)

    def get_random_password(self, **options: Any) -> dict[str, Any]:
        def fn(call: Call) -> dict[str, Any]:
            self.engine.secrets.authorizer.authorize(
                call, "secretsmanager:GetRandomPassword", "*", {}
            )
            password = random_password(
                options.get("PasswordLength"),
                options.get("ExcludeCharacters") or "",
                bool(options.get("ExcludeNumbers")),
                bool(options.get("ExcludePunctuation")),
                bool(options.get("ExcludeUppercase")),
                bool(options.get("ExcludeLowercase")),
                bool(options.get("IncludeSpace")),
                options.get("RequireEachIncludedType", True) is not False,
            )
            return {"RandomPassword": password}

        return self._call("GetRandomPassword", True, {}, fn)


def _present(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if v is not None}


# -- the engine: the job that runs rotations ------------------------------------------------
class RotationEngine:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        trail: AuditTrail,
        kms: KmsService,
        functions: FunctionRegistry,
        on_audited: Callable[[Tx, dict[str, Any]], None] | None,
        publish: Callable[[Tx, Iterable[Event]], int] | None = None,
    ) -> None:
        self.db = db
        self.publish = publish
        self.clock = clock
        self.trail = trail
        self.functions = functions
        self.on_audited = on_audited
        # the use cases, as the service principal calls them
        self.secrets = SecretsManager(ServiceAuthorizer(), kms)

    # .. auditing ..........................................................................
    def _principal(self, account_id: str) -> Principal:
        return service_principal(account_id, SERVICE)

    def _audit(self, tx: Tx, record: CallRecord, extra: dict[str, Any] | None = None) -> None:
        event = build_event(record)
        if extra:
            event.update(extra)
        self.trail.append(tx, event, epoch=record.event_time.timestamp())
        if extra and extra.get("eventType") == "AwsServiceEvent":
            if self.publish is not None:  # EventBridge's form of a service event
                published = api_call_event(str(uuid.uuid4()), event, record.event_time)
                self.publish(tx, [replace(published, detail_type=SERVICE_EVENT)])
        elif self.on_audited is not None and not record.read_only:
            self.on_audited(tx, event)

    def service_event(
        self, tx: Tx, secret: Secret, name: str, details: dict[str, Any] | None = None
    ) -> None:
        """RotationStarted / RotationSucceeded / RotationFailed / RotationAbandoned: a
        CloudTrail AwsServiceEvent (no caller), published to the bus as API calls are."""
        record = CallRecord(
            event_id=str(uuid.uuid4()),
            request_id=str(uuid.uuid4()),
            event_time=self.clock.now(),
            event_source=SERVICE,
            event_name=name,
            region=secret.region,
            source_ip=SERVICE,
            user_agent=SERVICE,
            principal=self._principal(secret.account_id),
            access_key_id="",
            read_only=False,
            request_parameters=None,
            response_elements=None,
            resources=((RESOURCE_TYPE, secret.arn),),
        )
        extra: dict[str, Any] = {
            "userIdentity": {"accountId": secret.account_id, "invokedBy": SERVICE},
            "eventType": "AwsServiceEvent",
            "additionalEventData": {"SecretId": secret.arn},
        }
        if details:
            extra["serviceEventDetails"] = details
        self._audit(tx, record, extra)

    def _service_call(self, tx: Tx, account_id: str, region: str, operation: str) -> Call:
        """A call made by the Secrets Manager service principal of `account_id`."""
        ctx = RequestContext(
            request_id=str(uuid.uuid4()),
            service="secretsmanager",
            operation=operation,
            region=region,
            principal=self._principal(account_id),
            now=self.clock.now(),
            source_ip=SERVICE,
            user_agent=SERVICE,
            secure_transport=True,
            event_id=str(uuid.uuid4()),
        )
        return Call(ctx, tx, event_ids=lambda: str(uuid.uuid4()))

    def _propagate(self, tx: Tx, secret: Secret) -> None:
        """The engine's own writes to `secret` (a primary) reach its replicas in the same
        unit, as the service principal; the replica Regions' KMS calls are audited."""
        if not replication_store.has_replicas(tx, secret.secret_id):
            return
        call = self._service_call(tx, secret.account_id, secret.region, "ReplicateSecretVersion")
        self.secrets.replication.propagate(call, secret)
        ctx = call.ctx
        outer = CallRecord(
            event_id=ctx.event_id,
            request_id=ctx.request_id,
            event_time=ctx.now,
            event_source=SERVICE,
            event_name=ctx.operation,
            region=ctx.region,
            source_ip=SERVICE,
            user_agent=SERVICE,
            principal=ctx.principal,
            access_key_id="",
            read_only=False,
            request_parameters=None,
            response_elements=None,
        )
        for made in call.inner:  # each invoked by SERVICE, this call's own principal
            self._audit(tx, outer.for_inner(made))

    def invoke(
        self,
        account_id: str,
        region: str,
        operation: str,
        read_only: bool,
        params: dict[str, Any],
        fn: Callable[[Call], dict[str, Any]],
    ) -> dict[str, Any]:
        """One call of a rotation function: its own unit, audited whether it fails or not."""

        def unit(tx: Tx) -> dict[str, Any] | AwsError:
            call = self._service_call(tx, account_id, region, operation)
            ctx, now = call.ctx, call.ctx.now
            savepoint = tx.savepoint()
            outcome: dict[str, Any] | AwsError
            try:
                outcome = fn(call)
                savepoint.commit()
            except AwsError as err:
                savepoint.rollback()
                outcome = err
            error = outcome if isinstance(outcome, AwsError) else None
            record = CallRecord(
                event_id=ctx.event_id,
                request_id=ctx.request_id,
                event_time=now,
                event_source=SERVICE,
                event_name=operation,
                region=region,
                source_ip=SERVICE,
                user_agent=SERVICE,
                principal=ctx.principal,
                access_key_id="",
                read_only=read_only,
                request_parameters=params,
                response_elements=None,
                resources=tuple(call.resources),
                error_code=None if error is None else error.code,
                error_message=None if error is None else error.message,
                invoked_by=SERVICE,
            )
            for made in call.inner:  # the KMS calls under it
                self._audit(
                    tx,
                    record._replace(
                        event_id=made.event_id,
                        event_source=made.event_source,
                        event_name=made.event_name,
                        read_only=made.read_only,
                        request_parameters=made.request_parameters,
                        resources=made.resources,
                        error_code=made.error_code,
                        error_message=made.error_message,
                    ),
                )
            self._audit(tx, record)
            return outcome

        result = self.db.write(unit)
        if isinstance(result, AwsError):
            raise result
        return result

    # .. the job ...........................................................................
    def run(self, run: JobRun) -> int:
        started = run.each(
            lambda: self.db.read(lambda tx: rotation_store.due_schedules(tx, run.now)),
            lambda secret_id: self._start_scheduled(run, secret_id),
        )
        done = run.each(
            lambda: self.db.read(lambda tx: rotation_store.due_attempts(tx, run.now)),
            lambda secret_id: self._attempt(run, secret_id),
        )
        return started + done

    def _start_scheduled(self, run: JobRun, secret_id: str) -> bool:
        def unit(tx: Tx) -> bool:
            if not run.hold(tx):
                return False
            secret = rotation_store.by_id(tx, secret_id)
            if (
                secret is None
                or not secret.rotation_enabled
                or secret.next_rotation is None
                or secret.next_rotation > run.now
                or rotation_store.get(tx, secret_id) is not None
            ):
                return False
            version_id = new_token()
            begin(tx, secret, version_id, run.now)
            store.update_secret(tx, secret_id, next_rotation=next_rotation_of(secret, run.now))
            self._propagate(tx, secret)
            self.service_event(tx, secret, "RotationStarted", {"versionId": version_id})
            tx.mark_changed()
            return True

        return bool(self.db.write(unit))

    def _attempt(self, run: JobRun, secret_id: str) -> bool:
        def claim(tx: Tx) -> tuple[Secret, str, str] | None:
            if not run.hold(tx):
                return None
            rotation = rotation_store.get(tx, secret_id)
            secret = rotation_store.by_id(tx, secret_id)
            if rotation is None or secret is None or rotation.next_attempt_at > run.now:
                return None
            # claimed until the lease would lapse: a crash mid-rotation is retried later
            rotation_store.change(
                tx, secret_id, next_attempt_at=run.now + run.lease_seconds + RETRY_BASE
            )
            return secret, rotation.version_id, rotation.step

        claimed = self.db.write(claim)
        if claimed is None:
            return False
        secret, version_id, first = claimed
        arn = secret.rotation_lambda_arn or ""
        name = function_name(arn, secret.region, secret.account_id)
        function = None if name is None else self.functions.function(name)
        client = _Client(self, secret.account_id, secret.region)
        if first == TEST_ONLY:
            self._test_configuration(secret, version_id, function, client)
            return True
        step = first
        try:
            if function is None:
                raise RotationError(CANNOT_INVOKE)
            for step in STEPS[STEPS.index(first) :]:
                event = {"Step": step, "SecretId": secret.arn, "ClientRequestToken": version_id}
                _run_step(function, event, client)
                self.db.write(partial(_advance, secret_id=secret_id, step=step))
        except Exception as err:  # the function's failure, whatever it raised
            self._failed(secret, version_id, step, err)
            return True
        self._succeeded(secret, version_id)
        return True

    def _succeeded(self, secret: Secret, version_id: str) -> None:
        def unit(tx: Tx) -> None:
            rotation_store.finish(tx, secret.secret_id)
            held = store.stages(tx, secret.secret_id)
            if held.get(PENDING) == held.get(CURRENT):
                store.remove_stage(tx, secret.secret_id, PENDING)
                self._propagate(tx, secret)
            now = self.clock.time()
            current = rotation_store.by_id(tx, secret.secret_id)
            store.update_secret(
                tx,
                secret.secret_id,
                last_rotated=now,
                next_rotation=None if current is None else next_rotation_of(current, now),
            )
            self.service_event(tx, secret, "RotationSucceeded", {"versionId": version_id})
            tx.mark_changed()

        self.db.write(unit)

    def _failed(self, secret: Secret, version_id: str, step: str, err: Exception) -> None:
        reason = _reason(err)
        log.warning("rotation of %s failed at %s: %s", secret.arn, step, reason)

        def unit(tx: Tx) -> None:
            rotation = rotation_store.get(tx, secret.secret_id)
            if rotation is None:  # cancelled meanwhile
                return
            attempts = rotation.attempts + 1
            details = {
                "versionId": version_id,
                "step": step,
                "failureReason": reason,
                "attempt": attempts,
            }
            self.service_event(tx, secret, "RotationFailed", details)
            if attempts >= MAX_ATTEMPTS:
                rotation_store.finish(tx, secret.secret_id)
                self.service_event(tx, secret, "RotationAbandoned", {"versionId": version_id})
            else:
                rotation_store.change(
                    tx,
                    secret.secret_id,
                    step=STEPS[0],
                    attempts=attempts,
                    next_attempt_at=self.clock.time() + RETRY_BASE * 2 ** (attempts - 1),
                    last_error=reason[:1024],
                )
            tx.mark_changed()

        self.db.write(unit)

    # .. RotateImmediately=false: the configuration test ......................................
    def _test_configuration(
        self,
        secret: Secret,
        version_id: str,
        function: RotationFunction | None,
        client: _Client,
    ) -> None:
        try:
            if function is None:
                raise RotationError(CANNOT_INVOKE)
            _copy_current(client, secret, version_id)
            event = {"Step": "testSecret", "SecretId": secret.arn, "ClientRequestToken": version_id}
            _run_step(function, event, client)
        except Exception as err:  # the function's failure, whatever it raised
            reason = _reason(err)
            log.warning("rotation test of %s failed at testSecret: %s", secret.arn, reason)
            self._tested(secret, version_id, reason)
            return
        self._tested(secret, version_id, None)

    def _tested(self, secret: Secret, version_id: str, reason: str | None) -> None:
        def unit(tx: Tx) -> None:
            rotation = rotation_store.get(tx, secret.secret_id)
            ours = (
                rotation is not None
                and rotation.version_id == version_id
                and rotation.step == TEST_ONLY
            )
            if ours:
                rotation_store.finish(tx, secret.secret_id)
            remove_test_version(tx, secret.secret_id, version_id)
            self._propagate(tx, secret)
            if ours and reason is not None:
                details = {
                    "versionId": version_id,
                    "step": "testSecret",
                    "failureReason": reason,
                    "attempt": 1,
                    "configurationTest": True,
                }
                self.service_event(tx, secret, "RotationFailed", details)
            tx.mark_changed()

        self.db.write(unit)


def _copy_current(client: _Client, secret: Secret, token: str) -> None:
    """The configuration test's AWSPENDING version: AWSCURRENT's value (once: a claim
    retried after a crash finds it there). A secret without AWSCURRENT keeps the empty
    version, and testSecret fails on it as a template's would.

    The copy is written only while the test is still the secret's rotation, checked in
    the copy's own transaction: a CancelRotateSecret that removed the test's version
    meanwhile is never undone by a late copy (RotationError: the test ends, quietly).
    """
    arn = secret.arn
    try:
        client.get_secret_value(SecretId=arn, VersionId=token, VersionStage=PENDING)
        return
    except client.exceptions.ResourceNotFoundException:
        pass
    try:
        current = client.get_secret_value(SecretId=arn, VersionStage=CURRENT)
    except client.exceptions.ResourceNotFoundException:
        return

    def still_testing(tx: Tx) -> None:
        rotation = rotation_store.get(tx, secret.secret_id)
        if rotation is None or rotation.version_id != token or rotation.step != TEST_ONLY:
            raise RotationError("The rotation was cancelled.")

    client._put(
        arn,
        token,
        [PENDING],
        current.get("SecretString"),
        current.get("SecretBinary"),
        guard=still_testing,
    )


class RotationError(Exception):
    """A step that failed for a reason of Garrison's own (no function, bad answer)."""


def _advance(tx: Tx, *, secret_id: str, step: str) -> None:
    """Record that `step` is done: a claimed retry resumes after it."""
    rotation_store.change(tx, secret_id, step=STEPS[min(STEPS.index(step) + 1, len(STEPS) - 1)])


def _run_step(function: RotationFunction, event: dict[str, str], client: _Client) -> None:
    function(event, client)


def _reason(err: Exception) -> str:
    """What the trail says about a failure: the error's class and message, never a value
    (rotators raise messages naming users and hosts, not passwords)."""
    if isinstance(err, AwsError):
        return f"{err.code}: {err.message}"
    text = str(err).strip().splitlines()[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text}"[:1024]
