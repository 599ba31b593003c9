"""Access keys of IAM users (and of the account root): create, list, update, delete,
and when each was last used.

Secrets are generated here, sealed by the barrier exactly as the root's key is
(table ``access_keys``, the key id as primary key, column ``secret``) and shown
once, in CreateAccessKey's response; the model marks SecretAccessKey sensitive,
so the audit event never carries it. Without UserName a call acts on the
caller's own keys: an IAM user's, or the account root's (AWS lets the root
manage its own access keys). Every change drops the key from this node's
credential cache after commit, and marks the unit changed for the other nodes.

Last use is tracked without a database write per request: `KeyUsage.record`
(called by the request pipeline for every authenticated call) keeps the latest
use per key in memory, and the ``iam-access-key-last-used`` job flushes the
map every scheduler tick in one unit; GetAccessKeyLastUsed reads the table and
overlays this node's unflushed entries.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from garrison.api import Call
from garrison.iam.credentials import new_access_key_id, new_secret_access_key
from garrison.services.iam import identities, store
from garrison.services.iam.access import IamAccess
from garrison.services.iam.domain import AccessKeyInfo, KeyStatus, User
from garrison.services.iam.errors import LimitExceeded, NoSuchEntity
from garrison.services.iam.limits import ACCESS_KEYS_PER_USER
from garrison.services.iam.paging import Page, page_of
from garrison.storage.writer import Tx


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """Whose keys a call manages: an IAM user, or the account root (user None)."""

    account_id: str
    user: User | None
    arn: str

    @property
    def user_name(self) -> str:
        return self.user.name if self.user else ""


def owner(call: Call, access: IamAccess, operation: str, user_name: str | None) -> KeyOwner:
    """Resolve and authorise the owner of the keys `operation` acts on."""
    if user_name is not None:
        user = identities.authorized_user(call, access, operation, user_name)
        return KeyOwner(user.account_id, user, user.arn)
    caller = identities.caller_user(call)
    arn = caller.arn if caller else call.ctx.principal.arn
    access.check(call, operation, arn)
    return KeyOwner(call.ctx.account_id, caller, arn)


def _keys(call: Call, who: KeyOwner) -> list[AccessKeyInfo]:
    return store.access_keys_of(call.tx, who.account_id, who.user.user_id if who.user else None)


def _no_such_key(access_key_id: str) -> NoSuchEntity:
    return NoSuchEntity(f"The Access Key with id {access_key_id} cannot be found.")


def _owned(call: Call, who: KeyOwner, access_key_id: str) -> AccessKeyInfo:
    for key in _keys(call, who):
        if key.access_key_id == access_key_id:
            return key
    raise _no_such_key(access_key_id)


def create_access_key(
    call: Call, access: IamAccess, user_name: str | None
) -> tuple[AccessKeyInfo, str]:
    """A new Active key and its secret (returned once, never stored in the clear)."""
    who = owner(call, access, "CreateAccessKey", user_name)
    if len(_keys(call, who)) >= ACCESS_KEYS_PER_USER:
        raise LimitExceeded(f"Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}")
    key = AccessKeyInfo(
        access_key_id=new_access_key_id(),
        account_id=who.account_id,
        principal_type="IAMUser" if who.user else "Root",
        user_id=who.user.user_id if who.user else who.account_id,
        user_name=who.user_name,
        status=KeyStatus.ACTIVE,
        created_at=call.ctx.now,
    )
    secret = new_secret_access_key()
    sealed = call.tx.barrier.seal("access_keys", key.access_key_id, "secret", secret.encode())
    store.insert_access_key(call.tx, key, who.arn, sealed)
    access.keys_changed(call, [key.access_key_id])  # a cached "unknown key" answer goes too
    return key, secret


def list_access_keys(
    call: Call, access: IamAccess, user_name: str | None, marker: str | None, max_items: int | None
) -> Page[AccessKeyInfo]:
    who = owner(call, access, "ListAccessKeys", user_name)
    return page_of(_keys(call, who), lambda k: k.access_key_id, marker, max_items)


def update_access_key(
    call: Call, access: IamAccess, user_name: str | None, access_key_id: str, status: str
) -> None:
    who = owner(call, access, "UpdateAccessKey", user_name)
    _owned(call, who, access_key_id)
    store.set_access_key_status(call.tx, access_key_id, KeyStatus(status))
    access.keys_changed(call, [access_key_id])


def delete_access_key(
    call: Call, access: IamAccess, user_name: str | None, access_key_id: str
) -> None:
    who = owner(call, access, "DeleteAccessKey", user_name)
    _owned(call, who, access_key_id)
    store.delete_access_key(call.tx, access_key_id)
    access.keys_changed(call, [access_key_id])


def get_access_key_last_used(
    call: Call, access: IamAccess, access_key_id: str, usage: KeyUsage
) -> AccessKeyInfo:
    key = store.get_access_key(call.tx, access_key_id)
    if key is None or key.account_id != call.ctx.account_id:
        # authorise on the caller's account before admitting that nothing is there
        access.check(call, "GetAccessKeyLastUsed", "*")
        raise _no_such_key(access_key_id)
    if key.principal_type == "IAMUser":
        arn = identities.user_arn(key.account_id, key.user_name)
        user = store.get_user_by_id(call.tx, key.user_id)
        access.check(call, "GetAccessKeyLastUsed", user.arn if user else arn)
    else:
        access.check(call, "GetAccessKeyLastUsed", f"arn:aws:iam::{key.account_id}:root")
    pending = usage.pending(access_key_id)
    if pending is not None and (key.last_used_at is None or pending.at > key.last_used_at):
        key = _with_use(key, pending)
    return key


def _with_use(key: AccessKeyInfo, use: Use) -> AccessKeyInfo:
    return AccessKeyInfo(
        key.access_key_id,
        key.account_id,
        key.principal_type,
        key.user_id,
        key.user_name,
        key.status,
        key.created_at,
        use.at,
        use.service,
        use.region,
    )


# -- last use ---------------------------------------------------------------------------


class Use(NamedTuple):  # built on every request: a NamedTuple costs a third of a dataclass
    at: datetime
    service: str
    region: str


class KeyUsage:
    """The latest use of each access key on this node since the last flush.

    `record` is on every request's path: one dict store under a lock, no I/O.
    AWS reports last use at day-ish granularity, so a flush per scheduler tick
    (and one per node) is as fresh as anyone can observe.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uses: dict[str, Use] = {}

    def record(self, access_key_id: str, service: str, region: str, when: datetime) -> None:
        use = Use(when, service, region)
        with self._lock:
            self._uses[access_key_id] = use

    def pending(self, access_key_id: str) -> Use | None:
        return self._uses.get(access_key_id)

    def take(self) -> dict[str, Use]:
        with self._lock:
            uses, self._uses = self._uses, {}
        return uses

    def restore(self, uses: dict[str, Use]) -> None:
        """Put back what a failed flush took (newer uses recorded since win)."""
        with self._lock:
            for key_id, use in uses.items():
                current = self._uses.get(key_id)
                if current is None or current.at < use.at:
                    self._uses[key_id] = use

    def flush(self, tx: Tx) -> int:
        """Write every pending use (the job's unit); returns how many keys."""
        uses = self.take()
        tx.on_rollback(lambda: self.restore(uses))
        for key_id, use in uses.items():
            store.record_key_use(tx, key_id, use.at.timestamp(), use.service, use.region)
        return len(uses)
