"""The organization's lifecycle and its accounts: the use cases behind the handlers.

    create_organization / describe_organization / delete_organization
    create_account -> CreateAccountStatus; describe/list_create_account_status
    describe_account / list_accounts / list_accounts_for_parent / move_account
    remove_account_from_organization / leave_organization

CreateAccount completes within its own request: the account row, its place in
the tree, its FullAWSAccess attachment (when SCPs are enabled), its tags and
its access role are written in the call's one transaction, and the request is
recorded as SUCCEEDED (or FAILED with AWS's reason: EMAIL_ALREADY_EXISTS,
ACCOUNT_LIMIT_EXCEEDED) at the same instant. The response still says
IN_PROGRESS, as AWS's always does, so clients that poll
DescribeCreateAccountStatus work unchanged and find it done on their first
poll. No account is ever half made.
"""

from __future__ import annotations

from collections.abc import Sequence

from garrison.api import Call
from garrison.iam.authorizer import Authorizer
from garrison.iam.credentials import new_account_id
from garrison.services.organizations import account_role, store, tags
from garrison.services.organizations.access import (
    Gate,
    Page,
    Scope,
    decode_token,
    page_size,
    paged,
)
from garrison.services.organizations.actions import ACTIONS
from garrison.services.organizations.domain import (
    DEFAULT_MAX_ACCOUNTS,
    DEFAULT_ROLE_NAME,
    FULL_AWS_ACCESS_ID,
    ROOT_NAME,
    SCP,
    CreateAccountState,
    CreateAccountStatus,
    MemberAccount,
    Organization,
    Unit,
    UnitKind,
    account_arn,
    new_create_account_request_id,
    new_org_id,
    new_root_id,
    org_arn,
    root_arn,
)
from garrison.services.organizations.errors import (
    AccountNotFoundException,
    AlreadyInOrganizationException,
    CreateAccountStatusNotFoundException,
    DestinationParentNotFoundException,
    DuplicateAccountException,
    InvalidInputException,
    MasterCannotLeaveOrganizationException,
    OrganizationNotEmptyException,
    SourceParentNotFoundException,
)
from garrison.services.organizations.tree import find_parent, parent_or_raise, unit_path
from garrison.storage import schema
from garrison.storage.sql import select
from garrison.storage.writer import Tx


def management_email(account_id: str) -> str:
    """Garrison keeps no e-mail address for an account it did not create through
    Organizations; the management account is shown with this reserved-domain one."""
    return f"{account_id}@garrison.invalid"


