"""The composition root: builds every part of a Garrison node and wires them.

No module-level singletons: everything a node has hangs off one `Garrison`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import threading
import uuid
from collections.abc import Callable
from typing import Any

from garrison.audit.digests import create_digest, latest_digest_time
from garrison.audit.event import CallRecord, build_event
from garrison.audit.trail import AuditTrail
from garrison.bootstrap import (
    DEV_ACCESS_KEY_ID,
    DEV_ACCOUNT_ID,
    DEV_SECRET_ACCESS_KEY,
    RootCredentials,
    create_first_account,
    is_initialized,
    key_file_path,
    load_signer,
)
from garrison.clock import Clock, OffsetClock, SystemClock
from garrison.config import Settings
from garrison.crypto.signing import DigestSigner
from garrison.events import store as events_store
from garrison.events.bus import EventBus
from garrison.events.delivery import Deliverer
from garrison.events.outbox import Pending
from garrison.events.senders import Sender
from garrison.events.senders.file import FileSender
from garrison.events.senders.http import HttpSender
from garrison.events.senders.nats import NatsSender
from garrison.iam.authorizer import Authorizer
from garrison.iam.credentials import CredentialStore, forget_keys, service_principal
from garrison.pipeline import Ids, Pipeline
from garrison.protocol.sigv4 import SigV4Verifier
from garrison.protocol.specs import SpecRegistry
from garrison.rotation.registry import Functions
from garrison.scheduler.runner import Job, JobRun, Scheduler
from garrison.services.cloudtrail.provider import CloudTrailProvider
from garrison.services.events.provider import EventsProvider
from garrison.services.iam.provider import IamProvider
from garrison.services.kms.jobs import DoneOnKey
from garrison.services.kms.provider import KmsProvider
from garrison.services.kms.quotas import RequestQuotas
from garrison.services.organizations.provider import OrganizationsProvider
from garrison.services.secretsmanager.jobs import run_deletions as run_secret_deletions
from garrison.services.secretsmanager.provider import SecretsManagerProvider
from garrison.services.secretsmanager.rotation import JOB_NAME as ROTATION_JOB
from garrison.services.secretsmanager.rotation import RotationEngine
from garrison.services.ssm.jobs import run_policies
from garrison.services.ssm.provider import SsmProvider
from garrison.services.sts.provider import StsProvider
from garrison.storage import schema
from garrison.storage.database import Database, sqlite_path
from garrison.storage.seal import (
    RootKey,
    SealError,
    ShamirUnsealer,
    init_file_seal,
    read_key_file,
    seal_type,
    shamir_threshold,
    unseal_with_key,
)
from garrison.storage.sql import delete, select
from garrison.storage.writer import Tx
from garrison.workers import CommitLock, SharedVersion

log = logging.getLogger(__name__)

SERVICES = ("kms", "cloudtrail", "sts", "organizations", "iam", "ssm", "events", "secretsmanager")


class Garrison:
    """One node: storage, barrier, audit, services, pipeline, scheduler."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        workers: int = 1,
        shared: SharedVersion | None = None,
    ) -> None:
        """`workers`: how many processes of one server this node is one of (the KMS
        request quotas are shared out); `shared`: their state version (workers.py)."""
        self.settings = settings
        self.clock: Clock = clock or (OffsetClock() if settings.dev else SystemClock())
        self.db = Database(settings.effective_database_url)
        self.shared = shared
        self._seen_shared = 0
        if workers > 1 and self.db.is_sqlite:
            self.db.writer.commit_lock = CommitLock(sqlite_path(self.db.url) + ".commit-lock")
        self.node_id = (
            settings.node_id or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        )
        self._signer: DigestSigner | None = None
        self.trail = AuditTrail(self.node_id, lambda: self._signer, self.clock.time)
        self.db.writer.participants.append(self.trail)
        self.db.writer.on_version = self._own_version
        self.credentials = CredentialStore(self.db.barrier, self.db.read)
        # One policy engine for every service; providers get it at construction.
        self.authorizer = Authorizer()
        self.kms = KmsProvider(
            self.clock,
            authorizer=self.authorizer,
            max_keys=settings.kms_max_keys,
            max_aliases=settings.kms_max_aliases,
            max_grants_per_key=settings.kms_max_grants_per_key,
            quotas=RequestQuotas.configured(
                symmetric=settings.kms_symmetric_request_rate,
                rsa=settings.kms_rsa_request_rate,
                ecc=settings.kms_ecc_request_rate,
                ml_dsa=settings.kms_ml_dsa_request_rate,
                operations=settings.kms_operation_request_rates,
            ).shared_by(workers),
        )
        self.cloudtrail = CloudTrailProvider(self.clock, self.authorizer)
        self.ssm = SsmProvider(
            self.clock,
            self.authorizer,
            self.kms.kms,
            max_standard_parameters=settings.ssm_max_standard_parameters,
            max_advanced_parameters=settings.ssm_max_advanced_parameters,
            publish=lambda tx, events: self.bus.publish(tx, events),  # built just below
        )
        self.rotation_functions = Functions(
            settings.secretsmanager_rotation_functions, settings.secretsmanager_rotation_webhooks
        )
        self.secretsmanager = SecretsManagerProvider(
            self.clock, self.authorizer, self.kms.kms, self.rotation_functions
        )
        self.sts = StsProvider(self.clock, self.authorizer)
        self.organizations = OrganizationsProvider(self.clock, self.authorizer)
        credentials = self.credentials
        self.iam = IamProvider(self.authorizer, lambda ids: forget_keys(credentials, ids))
        ids = Ids()
        # the event bus: rules matched in the transaction of each change, deliveries
        # written to the outbox with it
        self.bus = EventBus(self.clock, ids.random)
        self.events = EventsProvider(
            self.clock,
            self.authorizer,
            self.bus,
            file_root=settings.events_file_root,
            allow_http_targets=settings.events_http_targets_allowed,
        )
        self.bus.on_enqueued = self.wake_delivery
        self.registry = SpecRegistry(list(SERVICES))
        # Signatures are checked against wall time, not the injectable domain
        # clock: moving time in dev mode must not invalidate every client.
        self.verifier = SigV4Verifier(self.credentials.secret_for, SystemClock())
        self.pipeline = Pipeline(
            registry=self.registry,
            providers={
                "kms": self.kms,
                "cloudtrail": self.cloudtrail,
                "sts": self.sts,
                "organizations": self.organizations,
                "iam": self.iam,
                "ssm": self.ssm,
                "events": self.events,
                "secretsmanager": self.secretsmanager,
            },
            verifier=self.verifier,
            credentials=self.credentials,
            writer=self.db.writer,
            trail=self.trail,
            clock=self.clock,
            key_used=self.iam.key_usage.record,  # memory only, on every request
            ids=ids,
            on_audited=self.bus.publish_api_call,
        )
        # event bus delivery (events/delivery.py): the senders by target ARN, run by the
        # "events-delivery" job and woken at once after commits that enqueued
        self.event_senders: list[Sender] = [
            HttpSender(
                self.db,
                self.clock,
                allow_http=settings.events_http_targets_allowed,
                ca_file=settings.events_target_ca_file,
            ),
            NatsSender(
                settings.events_nats_url,
                jetstream=settings.events_nats_jetstream,
                stream=settings.events_nats_stream,
            ),
            FileSender(settings.events_file_root),
        ]
        self.deliverer = Deliverer(
            self.db,
            self.clock,
            self.node_id,
            self.event_senders,
            _event_target,
            retry_base=settings.events_retry_base_seconds,
            retry_cap=settings.events_retry_max_seconds,
        )
        self._delivery_wake = threading.Event()
        self._delivery_stop = threading.Event()
        self._delivery_thread: threading.Thread | None = None
        # Secrets Manager rotation (services/secretsmanager/rotation.py): run by its job, and
        # at once, on a thread of its own, after a RotateSecret that rotates immediately
        self.rotations = RotationEngine(
            self.db,
            self.clock,
            self.trail,
            self.kms.kms,
            self.rotation_functions,
            self.bus.publish_api_call,
            self.bus.publish,
        )
        self.secretsmanager.rotation.wake = self._rotate_now
        self.scheduler = Scheduler(self.db, self.clock, self.node_id, self._jobs())
        self._rotation_scheduler = Scheduler(
            self.db, self.clock, self.node_id, [Job(ROTATION_JOB, self.rotations.run)]
        )
        self.unsealer: ShamirUnsealer | None = None
        # kept after unsealing so keyring terms added later open without a restart
        self.root_key: RootKey | None = None
        self._unseal_lock = threading.Lock()
        self.created_credentials: RootCredentials | None = None
        self._known_version = 0
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------
    def open(self) -> None:
        """Migrate, initialise on first start, unseal when the key is at hand.

        Raises SealError when the store's root key file is missing or wrong.
        """
        data_dir = self.settings.data_path
        if self.db.is_sqlite:
            # the root key file lives here too: keep the directory private
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.db.migrate()
        kind = seal_type(self.db)
        if kind is None:
            init_file_seal(self.db, key_file_path(data_dir))
            kind = "file"
        if kind == "file":
            self.root_key = unseal_with_key(self.db, read_key_file(key_file_path(data_dir)))
            self._after_unseal()
            self.db.barrier.unseal()
        elif kind == "shamir":
            self.unsealer = ShamirUnsealer(self.db, shamir_threshold(self.db))
        else:
            raise SealError(f"the store names an unknown seal type {kind!r}")

    def _after_unseal(self) -> None:
        if not is_initialized(self.db):
            s = self.settings
            self.created_credentials = create_first_account(
                self.db,
                self.clock.time(),
                account_id=s.account_id or (DEV_ACCOUNT_ID if s.dev else ""),
                access_key_id=s.root_access_key_id or (DEV_ACCESS_KEY_ID if s.dev else ""),
                secret_access_key=s.root_secret_access_key
                or (DEV_SECRET_ACCESS_KEY if s.dev else ""),
            )
        self._signer = load_signer(self.db)
        self.db.read(self.trail.load)
        self.db.write(self.iam.seed)  # AWS managed policies, if missing
        self._known_version = self.db.state_version()

    def unseal(self, share: str) -> bool:
        """Give one Shamir share; True once the node serves. Raises SealError."""
        with self._unseal_lock:
            if not self.db.barrier.sealed:
                return True
            if self.unsealer is None or not self.unsealer.submit(share):
                return False
            # The keys are loaded but the node does not serve until its own
            # start-up (audit signer, chain position) is done.
            try:
                self._after_unseal()
            except Exception:
                log.exception("start-up after unsealing failed")
                self.db.barrier.seal_off()
                self.unsealer.root = None
                raise SealError("unsealing failed; see the server log and try again") from None
            self.root_key = self.unsealer.root
            self.db.barrier.unseal()
            return True

    def reload_keyring(self) -> None:
        """Open keyring terms added since unsealing (`garrison operator rotate`)."""
        if self.root_key is not None:
            terms = self.root_key.load_new_terms()
            if terms:
                log.info("keyring: loaded term(s) %s", ", ".join(map(str, terms)))

    def start(self) -> None:
        self.db.writer.start()

    async def start_background(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks.append(loop.create_task(self._poll_versions()))
        self._tasks.append(loop.create_task(self._run_scheduler()))
        self._start_delivery()

    async def stop_background(self) -> None:
        await asyncio.to_thread(self._stop_delivery)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def close(self) -> None:
        self._stop_delivery()
        self.deliverer.close()
        self.db.close()

    # -- background --------------------------------------------------------
    def _own_version(self, version: int) -> None:
        """This node's batch wrote `version`: when it follows the one known, no
        other node changed anything in between, so no cache needs dropping.
        Told to this server's other workers before anyone is answered."""
        if version == self._known_version + 1:
            self._known_version = version
        if self.shared is not None:
            self.shared.publish(version)

    def follow_workers(self) -> None:
        """Before each request: drop the caches if another worker of this server
        changed state since (on the event loop thread; one read of shared memory)."""
        shared = self.shared
        if shared is None:
            return
        version = shared.read()
        if version != self._seen_shared:
            self._seen_shared = version
            if version != self._known_version:
                self._known_version = version
                self.clear_caches()

    async def _poll_versions(self) -> None:
        """Drop caches within a poll interval of a change made by another node."""
        while True:
            await asyncio.sleep(self.settings.cache_poll_seconds)
            if self.db.barrier.sealed:
                continue
            try:
                version = await asyncio.to_thread(self.db.state_version)
            except Exception:
                log.exception("state version poll failed")
                continue
            if version != self._known_version:
                # moved by another node (this node's own writes are followed by
                # `_own_version`, their caches already updated after commit)
                try:
                    await asyncio.to_thread(self.reload_keyring)
                except Exception:
                    log.exception("keyring reload failed")
                # known only once the caches are gone, with no await in between: a
                # request served during the reload must not find the version known
                # and the caches still stale
                self.clear_caches()
                self._known_version = version

    async def _run_scheduler(self) -> None:
        while True:
            await asyncio.sleep(self.settings.scheduler_interval_seconds)
            if self.db.barrier.sealed:
                continue
            try:
                await asyncio.to_thread(self.scheduler.run_due)
            except Exception:  # run_due logs its own failures; this loop must outlive any
                log.exception("scheduler run failed")

    # -- event delivery ------------------------------------------------------------
    def wake_delivery(self) -> None:
        """Deliver what is due now (the bus calls it after a commit that enqueued)."""
        self._delivery_wake.set()

    def _start_delivery(self) -> None:
        if self._delivery_thread is not None:
            return
        self._delivery_stop.clear()
        self._delivery_wake.set()  # what a previous run left in the outbox goes at once
        self._delivery_thread = threading.Thread(
            target=self._delivery_loop, name="events-delivery", daemon=True
        )
        self._delivery_thread.start()

    def _stop_delivery(self) -> None:
        thread = self._delivery_thread
        if thread is None:
            return
        self._delivery_stop.set()
        self._delivery_wake.set()
        thread.join(timeout=15)
        self._delivery_thread = None

    def _delivery_loop(self) -> None:
        """Off the event loop: sending blocks (HTTP calls of up to 5 s each)."""
        while not self._delivery_stop.is_set():
            self._delivery_wake.wait(timeout=self.settings.scheduler_interval_seconds)
            self._delivery_wake.clear()
            if self._delivery_stop.is_set():
                break
            if self.db.barrier.sealed:
                continue
            try:
                self.deliverer.run_once()
            except Exception:  # the loop must outlive a database hiccup
                log.exception("event delivery run failed")

    def _events_delivery(self, run: JobRun) -> int:
        """Every scheduler run delivers what is due (a moved clock makes retries due)."""
        return self.deliverer.run_once(run.now)

    def clear_caches(self) -> None:
        self.credentials.invalidate()
        self.authorizer.invalidate()
        self.kms.clear_caches()
        self.iam.clear_caches()
        self.events.clear_caches()
        self.ssm.clear_caches()
        self.secretsmanager.clear_caches()

    # -- dev mode ------------------------------------------------------------
    def reset(self) -> None:
        """Wipe all state but the root credentials; the trail starts a new chain."""

        def unit(tx: Tx) -> None:
            for table in schema.RESETTABLE:
                tx.execute(delete(table))
            # IAM users' keys and the accounts Organizations made go too: only
            # the root credentials, and the account they belong to, survive.
            keys = schema.access_keys
            tx.execute(delete(keys).where(keys.c.principal_type != "Root"))
            accounts = schema.accounts
            rooted = select(keys.c.account_id).where(keys.c.principal_type == "Root")
            tx.execute(delete(accounts).where(accounts.c.account_id.not_in(rooted)))
            self.iam.seed(tx)  # the AWS managed policies are not state to reset
            tx.mark_changed()
            # inside the unit: the next unit the writer runs starts the new chain
            self.trail.reset()

        self.db.writer.run_sync(unit)
        self.clear_caches()

    # -- jobs ------------------------------------------------------------------
    def _jobs(self) -> list[Job]:
        return [
            Job("kms-key-deletion", self._kms_deletions),
            Job("kms-key-rotation", self._kms_rotations),
            Job("kms-material-expiry", self._kms_material_expiry),  # imported key material
            Job("audit-digest", self._audit_digest),
            # every node flushes the key uses it recorded itself
            Job("iam-access-key-last-used", self._iam_key_last_used, per_node=True),
            Job("sts-session-purge", self._sts_session_purge),
            Job("events-delivery", self._events_delivery),
            Job("ssm-parameter-policies", lambda run: run_policies(self.db, run, self.bus.publish)),
            Job("secretsmanager-deletion", lambda run: run_secret_deletions(self.db, run)),
            Job(ROTATION_JOB, self.rotations.run),
        ]

    def _rotate_now(self) -> None:
        """Start the rotation job now, off the committing thread (RotateSecret)."""

        def run() -> None:
            if not self.db.barrier.sealed:
                self._rotation_scheduler.run_due()

        threading.Thread(target=run, name="secretsmanager-rotation", daemon=True).start()

    def _sts_session_purge(self, run: JobRun) -> int:
        """Delete role sessions expired more than a day ago, a batch per unit."""
        sts = self.sts

        def unit(tx: Tx) -> int:
            return sts.purge_expired_sessions(tx, run.now) if run.hold(tx) else 0

        purged = 0
        while (done := self.db.write(unit)) > 0:
            purged += done
        return purged

    def _iam_key_last_used(self, run: JobRun) -> int:
        """Write the access-key uses this node recorded since the last run."""
        iam = self.iam
        return int(self.db.write(lambda tx: iam.flush_key_usage(tx) if run.hold(tx) else 0))

    def _audit_digest(self, run: JobRun) -> int:
        """Sign every chain's head once per `audit_digest_interval_seconds`."""
        interval = self.settings.audit_digest_interval_seconds
        signer = self._signer

        def unit(tx: Tx) -> bool:
            if signer is None or not run.hold(tx):
                return False
            last = latest_digest_time(tx)
            if last is not None and last + interval > run.now:
                return False
            create_digest(tx, signer, run.now)
            return True

        return int(bool(self.db.write(unit)))

    def _kms_deletions(self, run: JobRun) -> int:
        return self._each_key(run, self.kms.keys_due_for_deletion, self.kms.delete_key_if_due)

    def _kms_rotations(self, run: JobRun) -> int:
        return self._each_key(run, self.kms.keys_due_for_rotation, self.kms.rotate_key_if_due)

    def _kms_material_expiry(self, run: JobRun) -> int:
        """Delete imported KMS key material whose ValidTo has passed."""
        kms = self.kms
        return self._each_key(run, kms.keys_with_expired_material, kms.expire_material_if_due)

    def _each_key(
        self,
        run: JobRun,
        due: Callable[[Tx, float], list[str]],
        act: Callable[[Tx, str, float], DoneOnKey | None],
    ) -> int:
        """Do `act` on every key `due` lists, each in its own audited unit."""

        def batch() -> list[str]:
            return self.db.read(lambda tx: due(tx, run.now))

        def one(key_id: str) -> bool:
            return self._service_unit(run, lambda tx: act(tx, key_id, run.now))

        return run.each(batch, one)

    def _service_unit(self, run: JobRun, work: Callable[[Tx], DoneOnKey | None]) -> bool:
        """Run one item of scheduled work and audit it in the same transaction.

        The unit first proves this node still holds the job's lease (and renews
        it): a node that lost it changes nothing, so no item is done twice.
        """
        trail = self.trail
        clock = self.clock

        def unit(tx: Tx) -> bool:
            if not run.hold(tx):
                return False
            done = work(tx)
            if done is None:
                return False
            now = clock.now()
            record = CallRecord(
                event_id=str(uuid.uuid4()),
                request_id=str(uuid.uuid4()),
                event_time=now,
                event_source="kms.amazonaws.com",
                event_name=done.event_name,
                region=done.region,
                source_ip="kms.amazonaws.com",
                user_agent="kms.amazonaws.com",
                principal=service_principal(done.account_id, "kms.amazonaws.com"),
                access_key_id="",
                read_only=False,
                request_parameters=None,
                response_elements=None,
                resources=(("AWS::KMS::Key", done.key_arn),),
            )
            trail.append(tx, build_event(record), epoch=now.timestamp())
            return True

        return bool(self.db.write(unit))


def _event_target(tx: Tx, pending: Pending) -> tuple[str, dict[str, Any]] | None:
    """The (ARN, Target) an outbox row goes to; None once the target was removed."""
    found = events_store.get_target(
        tx, pending.account_id, pending.region, pending.event_bus, pending.rule, pending.target_id
    )
    return None if found is None else (found.arn, found.target)


__all__ = ["Garrison", "SealError"]
