"""Wire shapes of the multi-Region key operations (the provider's part for them).

ReplicateKey and UpdatePrimaryRegion: the request dict (model member names,
validated by the pipeline) onto `MultiRegionUseCases`, and the response dict
back. `KmsProvider` registers `handlers()` and lists the members each honours
in its `HANDLED` table; DescribeKey's MultiRegionConfiguration is built by the
provider's `key_metadata`, which it hands in (it owns the KeyMetadata shape).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from garrison.api import Call, Request, Response
from garrison.services.kms.domain import Key
from garrison.services.kms.multiregion import MultiRegionConfiguration, configuration
from garrison.services.kms.service import KmsService

KeyMetadata = Callable[[Key, MultiRegionConfiguration | None], dict[str, Any]]


class MultiRegionHandlers:
    def __init__(self, kms: KmsService, key_metadata: KeyMetadata) -> None:
        self.use_cases = kms.multiregion
        self.key_metadata = key_metadata

    def handlers(self) -> dict[str, Callable[[Call, Request], Response | None]]:
        return {
            "ReplicateKey": self.replicate_key,
            "UpdatePrimaryRegion": self.update_primary_region,
        }

    def replicate_key(self, call: Call, r: Request) -> Response:
        done = self.use_cases.replicate_key(
            call,
            r["KeyId"],
            r["ReplicaRegion"],
            policy=r.get("Policy"),
            bypass_policy_lockout_safety_check=bool(r.get("BypassPolicyLockoutSafetyCheck")),
            description=r.get("Description", ""),
            tags=r.get("Tags"),
        )
        return {
            "ReplicaKeyMetadata": self.key_metadata(done.key, configuration(call.tx, done.key)),
            "ReplicaPolicy": done.policy,
            "ReplicaTags": [{"TagKey": k, "TagValue": v} for k, v in sorted(done.tags.items())],
        }

    def update_primary_region(self, call: Call, r: Request) -> None:
        self.use_cases.update_primary_region(call, r["KeyId"], r["PrimaryRegion"])
