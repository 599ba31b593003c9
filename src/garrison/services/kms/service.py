"""The KMS use cases, assembled: what the provider calls and other services may call.

    KmsService
     ├── keys      KeyUseCases       CreateKey, DescribeKey, ListKeys, Enable/DisableKey,
     │                               Schedule/CancelKeyDeletion, UpdateKeyDescription,
     │                               Get/Put/ListKeyPolicies, tags, GetKeyLastUsage
     ├── aliases   AliasUseCases     Create/Update/Delete/ListAliases
     ├── crypto    CryptoUseCases    Encrypt, Decrypt, ReEncrypt, GenerateDataKey*, GenerateRandom
     ├── asymmetric AsymmetricUseCases GetPublicKey, Sign, Verify, RSA Encrypt/Decrypt,
     │                               Generate/VerifyMac, GenerateDataKeyPair*, DeriveSharedSecret
     ├── grants    GrantUseCases     Create/List/Retire/RevokeGrant, ListRetirableGrants
     ├── importing ImportUseCases    GetParametersForImport, Import/DeleteImportedKeyMaterial
     ├── rotation  RotationUseCases  Enable/Disable/GetKeyRotation*, RotateKeyOnDemand,
     │                               ListKeyRotations
     └── get_or_create_aws_managed_key   alias/aws/<service> for other Garrison services,
                                     and DescribeKey on a predefined AWS alias

All of them share one `KeyAccess` (find + authorise) and one `KmsCache`.

Other Garrison services that encrypt through KMS call `crypto` with a `Call`
whose context carries ``extra["via_service"] = "<service>.<region>.amazonaws.com"``:
that is the ``kms:ViaService`` condition key the policy of an AWS managed key
requires, so only such calls (not a customer's direct ones) may use it.

AWS creates an AWS managed key on first use by its service, and also when
DescribeKey names a predefined AWS alias that has no key yet (AWS services do
that to create it). Garrison does both; the predefined aliases are those of
`PREDEFINED_AWS_SERVICES`, and any other ``alias/aws/<name>`` stays
NotFoundException. Encrypt, GenerateDataKey and the other operations on a
predefined alias with no key answer NotFoundException: AWS documents the
creation for DescribeKey only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from garrison.api import Call
from garrison.iam.authorizer import Authorizer
from garrison.services.kms import store
from garrison.services.kms.access import KeyAccess
from garrison.services.kms.aliases import AliasUseCases, insert_alias
from garrison.services.kms.asymmetric import AsymmetricUseCases
from garrison.services.kms.cache import KmsCache
from garrison.services.kms.cryptographic import CryptoUseCases
from garrison.services.kms.domain import (
    AWS_ALIAS_PREFIX,
    AWS_MANAGED_ROTATION_DAYS,
    Alias,
    Key,
    KeyManager,
)
from garrison.services.kms.grants import DEFAULT_MAX_GRANTS_PER_KEY, GrantUseCases
from garrison.services.kms.importing import ImportUseCases
from garrison.services.kms.keypolicy import aws_managed_key_policy
from garrison.services.kms.keys import KeyUseCases, insert_new_key
from garrison.services.kms.multiregion import MultiRegionUseCases
from garrison.services.kms.rotation import DEFAULT_MAX_ON_DEMAND_ROTATIONS, RotationUseCases
from garrison.storage.sql import IntegrityError
from garrison.storage.writer import Tx

DEFAULT_MAX_KEYS = 100_000
DEFAULT_MAX_ALIASES = 100_000
_SERVICE_NAME = re.compile(r"[a-z0-9][a-z0-9-]*")

AwsManagedPolicy = Callable[[str, str, str], str]  # (account, region, service) -> policy

# ``alias/aws/<service>`` names AWS predefines in every account and Region: the
# services with an AWS managed key (AWS's key policies of these keys, as published).
PREDEFINED_AWS_SERVICES = frozenset(
    {
        "acm",
        "appflow",
        "backup",
        "cloud9",
        "codeartifact",
        "codecommit",
        "connect",
        "dax",
        "dms",
        "dynamodb",
        "ebs",
        "ecr",
        "eks",
        "elasticache",
        "elasticfilesystem",
        "es",
        "fsx",
        "glue",
        "imagebuilder",
        "kafka",
        "kendra",
        "kinesis",
        "kinesisvideo",
        "lambda",
        "lex",
        "lightsail",
        "mq",
        "rds",
        "redshift",
        "s3",
        "secretsmanager",
        "ses",
        "sns",
        "sqs",
        "ssm",
        "timestream",
        "translate",
        "workspaces",
        "xray",
    }
)


class KmsService:
    def __init__(
        self,
        *,
        authorizer: Authorizer | None = None,
        max_keys: int = DEFAULT_MAX_KEYS,
        max_aliases: int = DEFAULT_MAX_ALIASES,
        max_on_demand_rotations: int = DEFAULT_MAX_ON_DEMAND_ROTATIONS,
        aws_managed_policy: AwsManagedPolicy = aws_managed_key_policy,
        max_grants_per_key: int = DEFAULT_MAX_GRANTS_PER_KEY,
    ) -> None:
        self.cache = KmsCache()
        self.access = KeyAccess(self.cache, authorizer or Authorizer())
        self.keys = KeyUseCases(self.access, self.cache, max_keys=max_keys)
        self.aliases = AliasUseCases(self.access, self.cache, max_aliases=max_aliases)
        # asymmetric and HMAC keys: Sign/Verify, GetPublicKey, MACs, key pairs, ECDH
        self.asymmetric = AsymmetricUseCases(self.access, self.cache)
        # ReEncrypt from and to RSA ENCRYPT_DECRYPT keys goes through `asymmetric`
        self.crypto = CryptoUseCases(self.access, self.cache, self.asymmetric)
        self.rotation = RotationUseCases(
            self.access, self.cache, max_on_demand_rotations=max_on_demand_rotations
        )
        self.aws_managed_policy = aws_managed_policy
        # grants (CreateGrant ...); authorisation reads them in `access.granted`
        self.grants = GrantUseCases(self.access, max_grants_per_key=max_grants_per_key)
        # multi-Region keys: ReplicateKey, UpdatePrimaryRegion (multiregion.py)
        self.multiregion = MultiRegionUseCases(self.access, self.cache, max_keys=max_keys)
        # imported key material: GetParametersForImport, Import/DeleteImportedKeyMaterial
        self.importing = ImportUseCases(self.access, self.cache)
        # DescribeKey on a predefined AWS alias with no key creates the key
        self.access.predefined = self._predefined_alias_key

    def clear_caches(self) -> None:
        """Forget every cached key, alias and key material (another node changed state)."""
        self.cache.clear()
        self.asymmetric.clear()

    def _predefined_alias_key(self, call: Call, alias_name: str) -> Key | None:
        """The AWS managed key of `alias_name` if AWS predefines it (created if need be)."""
        service_name = alias_name.removeprefix(AWS_ALIAS_PREFIX)
        if service_name == alias_name or service_name not in PREDEFINED_AWS_SERVICES:
            return None
        ctx = call.ctx
        return self.get_or_create_aws_managed_key(
            call.tx, ctx.account_id, ctx.region, service_name, ctx.now
        )

    def get_or_create_aws_managed_key(
        self, tx: Tx, account_id: str, region: str, service_name: str, now: datetime
    ) -> Key:
        """The AWS managed key ``alias/aws/<service_name>``, created on first use.

        It has KeyManager AWS, the AWS managed key policy (use only through the
        service, metadata for the account) and automatic rotation every year.
        """
        if not _SERVICE_NAME.fullmatch(service_name):
            raise ValueError(f"{service_name!r} is not a service name")
        name = f"{AWS_ALIAS_PREFIX}{service_name}"
        alias = store.get_alias(tx, account_id, region, name)
        if alias is not None:
            existing = store.get_key(tx, alias.target_key_id)
            if existing is not None:
                return existing
            store.delete_alias(tx, alias)  # dangling: cannot happen, but never fail on it
        savepoint = tx.savepoint()
        try:
            key = insert_new_key(
                tx,
                account_id=account_id,
                region=region,
                now=now,
                description=(
                    f"Default key that protects my {service_name} data when no other key is defined"
                ),
                policy=self.aws_managed_policy(account_id, region, service_name),
                key_manager=KeyManager.AWS,
                rotation_period_days=AWS_MANAGED_ROTATION_DAYS,
                next_rotation_at=now + timedelta(days=AWS_MANAGED_ROTATION_DAYS),
            )
            insert_alias(tx, self.cache, Alias(account_id, region, name, key.key_id, now, now))
            savepoint.commit()
        except IntegrityError:
            # Another node created it first (the alias name is the primary key): use theirs.
            savepoint.rollback()
            alias = store.get_alias(tx, account_id, region, name)
            existing = store.get_key(tx, alias.target_key_id) if alias else None
            if existing is None:
                raise
            return existing
        return key
