"""A rule's targets: PutTargets, RemoveTargets, ListTargetsByRule, ListRuleNamesByTarget.

A target is kept as PutTargets gave it (sealed: its Input may hold secrets) and
handed to the bus and the deliverer as such. What is checked, as EventBridge
checks it:

- the ARN is one of the forms Garrison delivers to (`garrison.events.targets`);
  an AWS service ARN (Lambda, SQS, SNS, ...) is refused naming the supported ones;
  a file target lies under the setting ``events_file_target_root``, a NATS
  subject is one that may be published to (the senders' own checks);
- Input is JSON, InputPath and InputPathsMap are JSON paths, InputTemplate (a
  JSON object) is valid JSON, at most one of the three;
- HttpParameters only for API destinations; the parameters of other AWS target
  kinds (KinesisParameters, EcsParameters, ...) are refused;
- RoleArn: an existing role of the caller's account, with iam:PassRole;
- DeadLetterConfig names an SQS queue, which Garrison does not have: refused
  (failed deliveries go to Garrison's dead-letter record instead);
- 5 targets per rule. An API destination that does not exist is a failed entry
  (FailedEntries), the others are put.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from garrison.api import Call
from garrison.events import store
from garrison.events.bus import rule_arn
from garrison.events.senders.file import check_file_target
from garrison.events.senders.nats import check_nats_target
from garrison.events.targets import (
    API_DESTINATION,
    FILE,
    NATS,
    InputError,
    TargetArnError,
    check_input,
    parse_target_arn,
)
from garrison.services.events import domain
from garrison.services.events.errors import (
    LimitExceededException,
    ValidationException,
    no_rule,
)
from garrison.services.events.service import EventsService

HANDLED_TARGET = frozenset(
    {
        "Id", "Arn", "RoleArn", "Input", "InputPath", "InputTransformer", "HttpParameters",
        "RetryPolicy", "DeadLetterConfig",
    }
)  # fmt: skip
OTHER_KINDS = {
    "KinesisParameters": "Kinesis",
    "RunCommandParameters": "Systems Manager Run Command",
    "EcsParameters": "Amazon ECS",
    "BatchParameters": "AWS Batch",
    "SqsParameters": "Amazon SQS",
    "RedshiftDataParameters": "Amazon Redshift",
    "SageMakerPipelineParameters": "SageMaker pipeline",
    "AppSyncParameters": "AWS AppSync",
}

Failed = dict[str, str]


class Targets:
    def __init__(self, service: EventsService, file_root: Path | None = None) -> None:
        self.service = service
        # file targets must lie under it (the setting events_file_target_root)
        self.file_root = file_root

    def _rule(
        self,
        call: Call,
        given_bus: str | None,
        name: str,
        operation: str,
        target_arns: list[str] | None = None,
    ) -> tuple[str, str]:
        ctx = call.ctx
        bus = domain.bus_name(given_bus, ctx.region, ctx.account_id)
        arn = rule_arn(ctx.region, ctx.account_id, bus, name)
        tags = store.tags_of(call.tx, ctx.account_id, ctx.region, bus, name)
        context = {f"aws:ResourceTag/{k}": [v] for k, v in tags.items()}
        if target_arns:  # PutTargets: the targets' ARNs (AWS's events:TargetArn)
            context["events:TargetArn"] = target_arns
        self.service.authorize(call, operation, arn, context)
        if store.get_rule(call.tx, ctx.account_id, ctx.region, bus, name) is None:
            raise no_rule(name, bus)
        call.audit_resource("AWS::Events::Rule", arn)
        return bus, arn

    # -- PutTargets -----------------------------------------------------------------------
    def put_targets(
        self, call: Call, given_bus: str | None, rule: str, targets: list[dict[str, Any]]
    ) -> list[Failed]:
        ctx = call.ctx
        arns = [str(t.get("Arn", "")) for t in targets]
        bus, _ = self._rule(call, given_bus, rule, "PutTargets", arns)
        if len(targets) > domain.MAX_TARGETS_PER_RULE:
            raise LimitExceededException(
                f"The requested resource exceeds the maximum number allowed: a rule can have "
                f"at most {domain.MAX_TARGETS_PER_RULE} targets."
            )
        ids = [t["Id"] for t in targets]
        if len(set(ids)) != len(ids):
            raise ValidationException("The Ids of the targets of one request must be unique.")
        for target in targets:
            self._check(call, target)
        failed: list[Failed] = []
        taken: list[dict[str, Any]] = []
        for target in targets:
            why = self._missing_destination(call, target)
            if why is None:
                taken.append(target)
            else:
                failed.append(
                    {
                        "TargetId": target["Id"],
                        "ErrorCode": "ValidationException",
                        "ErrorMessage": why,
                    }
                )
        existing = {
            t.target_id for t in store.targets_of(call.tx, ctx.account_id, ctx.region, bus, rule)
        }
        if len(existing | {t["Id"] for t in taken}) > domain.MAX_TARGETS_PER_RULE:
            raise LimitExceededException(
                f"The requested resource exceeds the maximum number allowed: a rule can have "
                f"at most {domain.MAX_TARGETS_PER_RULE} targets."
            )
        now = self.service.clock.time()
        for target in taken:
            store.put_target(call.tx, ctx.account_id, ctx.region, bus, rule, target, now)
        if taken:
            self.service.bus.changed(call.tx, ctx.account_id, ctx.region, bus)
        return failed

    def _check(self, call: Call, target: dict[str, Any]) -> None:
        """Raise ValidationException (or AccessDenied for iam:PassRole) for a target
        EventBridge refuses."""
        tid = target["Id"]
        for member in target:
            if member in OTHER_KINDS:
                raise ValidationException(
                    f"Target {tid}: {member} applies to {OTHER_KINDS[member]} targets, which "
                    "this Garrison release does not support."
                )
            if member not in HANDLED_TARGET:
                raise ValidationException(
                    f"Target {tid}: the {member} parameter is not supported by this "
                    "Garrison release."
                )
        try:
            parsed = parse_target_arn(target["Arn"])
        except TargetArnError as err:
            raise ValidationException(
                f"Parameter(s) Arn of target {tid} is not valid. {err}"
            ) from None
        ctx = call.ctx
        if (parsed.region, parsed.account_id) != (ctx.region, ctx.account_id):
            raise ValidationException(
                f"Target {tid}: the target Arn must be of this account ({ctx.account_id}) and "
                f"Region ({ctx.region})."
            )
        if parsed.kind == FILE and self.file_root is not None:
            check_file_target(
                target["Arn"], self.file_root, account_id=ctx.account_id, region=ctx.region
            )
        elif parsed.kind == NATS:
            check_nats_target(target["Arn"], account_id=ctx.account_id, region=ctx.region)
        if "HttpParameters" in target and parsed.kind != API_DESTINATION:
            raise ValidationException(
                f"Target {tid}: HttpParameters is only valid for API destination targets."
            )
        if "DeadLetterConfig" in target:
            raise ValidationException(
                f"Target {tid}: DeadLetterConfig names an Amazon SQS queue, which this Garrison "
                "release does not have; failed deliveries are kept in Garrison's dead-letter "
                "record."
            )
        try:
            check_input(target)
        except InputError as err:
            raise ValidationException(f"Target {tid}: {err}") from None
        role = target.get("RoleArn")
        if role is not None:
            self.service.check_role(call, role)

    def _missing_destination(self, call: Call, target: dict[str, Any]) -> str | None:
        parsed = parse_target_arn(target["Arn"])
        if parsed.kind != API_DESTINATION:
            return None
        name, destination_id = parsed.resource.split("/")
        ctx = call.ctx
        if store.api_destination_exists(call.tx, ctx.account_id, ctx.region, name, destination_id):
            return None
        return f"API destination {target['Arn']} does not exist."

    # -- RemoveTargets ---------------------------------------------------------------------
    def remove_targets(
        self, call: Call, given_bus: str | None, rule: str, ids: list[str]
    ) -> list[Failed]:
        ctx = call.ctx
        bus, _ = self._rule(call, given_bus, rule, "RemoveTargets")
        failed: list[Failed] = []
        removed = False
        for target_id in ids:
            if store.remove_target(call.tx, ctx.account_id, ctx.region, bus, rule, target_id):
                removed = True
            else:
                failed.append(
                    {
                        "TargetId": target_id,
                        "ErrorCode": "ResourceNotFoundException",
                        "ErrorMessage": f"Target {target_id} does not exist on rule {rule}.",
                    }
                )
        if removed:
            self.service.bus.changed(call.tx, ctx.account_id, ctx.region, bus)
        return failed

    # -- listing -----------------------------------------------------------------------------
    def list_targets_by_rule(
        self, call: Call, given_bus: str | None, rule: str, token: str | None, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        ctx = call.ctx
        bus, _ = self._rule(call, given_bus, rule, "ListTargetsByRule")
        found = store.targets_of(
            call.tx,
            ctx.account_id,
            ctx.region,
            bus,
            rule,
            after=domain.decode_token(token),
            limit=limit + 1,
        )
        more = len(found) > limit
        page = found[:limit]
        return [t.target for t in page], (domain.encode_token(page[-1].target_id) if more else None)

    def list_rule_names_by_target(
        self, call: Call, given_bus: str | None, arn: str, token: str | None, limit: int
    ) -> tuple[list[str], str | None]:
        ctx = call.ctx
        bus = domain.bus_name(given_bus, ctx.region, ctx.account_id)
        self.service.authorize(
            call, "ListRuleNamesByTarget", rule_arn(ctx.region, ctx.account_id, bus, "*")
        )
        names = store.rule_names_by_target(
            call.tx,
            ctx.account_id,
            ctx.region,
            bus,
            arn,
            after=domain.decode_token(token),
            limit=limit + 1,
        )
        more = len(names) > limit
        page = names[:limit]
        return page, (domain.encode_token(page[-1]) if more else None)
