"""Parameter Store persistence: parameters, versions (value sealed), labels, tags and
the policy actions the scheduler runs.

Every value passes the barrier: `ssm_parameter_versions.value` is sealed with
``("ssm_parameter_versions", "<parameter_id>/<version>", "value")`` as its
identity, so a value cannot be moved to another row or version. For a
SecureString the sealed bytes are KMS's ciphertext of the value.

DescribeParameters, the tag operations and resource policies (later parts of
Parameter Store) read and write the same tables: `tags_of`, `list_by_prefix`
and `delete_parameter` already cover every table of a parameter.

Every function here that writes a parameter's rows calls `_changed` first: the
read cache (cache.py) drops the parameter in this unit and after its commit,
and the unit is marked changed so that the other nodes clear theirs. A new
write to these tables must do the same. The read path's statements are built
once, with `bindparam`s (SQLAlchemy then reuses their compiled form).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from garrison.services.common.rows import count
from garrison.services.ssm.domain import Parameter, ParameterVersion
from garrison.services.ssm.policies import PolicyAction
from garrison.storage import schema
from garrison.storage.sql import and_, bindparam, delete, func, insert, select, update
from garrison.storage.writer import Tx

_P = schema.ssm_parameters
_V = schema.ssm_parameter_versions
_L = schema.ssm_parameter_labels
_T = schema.ssm_parameter_tags
_VALUE = ("ssm_parameter_versions", "value")


# -- who is told of changes ---------------------------------------------------------------
class Watcher(Protocol):
    """A read cache of parameters (cache.ParameterCache)."""

    def invalidate(self, tx: Tx, parameter_id: str) -> None: ...


_WATCHERS: weakref.WeakSet[Any] = weakref.WeakSet()


def watch(watcher: Watcher) -> None:
    """Tell `watcher` of every change to a parameter, in the changing unit."""
    _WATCHERS.add(watcher)


def _changed(tx: Tx, parameter_id: str) -> None:
    """Every write below goes through here: the caches of this process drop the
    parameter (now and after commit), and other nodes clear theirs (state version)."""
    tx.mark_changed()
    for watcher in list(_WATCHERS):
        watcher.invalidate(tx, parameter_id)


# -- statements of the read path, built once (SQLAlchemy then caches their compiled
# form; building `select(...).where(...)` per call was most of a GetParameter's CPU)
_FIND = select(_P).where(
    _P.c.account_id == bindparam("account_id"),
    _P.c.region == bindparam("region"),
    _P.c.name.in_(bindparam("names", expanding=True)),
)
_BY_ID = select(_P).where(_P.c.parameter_id == bindparam("pid"))
_GET_VERSION = select(_V).where(
    _V.c.parameter_id == bindparam("pid"), _V.c.version == bindparam("number")
)
_LABELS_OF = (
    select(_L.c.label)
    .where(_L.c.parameter_id == bindparam("pid"), _L.c.version == bindparam("number"))
    .order_by(_L.c.label)
)
_LABELLED = select(_L.c.version).where(
    _L.c.parameter_id == bindparam("pid"), _L.c.label == bindparam("label")
)
_TAGS_OF = select(_T.c.tag_key, _T.c.tag_value).where(_T.c.parameter_id == bindparam("pid"))
_VERSION_NUMBERS = (
    select(_V.c.version).where(_V.c.parameter_id == bindparam("pid")).order_by(_V.c.version)
)
_PREFIX_WHERE = (
    _P.c.account_id == bindparam("account_id"),
    _P.c.region == bindparam("region"),
    func.substr(_P.c.name, 1, bindparam("length")) == bindparam("prefix"),
)
_LIST_FIRST = select(_P).where(*_PREFIX_WHERE).order_by(_P.c.name).limit(bindparam("batch"))
_LIST_AFTER = (
    select(_P)
    .where(*_PREFIX_WHERE, _P.c.name > bindparam("after"))
    .order_by(_P.c.name)
    .limit(bindparam("batch"))
)


def _parameter(row: Any) -> Parameter:
    return Parameter(
        parameter_id=row.parameter_id,
        account_id=row.account_id,
        region=row.region,
        name=row.name,
        version=int(row.version),
        tier=row.tier,
        last_modified=float(row.last_modified),
    )


# -- parameters ------------------------------------------------------------------------
def find(tx: Tx, account_id: str, region: str, names: Sequence[str]) -> Parameter | None:
    """The parameter stored under any of `names` (spellings of one name), if any."""
    row = tx.execute(
        _FIND, {"account_id": account_id, "region": region, "names": list(names)}
    ).first()
    return None if row is None else _parameter(row)


def by_id(tx: Tx, parameter_id: str) -> Parameter | None:
    row = tx.execute(_BY_ID, {"pid": parameter_id}).first()
    return None if row is None else _parameter(row)


def insert_parameter(tx: Tx, parameter: Parameter) -> None:
    _changed(tx, parameter.parameter_id)
    tx.execute(
        insert(_P),
        {
            "parameter_id": parameter.parameter_id,
            "account_id": parameter.account_id,
            "region": parameter.region,
            "name": parameter.name,
            "version": parameter.version,
            "tier": parameter.tier,
            "last_modified": parameter.last_modified,
        },
    )


def advance_latest(tx: Tx, parameter: Parameter, version: int, tier: str, now: float) -> bool:
    """Make `version` the latest, if the latest is still the one `parameter` was read at
    (False: another writer moved it first)."""
    _changed(tx, parameter.parameter_id)
    done = tx.execute(
        update(_P)
        .where(_P.c.parameter_id == parameter.parameter_id, _P.c.version == parameter.version)
        .values(version=version, tier=tier, last_modified=now)
    )
    return bool(done.rowcount)


def count_in_tier(tx: Tx, account_id: str, region: str, tier: str) -> int:
    return count(tx, _P, _P.c.account_id == account_id, _P.c.region == region, _P.c.tier == tier)


def delete_parameter(tx: Tx, parameter_id: str) -> None:
    """The parameter with its history, labels, tags, resource policies and policy actions."""
    _changed(tx, parameter_id)
    for table in (
        schema.ssm_policy_actions,
        schema.ssm_resource_policies,
        _T,
        _L,
        _V,
        _P,
    ):
        tx.execute(delete(table).where(table.c.parameter_id == parameter_id))


def list_by_prefix(
    tx: Tx, account_id: str, region: str, prefix: str, after: str | None, batch: int = 100
) -> Iterator[Parameter]:
    """Every parameter whose name begins with `prefix`, in name order, after `after`."""
    params: dict[str, Any] = {
        "account_id": account_id,
        "region": region,
        "length": len(prefix),
        "prefix": prefix,
        "batch": batch,
    }
    while True:
        if after is None:
            rows = tx.execute(_LIST_FIRST, params).all()
        else:
            rows = tx.execute(_LIST_AFTER, {**params, "after": after}).all()
        for row in rows:
            yield _parameter(row)
        if len(rows) < batch:
            return
        after = rows[-1].name


# -- versions --------------------------------------------------------------------------
def insert_version(tx: Tx, version: ParameterVersion) -> None:
    pid = version.parameter.parameter_id
    _changed(tx, pid)
    tx.execute(
        insert(_V),
        {
            "parameter_id": pid,
            "version": version.version,
            "type": version.type,
            "data_type": version.data_type,
            "tier": version.tier,
            "key_id": version.key_id,
            "description": version.description,
            "allowed_pattern": version.allowed_pattern,
            "policies": version.policies,
            "value": tx.barrier.seal(
                _VALUE[0], f"{pid}/{version.version}", _VALUE[1], version.stored
            ),
            "last_modified": version.last_modified,
            "last_modified_user": version.last_modified_user,
        },
    )


def _version(
    tx: Tx, parameter: Parameter, row: Any, labels: tuple[str, ...], *, sealed: bool = False
) -> ParameterVersion:
    pid = parameter.parameter_id
    stored = row.value if sealed else open_value(tx, pid, int(row.version), row.value)
    return ParameterVersion(
        parameter=parameter,
        version=int(row.version),
        type=row.type,
        data_type=row.data_type,
        tier=row.tier,
        key_id=row.key_id,
        description=row.description,
        allowed_pattern=row.allowed_pattern,
        policies=row.policies,
        stored=stored,
        last_modified=float(row.last_modified),
        last_modified_user=row.last_modified_user,
        labels=labels,
    )


def get_version(
    tx: Tx, parameter: Parameter, version: int | None = None
) -> ParameterVersion | None:
    """A version of `parameter` (the latest when `version` is None), with its labels."""
    number = parameter.version if version is None else version
    row = tx.execute(_GET_VERSION, {"pid": parameter.parameter_id, "number": number}).first()
    if row is None:
        return None
    return _version(tx, parameter, row, labels_of(tx, parameter.parameter_id, number))


def latest_sealed(tx: Tx, parameter: Parameter) -> ParameterVersion | None:
    """The latest version with its labels, its value still sealed (`open_value` opens it):
    what the read cache keeps."""
    number = parameter.version
    row = tx.execute(_GET_VERSION, {"pid": parameter.parameter_id, "number": number}).first()
    if row is None:
        return None
    labels = labels_of(tx, parameter.parameter_id, number)
    return _version(tx, parameter, row, labels, sealed=True)


def open_value(tx: Tx, parameter_id: str, version: int, sealed: bytes) -> bytes:
    return tx.barrier.open(_VALUE[0], f"{parameter_id}/{version}", _VALUE[1], sealed)


def versions(tx: Tx, parameter: Parameter, after: int | None, limit: int) -> list[ParameterVersion]:
    """Up to `limit` versions after version `after`, oldest first, with their labels."""
    stmt = select(_V).where(_V.c.parameter_id == parameter.parameter_id)
    if after is not None:
        stmt = stmt.where(_V.c.version > after)
    rows = tx.execute(stmt.order_by(_V.c.version).limit(limit)).all()
    by_version: dict[int, list[str]] = {}
    if rows:
        for label_row in tx.execute(
            select(_L.c.label, _L.c.version)
            .where(_L.c.parameter_id == parameter.parameter_id)
            .order_by(_L.c.label)
        ):
            by_version.setdefault(int(label_row.version), []).append(label_row.label)
    return [_version(tx, parameter, r, tuple(by_version.get(int(r.version), ()))) for r in rows]


def version_numbers(tx: Tx, parameter_id: str) -> list[int]:
    rows = tx.execute(_VERSION_NUMBERS, {"pid": parameter_id})
    return [int(r.version) for r in rows]


def delete_version(tx: Tx, parameter_id: str, version: int) -> None:
    _changed(tx, parameter_id)
    tx.execute(delete(_V).where(_V.c.parameter_id == parameter_id, _V.c.version == version))


# -- labels ----------------------------------------------------------------------------
def labels_of(tx: Tx, parameter_id: str, version: int) -> tuple[str, ...]:
    rows = tx.execute(_LABELS_OF, {"pid": parameter_id, "number": version})
    return tuple(r.label for r in rows)


def labelled_version(tx: Tx, parameter_id: str, label: str) -> int | None:
    value = tx.execute(_LABELLED, {"pid": parameter_id, "label": label}).scalar()
    return None if value is None else int(value)


def put_label(tx: Tx, parameter_id: str, label: str, version: int) -> None:
    """Attach `label` to `version`, moving it from another version if it is on one."""
    _changed(tx, parameter_id)
    tx.execute(delete(_L).where(_L.c.parameter_id == parameter_id, _L.c.label == label))
    tx.execute(insert(_L), {"parameter_id": parameter_id, "label": label, "version": version})


def remove_label(tx: Tx, parameter_id: str, label: str, version: int) -> bool:
    _changed(tx, parameter_id)
    done = tx.execute(
        delete(_L).where(
            and_(_L.c.parameter_id == parameter_id, _L.c.label == label, _L.c.version == version)
        )
    )
    return bool(done.rowcount)


# -- tags ------------------------------------------------------------------------------
def insert_tags(tx: Tx, parameter_id: str, tags: Sequence[tuple[str, str]]) -> None:
    if tags:
        _changed(tx, parameter_id)
        tx.execute(
            insert(_T),
            [{"parameter_id": parameter_id, "tag_key": k, "tag_value": v} for k, v in tags],
        )


def tags_of(tx: Tx, parameter_id: str) -> dict[str, str]:
    rows = tx.execute(_TAGS_OF, {"pid": parameter_id})
    return {r.tag_key: r.tag_value for r in rows}


# -- parameter policies: their statuses and actions -------------------------------------
def policies_of(tx: Tx, parameter_id: str, version: int) -> str | None:
    """A version's stored policies (policies.stored_text), without its value."""
    value = tx.execute(
        select(_V.c.policies).where(_V.c.parameter_id == parameter_id, _V.c.version == version)
    ).scalar()
    return None if value is None else str(value)


