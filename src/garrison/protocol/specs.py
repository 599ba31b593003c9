"""Botocore service models: the single source of truth for every wire shape.

Garrison serves the APIs exactly as the pinned botocore describes them. This
module loads a service's ``service-2`` model once and wraps it in a small
`ServiceSpec` carrying what routing needs (protocol, ``X-Amz-Target`` prefix,
SigV4 signing name, API version) plus a cached operation lookup. `SpecRegistry`
answers "which service is this request for?" from any routing key: the
``X-Amz-Target`` prefix (json), the credential scope's signing name (query), or,
for an unsigned query request, its ``Version`` parameter.

Only botocore's own data directory is searched: a model dropped into
``~/.aws/models`` must not change what the server accepts.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from botocore.exceptions import DataNotFoundError
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel

__all__ = ["ServiceSpec", "SpecRegistry", "load_service"]


@dataclass(frozen=True, eq=False)
class ServiceSpec:
    """One service's botocore model and the routing facts drawn from it."""

    name: str
    model: ServiceModel
    protocol: str
    target_prefix: str | None
    signing_name: str
    json_version: str | None
    api_version: str = ""
    xml_namespace: str | None = None  # the query protocol's response namespace
    _operations: dict[str, OperationModel] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Built once: routing looks an operation up on every request.
        ops = {op: self.model.operation_model(op) for op in self.model.operation_names}
        object.__setattr__(self, "_operations", ops)

    @classmethod
    def from_model(cls, name: str, model: ServiceModel) -> ServiceSpec:
        metadata = model.metadata
        protocol = metadata.get("protocol")
        if protocol is None:
            # Newer models list `protocols` only; the first one is the preferred.
            protocols = metadata.get("protocols") or []
            if not protocols:
                raise ValueError(f"service model {name!r} names no protocol")
            protocol = protocols[0]
        return cls(
            name=name,
            model=model,
            protocol=str(protocol),
            target_prefix=metadata.get("targetPrefix"),
            signing_name=str(model.signing_name),
            json_version=metadata.get("jsonVersion"),
            api_version=str(metadata.get("apiVersion", "")),
            xml_namespace=metadata.get("xmlNamespace"),
        )

    @property
    def is_query(self) -> bool:
        """True when the service speaks the ``query`` protocol (form in, XML out)."""
        return self.protocol == "query"

    def operation(self, name: str) -> OperationModel | None:
        """The operation called `name` (e.g. ``"Encrypt"``), or None."""
        return self._operations.get(name)

    @property
    def operation_names(self) -> list[str]:
        return list(self._operations)


@functools.cache
def _loader() -> Loader:
    return Loader(
        extra_search_paths=[Loader.BUILTIN_DATA_PATH],
        include_default_search_paths=False,
    )


@functools.cache
def load_service(name: str) -> ServiceSpec:
    """The `ServiceSpec` for botocore service `name` (``"kms"``), loaded once.

    Raises ValueError for a name the pinned botocore does not know.
    """
    try:
        raw = _loader().load_service_model(name, "service-2")
    except DataNotFoundError as exc:
        raise ValueError(f"botocore has no service model named {name!r}") from exc
    return ServiceSpec.from_model(name, ServiceModel(raw, service_name=name))


class SpecRegistry:
    """The services one server answers for, indexed by each routing key.

    Two services claiming the same ``X-Amz-Target`` prefix or signing name
    would make routing ambiguous, so that is refused at construction. Two query
    services sharing an API version are merely left out of the version index:
    their unsigned requests are not routed at all.
    """

    def __init__(self, services: Iterable[str | ServiceSpec]) -> None:
        self._by_name: dict[str, ServiceSpec] = {}
        self._by_target: dict[str, ServiceSpec] = {}
        self._by_signing: dict[str, ServiceSpec] = {}
        self._by_query_version: dict[str, ServiceSpec | None] = {}
        for item in services:
            spec = load_service(item) if isinstance(item, str) else item
            self._by_name[spec.name] = spec
            if spec.target_prefix is not None:
                _add_unique(self._by_target, spec.target_prefix, spec, "X-Amz-Target prefix")
            _add_unique(self._by_signing, spec.signing_name, spec, "signing name")
            if spec.is_query and spec.api_version:
                version = spec.api_version
                shared = version in self._by_query_version
                self._by_query_version[version] = None if shared else spec

    def __iter__(self) -> Iterator[ServiceSpec]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def get(self, name: str) -> ServiceSpec | None:
        """The spec for botocore service name `name`, if registered."""
        return self._by_name.get(name)

    def by_target_prefix(self, prefix: str) -> ServiceSpec | None:
        return self._by_target.get(prefix)

    def by_signing_name(self, name: str) -> ServiceSpec | None:
        return self._by_signing.get(name)

    def by_query_version(self, version: str) -> ServiceSpec | None:
        """The one query service whose API version is `version` (``"2011-06-15"``: STS).

        Only for requests that carry no credential scope (unsigned ones), so
        that they are refused in their service's own protocol.
        """
        return self._by_query_version.get(version)


def _add_unique(index: dict[str, ServiceSpec], key: str, spec: ServiceSpec, what: str) -> None:
    other = index.get(key)
    if other is not None and other.name != spec.name:
        raise ValueError(f"services {other.name!r} and {spec.name!r} share the {what} {key!r}")
    index[key] = spec
