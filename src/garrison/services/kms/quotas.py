"""KMS request quotas: AWS's per-account, per-Region request rates, as token buckets.

AWS KMS throttles each account in each Region by *request quotas* (the
"Request quotas" page of the KMS developer guide). Garrison keeps the same
table and answers a call past its quota with ``ThrottlingException`` (HTTP 400)
and the text KMS documents for it. Which quota a call charges:

    Encrypt, Decrypt, ReEncrypt,       by the spec of the key the request names:
    Sign, Verify, DeriveSharedSecret     SYMMETRIC_DEFAULT, HMAC_*  -> symmetric
                                         RSA_*                      -> RSA
                                         ECC_*, SM2                 -> ECC (and SM2)
                                         ML_DSA_*                   -> ML-DSA
    GenerateDataKey(WithoutPlaintext),  the symmetric quota (only symmetric and HMAC
    GenerateRandom, GenerateMac,        keys can do them; GenerateRandom names none)
    VerifyMac
    GenerateDataKeyPair(WithoutPlaintext)  "GenerateDataKeyPair (<KeyPairSpec>)"
    ReplicateKey                        itself here and 2 x CreateKey in ReplicaRegion
    UpdatePrimaryRegion                 itself here and in PrimaryRegion
    any other operation                 its own "<Operation> request rate"

The key's spec is read from the KMS cache, so helper-added key specs fall into
their bucket by name with no change here. A key the request cannot name (unknown,
malformed) charges the symmetric quota; the handler then answers NotFound.

Defaults (`RequestQuotas()`): the shared cryptographic quotas take AWS's values
for its smallest Region class (symmetric 10,000/s; RSA, ECC and ML-DSA 1,000/s).
The per-operation quotas (CreateKey 5/s, DescribeKey 2,000/s, ...) are AWS's table
(`AWS_OPERATION_RATES`) but are enforced only when configured
(``kms_operation_request_rates = "aws"``, optionally with overrides): a self-hosted
node is not AWS's fleet, and test suites create keys faster than 5 a second.
A rate of 0 switches a quota off. Quotas are counted per node (see
docs/operations.md, "KMS quotas").

The hot path: one dict lookup for the operation's rule, for keyed operations one
dict lookup of the key's spec (memoised by key id: a key's spec never changes),
then one bucket update under a lock -- about 1 µs in-process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from garrison.api import Call, Request
from garrison.errors import AwsError, ThrottlingException
from garrison.services.kms.cache import KmsCache
from garrison.services.kms.identifiers import parse_key_ref

# KMS's documented text for a throttled request (throttling.md of the KMS guide).
THROTTLED_MESSAGE = (
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls."
)

SYMMETRIC = "Cryptographic operations (symmetric) request rate"
RSA = "Cryptographic operations (RSA) request rate"
ECC = "Cryptographic operations (ECC and SM2) request rate"
ML_DSA = "Cryptographic operations (ML-DSA) request rate"

# Operations whose shared quota depends on the key the request names, and the
# request member(s) naming it (ReEncrypt: the source, then the destination).
KEYED_CRYPTO: dict[str, tuple[str, ...]] = {
    "Encrypt": ("KeyId",),
    "Decrypt": ("KeyId",),
    "ReEncrypt": ("SourceKeyId", "DestinationKeyId"),
    "Sign": ("KeyId",),
    "Verify": ("KeyId",),
    "DeriveSharedSecret": ("KeyId",),
}
SYMMETRIC_CRYPTO = frozenset(
    {"GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "GenerateRandom", "GenerateMac",
     "VerifyMac"}
)  # fmt: skip
DATA_KEY_PAIR = frozenset({"GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext"})

# AWS's per-operation request quotas (requests per second), as published.
AWS_OPERATION_RATES: dict[str, float] = {
    "CancelKeyDeletion": 5, "ConnectCustomKeyStore": 5, "CreateAlias": 5,
    "CreateCustomKeyStore": 5, "CreateGrant": 50, "CreateKey": 5, "DeleteAlias": 15,
    "DeleteCustomKeyStore": 5, "DeleteImportedKeyMaterial": 15,
    "DescribeCustomKeyStores": 5, "DescribeKey": 2000, "DisableKey": 5,
    "DisableKeyRotation": 5, "DisconnectCustomKeyStore": 5, "EnableKey": 5,
    "EnableKeyRotation": 15, "GetKeyLastUsage": 5, "GetKeyPolicy": 1000,
    "GetKeyRotationStatus": 1000, "GetParametersForImport": 1, "GetPublicKey": 2000,
    "ImportKeyMaterial": 15, "ListAliases": 500, "ListGrants": 100,
    "ListKeyPolicies": 100, "ListKeys": 500, "ListKeyRotations": 100,
    "ListResourceTags": 2000, "ListRetirableGrants": 100, "PutKeyPolicy": 15,
    "ReplicateKey": 5, "RetireGrant": 50, "RevokeGrant": 50, "RotateKeyOnDemand": 5,
    "ScheduleKeyDeletion": 15, "TagResource": 10, "UntagResource": 5, "UpdateAlias": 5,
    "UpdateCustomKeyStore": 5, "UpdateKeyDescription": 5, "UpdatePrimaryRegion": 5,
}  # fmt: skip
# GenerateDataKeyPair and ...WithoutPlaintext share one quota per KeyPairSpec
# (AWS's values outside the China Regions).
AWS_DATA_KEY_PAIR_RATES: dict[str, float] = {
    "ECC_NIST_P256": 100, "ECC_NIST_P384": 100, "ECC_NIST_P521": 100,
    "ECC_SECG_P256K1": 100, "ECC_NIST_EDWARDS25519": 100,
    "RSA_2048": 20, "RSA_3072": 4, "RSA_4096": 1, "SM2": 25,
}  # fmt: skip

# Bounds the bucket table (accounts x Regions x quotas); past it the table starts over.
MAX_BUCKETS = 100_000
MAX_MEMO = 65_536


def operation_quota(operation: str) -> str:
    return f"{operation} request rate"


def data_key_pair_quota(key_pair_spec: str) -> str:
    return f"GenerateDataKeyPair ({key_pair_spec}) request rate"


def crypto_quota(key_spec: str | None) -> str:
    """The shared cryptographic quota a key of `key_spec` charges (None: symmetric)."""
    if key_spec is None:
        return SYMMETRIC
    if key_spec.startswith("RSA_"):
        return RSA
    if key_spec.startswith(("ECC_", "SM2")):
        return ECC
    if key_spec.startswith("ML_DSA"):
        return ML_DSA
    return SYMMETRIC  # SYMMETRIC_DEFAULT and HMAC_* keys are symmetric


def aws_operation_rates() -> dict[str, float]:
    """AWS's whole per-operation table, keyed by quota name."""
    rates = {operation_quota(op): rate for op, rate in AWS_OPERATION_RATES.items()}
    rates.update({data_key_pair_quota(s): r for s, r in AWS_DATA_KEY_PAIR_RATES.items()})
    return rates


