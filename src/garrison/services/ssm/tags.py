"""AddTagsToResource, ListTagsForResource and RemoveTagsFromResource for parameters.

    ResourceType  Parameter (any other type of Systems Manager's: InvalidResourceType,
                  Garrison serves Parameter Store only)
    ResourceId    the parameter's name (``/a/b`` or, one level deep, ``a`` / ``/a``)

AWS's tag rules: at most 50 tags on a parameter (TooManyTagsError, nothing
added); keys of 1-128 and values of 0-256 characters of letters, digits, spaces
and ``_.:/=+-@`` (checked by the model); keys beginning with ``aws:`` are
reserved (ValidationException); adding a key the parameter has replaces its
value. A parameter that does not exist is InvalidResourceId, after the action is
authorised on the ARN it would have.

Authorisation: ``ssm:AddTagsToResource`` with ``aws:RequestTag/<key>`` and
``aws:TagKeys``; ``ssm:RemoveTagsFromResource`` with ``aws:TagKeys``; both, and
``ssm:ListTagsForResource``, with the parameter's ``aws:ResourceTag/<key>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from garrison.api import Call
from garrison.services.ssm import store
from garrison.services.ssm.actions import ACTIONS
from garrison.services.ssm.domain import MAX_TAGS, Parameter, parameter_arn
from garrison.services.ssm.errors import (
    InvalidResourceId,
    InvalidResourceType,
    TooManyTagsError,
    ValidationException,
)
from garrison.services.ssm.names import parse_reference, spellings

PARAMETER = "Parameter"
RESERVED = "aws:"


def _reserved(keys: Sequence[str]) -> None:
    for key in keys:
        if key.lower().startswith(RESERVED):
            raise ValidationException(
                f"The tag key {key} is not valid: tag keys beginning with aws: are reserved "
                "for AWS use."
            )


class Tagging:
    def __init__(self, parameters: Any) -> None:
        # the ParameterStore: its lookups and authorisation (Any: no import cycle)
        self.parameters = parameters

    def _parameter(
        self,
        call: Call,
        operation: str,
        resource_type: str,
        resource_id: str,
        extra: dict[str, list[str]] | None = None,
    ) -> Parameter:
        if resource_type != PARAMETER:
            raise InvalidResourceType(
                f"The resource type {resource_type} is not valid here: Garrison serves "
                "Parameter Store, whose only taggable resource type is Parameter."
            )
        ctx = call.ctx
        ref = parse_reference(resource_id, selectors=False)
        found = None
        if ref is not None and ref.account_id is None:
            found = store.find(call.tx, ctx.account_id, ctx.region, spellings(ref.name))
        arn = (
            found.arn
            if found is not None
            else parameter_arn(ctx.region, ctx.account_id, resource_id)
        )
        context = dict(extra or {})
        if found is not None:
            for key, value in store.tags_of(call.tx, found.parameter_id).items():
                context[f"aws:ResourceTag/{key}"] = [value]
        self.parameters.authorizer.authorize(call, ACTIONS[operation].action, arn, context)
        if found is None:
            raise InvalidResourceId(
                f"The resource ID {resource_id} isn't valid: no parameter of that name exists."
            )
        call.audit_resource("AWS::SSM::Parameter", arn)
        return found

    def add(
        self, call: Call, resource_type: str, resource_id: str, tags: Sequence[tuple[str, str]]
    ) -> None:
        keys = [k for k, _ in tags]
        if len(set(keys)) != len(keys):
            raise ValidationException("The tags contain duplicate tag keys.")
        _reserved(keys)
        context = {"aws:TagKeys": keys, **{f"aws:RequestTag/{k}": [v] for k, v in tags}}
        parameter = self._parameter(call, "AddTagsToResource", resource_type, resource_id, context)
        current = store.tags_of(call.tx, parameter.parameter_id)
        if len(set(current) | set(keys)) > MAX_TAGS:
            raise TooManyTagsError(
                f"A parameter can have at most {MAX_TAGS} tags: {parameter.name} has "
                f"{len(current)} and the request adds {len(set(keys) - set(current))}."
            )
        store.put_tags(call.tx, parameter.parameter_id, tags)

    def remove(self, call: Call, resource_type: str, resource_id: str, keys: Sequence[str]) -> None:
        keys = list(dict.fromkeys(keys))
        _reserved(keys)
        context = {"aws:TagKeys": keys}
        parameter = self._parameter(
            call, "RemoveTagsFromResource", resource_type, resource_id, context
        )
        store.remove_tags(call.tx, parameter.parameter_id, keys)

    def list(self, call: Call, resource_type: str, resource_id: str) -> list[tuple[str, str]]:
        parameter = self._parameter(call, "ListTagsForResource", resource_type, resource_id)
        return sorted(store.tags_of(call.tx, parameter.parameter_id).items())
