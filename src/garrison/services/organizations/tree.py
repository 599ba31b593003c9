"""The organization's tree: roots, organizational units, parents and children.

An OU's id carries its root's suffix (``ou-<root>-<8>``); OUs nest at most five
levels below the root, as AWS allows with SCPs. A new OU gets FullAWSAccess
attached when SCPs are enabled in its root, as AWS does.
"""

from __future__ import annotations

from collections.abc import Sequence

from garrison.api import Call
from garrison.services.organizations import store, tags
from garrison.services.organizations.access import (
    Gate,
    Page,
    Scope,
    decode_token,
    page_size,
    paged,
)
from garrison.services.organizations.domain import (
    FULL_AWS_ACCESS_ID,
    MAX_OU_DEPTH,
    MAX_OUS,
    SCP,
    Unit,
    UnitKind,
    new_ou_id,
    ou_arn,
)
from garrison.services.organizations.errors import (
    ChildNotFoundException,
    ConstraintViolationException,
    DuplicateOrganizationalUnitException,
    OrganizationalUnitNotEmptyException,
    OrganizationalUnitNotFoundException,
    ParentNotFoundException,
)
from garrison.storage.writer import Tx


def find_parent(tx: Tx, scope: Scope, parent_id: str) -> Unit | None:
    return store.get_unit(tx, scope.org_id, parent_id)


def parent_or_raise(tx: Tx, scope: Scope, parent_id: str) -> Unit:
    unit = find_parent(tx, scope, parent_id)
    if unit is None:
        raise ParentNotFoundException()
    return unit


def ancestry(tx: Tx, scope: Scope, unit_id: str) -> list[Unit]:
    """The chain root -> ... -> `unit_id`."""
    chain: list[Unit] = []
    current: str | None = unit_id
    while current is not None:
        unit = store.get_unit(tx, scope.org_id, current)
        if unit is None:
            break
        chain.append(unit)
        current = unit.parent_id
    return chain[::-1]


def unit_path(tx: Tx, scope: Scope, unit_id: str) -> str:
    """``o-.../r-.../ou-.../``, the Path AWS gives an OU (and its accounts' prefix)."""
    return f"{scope.org_id}/" + "".join(f"{u.unit_id}/" for u in ancestry(tx, scope, unit_id))