def parse_operation_rates(text: str) -> dict[str, float]:
    """The per-operation quotas a setting names, keyed by quota name.

    ``""`` none; ``"aws"`` AWS's table; ``"CreateKey=15,ListKeys=500"`` only those;
    ``"aws,CreateKey=15"`` the table with overrides. A data key pair quota is
    written ``GenerateDataKeyPair/RSA_2048=20``. ValueError for anything else.
    """
    rates: dict[str, float] = {}
    for raw in text.split(","):
        entry = raw.strip()
        if not entry:
            continue
        if entry.lower() == "aws":
            rates.update(aws_operation_rates())
            continue
        name, sep, value = entry.partition("=")
        name = name.strip()
        if not sep:
            raise ValueError(f"KMS operation request rate {entry!r}: expected Operation=rate")
        op, _, spec = name.partition("/")
        if op == "GenerateDataKeyPair" and spec in AWS_DATA_KEY_PAIR_RATES:
            quota = data_key_pair_quota(spec)
        elif op in AWS_OPERATION_RATES and not spec:
            quota = operation_quota(op)
        else:
            raise ValueError(f"KMS operation request rate {entry!r}: no such quota {name!r}")
        rates[quota] = _rate(quota, value)
    return rates


def _rate(quota: str, value: object) -> float:
    try:
        rate = float(str(value))
    except ValueError:
        raise ValueError(f"{quota}: {value!r} is not a number") from None
    if not rate >= 0 or rate == float("inf"):
        raise ValueError(f"{quota}: {value!r} must be a finite number >= 0")
    return rate