def set_policies(tx: Tx, parameter_id: str, version: int, policies: str) -> None:
    """Rewrite a version's stored policies: their statuses moved (the text is the same)."""
    _changed(tx, parameter_id)
    tx.execute(
        update(_V)
        .where(_V.c.parameter_id == parameter_id, _V.c.version == version)
        .values(policies=policies)
    )


def replace_policy_actions(
    tx: Tx, parameter_id: str, version: int, actions: Sequence[PolicyAction]
) -> None:
    """The latest version's policy actions replace the previous version's."""
    table = schema.ssm_policy_actions
    tx.execute(delete(table).where(table.c.parameter_id == parameter_id))
    if actions:
        tx.execute(
            insert(table),
            [
                {
                    "parameter_id": parameter_id,
                    "policy_index": a.index,
                    "policy_type": a.policy_type,
                    "version": version,
                    "due_at": a.due_at,
                }
                for a in actions
            ],
        )


# -- DescribeParameters, tags and resource policies ------------------------------------
_RP = schema.ssm_resource_policies


def list_in_account(
    tx: Tx, account_id: str, region: str, after: str | None, batch: int = 100
) -> Iterator[Parameter]:
    """Every parameter of the account and Region, in name order, after `after`."""
    return list_by_prefix(tx, account_id, region, "", after, batch)


