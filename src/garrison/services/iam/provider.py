"""The IAM provider: the IAM query API's operations mapped onto the use-case modules.

    identities  users, groups, membership       roles        roles
    policies    managed policies, versions       attachments  attached, inline, boundaries
    keys        access keys and last use         tags         Tag/Untag/List*Tags
    shapes      domain values -> wire shapes     aws_managed  the AWS managed policies

The pipeline has authenticated the caller and checked the request against
botocore's IAM model (names, paths, lengths, ranges); each handler reads the
request members, calls one use case and builds the response. Every request
member of the pinned model is handled (`HANDLED`); one the table does not know
(a newer model) is refused by name, never dropped. Operations of the model not
in `handlers()` are answered by the pipeline as unsupported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from garrison.api import Call, Handler, Request, Response
from garrison.iam.authorizer import Authorizer
from garrison.services.common.handlers import guarded_handlers
from garrison.services.iam import (
    attachments,
    identities,
    keys,
    policies,
    roles,
    shapes,
    simulation,
    store,
    summary,
    tags,
)
from garrison.services.iam.access import ForgetKeys, IamAccess
from garrison.services.iam.aws_managed import seed_aws_managed_policies
from garrison.services.iam.domain import Kind
from garrison.services.iam.limits import tags_from_request
from garrison.services.iam.paging import DEFAULT_MAX_ITEMS
from garrison.storage.writer import Tx

_PAGED = "Marker MaxItems"
_KINDS = {"User": Kind.USER, "Group": Kind.GROUP, "Role": Kind.ROLE}

# The request members each operation honours (all of the pinned model's).
HANDLED: dict[str, frozenset[str]] = {
    name: frozenset(members.replace("PAGED", _PAGED).split())
    for name, members in {
        "CreateUser": "Path UserName PermissionsBoundary Tags",
        "GetUser": "UserName",
        "UpdateUser": "UserName NewPath NewUserName",
        "DeleteUser": "UserName",
        "ListUsers": "PathPrefix PAGED",
        "CreateGroup": "Path GroupName",
        "GetGroup": "GroupName PAGED",
        "UpdateGroup": "GroupName NewPath NewGroupName",
        "DeleteGroup": "GroupName",
        "ListGroups": "PathPrefix PAGED",
        "AddUserToGroup": "GroupName UserName",
        "RemoveUserFromGroup": "GroupName UserName",
        "ListGroupsForUser": "UserName PAGED",
        "CreateRole": "Path RoleName AssumeRolePolicyDocument Description MaxSessionDuration "
        "PermissionsBoundary Tags",
        "GetRole": "RoleName",
        "UpdateRole": "RoleName Description MaxSessionDuration",
        "UpdateRoleDescription": "RoleName Description",
        "UpdateAssumeRolePolicy": "RoleName PolicyDocument",
        "DeleteRole": "RoleName",
        "ListRoles": "PathPrefix PAGED",
        "CreatePolicy": "PolicyName Path PolicyDocument Description Tags",
        "GetPolicy": "PolicyArn",
        "GetPolicyVersion": "PolicyArn VersionId",
        "CreatePolicyVersion": "PolicyArn PolicyDocument SetAsDefault",
        "SetDefaultPolicyVersion": "PolicyArn VersionId",
        "DeletePolicyVersion": "PolicyArn VersionId",
        "DeletePolicy": "PolicyArn",
        "ListPolicies": "Scope OnlyAttached PathPrefix PolicyUsageFilter PAGED",
        "ListPolicyVersions": "PolicyArn PAGED",
        "ListEntitiesForPolicy": "PolicyArn EntityFilter PathPrefix PolicyUsageFilter PAGED",
        "CreateAccessKey": "UserName",
        "ListAccessKeys": "UserName PAGED",
        "UpdateAccessKey": "UserName AccessKeyId Status",
        "DeleteAccessKey": "UserName AccessKeyId",
        "GetAccessKeyLastUsed": "AccessKeyId",
        "GetAccountSummary": "",
        **{
            op.format(k=k): members.format(k=k)
            for k in ("User", "Group", "Role")
            for op, members in {
                "Attach{k}Policy": "{k}Name PolicyArn",
                "Detach{k}Policy": "{k}Name PolicyArn",
                "ListAttached{k}Policies": "{k}Name PathPrefix PAGED",
                "Put{k}Policy": "{k}Name PolicyName PolicyDocument",
                "Get{k}Policy": "{k}Name PolicyName",
                "Delete{k}Policy": "{k}Name PolicyName",
                "List{k}Policies": "{k}Name PAGED",
            }.items()
        },
        **{
            op.format(k=k): members.format(k=k)
            for k in ("User", "Role")
            for op, members in {
                "Put{k}PermissionsBoundary": "{k}Name PermissionsBoundary",
                "Delete{k}PermissionsBoundary": "{k}Name",
                "Tag{k}": "{k}Name Tags",
                "Untag{k}": "{k}Name TagKeys",
                "List{k}Tags": "{k}Name PAGED",
            }.items()
        },
        "TagPolicy": "PolicyArn Tags",
        "UntagPolicy": "PolicyArn TagKeys",
        "ListPolicyTags": "PolicyArn PAGED",
        "SimulatePrincipalPolicy": "PolicySourceArn PolicyInputList "
        "PermissionsBoundaryPolicyInputList ActionNames ResourceArns ResourcePolicy "
        "ResourceOwner CallerArn ContextEntries ResourceHandlingOption PAGED",
        "SimulateCustomPolicy": "PolicyInputList PermissionsBoundaryPolicyInputList ActionNames "
        "ResourceArns ResourcePolicy ResourceOwner CallerArn ContextEntries "
        "ResourceHandlingOption PAGED",
    }.items()
}

READ_ONLY_PREFIXES = ("Get", "List", "Simulate")


def _max(request: Request) -> int:
    return int(request.get("MaxItems") or DEFAULT_MAX_ITEMS)


class IamProvider:
    service = "iam"
    event_source = "iam.amazonaws.com"

    def __init__(self, authorizer: Authorizer, forget_keys: ForgetKeys) -> None:
        self.access = IamAccess(authorizer, forget_keys)
        self.key_usage = keys.KeyUsage()
        a = self.access
        h: dict[str, Callable[[Call, Request], Response | None]] = {
            "CreateUser": self.create_user,
            "GetUser": self.get_user,
            "UpdateUser": lambda c, r: identities.update_user(
                c, a, r["UserName"], r.get("NewUserName"), r.get("NewPath")
            ),
            "DeleteUser": lambda c, r: identities.delete_user(c, a, r["UserName"]),
            "ListUsers": self.list_users,
            "CreateGroup": lambda c, r: {
                "Group": shapes.group(
                    identities.create_group(c, a, r["GroupName"], r.get("Path", "/"))
                )
            },
            "GetGroup": self.get_group,
            "UpdateGroup": lambda c, r: identities.update_group(
                c, a, r["GroupName"], r.get("NewGroupName"), r.get("NewPath")
            ),
            "DeleteGroup": lambda c, r: identities.delete_group(c, a, r["GroupName"]),
            "ListGroups": self.list_groups,
            "AddUserToGroup": lambda c, r: identities.add_user_to_group(
                c, a, r["GroupName"], r["UserName"]
            ),
            "RemoveUserFromGroup": lambda c, r: identities.remove_user_from_group(
                c, a, r["GroupName"], r["UserName"]
            ),
            "ListGroupsForUser": self.list_groups_for_user,
            "CreateRole": self.create_role,
            "GetRole": self.get_role,
            "UpdateRole": lambda c, r: roles.update_role(
                c, a, r["RoleName"], r.get("Description"), r.get("MaxSessionDuration")
            ),
            "UpdateRoleDescription": lambda c, r: {
                "Role": shapes.role(
                    roles.update_role_description(c, a, r["RoleName"], r["Description"])
                )
            },
            "UpdateAssumeRolePolicy": lambda c, r: roles.update_assume_role_policy(
                c, a, r["RoleName"], r["PolicyDocument"]
            ),
            "DeleteRole": lambda c, r: roles.delete_role(c, a, r["RoleName"]),
            "ListRoles": self.list_roles,
            "CreatePolicy": self.create_policy,
            "GetPolicy": lambda c, r: {
                "Policy": shapes.policy(policies.get_policy(c, a, r["PolicyArn"]), detail=True)
            },
            "GetPolicyVersion": self.get_policy_version,
            "CreatePolicyVersion": self.create_policy_version,
            "SetDefaultPolicyVersion": lambda c, r: policies.set_default_policy_version(
                c, a, r["PolicyArn"], r["VersionId"]
            ),
            "DeletePolicyVersion": lambda c, r: policies.delete_policy_version(
                c, a, r["PolicyArn"], r["VersionId"]
            ),
            "DeletePolicy": lambda c, r: policies.delete_policy(c, a, r["PolicyArn"]),
            "ListPolicies": self.list_policies,
            "ListPolicyVersions": self.list_policy_versions,
            "ListEntitiesForPolicy": self.list_entities_for_policy,
            "CreateAccessKey": self.create_access_key,
            "ListAccessKeys": self.list_access_keys,
            "UpdateAccessKey": lambda c, r: keys.update_access_key(
                c, a, r.get("UserName"), r["AccessKeyId"], r["Status"]
            ),
            "DeleteAccessKey": lambda c, r: keys.delete_access_key(
                c, a, r.get("UserName"), r["AccessKeyId"]
            ),
            "GetAccessKeyLastUsed": self.get_access_key_last_used,
            "TagPolicy": self._tag("Policy", "PolicyArn"),
            "UntagPolicy": self._untag("Policy", "PolicyArn"),
            "ListPolicyTags": self._list_tags("Policy", "PolicyArn"),
            "GetAccountSummary": self.get_account_summary,
        }
        for title, kind in _KINDS.items():
            h.update(self._per_kind(title, kind))
        for title in ("User", "Role"):
            h[f"Tag{title}"] = self._tag(title, f"{title}Name")
            h[f"Untag{title}"] = self._untag(title, f"{title}Name")
            h[f"List{title}Tags"] = self._list_tags(title, f"{title}Name")
        h.update(self._simulation())
        self._handlers = h

    # -- the Provider protocol --------------------------------------------------------
    def handlers(self) -> Mapping[str, Handler]:
        # CloudTrail records no responseElements for IAM's Get/List calls.
        return guarded_handlers(self._handlers, HANDLED, self.is_read_only)

    def is_read_only(self, operation: str) -> bool:
        return operation.startswith(READ_ONLY_PREFIXES)

    # -- for the node -------------------------------------------------------------------
    def seed(self, tx: Tx) -> int:
        """Insert the AWS managed policies that are missing (start-up, after a reset)."""
        return seed_aws_managed_policies(tx)

    def record_access_key_use(
        self, access_key_id: str, service: str, region: str, when: datetime
    ) -> None:
        """The request pipeline reports each authenticated call here: memory only, no I/O."""
        self.key_usage.record(access_key_id, service, region, when)

    def flush_key_usage(self, tx: Tx) -> int:
        """The ``iam-access-key-last-used`` job's unit: write recorded key uses."""
        return self.key_usage.flush(tx)

    def clear_caches(self) -> None:
        """IAM keeps no cache of its own: the authorizer and credentials have theirs."""

    def _simulation(self) -> dict[str, Callable[[Call, Request], Response | None]]:
        """SimulatePrincipalPolicy / SimulateCustomPolicy (`simulation`, helper D's module)."""
        authorizer = self.access.authorizer
        return {
            "SimulatePrincipalPolicy": lambda c, r: simulation.simulate_principal_policy(
                c, r, authorizer
            ),
            "SimulateCustomPolicy": lambda c, r: simulation.simulate_custom_policy(
                c, r, authorizer
            ),
        }

    # -- users and groups ---------------------------------------------------------------
    def create_user(self, call: Call, r: Request) -> Response:
        tag_list = tags_from_request(r.get("Tags"))
        user = identities.create_user(
            call, self.access, r["UserName"], r.get("Path", "/"),
            r.get("PermissionsBoundary"), tag_list,
        )  # fmt: skip
        return {"User": shapes.user(user, tag_list)}

    def get_user(self, call: Call, r: Request) -> Response:
        user = identities.get_user(call, self.access, r.get("UserName"))
        if user is None:
            return {"User": identities.root_user(call)}
        return {"User": shapes.user(user, store.get_tags(call.tx, user.user_id))}

    def list_users(self, call: Call, r: Request) -> Response:
        page = identities.list_users(
            call, self.access, r.get("PathPrefix"), r.get("Marker"), _max(r)
        )
        return page.wire("Users", [shapes.user(u) for u in page.items])

    def get_group(self, call: Call, r: Request) -> Response:
        group, page = identities.get_group(
            call, self.access, r["GroupName"], r.get("Marker"), r.get("MaxItems")
        )
        out = page.wire("Users", [shapes.user(u) for u in page.items])
        out["Group"] = shapes.group(group)
        return out

    def list_groups(self, call: Call, r: Request) -> Response:
        page = identities.list_groups(
            call, self.access, r.get("PathPrefix"), r.get("Marker"), _max(r)
        )
        return page.wire("Groups", [shapes.group(g) for g in page.items])

    def list_groups_for_user(self, call: Call, r: Request) -> Response:
        page = identities.list_groups_for_user(
            call, self.access, r["UserName"], r.get("Marker"), r.get("MaxItems")
        )
        return page.wire("Groups", [shapes.group(g) for g in page.items])

    # -- roles --------------------------------------------------------------------------
    def create_role(self, call: Call, r: Request) -> Response:
        tag_list = tags_from_request(r.get("Tags"))
        role = roles.create_role(
            call,
            self.access,
            name=r["RoleName"],
            path=r.get("Path", "/"),
            trust=r["AssumeRolePolicyDocument"],
            description=r.get("Description", ""),
            max_session_duration=r.get("MaxSessionDuration"),
            boundary=r.get("PermissionsBoundary"),
            tags=tag_list,
        )
        out = shapes.role(role, tag_list, detail=True)
        out.pop("RoleLastUsed", None)  # CreateRole does not report it
        return {"Role": out}

    def get_role(self, call: Call, r: Request) -> Response:
        role, tag_list = roles.get_role(call, self.access, r["RoleName"])
        return {"Role": shapes.role(role, tag_list, detail=True)}

    def list_roles(self, call: Call, r: Request) -> Response:
        page = roles.list_roles(call, self.access, r.get("PathPrefix"), r.get("Marker"), _max(r))
        return page.wire("Roles", [shapes.role(x) for x in page.items])

    # -- managed policies ---------------------------------------------------------------
    def create_policy(self, call: Call, r: Request) -> Response:
        view = policies.create_policy(
            call,
            self.access,
            r["PolicyName"],
            r.get("Path", "/"),
            r["PolicyDocument"],
            r.get("Description", ""),
            tags_from_request(r.get("Tags")),
        )
        return {"Policy": shapes.policy(view, detail=True)}

    def get_policy_version(self, call: Call, r: Request) -> Response:
        policy, version = policies.get_policy_version(
            call, self.access, r["PolicyArn"], r["VersionId"]
        )
        return {"PolicyVersion": shapes.version(policy, version, document=True)}

    def create_policy_version(self, call: Call, r: Request) -> Response:
        policy, version = policies.create_policy_version(
            call, self.access, r["PolicyArn"], r["PolicyDocument"], bool(r.get("SetAsDefault"))
        )
        default = version.version_id if r.get("SetAsDefault") else policy.default_version_id
        shaped = shapes.version(policy, version, document=False)
        shaped["IsDefaultVersion"] = version.version_id == default
        return {"PolicyVersion": shaped}

    def list_policies(self, call: Call, r: Request) -> Response:
        page = policies.list_policies(
            call,
            self.access,
            scope=r.get("Scope", "All"),
            only_attached=bool(r.get("OnlyAttached")),
            path_prefix=r.get("PathPrefix"),
            usage_filter=r.get("PolicyUsageFilter"),
            marker=r.get("Marker"),
            max_items=r.get("MaxItems"),
        )
        return page.wire("Policies", [shapes.policy(v) for v in page.items])

    def list_policy_versions(self, call: Call, r: Request) -> Response:
        policy, page = policies.list_policy_versions(
            call, self.access, r["PolicyArn"], r.get("Marker"), r.get("MaxItems")
        )
        return page.wire(
            "Versions", [shapes.version(policy, v, document=False) for v in page.items]
        )

    def list_entities_for_policy(self, call: Call, r: Request) -> Response:
        page = policies.list_entities_for_policy(
            call,
            self.access,
            r["PolicyArn"],
            entity_filter=r.get("EntityFilter"),
            path_prefix=r.get("PathPrefix"),
            usage_filter=r.get("PolicyUsageFilter"),
            marker=r.get("Marker"),
            max_items=r.get("MaxItems"),
        )
        out = page.wire("PolicyUsers", [])
        for kind, member in ((Kind.GROUP, "PolicyGroups"), (Kind.USER, "PolicyUsers"),
                             (Kind.ROLE, "PolicyRoles")):  # fmt: skip
            out[member] = [shapes.entity(e) for e in page.items if e.kind is kind]
        return out

    # -- attached, inline, boundaries (the same for users, groups and roles) ------------
    def _per_kind(
        self, title: str, kind: Kind
    ) -> dict[str, Callable[[Call, Request], Response | None]]:
        a = self.access
        name = f"{title}Name"

        def list_attached(c: Call, r: Request) -> Response:
            page = attachments.list_attached(
                c, a, kind, r[name], r.get("PathPrefix"), r.get("Marker"), r.get("MaxItems")
            )
            return page.wire("AttachedPolicies", [shapes.attached(p) for p in page.items])

        def get_inline(c: Call, r: Request) -> Response:
            principal, document = attachments.get_inline(c, a, kind, r[name], r["PolicyName"])
            return {
                name: principal.name,
                "PolicyName": r["PolicyName"],
                "PolicyDocument": shapes.encoded(document),
            }

        def list_inline(c: Call, r: Request) -> Response:
            page = attachments.list_inline(c, a, kind, r[name], r.get("Marker"), r.get("MaxItems"))
            return page.wire("PolicyNames", list(page.items))

        out: dict[str, Callable[[Call, Request], Response | None]] = {
            f"Attach{title}Policy": lambda c, r: attachments.attach(
                c, a, kind, r[name], r["PolicyArn"]
            ),
            f"Detach{title}Policy": lambda c, r: attachments.detach(
                c, a, kind, r[name], r["PolicyArn"]
            ),
            f"ListAttached{title}Policies": list_attached,
            f"Put{title}Policy": lambda c, r: attachments.put_inline(
                c, a, kind, r[name], r["PolicyName"], r["PolicyDocument"]
            ),
            f"Get{title}Policy": get_inline,
            f"Delete{title}Policy": lambda c, r: attachments.delete_inline(
                c, a, kind, r[name], r["PolicyName"]
            ),
            f"List{title}Policies": list_inline,
        }
        if kind is not Kind.GROUP:
            out[f"Put{title}PermissionsBoundary"] = lambda c, r: attachments.put_boundary(
                c, a, kind, r[name], r["PermissionsBoundary"]
            )
            out[f"Delete{title}PermissionsBoundary"] = lambda c, r: attachments.delete_boundary(
                c, a, kind, r[name]
            )
        return out

    # -- tags ---------------------------------------------------------------------------
    def _tag(self, resource: str, member: str) -> Callable[[Call, Request], Response | None]:
        def handler(c: Call, r: Request) -> None:
            tags.tag(c, self.access, resource, r[member], tags_from_request(r["Tags"]))

        return handler

    def _untag(self, resource: str, member: str) -> Callable[[Call, Request], Response | None]:
        def handler(c: Call, r: Request) -> None:
            tags.untag(c, self.access, resource, r[member], r["TagKeys"])

        return handler

    def _list_tags(self, resource: str, member: str) -> Callable[[Call, Request], Response | None]:
        def handler(c: Call, r: Request) -> Response:
            page = tags.list_tags(c, self.access, resource, r[member], r.get("Marker"),
                                  r.get("MaxItems"))  # fmt: skip
            return page.wire("Tags", shapes.tags(page.items))

        return handler

    # -- access keys --------------------------------------------------------------------
    def create_access_key(self, call: Call, r: Request) -> Response:
        key, secret = keys.create_access_key(call, self.access, r.get("UserName"))
        shaped = shapes.access_key(key)
        shaped["SecretAccessKey"] = secret
        return {"AccessKey": shaped}

    def list_access_keys(self, call: Call, r: Request) -> Response:
        page = keys.list_access_keys(
            call, self.access, r.get("UserName"), r.get("Marker"), r.get("MaxItems")
        )
        return page.wire("AccessKeyMetadata", [shapes.access_key(k) for k in page.items])

    def get_access_key_last_used(self, call: Call, r: Request) -> Response:
        key = keys.get_access_key_last_used(call, self.access, r["AccessKeyId"], self.key_usage)
        out: Response = {"AccessKeyLastUsed": shapes.last_used(key)}
        if key.user_name:
            out["UserName"] = key.user_name
        return out

    def get_account_summary(self, call: Call, r: Request) -> Response:
        return {"SummaryMap": summary.account_summary(call, self.access)}
