"""KMS grants as values: the `Grant` dataclass, its constraint, tokens, and AWS's rules.

A grant lets one principal (the grantee) use one key for a set of grant
operations, optionally only when the request's encryption context satisfies a
constraint:

    GrantConstraint
     ├── EncryptionContextSubset   the request's context includes every pair
     └── EncryptionContextEquals   the request's context is exactly these pairs

The constraint binds only the operations that take an encryption context
(`CONTEXT_OPERATIONS`); DescribeKey and RetireGrant are allowed regardless, and
a CreateGrant through a constrained grant must create an equally strict or
stricter one (`Grant.permits_child`), as AWS documents.

Grant tokens: Garrison's grants are effective as soon as CreateGrant commits
(there is no eventual consistency to bridge), so a token only has to be well
formed; it names its grant (RetireGrant by token) and carries a random part so
that every CreateGrant answer is a new token, as AWS's are. A token grants
nothing by itself: whoever presents it is still matched against the grantee.
"""

from __future__ import annotations

import base64
import binascii
import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from garrison.context import Principal
from garrison.crypto.aead import random_bytes
from garrison.services.kms.errors import ValidationException

MAX_CONSTRAINT_PAIRS = 8
MAX_CONSTRAINT_CHARS = 384

# The grant operations each key usage admits (AWS's "Grant operations" table);
# DescribeKey, CreateGrant and RetireGrant are valid on every key.
COMMON_OPERATIONS = frozenset({"DescribeKey", "CreateGrant", "RetireGrant"})
SYMMETRIC_OPERATIONS = frozenset(
    {
        "Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext",
        "ReEncryptFrom", "ReEncryptTo", "GenerateDataKeyPair",
        "GenerateDataKeyPairWithoutPlaintext",
    }
)  # fmt: skip
_BY_USAGE: dict[str, frozenset[str]] = {
    "ENCRYPT_DECRYPT": frozenset(
        {"Decrypt", "Encrypt", "ReEncryptFrom", "ReEncryptTo", "GetPublicKey"}
    ),
    "SIGN_VERIFY": frozenset({"Sign", "Verify", "GetPublicKey"}),
    "GENERATE_VERIFY_MAC": frozenset({"GenerateMac", "VerifyMac"}),
    "KEY_AGREEMENT": frozenset({"DeriveSharedSecret", "GetPublicKey"}),
}
# The operations whose request carries an encryption context a constraint can test.
CONTEXT_OPERATIONS = SYMMETRIC_OPERATIONS

_GRANT_ID = re.compile(r"[0-9a-f]{64}")
_TOKEN_VERSION = 1
_TOKEN_BYTES = 1 + 32 + 32  # version, grant id, random


class ConstraintType(enum.Enum):
    SUBSET = "EncryptionContextSubset"
    EQUALS = "EncryptionContextEquals"


@dataclass(frozen=True, slots=True)
class GrantConstraint:
    kind: ConstraintType
    context: tuple[tuple[str, str], ...]  # sorted pairs: comparable, hashable

    @classmethod
    def of(cls, kind: ConstraintType, context: Mapping[str, str]) -> GrantConstraint:
        return cls(kind, tuple(sorted(context.items())))

    def allows(self, request_context: Mapping[str, str]) -> bool:
        """Does a request with this encryption context satisfy the constraint?"""
        if self.kind is ConstraintType.EQUALS:
            return dict(self.context) == dict(request_context)
        return all(request_context.get(k) == v for k, v in self.context)

    def at_least_as_strict(self, child: GrantConstraint | None) -> bool:
        """Is `child` (a grant created through this one) equally strict or stricter?

        Every context the child admits must be one this constraint admits.
        """
        if child is None:
            return False
        if self.kind is ConstraintType.EQUALS:
            return child.kind is ConstraintType.EQUALS and child.context == self.context
        return all(dict(child.context).get(k) == v for k, v in self.context)


@dataclass(frozen=True, slots=True)
class Grant:
    grant_id: str
    key_id: str
    key_arn: str
    issuing_account: str
    grantee_principal: str
    retiring_principal: str | None
    operations: tuple[str, ...]  # sorted
    constraint: GrantConstraint | None
    name: str | None
    created_at: datetime

    def same_parameters(self, other: Grant) -> bool:
        """CreateGrant's idempotency: the same name and the same parameters."""
        return (
            self.key_id == other.key_id
            and self.name == other.name
            and self.grantee_principal == other.grantee_principal
            and self.retiring_principal == other.retiring_principal
            and self.operations == other.operations
            and self.constraint == other.constraint
        )

    def allows(self, operation: str, request_context: Mapping[str, str]) -> bool:
        """Does this grant allow `operation` with this encryption context?"""
        if operation not in self.operations:
            return False
        if self.constraint is None or operation not in CONTEXT_OPERATIONS:
            return True
        return self.constraint.allows(request_context)

    def permits_child(self, operations: Sequence[str], constraint: GrantConstraint | None) -> bool:
        """May the grantee create a grant with these operations and constraint through
        this grant? Its operations must be a subset, its constraint at least as strict."""
        if "CreateGrant" not in self.operations:
            return False
        if not set(operations) <= set(self.operations):
            return False
        return self.constraint is None or self.constraint.at_least_as_strict(constraint)