def put_tags(tx: Tx, parameter_id: str, tags: Sequence[tuple[str, str]]) -> None:
    """Add `tags`, replacing the value of a key the parameter already has."""
    keys = [k for k, _ in tags]
    if keys:
        _changed(tx, parameter_id)
        tx.execute(delete(_T).where(_T.c.parameter_id == parameter_id, _T.c.tag_key.in_(keys)))
    insert_tags(tx, parameter_id, tags)


def remove_tags(tx: Tx, parameter_id: str, keys: Sequence[str]) -> None:
    if keys:
        _changed(tx, parameter_id)
        tx.execute(delete(_T).where(_T.c.parameter_id == parameter_id, _T.c.tag_key.in_(keys)))


def resource_policies(tx: Tx, parameter_id: str) -> list[tuple[str, str, str]]:
    """The parameter's resource policies as (policy id, hash, document), oldest first."""
    rows = tx.execute(
        select(_RP.c.policy_id, _RP.c.policy_hash, _RP.c.policy)
        .where(_RP.c.parameter_id == parameter_id)
        .order_by(_RP.c.created_at, _RP.c.policy_id)
    )
    return [(r.policy_id, r.policy_hash, r.policy) for r in rows]


def insert_resource_policy(
    tx: Tx, parameter_id: str, policy_id: str, policy_hash: str, policy: str, now: float
) -> None:
    _changed(tx, parameter_id)
    tx.execute(
        insert(_RP),
        {
            "parameter_id": parameter_id,
            "policy_id": policy_id,
            "policy_hash": policy_hash,
            "policy": policy,
            "created_at": now,
        },
    )


