"""The Organizations provider: AWS Organizations' wire shapes in, use cases called, out.

The pipeline has authenticated the caller and validated the request against
botocore's model; each handler maps the request dict onto a use case of
`service` (the organization and its accounts), `tree` (roots and OUs),
`policies` (SCPs) or `tags` and builds the response dict. Wire shapes live only
here. Every request member of an implemented operation is handled (`HANDLED`);
one the pinned model adds later is refused with UnsupportedOperationException.
Operations of the model not in `handlers()` (handshakes, delegated
administrators, CloseAccount, effective
policies, resource policies ...) are answered by the pipeline as unsupported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from garrison.api import Call, Handler, Request, Response
from garrison.clock import Clock
from garrison.iam.authorizer import Authorizer
from garrison.services.common.handlers import guarded_handlers
from garrison.services.organizations.access import Gate, Page
from garrison.services.organizations.domain import (
    DEFAULT_MAX_ACCOUNTS,
    SCP,
    CreateAccountStatus,
    MemberAccount,
    Organization,
    OrgPolicy,
    Unit,
)
from garrison.services.organizations.errors import (
    InvalidInputException,
)
from garrison.services.organizations.policies import PolicyService
from garrison.services.organizations.service import OrganizationService, management_email
from garrison.services.organizations.tags import TagService
from garrison.services.organizations.tree import TreeService

HANDLED: dict[str, frozenset[str]] = {
    name: frozenset(members.split())
    for name, members in {
        "CreateOrganization": "FeatureSet",
        "DescribeOrganization": "",
        "DeleteOrganization": "",
        "CreateAccount": "Email AccountName RoleName IamUserAccessToBilling Tags",
        "DescribeCreateAccountStatus": "CreateAccountRequestId",
        "ListCreateAccountStatus": "States NextToken MaxResults",
        "DescribeAccount": "AccountId",
        "ListAccounts": "NextToken MaxResults",
        "ListAccountsForParent": "ParentId NextToken MaxResults",
        "MoveAccount": "AccountId SourceParentId DestinationParentId",
        "RemoveAccountFromOrganization": "AccountId",
        "LeaveOrganization": "",
        "ListRoots": "NextToken MaxResults",
        "ListParents": "ChildId NextToken MaxResults",
        "ListChildren": "ParentId ChildType NextToken MaxResults",
        "CreateOrganizationalUnit": "ParentId Name Tags",
        "DescribeOrganizationalUnit": "OrganizationalUnitId",
        "UpdateOrganizationalUnit": "OrganizationalUnitId Name",
        "DeleteOrganizationalUnit": "OrganizationalUnitId",
        "ListOrganizationalUnitsForParent": "ParentId NextToken MaxResults",
        "EnablePolicyType": "RootId PolicyType",
        "DisablePolicyType": "RootId PolicyType",
        "CreatePolicy": "Content Description Name Type Tags",
        "DescribePolicy": "PolicyId",
        "UpdatePolicy": "PolicyId Name Description Content",
        "DeletePolicy": "PolicyId",
        "ListPolicies": "Filter NextToken MaxResults",
        "ListPoliciesForTarget": "TargetId Filter NextToken MaxResults",
        "ListTargetsForPolicy": "PolicyId NextToken MaxResults",
        "AttachPolicy": "PolicyId TargetId",
        "DetachPolicy": "PolicyId TargetId",
        "TagResource": "ResourceId Tags",
        "UntagResource": "ResourceId TagKeys",
        "ListTagsForResource": "ResourceId NextToken",
    }.items()
}

READ_ONLY = frozenset(n for n in HANDLED if n.startswith(("Describe", "List")))


# -- wire shapes ----------------------------------------------------------------------------
def organization_shape(org: Organization, mgmt_email: str) -> dict[str, Any]:
    mgmt = org.management_account_id
    return {
        "Id": org.org_id,
        "Arn": org.arn,
        "FeatureSet": org.feature_set,
        "MasterAccountArn": f"arn:aws:organizations::{mgmt}:account/{org.org_id}/{mgmt}",
        "MasterAccountId": mgmt,
        "MasterAccountEmail": mgmt_email,
        # Deprecated by AWS; it shows SCPs available whenever all features are on.
        "AvailablePolicyTypes": ([{"Type": SCP, "Status": "ENABLED"}] if org.all_features else []),
    }


def account_shape(account: MemberAccount, paths: list[str]) -> dict[str, Any]:
    return {
        "Id": account.account_id,
        "Arn": account.arn,
        "Email": account.email,
        "Name": account.name,
        "Status": account.status,
        "State": account.status,
        "Paths": paths,
        "JoinedMethod": account.joined_method,
        "JoinedTimestamp": account.joined_at,
    }


def status_shape(status: CreateAccountStatus) -> dict[str, Any]:
    out: dict[str, Any] = {
        "Id": status.request_id,
        "AccountName": status.account_name,
        "State": status.state.value,
        "RequestedTimestamp": status.requested_at,
    }
    if status.completed_at is not None:
        out["CompletedTimestamp"] = status.completed_at
    if status.account_id is not None:
        out["AccountId"] = status.account_id
    if status.failure_reason is not None:
        out["FailureReason"] = status.failure_reason
    return out


def root_shape(root: Unit) -> dict[str, Any]:
    return {
        "Id": root.unit_id,
        "Arn": root.arn,
        "Name": root.name,
        "PolicyTypes": [{"Type": t, "Status": "ENABLED"} for t in root.policy_types],
    }


def ou_shape(unit: Unit, path: str) -> dict[str, Any]:
    return {"Id": unit.unit_id, "Arn": unit.arn, "Name": unit.name, "Path": path}


def policy_summary(policy: OrgPolicy) -> dict[str, Any]:
    return {
        "Id": policy.policy_id,
        "Arn": policy.arn,
        "Name": policy.name,
        "Description": policy.description,
        "Type": policy.type,
        "AwsManaged": policy.aws_managed,
    }


def policy_shape(policy: OrgPolicy) -> dict[str, Any]:
    return {"PolicySummary": policy_summary(policy), "Content": policy.content}


def _page(name: str, page: Page[Any], items: list[Any]) -> Response:
    out: Response = {name: items}
    if page.next_token is not None:
        out["NextToken"] = page.next_token
    return out


class OrganizationsProvider:
    service = "organizations"
    event_source = "organizations.amazonaws.com"

    def __init__(
        self,
        clock: Clock,
        authorizer: Authorizer,
        *,
        max_accounts: int = DEFAULT_MAX_ACCOUNTS,
    ) -> None:
        self.clock = clock
        gate = Gate(authorizer)
        self.orgs = OrganizationService(gate, authorizer, max_accounts)
        self.tree = TreeService(gate)
        self.policies = PolicyService(gate)
        self.tags = TagService(gate)
        self._handlers: dict[str, Callable[[Call, Request], Response | None]] = {
            "CreateOrganization": self.create_organization,
            "DescribeOrganization": self.describe_organization,
            "DeleteOrganization": self.delete_organization,
            "CreateAccount": self.create_account,
            "DescribeCreateAccountStatus": self.describe_create_account_status,
            "ListCreateAccountStatus": self.list_create_account_status,
            "DescribeAccount": self.describe_account,
            "ListAccounts": self.list_accounts,
            "ListAccountsForParent": self.list_accounts_for_parent,
            "MoveAccount": self.move_account,
            "RemoveAccountFromOrganization": self.remove_account_from_organization,
            "LeaveOrganization": self.leave_organization,
            "ListRoots": self.list_roots,
            "ListParents": self.list_parents,
            "ListChildren": self.list_children,
            "CreateOrganizationalUnit": self.create_organizational_unit,
            "DescribeOrganizationalUnit": self.describe_organizational_unit,
            "UpdateOrganizationalUnit": self.update_organizational_unit,
            "DeleteOrganizationalUnit": self.delete_organizational_unit,
            "ListOrganizationalUnitsForParent": self.list_organizational_units_for_parent,
            "EnablePolicyType": self.enable_policy_type,
            "DisablePolicyType": self.disable_policy_type,
            "CreatePolicy": self.create_policy,
            "DescribePolicy": self.describe_policy,
            "UpdatePolicy": self.update_policy,
            "DeletePolicy": self.delete_policy,
            "ListPolicies": self.list_policies,
            "ListPoliciesForTarget": self.list_policies_for_target,
            "ListTargetsForPolicy": self.list_targets_for_policy,
            "AttachPolicy": self.attach_policy,
            "DetachPolicy": self.detach_policy,
            "TagResource": self.tag_resource,
            "UntagResource": self.untag_resource,
            "ListTagsForResource": self.list_tags_for_resource,
        }

    # -- the Provider protocol -------------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        return guarded_handlers(self._handlers, HANDLED, self.is_read_only)

    def is_read_only(self, operation: str) -> bool:
        return operation in READ_ONLY

    # -- the organization ---------------------------------------------------------------------
    def create_organization(self, call: Call, r: Request) -> Response:
        org = self.orgs.create_organization(call, r.get("FeatureSet"))
        return {
            "Organization": organization_shape(org, management_email(org.management_account_id))
        }

    def describe_organization(self, call: Call, r: Request) -> Response:
        org, email = self.orgs.describe_organization(call)
        return {"Organization": organization_shape(org, email)}

    def delete_organization(self, call: Call, r: Request) -> None:
        self.orgs.delete_organization(call)

    # -- accounts -------------------------------------------------------------------------------
    def create_account(self, call: Call, r: Request) -> Response:
        status = self.orgs.create_account(
            call,
            email=r["Email"],
            account_name=r["AccountName"],
            role_name=r.get("RoleName"),
            iam_user_access_to_billing=r.get("IamUserAccessToBilling"),
            tag_list=r.get("Tags"),
        )
        # AWS answers every CreateAccount with the request IN_PROGRESS; the outcome
        # is read with DescribeCreateAccountStatus (here already final).
        return {
            "CreateAccountStatus": {
                "Id": status.request_id,
                "AccountName": status.account_name,
                "State": "IN_PROGRESS",
                "RequestedTimestamp": status.requested_at,
            }
        }

    def describe_create_account_status(self, call: Call, r: Request) -> Response:
        status = self.orgs.describe_create_account_status(call, r["CreateAccountRequestId"])
        return {"CreateAccountStatus": status_shape(status)}

    def list_create_account_status(self, call: Call, r: Request) -> Response:
        page = self.orgs.list_create_account_status(
            call, r.get("States"), r.get("NextToken"), r.get("MaxResults")
        )
        return _page("CreateAccountStatuses", page, [status_shape(s) for s in page.items])

    def describe_account(self, call: Call, r: Request) -> Response:
        account, paths = self.orgs.describe_account(call, r["AccountId"])
        return {"Account": account_shape(account, paths)}

    def list_accounts(self, call: Call, r: Request) -> Response:
        page = self.orgs.list_accounts(call, None, r.get("NextToken"), r.get("MaxResults"))
        return _page("Accounts", page, [account_shape(a, p) for a, p in page.items])

    def list_accounts_for_parent(self, call: Call, r: Request) -> Response:
        page = self.orgs.list_accounts(call, r["ParentId"], r.get("NextToken"), r.get("MaxResults"))
        return _page("Accounts", page, [account_shape(a, p) for a, p in page.items])

    def move_account(self, call: Call, r: Request) -> None:
        self.orgs.move_account(call, r["AccountId"], r["SourceParentId"], r["DestinationParentId"])

    def remove_account_from_organization(self, call: Call, r: Request) -> None:
        self.orgs.remove_account_from_organization(call, r["AccountId"])

    def leave_organization(self, call: Call, r: Request) -> None:
        self.orgs.leave_organization(call)

    # -- the tree ---------------------------------------------------------------------------------
    def list_roots(self, call: Call, r: Request) -> Response:
        page = self.tree.list_roots(call, r.get("NextToken"), r.get("MaxResults"))
        return _page("Roots", page, [root_shape(u) for u in page.items])

    def list_parents(self, call: Call, r: Request) -> Response:
        # MaxResults (>= 1) never cuts the single parent a child has.
        parents = self.tree.list_parents(call, r["ChildId"], r.get("NextToken"))
        return {
            "Parents": [
                {"Id": p.unit_id, "Type": "ROOT" if p.is_root else "ORGANIZATIONAL_UNIT"}
                for p in parents
            ]
        }

    def list_children(self, call: Call, r: Request) -> Response:
        child_type = r["ChildType"]
        page = self.tree.list_children(
            call, r["ParentId"], child_type, r.get("NextToken"), r.get("MaxResults")
        )
        return _page("Children", page, [{"Id": i, "Type": child_type} for i in page.items])

    def create_organizational_unit(self, call: Call, r: Request) -> Response:
        unit, path = self.tree.create_organizational_unit(
            call, r["ParentId"], r["Name"], r.get("Tags")
        )
        return {"OrganizationalUnit": ou_shape(unit, path)}

    def describe_organizational_unit(self, call: Call, r: Request) -> Response:
        unit, path = self.tree.describe_organizational_unit(call, r["OrganizationalUnitId"])
        return {"OrganizationalUnit": ou_shape(unit, path)}

    def update_organizational_unit(self, call: Call, r: Request) -> Response:
        unit, path = self.tree.update_organizational_unit(
            call, r["OrganizationalUnitId"], r.get("Name")
        )
        return {"OrganizationalUnit": ou_shape(unit, path)}

    def delete_organizational_unit(self, call: Call, r: Request) -> None:
        self.tree.delete_organizational_unit(call, r["OrganizationalUnitId"])

    def list_organizational_units_for_parent(self, call: Call, r: Request) -> Response:
        page = self.tree.list_organizational_units_for_parent(
            call, r["ParentId"], r.get("NextToken"), r.get("MaxResults")
        )
        return _page("OrganizationalUnits", page, [ou_shape(u, p) for u, p in page.items])

    # -- policies ------------------------------------------------------------------------------
    def enable_policy_type(self, call: Call, r: Request) -> Response:
        return {
            "Root": root_shape(self.policies.enable_policy_type(call, r["RootId"], r["PolicyType"]))
        }

    def disable_policy_type(self, call: Call, r: Request) -> Response:
        return {
            "Root": root_shape(
                self.policies.disable_policy_type(call, r["RootId"], r["PolicyType"])
            )
        }

    def create_policy(self, call: Call, r: Request) -> Response:
        policy = self.policies.create_policy(
            call,
            content=r["Content"],
            description=r["Description"],
            name=r["Name"],
            policy_type=r["Type"],
            tag_list=r.get("Tags"),
        )
        return {"Policy": policy_shape(policy)}

    def describe_policy(self, call: Call, r: Request) -> Response:
        return {"Policy": policy_shape(self.policies.describe_policy(call, r["PolicyId"]))}

    def update_policy(self, call: Call, r: Request) -> Response:
        policy = self.policies.update_policy(
            call,
            r["PolicyId"],
            name=r.get("Name"),
            description=r.get("Description"),
            content=r.get("Content"),
        )
        return {"Policy": policy_shape(policy)}

    def delete_policy(self, call: Call, r: Request) -> None:
        self.policies.delete_policy(call, r["PolicyId"])

    def list_policies(self, call: Call, r: Request) -> Response:
        page = self.policies.list_policies(
            call, r["Filter"], r.get("NextToken"), r.get("MaxResults")
        )
        return _page("Policies", page, [policy_summary(p) for p in page.items])

    def list_policies_for_target(self, call: Call, r: Request) -> Response:
        page = self.policies.list_policies_for_target(
            call, r["TargetId"], r["Filter"], r.get("NextToken"), r.get("MaxResults")
        )
        return _page("Policies", page, [policy_summary(p) for p in page.items])

    def list_targets_for_policy(self, call: Call, r: Request) -> Response:
        page = self.policies.list_targets_for_policy(
            call, r["PolicyId"], r.get("NextToken"), r.get("MaxResults")
        )
        targets = [
            {"TargetId": t, "Arn": arn, "Name": name, "Type": kind}
            for t, arn, name, kind in page.items
        ]
        return _page("Targets", page, targets)

    def attach_policy(self, call: Call, r: Request) -> None:
        self.policies.attach_policy(call, r["PolicyId"], r["TargetId"])

    def detach_policy(self, call: Call, r: Request) -> None:
        self.policies.detach_policy(call, r["PolicyId"], r["TargetId"])

    # -- tags ----------------------------------------------------------------------------------
    def tag_resource(self, call: Call, r: Request) -> None:
        self.tags.tag_resource(call, r["ResourceId"], r["Tags"])

    def untag_resource(self, call: Call, r: Request) -> None:
        self.tags.untag_resource(call, r["ResourceId"], r["TagKeys"])

    def list_tags_for_resource(self, call: Call, r: Request) -> Response:
        # Tags per resource are at most 50: one page, as AWS returns them.
        found = self.tags.list_tags_for_resource(call, r["ResourceId"])
        if r.get("NextToken") is not None:
            raise InvalidInputException(
                "INVALID_NEXT_TOKEN", "You specified an invalid value for nextToken."
            )
        return {"Tags": [{"Key": k, "Value": v} for k, v in found.items()]}
