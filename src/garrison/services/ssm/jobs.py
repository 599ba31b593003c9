"""The scheduler's "ssm-parameter-policies" job: parameter policies, run when due.

    due_parameters(tx, now)                 one read unit: parameters with an action due
    for each parameter, in its own unit:    (run.hold first: the lease is still ours)
        run_due_actions(tx, pid, now, publish)
            ExpirationNotification  -> "Parameter Store Policy Action" event;
                                       the policy's status Pending -> Finished
            NoChangeNotification    -> "Parameter Store Policy Action" event;
                                       the policy's status Pending -> Finished
            Expiration              -> "Parameter Store Policy Action" event, then the
                                       parameter is deleted ("Parameter Store Change",
                                       operation Delete), statuses with it

`ssm_policy_actions` holds one row per Pending policy of a parameter's latest
version, keyed by the policy's place in the version's list (`schedule_actions`,
called by PutParameter; times from `policies.actions`). A row is deleted, and
its policy marked Finished, in the unit that acts on it, with the event written
to the outbox in that same transaction, so each action happens once, also
across nodes and after a crash, and a status never says Finished for an action
not taken. A new version replaces the rows and its policies start Pending
(`policies.new_version_statuses`): NoChangeNotification counts from the new
version's time (AWS: "If you change or edit a parameter, the system resets the
notification time period based on the new value of LastModifiedTime"); an
Expiration keeps its Timestamp unless the policies are replaced (AWS: "Updating
a parameter does not affect the expiration date"), and an ExpirationNotification
already sent for the same Expiration is not sent again (it stays Finished).

Notifications due together with the Expiration are sent before the parameter
goes. Nothing here reads or writes a parameter's value.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from garrison.events.envelope import Event
from garrison.scheduler.runner import JobRun
from garrison.services.ssm import store
from garrison.services.ssm.domain import ParameterVersion
from garrison.services.ssm.events import DELETE, Publish, change_event, policy_action_event
from garrison.services.ssm.policies import (
    EXPIRATION,
    EXPIRATION_NOTIFICATION,
    FINISHED,
    PENDING,
    ParameterPolicy,
    action_reason,
    actions,
    from_stored,
    new_version_statuses,
    stored_text,
)
from garrison.storage import schema
from garrison.storage.database import Database
from garrison.storage.sql import delete, func, select
from garrison.storage.writer import Tx

JOB_NAME = "ssm-parameter-policies"
BATCH = 100
_A = schema.ssm_policy_actions


def schedule_actions(tx: Tx, version: ParameterVersion) -> None:
    """`version`, the new latest: its policies' statuses, and their actions over the
    previous version's."""
    pid = version.parameter.parameter_id
    given = from_stored(version.policies)
    previous: tuple[ParameterPolicy, ...] = ()
    if version.version > 1 and any(p.type == EXPIRATION_NOTIFICATION for p in given):
        previous = from_stored(store.policies_of(tx, pid, version.version - 1))
    policies = new_version_statuses(given, previous)
    if policies != given:  # kept from the previous version, with its statuses
        store.set_policies(tx, pid, version.version, stored_text(policies))
    store.replace_policy_actions(tx, pid, version.version, actions(policies, version.last_modified))


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
    first_due = func.min(_A.c.due_at)
    rows = tx.execute(
        select(_A.c.parameter_id, first_due)
        .where(_A.c.due_at <= now)
        .group_by(_A.c.parameter_id)
        .order_by(first_due, _A.c.parameter_id)
        .limit(limit)
    ).all()
    return [str(r.parameter_id) for r in rows]


def run_due_actions(tx: Tx, parameter_id: str, now: float, publish: Publish | None) -> bool:
    """Do what is due for one parameter (re-read in this unit); False if nothing was."""
    due = tx.execute(
        select(_A.c.policy_index, _A.c.policy_type, _A.c.version, _A.c.due_at).where(
            _A.c.parameter_id == parameter_id, _A.c.due_at <= now
        )
    ).all()
    if not due:
        return False
    parameter = store.by_id(tx, parameter_id)
    latest = store.latest_sealed(tx, parameter) if parameter is not None else None
    if parameter is None or latest is None:  # left behind by a deletion: nothing to act on
        _forget(tx, parameter_id, [int(r.policy_index) for r in due])
        return False
    policies = list(from_stored(latest.policies))
    time = datetime.fromtimestamp(now, UTC)
    events: list[Event] = []
    expired = False
    # notifications first (all due together, the parameter is told about before it goes),
    # each in the order it fell due
    for row in sorted(due, key=lambda r: (r.policy_type == EXPIRATION, r.due_at, r.policy_index)):
        index = int(row.policy_index)
        policy = policies[index] if index < len(policies) else None
        if policy is None or not _runs(policy, row.policy_type, int(row.version), latest):
            continue  # not the latest version's: stale (its row goes below)
        events.append(_policy_event(latest, policy, time))
        if policy.type == EXPIRATION:
            events.append(_deleted_event(latest, time))
            expired = True
            break
        policies[index] = replace(policy, status=FINISHED)
    if expired:
        store.delete_parameter(tx, parameter_id)  # its statuses and action rows with it
    else:
        _forget(tx, parameter_id, [int(r.policy_index) for r in due])
        if events:
            store.set_policies(tx, parameter_id, latest.version, stored_text(tuple(policies)))
    if events and publish is not None:
        publish(tx, events)
    tx.mark_changed()
    return bool(events)


def _runs(
    policy: ParameterPolicy, policy_type: str, version: int, latest: ParameterVersion
) -> bool:
    """Whether a due row still names a Pending policy of the latest version."""
    return version == latest.version and policy.type == policy_type and policy.status == PENDING


def _forget(tx: Tx, parameter_id: str, indexes: list[int]) -> None:
    tx.execute(delete(_A).where(_A.c.parameter_id == parameter_id, _A.c.policy_index.in_(indexes)))


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