@dataclass(frozen=True)
class RequestQuotas:
    """The configured rates (requests per second); 0 switches a quota off."""

    symmetric: float = 10_000.0
    rsa: float = 1_000.0
    ecc: float = 1_000.0
    ml_dsa: float = 1_000.0
    # per-operation quotas by quota name; empty: none enforced
    operations: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def configured(
        cls, *, symmetric: float, rsa: float, ecc: float, ml_dsa: float, operations: str
    ) -> RequestQuotas:
        """From the settings' values; ValueError for a bad one."""
        return cls(
            symmetric=_rate(SYMMETRIC, symmetric),
            rsa=_rate(RSA, rsa),
            ecc=_rate(ECC, ecc),
            ml_dsa=_rate(ML_DSA, ml_dsa),
            operations=parse_operation_rates(operations),
        )

    def shared_by(self, workers: int) -> RequestQuotas:
        """Each of `workers` processes of one server enforces its share of every rate."""
        if workers <= 1:
            return self
        return RequestQuotas(
            symmetric=self.symmetric / workers,
            rsa=self.rsa / workers,
            ecc=self.ecc / workers,
            ml_dsa=self.ml_dsa / workers,
            operations={name: rate / workers for name, rate in self.operations.items()},
        )

    def rates(self) -> dict[str, float]:
        """Every enforced quota (rate > 0) by name."""
        shared = {SYMMETRIC: self.symmetric, RSA: self.rsa, ECC: self.ecc, ML_DSA: self.ml_dsa}
        merged = {**self.operations, **shared}
        return {name: rate for name, rate in merged.items() if rate > 0}


class TokenBuckets:
    """One token bucket per (account, Region, quota), refilled from the injected clock.

    A bucket holds up to one second of its rate (at least one token, so a rate
    below 1/s still lets a call through now and then) and starts full. A refused
    call takes no token.
    """

    def __init__(self, rates: Mapping[str, float], time: Callable[[], float]) -> None:
        self._rates = dict(rates)
        self._time = time
        self._lock = threading.Lock()
        # (account, region, quota) -> [tokens, last refill time]
        self._buckets: dict[tuple[str, str, str], list[float]] = {}

    def enforces(self, quota: str) -> bool:
        return quota in self._rates

    def take(self, charges: list[tuple[str, str, str, int]]) -> None:
        """Take `n` tokens from each (account, region, quota) bucket, all or none;
        ThrottlingException when one of them has too few."""
        rates = self._rates
        now = self._time()
        with self._lock:
            buckets = self._buckets
            if len(buckets) >= MAX_BUCKETS:
                buckets.clear()
            taken: list[tuple[list[float], int]] = []
            for account, region, quota, n in charges:
                rate = rates.get(quota)
                if rate is None:
                    continue
                capacity = rate if rate > 1.0 else 1.0
                key = (account, region, quota)
                bucket = buckets.get(key)
                if bucket is None:
                    bucket = buckets[key] = [capacity, now]
                elif now > bucket[1]:  # a clock that steps back refills nothing
                    level = bucket[0] + (now - bucket[1]) * rate
                    bucket[0] = level if level < capacity else capacity
                    bucket[1] = now
                if bucket[0] < n:
                    for held, count in taken:  # all or none
                        held[0] += count
                    raise ThrottlingException(THROTTLED_MESSAGE)
                bucket[0] -= n
                taken.append((bucket, n))

    def take_one(self, account: str, region: str, quota: str) -> None:
        """`take([(account, region, quota, 1)])`, the shape of nearly every call,
        without the list and the undo bookkeeping."""
        rate = self._rates.get(quota)
        if rate is None:
            return
        now = self._time()
        capacity = rate if rate > 1.0 else 1.0
        key = (account, region, quota)
        with self._lock:
            buckets = self._buckets
            bucket = buckets.get(key)
            if bucket is None:
                if len(buckets) >= MAX_BUCKETS:
                    buckets.clear()
                bucket = buckets[key] = [capacity, now]
            elif now > bucket[1]:  # a clock that steps back refills nothing
                level = bucket[0] + (now - bucket[1]) * rate
                bucket[0] = level if level < capacity else capacity
                bucket[1] = now
            if bucket[0] < 1:
                raise ThrottlingException(THROTTLED_MESSAGE)
            bucket[0] -= 1

    def clear(self) -> None:
        with self._lock:
            self._buckets.clear()


Check = Callable[[Call, Request], None]


