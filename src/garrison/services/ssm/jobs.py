"""The scheduler's "ssm-parameter-policies" job: parameter policies, run when due.

    due_parameters(tx, now)                 one read unit: parameters with an action due
    for each parameter, in its own unit:    (run.hold first: the lease is still ours)
        run_due_actions(tx, pid, now, publish)
            ExpirationNotification  -> "Parameter Store Policy Action" event
            NoChangeNotification    -> "Parameter Store Policy Action" event
            Expiration              -> "Parameter Store Policy Action" event, then the
                                       parameter is deleted ("Parameter Store Change",
                                       operation Delete)

`ssm_policy_actions` holds one row per policy of a parameter's latest version
(`schedule_actions`, called by PutParameter; times from `policies.actions`). A
row is deleted in the unit that acts on it, with the event written to the
outbox in that same transaction, so each action happens once, also across
nodes and after a crash. A new version replaces the rows: NoChangeNotification
counts from the new version's time (AWS: "If you change or edit a parameter,
the system resets the notification time period based on the new value of
LastModifiedTime"); an Expiration keeps its Timestamp unless the policies are
replaced (AWS: "Updating a parameter does not affect the expiration date"),
and an ExpirationNotification already sent for the same Expiration is not sent
again.

Notifications due together with the Expiration are sent before the parameter
goes. Nothing here reads or writes a parameter's value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from garrison.events.envelope import Event
from garrison.scheduler.runner import JobRun
from garrison.services.ssm import store
from garrison.services.ssm.domain import Parameter, ParameterVersion
from garrison.services.ssm.events import DELETE, Publish, change_event, policy_action_event
from garrison.services.ssm.policies import (
    EXPIRATION,
    EXPIRATION_NOTIFICATION,
    NO_CHANGE_NOTIFICATION,
    ParameterPolicy,
    action_reason,
    actions,
    from_stored,
)
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import delete, select
from garrison.storage.writer import Tx

JOB_NAME = "ssm-parameter-policies"
BATCH = 100
_A = schema.ssm_policy_actions
_P = schema.ssm_parameters
_V = schema.ssm_parameter_versions
# notifications first: all due together, the parameter is told about before it goes
_ORDER = (EXPIRATION_NOTIFICATION, NO_CHANGE_NOTIFICATION, EXPIRATION)


def schedule_actions(tx: Tx, version: ParameterVersion) -> None:
    """Write the policy actions of `version`, the new latest, over the previous one's."""
    pid = version.parameter.parameter_id
    planned = actions(from_stored(version.policies), version.last_modified)
    if _notice_sent(tx, pid, version):
        planned = [a for a in planned if a.policy_type != EXPIRATION_NOTIFICATION]
    store.replace_policy_actions(tx, pid, version.version, planned)


def _notice_sent(tx: Tx, parameter_id: str, version: ParameterVersion) -> bool:
    """Whether the previous version already sent the ExpirationNotification `version`
    keeps (the same notification for the same Expiration, its row gone)."""
    if version.version == 1:
        return False
    previous = tx.execute(
        select(_V.c.policies).where(
            _V.c.parameter_id == parameter_id, _V.c.version == version.version - 1
        )
    ).scalar()
    kept = (EXPIRATION, EXPIRATION_NOTIFICATION)
    old = {p.type: p.text for p in from_stored(previous) if p.type in kept}
    new = {p.type: p.text for p in from_stored(version.policies) if p.type in kept}
    if EXPIRATION_NOTIFICATION not in new or old != new:
        return False
    pending = tx.execute(
        select(_A.c.policy_type).where(
            _A.c.parameter_id == parameter_id, _A.c.policy_type == EXPIRATION_NOTIFICATION
        )
    ).first()
    return pending is None


def run_policies(db: Database, run: JobRun, publish: Publish | None) -> int:
    """The job: every parameter with an action due at `run.now`, one unit each;
    how many parameters were acted on."""

    def batch() -> list[str]:
        return db.read(lambda tx: due_parameters(tx, run.now))

    def one(parameter_id: str) -> bool:
        def unit(tx: Tx) -> bool:
            return run.hold(tx) and run_due_actions(tx, parameter_id, run.now, publish)

        return bool(db.write(unit))

    return run.each(batch, one)


def due_parameters(tx: Tx, now: float, limit: int = BATCH) -> list[str]:
    """The first `limit` parameters with an action due at `now`, most overdue first."""
    rows = tx.execute(
        select(_A.c.parameter_id, _A.c.due_at)
        .where(_A.c.due_at <= now)
        .order_by(_A.c.due_at, _A.c.parameter_id)
        .limit(limit * 3)  # a parameter has up to three rows
    ).all()
    return list(dict.fromkeys(str(r.parameter_id) for r in rows))[:limit]


def run_due_actions(tx: Tx, parameter_id: str, now: float, publish: Publish | None) -> bool:
    """Do what is due for one parameter (re-read in this unit); False if nothing was."""
    due = {
        str(r.policy_type): int(r.version)
        for r in tx.execute(
            select(_A.c.policy_type, _A.c.version).where(
                _A.c.parameter_id == parameter_id, _A.c.due_at <= now
            )
        )
    }
    if not due:
        return False
    parameter = _parameter(tx, parameter_id)
    latest = store.get_version(tx, parameter) if parameter is not None else None
    if parameter is None or latest is None:  # left behind by a deletion: nothing to act on
        _forget(tx, parameter_id, due)
        return False
    policies = {p.type: p for p in from_stored(latest.policies)}
    time = datetime.fromtimestamp(now, UTC)
    events: list[Event] = []
    for kind in _ORDER:
        if kind not in due:
            continue
        policy = policies.get(kind)
        if due[kind] != latest.version or policy is None:
            _forget(tx, parameter_id, (kind,))  # not the latest version's: stale
            continue
        events.append(_policy_event(latest, policy, time))
        if kind == EXPIRATION:
            events.append(_deleted_event(latest, time))
            store.delete_parameter(tx, parameter_id)  # its action rows go with it
        else:
            _forget(tx, parameter_id, (kind,))
    if events and publish is not None:
        publish(tx, events)
    tx.mark_changed()
    return bool(events)


def _parameter(tx: Tx, parameter_id: str) -> Parameter | None:
    row = tx.execute(
        select(_P.c.account_id, _P.c.region, _P.c.name).where(_P.c.parameter_id == parameter_id)
    ).first()
    if row is None:
        return None
    return store.find(tx, row.account_id, row.region, [row.name])


def _forget(tx: Tx, parameter_id: str, kinds: Sequence[str] | dict[str, int]) -> None:
    tx.execute(
        delete(_A).where(_A.c.parameter_id == parameter_id, _A.c.policy_type.in_(list(kinds)))
    )


def _policy_event(version: ParameterVersion, policy: ParameterPolicy, time: datetime) -> Event:
    parameter = version.parameter
    return policy_action_event(
        account_id=parameter.account_id,
        region=parameter.region,
        time=time,
        name=parameter.name,
        type=version.type,
        policy_type=policy.type,
        policy_content=policy.text,
        reason=action_reason(policy, parameter.name, version.last_modified),
    )


def _deleted_event(version: ParameterVersion, time: datetime) -> Event:
    parameter = version.parameter
    return change_event(
        account_id=parameter.account_id,
        region=parameter.region,
        time=time,
        operation=DELETE,
        name=parameter.name,
        type=version.type,
        description=version.description,
    )