class OrganizationService:
    def __init__(self, gate: Gate, authorizer: Authorizer, max_accounts: int) -> None:
        self.gate = gate
        self.authorizer = authorizer
        self.max_accounts = max_accounts or DEFAULT_MAX_ACCOUNTS

    # -- the organization --------------------------------------------------------------
    def create_organization(self, call: Call, feature_set: str | None) -> Organization:
        tx = call.tx
        account = call.ctx.account_id
        self.authorizer.authorize(call, ACTIONS["CreateOrganization"].action, "*")
        if store.org_of_account(tx, account) is not None:
            raise AlreadyInOrganizationException()
        now = call.ctx.now.timestamp()
        org_id = new_org_id()
        org = Organization(org_id, account, feature_set or "ALL", org_arn(account, org_id), now)
        store.insert_org(tx, org)
        root_id = new_root_id()
        # AWS: "By default (or if you set FeatureSet to ALL) ... service control
        # policies automatically enabled in the root."
        enabled = (SCP,) if org.all_features else ()
        root = Unit(
            root_id, org_id, UnitKind.ROOT, None, ROOT_NAME, root_arn(account, org_id, root_id),
            enabled,
        )  # fmt: skip
        store.insert_unit(tx, root)
        name_row = tx.execute(
            select(schema.accounts.c.name).where(schema.accounts.c.account_id == account)
        ).first()
        # The management account appears as INVITED in AWS's ListAccounts.
        store.insert_account(
            tx,
            MemberAccount(
                account_id=account,
                org_id=org_id,
                parent_id=root_id,
                name=name_row.name if name_row is not None else account,
                email=management_email(account),
                arn=account_arn(account, org_id, account),
                status="ACTIVE",
                joined_method="INVITED",
                joined_at=now,
            ),
        )
        if enabled:
            store.ensure_full_aws_access(tx)
            store.attach_many(tx, FULL_AWS_ACCESS_ID, [root_id, account])
        call.audit_resource("AWS::Organizations::Organization", org.arn)
        self.gate.changed(call)
        return org

    def describe_organization(self, call: Call) -> tuple[Organization, str]:
        scope = self.gate.enter(call, management=False)
        mgmt = store.get_account(call.tx, scope.org_id, scope.mgmt)
        return scope.org, mgmt.email if mgmt is not None else management_email(scope.mgmt)

    def delete_organization(self, call: Call) -> None:
        scope = self.gate.enter(call, lambda s: [s.org.arn])
        if store.count_accounts(call.tx, scope.org_id) > 1:
            raise OrganizationNotEmptyException()
        store.delete_org(call.tx, scope.org_id)
        call.audit_resource("AWS::Organizations::Organization", scope.org.arn)
        self.gate.changed(call)

    # -- accounts ------------------------------------------------------------------------
    def create_account(
        self,
        call: Call,
        *,
        email: str,
        account_name: str,
        role_name: str | None,
        iam_user_access_to_billing: str | None,
        tag_list: Sequence[dict[str, str]] | None,
    ) -> CreateAccountStatus:
        tx = call.tx
        new_tags = tags.validated(tag_list)
        context = tags.request_context(new_tags)
        scope = self.gate.enter(
            call, lambda s: [account_arn(s.mgmt, s.org_id, "*")], context=context
        )
        if new_tags:
            self.gate.also(
                call, scope, "organizations:TagResource",
                account_arn(scope.mgmt, scope.org_id, "*"), context,
            )  # fmt: skip
        role = role_name or DEFAULT_ROLE_NAME
        if role.startswith("AWSServiceRoleFor"):
            raise InvalidInputException(
                "INVALID_ROLE_NAME",
                "You provided a role name that isn't valid. A role name can't begin with the "
                "reserved prefix 'AWSServiceRoleFor'.",
            )
        # IamUserAccessToBilling (ALLOW | DENY) is accepted: Garrison keeps no billing
        # data, so the switch governs nothing here (docs/compatibility/organizations.md).
        del iam_user_access_to_billing
        now = call.ctx.now.timestamp()
        request_id = new_create_account_request_id()
        failure = None
        if store.email_taken(tx, email):
            failure = "EMAIL_ALREADY_EXISTS"
        elif store.count_accounts(tx, scope.org_id) >= self.max_accounts:
            failure = "ACCOUNT_LIMIT_EXCEEDED"
        account_id = None
        if failure is None:
            account_id = self._make_account(call, scope, email, account_name, role, new_tags, now)
        status = CreateAccountStatus(
            request_id=request_id,
            org_id=scope.org_id,
            account_name=account_name,
            state=CreateAccountState.FAILED if failure else CreateAccountState.SUCCEEDED,
            account_id=account_id,
            failure_reason=failure,
            requested_at=now,
            completed_at=now,
        )
        store.insert_status(tx, status)
        return status

    def _make_account(
        self,
        call: Call,
        scope: Scope,
        email: str,
        name: str,
        role_name: str,
        new_tags: dict[str, str],
        now: float,
    ) -> str:
        tx = call.tx
        account_id = new_account_id()
        while tx.execute(
            select(schema.accounts.c.account_id).where(schema.accounts.c.account_id == account_id)
        ).first():
            account_id = new_account_id()
        root = store.roots(tx, scope.org_id)[0]
        account_role.create_account_record(tx, account_id, name, now)
        account = MemberAccount(
            account_id=account_id,
            org_id=scope.org_id,
            parent_id=root.unit_id,
            name=name,
            email=email,
            arn=account_arn(scope.mgmt, scope.org_id, account_id),
            status="ACTIVE",
            joined_method="CREATED",
            joined_at=now,
        )
        store.insert_account(tx, account)
        if SCP in root.policy_types:
            store.attach(tx, FULL_AWS_ACCESS_ID, account_id)
        store.put_tags(tx, account_id, new_tags)
        role_arn = account_role.create_access_role(tx, account_id, role_name, scope.mgmt, now)
        call.audit_resource("AWS::Organizations::Account", account.arn)
        call.audit_resource("AWS::IAM::Role", role_arn)
        self.gate.changed(call)
        return account_id

    def describe_create_account_status(self, call: Call, request_id: str) -> CreateAccountStatus:
        scope = self.gate.enter(call)
        status = store.get_status(call.tx, scope.org_id, request_id)
        if status is None:
            raise CreateAccountStatusNotFoundException()
        return status

    def list_create_account_status(
        self, call: Call, states: Sequence[str] | None, token: str | None, limit: int | None
    ) -> Page[CreateAccountStatus]:
        scope = self.gate.enter(call)
        op = "ListCreateAccountStatus"
        after = decode_token(op, token)
        n = page_size(limit)
        rows = store.list_statuses(call.tx, scope.org_id, states, after, n + 1)
        return paged(op, rows, n, lambda s: s.request_id)

    def describe_account(self, call: Call, account_id: str) -> tuple[MemberAccount, list[str]]:
        scope = self.gate.enter(call, lambda s: [s.arn_of(account_id)])
        account = store.get_account(call.tx, scope.org_id, account_id)
        if account is None:
            raise AccountNotFoundException()
        return account, self.paths(call.tx, scope, account)

    def list_accounts(
        self, call: Call, parent_id: str | None, token: str | None, limit: int | None
    ) -> Page[tuple[MemberAccount, list[str]]]:
        op = "ListAccounts" if parent_id is None else "ListAccountsForParent"
        resources = None if parent_id is None else (lambda s: [s.arn_of(parent_id)])
        scope = self.gate.enter(call, resources)
        if parent_id is not None:
            parent_or_raise(call.tx, scope, parent_id)
        after = decode_token(op, token)
        n = page_size(limit)
        rows = store.list_accounts(call.tx, scope.org_id, parent_id, after, n + 1)
        page = paged(op, rows, n, lambda a: a.account_id)
        return Page([(a, self.paths(call.tx, scope, a)) for a in page.items], page.next_token)

    def move_account(
        self, call: Call, account_id: str, source_parent_id: str, destination_parent_id: str
    ) -> None:
        scope = self.gate.enter(
            call,
            lambda s: [
                s.arn_of(account_id), s.arn_of(source_parent_id), s.arn_of(destination_parent_id)
            ],
        )  # fmt: skip
        tx = call.tx
        account = store.get_account(tx, scope.org_id, account_id)
        if account is None:
            raise AccountNotFoundException()
        if find_parent(tx, scope, source_parent_id) is None:
            raise SourceParentNotFoundException()
        if find_parent(tx, scope, destination_parent_id) is None:
            raise DestinationParentNotFoundException()
        if account.parent_id != source_parent_id:
            raise SourceParentNotFoundException(
                f"The account {account_id} is not in the parent {source_parent_id}."
            )
        if destination_parent_id == source_parent_id:
            raise DuplicateAccountException()
        store.move_account(tx, account_id, destination_parent_id)
        call.audit_resource("AWS::Organizations::Account", account.arn)
        self.gate.changed(call)

    def remove_account_from_organization(self, call: Call, account_id: str) -> None:
        scope = self.gate.enter(call, lambda s: [s.arn_of(account_id)])
        self._remove(call, scope, account_id)

    def leave_organization(self, call: Call) -> None:
        # Member accounts only; SCPs may forbid it (the authorizer applies them).
        scope = self.gate.enter(call, management=False)
        self._remove(call, scope, scope.caller_account)

    def _remove(self, call: Call, scope: Scope, account_id: str) -> None:
        """AWS refuses this for a created account until it has the billing details of a
        standalone account; Garrison has no billing, so any member account may go."""
        account = store.get_account(call.tx, scope.org_id, account_id)
        if account is None:
            raise AccountNotFoundException()
        if account_id == scope.mgmt:
            raise MasterCannotLeaveOrganizationException()
        store.remove_account(call.tx, account_id)
        call.audit_resource("AWS::Organizations::Account", account.arn)
        self.gate.changed(call)

    # -- paths -----------------------------------------------------------------------------
    def paths(self, tx: Tx, scope: Scope, account: MemberAccount) -> list[str]:
        """``o-.../r-.../ou-.../<account>/``: where the account sits in the tree."""
        return [f"{unit_path(tx, scope, account.parent_id)}{account.account_id}/"]
