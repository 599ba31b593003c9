"""The in-process cache that keeps GetSecretValue (and BatchGetSecretValue's per-secret
reads) off the DB.

What it holds, per node:

    secret id -> SecretView (the secret row, its stages, its labelled versions with
                 the values still sealed by the barrier, its tags as a request
                 context, its compiled resource policy)
    SecretId lookup -> secret id   (("name", account, region, name) or ("arn", arn))

A view holds everything a read and its authorisation need (the tags for
``aws:ResourceTag/*`` and ``secretsmanager:ResourceTag/*``, the resource policy
for cross-account reads), so a cached GetSecretValue runs no SQL statement. The
value stays sealed by the barrier until a read opens it; what the barrier opens
is the envelope (the data key encrypted by KMS, the value sealed under it), not
the plaintext, so the view keeps it opened for the next reads. Each read
decrypts the envelope's data key through KMS for the caller as before.

Every write of a secret's rows goes through `store._changed`, which calls
`invalidate` here (and marks the unit changed, so that the other nodes clear their
caches); a new secret also drops the lookups (a partial ARN may now name another
secret). The rules that keep the cache from ever serving state that was not
committed are `ReadCache`'s (services/common/readcache.py).

LastAccessedDate is a date (AWS keeps it per day): GetSecretValue records it only
when the day changed, written with the batch (`store.record_access`), and the view
is updated in place once the batch commits (`accessed`), so a cached secret's reads
run no SQL even on the first read of a day.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from garrison.iam.policy import Policy, compile_policy
from garrison.services.common.readcache import ReadCache
from garrison.services.secretsmanager import store
from garrison.services.secretsmanager.store import SealedVersion, Secret, Version
from garrison.storage.writer import Tx

MAX_ENTRIES = 65536
MAX_BYTES = 64 << 20  # of sealed values (a value is up to 64 KB)

LookupKey = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SecretView:
    """A secret with what reading it needs. The versions' values are sealed."""

    secret: Secret
    stages: dict[str, str]  # stage -> version id
    versions: dict[str, SealedVersion]  # the labelled versions
    # ``aws:ResourceTag/<key>`` and ``secretsmanager:ResourceTag/<key>`` -> [value]
    tag_context: dict[str, list[str]] = field(default_factory=dict)
    policy: Policy | None = None  # the compiled resource policy (None: none)

    # The labelled versions once a read opened them: an opened value is the envelope
    # (the data key encrypted by KMS, the value sealed under it), still encrypted, so
    # keeping it spares each hit the barrier's AES-GCM open and a Version.
    _opened: dict[str, Version] = field(default_factory=dict, compare=False, repr=False)
    _sorted_stages: dict[str, tuple[str, ...]] = field(
        default_factory=dict, compare=False, repr=False
    )

    @property
    def size(self) -> int:
        return sum(len(v.sealed or b"") for v in self.versions.values())

    def stages_of(self, version_id: str) -> list[str]:
        """The stages that label `version_id`, sorted (a new list: the caller's)."""
        found = self._sorted_stages.get(version_id)
        if found is None:
            found = tuple(sorted(s for s, v in self.stages.items() if v == version_id))
            self._sorted_stages[version_id] = found
        return list(found)

    def opened(self, tx: Tx, version_id: str) -> Version | None:
        """The labelled version `version_id` with its value opened (None: not labelled)."""
        found = self._opened.get(version_id)
        if found is None:
            sealed = self.versions.get(version_id)
            if sealed is None:
                return None
            found = self._opened[version_id] = sealed.opened(tx, self.secret.secret_id)
        return found


def load_view(tx: Tx, secret: Secret) -> SecretView:
    stages = store.stages(tx, secret.secret_id)
    versions = store.sealed_versions(tx, secret.secret_id, sorted(set(stages.values())))
    context: dict[str, list[str]] = {}
    for key, value in store.tags(tx, secret.secret_id).items():
        context[f"aws:ResourceTag/{key}"] = [value]
        context[f"secretsmanager:ResourceTag/{key}"] = [value]
    document = store.policy(tx, secret.secret_id)
    return SecretView(
        secret, stages, versions, context, None if document is None else compile_policy(document)
    )


class SecretCache(ReadCache):
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        super().__init__(max_entries, max_bytes)
        self._views: dict[str, SecretView] = self._table()
        self._lookups: dict[LookupKey, str] = self._table()
        store.watch(self)

    # -- reads -----------------------------------------------------------------
    def cached(self, key: LookupKey) -> SecretView | None:
        """The view `key` resolved to, if both are cached."""
        sid = self._lookups.get(key)
        if sid is None:
            return None
        found = self._views.get(sid)
        if found is not None:
            self.hits += 1
        return found

    def load(self, tx: Tx, key: LookupKey, secret: Secret, generation: int) -> SecretView:
        """The view of `secret`, read in the caller's unit after a miss on `key` (see
        `miss`); it enters the cache once the unit's batch commits."""
        view = load_view(tx, secret)
        sid = secret.secret_id
        entries: list[tuple[dict[Any, Any], Any, Any]] = [
            (self._views, sid, view),
            (self._lookups, key, sid),
        ]
        tx.after_commit(lambda: self.admit(generation, entries, view.size))
        return view

    # -- invalidation ------------------------------------------------------------
    def accessed(self, tx: Tx, secret_id: str, version_id: str, day: float) -> None:
        """Once the batch commits: the cached view shows `day` as the LastAccessedDate
        of the secret and of `version_id` (if the view is still cached)."""

        def touch() -> None:
            with self._lock:  # atomic with `clear` and `drop`: never revives a dropped view
                view = self._views.get(secret_id)
                if view is not None:
                    self._views[secret_id] = _touched(view, version_id, day)

        tx.after_commit(touch)

    def invalidate(self, tx: Tx, secret_id: str, *, lookups: bool = False) -> None:
        """Drop a secret's view (and every lookup, with `lookups`) now and once the unit's
        batch commits."""

        def remove() -> None:
            self._views.pop(secret_id, None)
            if lookups:
                self._lookups.clear()

        self.drop(tx, remove)


def _touched(view: SecretView, version_id: str, day: float) -> SecretView:
    """`view` with `day` as the LastAccessedDate of its secret and of `version_id`."""
    versions = dict(view.versions)
    sealed = versions.get(version_id)
    if sealed is not None:
        versions[version_id] = replace(sealed, last_accessed=day)
    opened = dict(view._opened)
    found = opened.get(version_id)
    if found is not None:
        opened[version_id] = replace(found, last_accessed=day)
    return SecretView(
        replace(view.secret, last_accessed=day),
        view.stages,
        versions,
        view.tag_context,
        view.policy,
        opened,
        view._sorted_stages,
    )