class TreeService:
    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    def list_roots(self, call: Call, token: str | None, limit: int | None) -> Page[Unit]:
        scope = self.gate.enter(call)
        after = decode_token("ListRoots", token)
        rows = [r for r in store.roots(call.tx, scope.org_id) if after is None or r.unit_id > after]
        return paged("ListRoots", rows, page_size(limit), lambda u: u.unit_id)

    def create_organizational_unit(
        self,
        call: Call,
        parent_id: str,
        name: str,
        tag_list: Sequence[dict[str, str]] | None,
    ) -> tuple[Unit, str]:
        tx = call.tx
        new_tags = tags.validated(tag_list)
        context = tags.request_context(new_tags)
        scope = self.gate.enter(call, lambda s: [s.arn_of(parent_id)], context=context)
        if new_tags:
            self.gate.also(
                call, scope, "organizations:TagResource",
                ou_arn(scope.mgmt, scope.org_id, "*"), context,
            )  # fmt: skip
        parent = parent_or_raise(tx, scope, parent_id)
        chain = ancestry(tx, scope, parent_id)
        if len(chain) > MAX_OU_DEPTH:
            raise ConstraintViolationException(
                "OU_DEPTH_LIMIT_EXCEEDED",
                "You attempted to create an OU tree that is too many levels deep.",
            )
        if store.count_ous(tx, scope.org_id) >= MAX_OUS:
            raise ConstraintViolationException(
                "OU_NUMBER_LIMIT_EXCEEDED",
                "You attempted to exceed the number of OUs that you can have in an organization.",
            )
        if store.ou_name_taken(tx, scope.org_id, parent_id, name):
            raise DuplicateOrganizationalUnitException()
        root = chain[0]
        ou_id = new_ou_id(root.unit_id)
        unit = Unit(
            ou_id, scope.org_id, UnitKind.OU, parent.unit_id, name,
            ou_arn(scope.mgmt, scope.org_id, ou_id), (),
        )  # fmt: skip
        store.insert_unit(tx, unit)
        if SCP in root.policy_types:
            store.attach(tx, FULL_AWS_ACCESS_ID, ou_id)
        store.put_tags(tx, ou_id, new_tags)
        call.audit_resource("AWS::Organizations::OrganizationalUnit", unit.arn)
        self.gate.changed(call)
        return unit, unit_path(tx, scope, ou_id)

    def _ou(self, tx: Tx, scope: Scope, ou_id: str) -> Unit:
        unit = store.get_unit(tx, scope.org_id, ou_id)
        if unit is None or unit.is_root:
            raise OrganizationalUnitNotFoundException()
        return unit

    def describe_organizational_unit(self, call: Call, ou_id: str) -> tuple[Unit, str]:
        scope = self.gate.enter(call, lambda s: [s.arn_of(ou_id)])
        unit = self._ou(call.tx, scope, ou_id)
        return unit, unit_path(call.tx, scope, ou_id)

    def update_organizational_unit(
        self, call: Call, ou_id: str, name: str | None
    ) -> tuple[Unit, str]:
        tx = call.tx
        scope = self.gate.enter(call, lambda s: [s.arn_of(ou_id)])
        unit = self._ou(tx, scope, ou_id)
        if name is not None and name != unit.name:
            assert unit.parent_id is not None
            if store.ou_name_taken(tx, scope.org_id, unit.parent_id, name):
                raise DuplicateOrganizationalUnitException()
            store.rename_unit(tx, ou_id, name)
            tx.mark_changed()
            unit = self._ou(tx, scope, ou_id)
        call.audit_resource("AWS::Organizations::OrganizationalUnit", unit.arn)
        return unit, unit_path(tx, scope, ou_id)

    def delete_organizational_unit(self, call: Call, ou_id: str) -> None:
        tx = call.tx
        scope = self.gate.enter(call, lambda s: [s.arn_of(ou_id)])
        unit = self._ou(tx, scope, ou_id)
        if store.has_children(tx, ou_id):
            raise OrganizationalUnitNotEmptyException()
        store.delete_unit(tx, ou_id)
        call.audit_resource("AWS::Organizations::OrganizationalUnit", unit.arn)
        self.gate.changed(call)

    def list_organizational_units_for_parent(
        self, call: Call, parent_id: str, token: str | None, limit: int | None
    ) -> Page[tuple[Unit, str]]:
        op = "ListOrganizationalUnitsForParent"
        scope = self.gate.enter(call, lambda s: [s.arn_of(parent_id)])
        parent_or_raise(call.tx, scope, parent_id)
        after = decode_token(op, token)
        n = page_size(limit)
        rows = store.child_units(call.tx, scope.org_id, parent_id, after, n + 1)
        page = paged(op, rows, n, lambda u: u.unit_id)
        return Page(
            [(u, unit_path(call.tx, scope, u.unit_id)) for u in page.items], page.next_token
        )

    def list_children(
        self, call: Call, parent_id: str, child_type: str, token: str | None, limit: int | None
    ) -> Page[str]:
        op = f"ListChildren/{child_type}"
        scope = self.gate.enter(call, lambda s: [s.arn_of(parent_id)])
        parent_or_raise(call.tx, scope, parent_id)
        after = decode_token(op, token)
        n = page_size(limit)
        if child_type == "ACCOUNT":
            accounts = store.list_accounts(call.tx, scope.org_id, parent_id, after, n + 1)
            ids = [a.account_id for a in accounts]
        else:
            ids = [
                u.unit_id for u in store.child_units(call.tx, scope.org_id, parent_id, after, n + 1)
            ]
        return paged(op, ids, n, lambda i: i)

    def list_parents(self, call: Call, child_id: str, token: str | None) -> list[Unit]:
        """A child has one parent, so there is one page; a token ends the listing."""
        scope = self.gate.enter(call, lambda s: [s.arn_of(child_id)])
        tx = call.tx
        finished = decode_token("ListParents", token) is not None
        parent_id: str | None
        if child_id.startswith("ou-"):
            unit = store.get_unit(tx, scope.org_id, child_id)
            parent_id = unit.parent_id if unit is not None else None
        else:
            account = store.get_account(tx, scope.org_id, child_id)
            parent_id = account.parent_id if account is not None else None
        parent = store.get_unit(tx, scope.org_id, parent_id) if parent_id else None
        if parent is None:
            raise ChildNotFoundException()
        return [] if finished else [parent]