def new_grant_id() -> str:
    return random_bytes(32).hex()  # 64 hex digits, as AWS's grant ids


def is_grant_id(text: str) -> bool:
    return bool(_GRANT_ID.fullmatch(text))


def new_grant_token(grant_id: str) -> str:
    raw = bytes([_TOKEN_VERSION]) + bytes.fromhex(grant_id) + random_bytes(32)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def grant_id_of_token(token: str) -> str | None:
    """The grant a token names, or None if it is not a well-formed Garrison grant token."""
    if not token.isascii():
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        return None
    if len(raw) != _TOKEN_BYTES or raw[0] != _TOKEN_VERSION:
        return None
    return raw[1:33].hex()


def check_operations(key_usage: str, key_spec: str, operations: Sequence[str]) -> None:
    """ValidationException for grant operations the key's type cannot do (AWS)."""
    if key_usage == "ENCRYPT_DECRYPT" and key_spec == "SYMMETRIC_DEFAULT":
        valid = SYMMETRIC_OPERATIONS
    else:
        valid = _BY_USAGE.get(key_usage, frozenset())
    bad = sorted({op for op in operations if op not in valid and op not in COMMON_OPERATIONS})
    if bad:
        raise ValidationException(
            f"Grant operations {bad} are not valid for a KMS key with KeyUsage {key_usage} "
            f"and KeySpec {key_spec}."
        )


def check_constraint(
    key_spec: str, operations: Sequence[str], constraint: GrantConstraint | None
) -> None:
    """Encryption context constraints need operations that take an encryption context."""
    if constraint is None:
        return
    if len(constraint.context) > MAX_CONSTRAINT_PAIRS:
        raise ValidationException(
            f"A grant constraint can have at most {MAX_CONSTRAINT_PAIRS} encryption context pairs."
        )
    if sum(len(k) + len(v) for k, v in constraint.context) > MAX_CONSTRAINT_CHARS:
        raise ValidationException(
            f"The encryption context of a grant constraint cannot exceed "
            f"{MAX_CONSTRAINT_CHARS} characters."
        )
    without_context = sorted(
        op for op in operations if op not in CONTEXT_OPERATIONS and op not in COMMON_OPERATIONS
    )
    if without_context or key_spec != "SYMMETRIC_DEFAULT":
        raise ValidationException(
            "Encryption context grant constraints are supported only on grant operations "
            "that take an encryption context, on symmetric encryption KMS keys"
            + (f"; not on {without_context}." if without_context else ".")
        )


def grantee_names(principal: Principal) -> tuple[str, ...]:
    """The GranteePrincipal values a grant may name to reach this caller: its own ARN,
    and for a role session the role's ARN too (AWS matches either)."""
    names = [principal.arn]
    if principal.type == "AssumedRole":
        if principal.session is not None:
            names.append(principal.session.role_arn)
        else:
            head, _, rest = principal.arn.partition(":assumed-role/")
            role = rest.split("/", 1)[0]
            if role:
                names.append(f"{head.replace(':sts:', ':iam:', 1)}:role/{role}")
    return tuple(names)


def account_grantee(principal: Principal) -> str | None:
    """The account ARN (``arn:aws:iam::<account>:root``) through which a grant reaches
    this caller by delegation, or None (the root user, whom that ARN names directly).

    A grant whose grantee (or retiring principal) is an account delegates to the
    account, as a key policy naming it does: any IAM user or role session of the
    account may use it if its own IAM policies allow the operation on the key
    (AWS: "the grantee principal can represent multiple identities").
    """
    if principal.type in ("Root", "Anonymous") or not principal.account_id:
        return None
    partition = principal.arn.split(":", 2)[1] if principal.arn.count(":") >= 2 else "aws"
    return f"arn:{partition or 'aws'}:iam::{principal.account_id}:root"


def request_encryption_context(context: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """The encryption context of a request, read back from its condition keys
    (``kms:EncryptionContext:<key>``), which every cryptographic use case sets."""
    return {
        name[len(_EC_PREFIX) :]: values[0]
        for name, values in context.items()
        if name.startswith(_EC_PREFIX) and values
    }


_EC_PREFIX = "kms:EncryptionContext:"
