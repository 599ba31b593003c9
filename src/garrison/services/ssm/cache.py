"""The in-process cache that keeps Parameter Store's reads (GetParameter, GetParameters,
GetParametersByPath) off the DB.

What it holds, per node:

    parameter id                      -> ParameterView (the parameter, its latest
                                         version with labels and the value still
                                         sealed, its tags, its resource policy)
    (account, region, name spellings) -> parameter id

A view holds everything authorising a read needs (the tags for
``aws:ResourceTag/*``, the compiled resource policy of a shared Advanced
parameter), so a cached GetParameter runs no SQL statement: its unit sends no
SAVEPOINT and need not wait for the previous batch's commit. The value stays
sealed by the barrier; each read opens it (a SecureString's is KMS's
ciphertext, decrypted through KMS, whose own cache holds the key). The one
exception: a SecureString's value once opened is kept in its view, since what
the barrier opens is KMS's ciphertext, not the plaintext (a String's opened
value is its plaintext, and is opened again on each read).

Every write of a parameter's rows goes through `store._changed`, which calls
`invalidate` here (and marks the unit changed, so that the other nodes clear
their caches). The rules that keep the cache from ever serving state that was
not committed are `ReadCache`'s (services/common/readcache.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from garrison.iam.policy import Policy
from garrison.services.common.readcache import ReadCache
from garrison.services.ssm import store
from garrison.services.ssm.domain import Parameter, ParameterVersion
from garrison.services.ssm.sharing import policy_of
from garrison.storage.writer import Tx

MAX_ENTRIES = 65536
MAX_BYTES = 64 << 20  # of sealed values (an Advanced value is up to 8 KB sealed)

NameKey = tuple[str, str, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class ParameterView:
    """A parameter with what reading it needs. `latest.stored` is sealed."""

    parameter: Parameter
    latest: ParameterVersion
    # ``aws:ResourceTag/<key>`` -> [value], the parameter's tags as a request context
    tag_context: dict[str, list[str]] = field(default_factory=dict)
    policy: Policy | None = None  # the resource policies, as one (None: none)
    arn: str = ""  # the parameter's ARN (`Parameter.arn` formats it on each use)
    # A SecureString's latest version once a read opened it: its opened value is KMS's
    # ciphertext, still encrypted, so keeping it spares each hit the barrier's AES-GCM
    # open and a ParameterVersion. A String's opened value is its plaintext: never kept.
    _opened: list[ParameterVersion] = field(default_factory=list, compare=False, repr=False)

    def latest_version(self, tx: Tx) -> ParameterVersion:
        """The latest version with its value opened."""
        opened = self._opened
        if opened:
            return opened[0]
        latest = self.latest
        pid = self.parameter.parameter_id
        version = ParameterVersion(
            parameter=latest.parameter,
            version=latest.version,
            type=latest.type,
            data_type=latest.data_type,
            tier=latest.tier,
            key_id=latest.key_id,
            description=latest.description,
            allowed_pattern=latest.allowed_pattern,
            policies=latest.policies,
            stored=store.open_value(tx, pid, latest.version, latest.stored),
            last_modified=latest.last_modified,
            last_modified_user=latest.last_modified_user,
            labels=latest.labels,
        )
        if version.secure:
            opened.append(version)
        return version


def load_view(tx: Tx, parameter: Parameter) -> ParameterView | None:
    latest = store.latest_sealed(tx, parameter)
    if latest is None:
        return None
    tags = store.tags_of(tx, parameter.parameter_id)
    return ParameterView(
        parameter,
        latest,
        {f"aws:ResourceTag/{k}": [v] for k, v in tags.items()},
        policy_of(tx, parameter),
        parameter.arn,
    )


class ParameterCache(ReadCache):
    def __init__(self, max_entries: int = MAX_ENTRIES, max_bytes: int = MAX_BYTES) -> None:
        super().__init__(max_entries, max_bytes)
        self._views: dict[str, ParameterView] = self._table()
        self._names: dict[NameKey, str] = self._table()
        store.watch(self)

    # -- reads -----------------------------------------------------------------
    def find(
        self, tx: Tx, account_id: str, region: str, names: tuple[str, ...]
    ) -> ParameterView | None:
        """The view of the parameter stored under any of `names` (spellings of one name)."""
        key = (account_id, region, names)
        pid = self._names.get(key)
        if pid is not None:
            found = self._views.get(pid)
            if found is not None:
                self.hits += 1
                return found
        generation = self.miss()
        parameter = store.find(tx, account_id, region, names)
        if parameter is None:
            return None
        view = load_view(tx, parameter)
        if view is not None:
            tx.after_commit(lambda: self._put(view, key, generation))
        return view

    def of(self, tx: Tx, parameter: Parameter) -> ParameterView | None:
        """The view of `parameter`, as a listing read it (None: its latest version is not
        the one the listing saw)."""
        found = self._views.get(parameter.parameter_id)
        if found is not None and found.parameter == parameter:
            self.hits += 1
            return found
        generation = self.miss()
        view = load_view(tx, parameter)
        if view is not None:
            tx.after_commit(lambda: self._put(view, None, generation))
        return view

    def _put(self, view: ParameterView, key: NameKey | None, generation: int) -> None:
        pid = view.parameter.parameter_id
        entries: list[tuple[dict[Any, Any], Any, Any]] = [(self._views, pid, view)]
        if key is not None:
            entries.append((self._names, key, pid))
        self.admit(generation, entries, len(view.latest.stored))

    # -- invalidation ------------------------------------------------------------
    def invalidate(self, tx: Tx, parameter_id: str) -> None:
        """Drop a parameter's view now and once the unit's batch commits."""
        self.drop(tx, lambda: self._views.pop(parameter_id, None))
