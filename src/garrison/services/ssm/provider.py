"""The SSM provider: Parameter Store's wire shapes in, use cases called, wire shapes out.

Served: every operation of Parameter Store — PutParameter, GetParameter,
GetParameters, GetParametersByPath, GetParameterHistory, DeleteParameter,
DeleteParameters, LabelParameterVersion, UnlabelParameterVersion,
DescribeParameters (describe.py), Add/List/RemoveTags (tags.py) and
Put/Get/DeleteResourcePolicy (sharing.py). The rest of Systems Manager is not
in `handlers()`, so the pipeline answers it as unsupported.

Every request member of a served operation is handled (`HANDLED`); a member a
newer model adds is refused with its name, never dropped. `Value` is
`sensitive` in the model, so the protocol's redaction keeps values (and
SecureString plaintexts) out of the audit trail.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from garrison.api import Call, Handler, Request, Response
from garrison.clock import Clock
from garrison.iam.authorizer import Authorizer
from garrison.services.common.handlers import guarded_handlers
from garrison.services.kms.service import KmsService
from garrison.services.ssm.describe import Describer, describe_filters
from garrison.services.ssm.domain import ParameterVersion, PutRequest, Resolved, time_of
from garrison.services.ssm.events import Publish
from garrison.services.ssm.filters import path_filters
from garrison.services.ssm.policies import stored_policies
from garrison.services.ssm.service import (
    DEFAULT_MAX_ADVANCED,
    DEFAULT_MAX_STANDARD,
    ParameterStore,
)
from garrison.services.ssm.sharing import Sharing
from garrison.services.ssm.tags import Tagging

HANDLED: dict[str, frozenset[str]] = {
    name: frozenset(members.split())
    for name, members in {
        "PutParameter": "Name Description Value Type KeyId Overwrite AllowedPattern Tags Tier "
        "Policies DataType",
        "GetParameter": "Name WithDecryption",
        "GetParameters": "Names WithDecryption",
        "GetParametersByPath": "Path Recursive ParameterFilters WithDecryption MaxResults "
        "NextToken",
        "GetParameterHistory": "Name WithDecryption MaxResults NextToken",
        "DeleteParameter": "Name",
        "DeleteParameters": "Names",
        "LabelParameterVersion": "Name ParameterVersion Labels",
        "UnlabelParameterVersion": "Name ParameterVersion Labels",
        "DescribeParameters": "Filters ParameterFilters MaxResults NextToken Shared",
        "AddTagsToResource": "ResourceType ResourceId Tags",
        "ListTagsForResource": "ResourceType ResourceId",
        "RemoveTagsFromResource": "ResourceType ResourceId TagKeys",
        "PutResourcePolicy": "ResourceArn Policy PolicyId PolicyHash",
        "GetResourcePolicies": "ResourceArn NextToken MaxResults",
        "DeleteResourcePolicy": "ResourceArn PolicyId PolicyHash",
    }.items()
}

READ_ONLY = frozenset(
    {"GetParameter", "GetParameters", "GetParametersByPath", "GetParameterHistory"}
    | {"DescribeParameters", "ListTagsForResource", "GetResourcePolicies"}
)


class SsmProvider:
    service = "ssm"
    event_source = "ssm.amazonaws.com"

    def __init__(
        self,
        clock: Clock,
        authorizer: Authorizer,
        kms: KmsService,
        *,
        max_standard_parameters: int = DEFAULT_MAX_STANDARD,
        max_advanced_parameters: int = DEFAULT_MAX_ADVANCED,
        publish: Publish | None = None,
    ) -> None:
        self.clock = clock
        self.parameters = ParameterStore(
            authorizer,
            kms,
            max_standard=max_standard_parameters,
            max_advanced=max_advanced_parameters,
            publish=publish,
        )
        self._handlers: dict[str, Callable[[Call, Request], Response | None]] = {
            "PutParameter": self.put_parameter,
            "GetParameter": self.get_parameter,
            "GetParameters": self.get_parameters,
            "GetParametersByPath": self.get_parameters_by_path,
            "GetParameterHistory": self.get_parameter_history,
            "DeleteParameter": self.delete_parameter,
            "DeleteParameters": self.delete_parameters,
            "LabelParameterVersion": self.label_parameter_version,
            "UnlabelParameterVersion": self.unlabel_parameter_version,
            "DescribeParameters": self.describe_parameters,
            "AddTagsToResource": self.add_tags_to_resource,
            "ListTagsForResource": self.list_tags_for_resource,
            "RemoveTagsFromResource": self.remove_tags_from_resource,
            "PutResourcePolicy": self.put_resource_policy,
            "GetResourcePolicies": self.get_resource_policies,
            "DeleteResourcePolicy": self.delete_resource_policy,
        }
        self.describer = Describer(self.parameters)
        self.tagging = Tagging(self.parameters)
        self.sharing = Sharing(self.parameters)

    # -- the Provider protocol -----------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        # CloudTrail records no responseElements for Parameter Store's reads.
        return guarded_handlers(self._handlers, HANDLED, self.is_read_only)

    def is_read_only(self, operation: str) -> bool:
        return operation in READ_ONLY

    def clear_caches(self) -> None:
        """Another node changed state: forget every cached parameter (cache.py)."""
        self.parameters.cache.clear()

    # -- operations ------------------------------------------------------------------------
    def put_parameter(self, call: Call, r: Request) -> Response:
        req = PutRequest(
            name=r["Name"],
            value=r["Value"],
            type=r.get("Type"),
            description=r.get("Description"),
            key_id=r.get("KeyId"),
            overwrite=bool(r.get("Overwrite")),
            allowed_pattern=r.get("AllowedPattern"),
            tags=tuple((t["Key"], t["Value"]) for t in r.get("Tags") or ()),
            tier=r.get("Tier"),
            policies=r.get("Policies"),
            data_type=r.get("DataType"),
        )
        version, tier = self.parameters.put(call, req)
        return {"Version": version, "Tier": tier}

    def get_parameter(self, call: Call, r: Request) -> Response:
        resolved = self.parameters.get(call, r["Name"], bool(r.get("WithDecryption")))
        return {"Parameter": parameter_entry(resolved)}

    def get_parameters(self, call: Call, r: Request) -> Response:
        found, invalid = self.parameters.get_many(call, r["Names"], bool(r.get("WithDecryption")))
        return {
            "Parameters": [parameter_entry(p) for p in found],
            "InvalidParameters": invalid,
        }

    def get_parameters_by_path(self, call: Call, r: Request) -> Response:
        found, token = self.parameters.by_path(
            call,
            r["Path"],
            recursive=bool(r.get("Recursive")),
            filters=path_filters(r.get("ParameterFilters") or ()),
            with_decryption=bool(r.get("WithDecryption")),
            max_results=r.get("MaxResults") or 10,
            next_token=r.get("NextToken"),
        )
        out: dict[str, Any] = {"Parameters": [parameter_entry(p) for p in found]}
        if token is not None:
            out["NextToken"] = token
        return out

    def get_parameter_history(self, call: Call, r: Request) -> Response:
        found, token = self.parameters.history(
            call,
            r["Name"],
            with_decryption=bool(r.get("WithDecryption")),
            max_results=r.get("MaxResults") or 50,
            next_token=r.get("NextToken"),
        )
        out: dict[str, Any] = {"Parameters": [history_entry(p) for p in found]}
        if token is not None:
            out["NextToken"] = token
        return out

    def delete_parameter(self, call: Call, r: Request) -> Response:
        self.parameters.delete(call, r["Name"])
        return {}

    def delete_parameters(self, call: Call, r: Request) -> Response:
        deleted, invalid = self.parameters.delete_many(call, r["Names"])
        return {"DeletedParameters": deleted, "InvalidParameters": invalid}

    def label_parameter_version(self, call: Call, r: Request) -> Response:
        version, invalid = self.parameters.label(
            call, r["Name"], r.get("ParameterVersion"), r["Labels"]
        )
        return {"InvalidLabels": invalid, "ParameterVersion": version}

    def unlabel_parameter_version(self, call: Call, r: Request) -> Response:
        removed, invalid = self.parameters.unlabel(
            call, r["Name"], r["ParameterVersion"], r["Labels"]
        )
        return {"RemovedLabels": removed, "InvalidLabels": invalid}

    # -- DescribeParameters, tags, resource policies ------------------------------------
    def describe_parameters(self, call: Call, r: Request) -> Response:
        filters = describe_filters(r.get("Filters") or (), r.get("ParameterFilters") or ())
        found, token = self.describer.describe(
            call,
            filters,
            shared=bool(r.get("Shared")),
            max_results=r.get("MaxResults") or 50,
            next_token=r.get("NextToken"),
        )
        out: dict[str, Any] = {"Parameters": [metadata_entry(v) for v in found]}
        if token is not None:
            out["NextToken"] = token
        return out

    def add_tags_to_resource(self, call: Call, r: Request) -> Response:
        tags = [(t["Key"], t["Value"]) for t in r["Tags"]]
        self.tagging.add(call, r["ResourceType"], r["ResourceId"], tags)
        return {}

    def list_tags_for_resource(self, call: Call, r: Request) -> Response:
        tags = self.tagging.list(call, r["ResourceType"], r["ResourceId"])
        return {"TagList": [{"Key": k, "Value": v} for k, v in tags]}

    def remove_tags_from_resource(self, call: Call, r: Request) -> Response:
        self.tagging.remove(call, r["ResourceType"], r["ResourceId"], r["TagKeys"])
        return {}

    def put_resource_policy(self, call: Call, r: Request) -> Response:
        policy_id, policy_hash = self.sharing.put(
            call, r["ResourceArn"], r["Policy"], r.get("PolicyId"), r.get("PolicyHash")
        )
        return {"PolicyId": policy_id, "PolicyHash": policy_hash}

    def get_resource_policies(self, call: Call, r: Request) -> Response:
        found, token = self.sharing.list(
            call, r["ResourceArn"], r.get("MaxResults") or 50, r.get("NextToken")
        )
        out: dict[str, Any] = {
            "Policies": [
                {"PolicyId": p.policy_id, "PolicyHash": p.policy_hash, "Policy": p.policy}
                for p in found
            ]
        }
        if token is not None:
            out["NextToken"] = token
        return out

    def delete_resource_policy(self, call: Call, r: Request) -> Response:
        self.sharing.delete(call, r["ResourceArn"], r["PolicyId"], r["PolicyHash"])
        return {}


def parameter_entry(resolved: Resolved) -> dict[str, Any]:
    """A `Parameter` of GetParameter(s)/GetParametersByPath."""
    v = resolved.version
    out: dict[str, Any] = {
        "Name": v.parameter.name,
        "Type": v.type,
        "Value": resolved.value,
        "Version": v.version,
        "LastModifiedDate": time_of(v.last_modified),
        "ARN": v.parameter.arn,
        "DataType": v.data_type,
    }
    if resolved.selector is not None:
        out["Selector"] = resolved.selector
    return out


def history_entry(resolved: Resolved) -> dict[str, Any]:
    """A `ParameterHistory` of GetParameterHistory."""
    v = resolved.version
    out: dict[str, Any] = {
        "Name": v.parameter.name,
        "Type": v.type,
        "LastModifiedDate": time_of(v.last_modified),
        "LastModifiedUser": v.last_modified_user,
        "Value": resolved.value,
        "Version": v.version,
        "Labels": list(v.labels),
        "Tier": v.tier,
        "Policies": stored_policies(v.policies),
        "DataType": v.data_type,
    }
    return _with_optional(out, v)


def _with_optional(out: dict[str, Any], v: ParameterVersion) -> dict[str, Any]:
    """The members a version has only when they were set."""
    if v.key_id is not None:
        out["KeyId"] = v.key_id
    if v.description is not None:
        out["Description"] = v.description
    if v.allowed_pattern is not None:
        out["AllowedPattern"] = v.allowed_pattern
    return out


def metadata_entry(v: ParameterVersion) -> dict[str, Any]:
    """A `ParameterMetadata` of DescribeParameters (the latest version; no value)."""
    out: dict[str, Any] = {
        "Name": v.parameter.name,
        "ARN": v.parameter.arn,
        "Type": v.type,
        "LastModifiedDate": time_of(v.last_modified),
        "LastModifiedUser": v.last_modified_user,
        "Version": v.version,
        "Tier": v.tier,
        "Policies": stored_policies(v.policies),
        "DataType": v.data_type,
    }
    return _with_optional(out, v)