class RequestThrottle:
    """Decides which quotas a KMS call charges and charges them before its handler runs."""

    def __init__(self, quotas: RequestQuotas, time: Callable[[], float], cache: KmsCache) -> None:
        self.quotas = quotas
        self.buckets = TokenBuckets(quotas.rates(), time)
        self._cache = cache
        # (caller's account, key id or key ARN) -> key spec: a key's spec never
        # changes and key ids are never reused, so entries never go stale
        self._specs: dict[tuple[str, str], str] = {}
        # the same -> the shared quota of that spec (crypto_quota), for the charge
        self._quotas: dict[tuple[str, str], str] = {}

    def charge_for(self, op: str) -> Check | None:
        """The check charging a call of `op` its quota(s), ThrottlingException past
        one; None when `op` charges no enforced quota (then nothing runs per call).
        The provider runs it first in its handler wrapper (services/common/handlers.py)."""
        enforces = self.buckets.enforces
        take_one = self.buckets.take_one
        if op in SYMMETRIC_CRYPTO:
            if not enforces(SYMMETRIC):
                return None
            return lambda call, r: take_one(call.ctx.account_id, call.ctx.region, SYMMETRIC)
        if op in KEYED_CRYPTO:
            members = KEYED_CRYPTO[op]
            if not any(enforces(q) for q in (SYMMETRIC, RSA, ECC, ML_DSA)):
                return None
            if len(members) == 1:
                return self._keyed_charge(members[0])
            return lambda call, r: take_one(
                call.ctx.account_id, call.ctx.region, self._keyed_quota(call, r, members)
            )
        if op in DATA_KEY_PAIR:
            if not any(enforces(data_key_pair_quota(s)) for s in AWS_DATA_KEY_PAIR_RATES):
                return None
            return lambda call, r: take_one(
                call.ctx.account_id, call.ctx.region, data_key_pair_quota(r["KeyPairSpec"])
            )
        quota = operation_quota(op)
        take = self.buckets.take
        if op == "ReplicateKey":
            if not (enforces(quota) or enforces(operation_quota("CreateKey"))):
                return None
            create = operation_quota("CreateKey")
            return lambda call, r: take(
                [
                    (call.ctx.account_id, call.ctx.region, quota, 1),
                    (call.ctx.account_id, r["ReplicaRegion"], create, 2),
                ]
            )
        if op == "UpdatePrimaryRegion":
            if not enforces(quota):
                return None
            return lambda call, r: take(
                [
                    (call.ctx.account_id, call.ctx.region, quota, 1),
                    (call.ctx.account_id, r["PrimaryRegion"], quota, 1),
                ]
            )
        if not enforces(quota):
            return None
        return lambda call, r: take_one(call.ctx.account_id, call.ctx.region, quota)

    def _keyed_charge(self, member: str) -> Check:
        """The charge of an operation naming one key (Encrypt, Decrypt, Sign, ...): its
        quota memoised by (account, KeyId text), as `key_spec` memoises the spec."""
        take_one = self.buckets.take_one
        memo = self._quotas
        keyed_quota = self._keyed_quota
        members = (member,)

        def charge(call: Call, r: Request) -> None:
            ctx = call.ctx
            account = ctx.principal.account_id
            text = r.get(member)
            if text is None:  # Decrypt without a KeyId: charged as symmetric
                quota = SYMMETRIC
            else:
                quota = memo.get((account, text)) or keyed_quota(call, r, members)
            take_one(account, ctx.region, quota)

        return charge

    def _keyed_quota(self, call: Call, request: Request, members: tuple[str, ...]) -> str:
        """The shared quota of the first key the request names that is not symmetric."""
        for member in members:
            text = request.get(member)
            if text is not None:
                spec = self.key_spec(call, text)
                quota = crypto_quota(spec)
                memo = (call.ctx.account_id, text)
                if spec is not None and memo in self._specs:  # fixed: a key id, not an alias
                    if len(self._quotas) >= MAX_MEMO:
                        self._quotas.clear()
                    self._quotas[memo] = quota
                if quota != SYMMETRIC:
                    return quota
        return SYMMETRIC

    def key_spec(self, call: Call, text: str) -> str | None:
        """The spec of the key `text` names for this caller, or None; never raises,
        never names the key in the audit event (the handler does that)."""
        ctx, tx = call.ctx, call.tx
        memo = (ctx.account_id, text)
        found = self._specs.get(memo)
        if found is not None:
            return found
        try:
            ref = parse_key_ref(ctx, text, aliases=True, cross_account=True)
        except AwsError:
            return None
        account = ref.account or ctx.account_id
        key_id = ref.key_id
        if ref.alias is not None:
            key_id = self._cache.alias_target(tx, account, ctx.region, ref.alias)
        if key_id is None:
            return None
        view = self._cache.view(tx, key_id)
        if view is None or view.key.region != ctx.region or view.key.account_id != account:
            return None
        spec = view.key.key_spec
        if ref.alias is None:  # an alias may be repointed; a key id's spec is fixed
            if len(self._specs) >= MAX_MEMO:
                self._specs.clear()
            self._specs[memo] = spec
        return spec