def update_resource_policy(
    tx: Tx, parameter_id: str, policy_id: str, expected_hash: str, new_hash: str, policy: str
) -> bool:
    """Replace the policy if its hash is still `expected_hash` (False: it moved on)."""
    _changed(tx, parameter_id)
    done = tx.execute(
        update(_RP)
        .where(
            _RP.c.parameter_id == parameter_id,
            _RP.c.policy_id == policy_id,
            _RP.c.policy_hash == expected_hash,
        )
        .values(policy_hash=new_hash, policy=policy)
    )
    return bool(done.rowcount)


def delete_resource_policy(tx: Tx, parameter_id: str, policy_id: str, policy_hash: str) -> bool:
    _changed(tx, parameter_id)
    done = tx.execute(
        delete(_RP).where(
            _RP.c.parameter_id == parameter_id,
            _RP.c.policy_id == policy_id,
            _RP.c.policy_hash == policy_hash,
        )
    )
    return bool(done.rowcount)


def shared_candidates(tx: Tx, account_id: str, region: str) -> list[Parameter]:
    """Parameters of other accounts in `region` that have a resource policy, by ARN."""
    ids = select(_RP.c.parameter_id).distinct()
    rows = tx.execute(
        select(_P).where(
            _P.c.account_id != account_id, _P.c.region == region, _P.c.parameter_id.in_(ids)
        )
    ).all()
    return sorted((_parameter(r) for r in rows), key=lambda p: p.arn)
