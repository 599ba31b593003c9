"""Wire shapes of the connection and API destination operations (the provider's part
for them).

The request dict (model member names, validated by the pipeline) onto
`ConnectionUseCases` / `ApiDestinationUseCases`, and the response dict back.
The events provider merges `handlers()` into its table and `HANDLED` into its own.
DescribeConnection never returns a secret value (API key value, password, client
secret, values marked IsValueSecret), as AWS.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from garrison.api import Call, Request, Response
from garrison.clock import Clock
from garrison.errors import ValidationException
from garrison.events.connections import ApiDestination, Connection
from garrison.iam.authorizer import Authorizer
from garrison.services.common.rows import dt, opt_dt
from garrison.services.events.api_destinations import ApiDestinationUseCases
from garrison.services.events.connections import ConnectionUseCases

T = TypeVar("T")

HANDLED: dict[str, frozenset[str]] = {
    name: frozenset(members.split())
    for name, members in {
        # InvocationConnectivityParameters and KmsKeyIdentifier are refused by name
        # (ConnectionUseCases), so they count as handled here
        "CreateConnection": "Name Description AuthorizationType AuthParameters "
        "InvocationConnectivityParameters KmsKeyIdentifier",
        "UpdateConnection": "Name Description AuthorizationType AuthParameters "
        "InvocationConnectivityParameters KmsKeyIdentifier",
        "DescribeConnection": "Name",
        "ListConnections": "NamePrefix ConnectionState NextToken Limit",
        "DeleteConnection": "Name",
        "DeauthorizeConnection": "Name",
        "CreateApiDestination": "Name Description ConnectionArn InvocationEndpoint HttpMethod "
        "InvocationRateLimitPerSecond",
        "UpdateApiDestination": "Name Description ConnectionArn InvocationEndpoint HttpMethod "
        "InvocationRateLimitPerSecond",
        "DescribeApiDestination": "Name",
        "ListApiDestinations": "NamePrefix ConnectionArn NextToken Limit",
        "DeleteApiDestination": "Name",
    }.items()
}

READ_ONLY = frozenset(
    {"DescribeConnection", "ListConnections", "DescribeApiDestination", "ListApiDestinations"}
)


def _page(items: Sequence[T], name: Callable[[T], str], r: Request) -> tuple[list[T], str | None]:
    """One page of `items` (sorted by name) after NextToken, at most Limit long."""
    limit = int(r.get("Limit") or 100)
    start = 0
    token = r.get("NextToken")
    if token is not None:
        try:
            after = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise ValidationException("The NextToken is not valid.") from None
        start = next((i for i, item in enumerate(items) if name(item) > after), len(items))
    page = list(items[start : start + limit])
    more = start + limit < len(items)
    next_token = base64.urlsafe_b64encode(name(page[-1]).encode()).decode() if more else None
    return page, next_token


def _connection_summary(c: Connection) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ConnectionArn": c.arn,
        "ConnectionState": c.state,
        "CreationTime": dt(c.created_at),
        "LastModifiedTime": dt(c.last_modified_at),
    }
    if c.last_authorized_at is not None:
        out["LastAuthorizedTime"] = opt_dt(c.last_authorized_at)
    return out


class ConnectionHandlers:
    def __init__(self, clock: Clock, authorizer: Authorizer, *, allow_http: bool) -> None:
        self.connections = ConnectionUseCases(clock, authorizer, allow_http=allow_http)
        self.destinations = ApiDestinationUseCases(clock, authorizer, allow_http=allow_http)

    def handlers(self) -> dict[str, Callable[[Call, Request], Response | None]]:
        return {
            "CreateConnection": self.create_connection,
            "DescribeConnection": self.describe_connection,
            "ListConnections": self.list_connections,
            "UpdateConnection": self.update_connection,
            "DeleteConnection": self.delete_connection,
            "DeauthorizeConnection": self.deauthorize_connection,
            "CreateApiDestination": self.create_api_destination,
            "DescribeApiDestination": self.describe_api_destination,
            "ListApiDestinations": self.list_api_destinations,
            "UpdateApiDestination": self.update_api_destination,
            "DeleteApiDestination": self.delete_api_destination,
        }

    # -- connections ---------------------------------------------------------------------
    def create_connection(self, call: Call, r: Request) -> Response:
        c = self.connections.create(call, r)
        out = _connection_summary(c)
        out.pop("LastAuthorizedTime", None)  # not in CreateConnection's response shape
        return out

    def describe_connection(self, call: Call, r: Request) -> Response:
        c = self.connections.describe(call, r["Name"])
        out: dict[str, Any] = {
            "ConnectionArn": c.arn,
            "Name": c.name,
            "ConnectionState": c.state,
            "AuthorizationType": c.authorization_type,
            "AuthParameters": c.parameters,
            "CreationTime": dt(c.created_at),
            "LastModifiedTime": dt(c.last_modified_at),
        }
        if c.description is not None:
            out["Description"] = c.description
        if c.state_reason:
            out["StateReason"] = c.state_reason
        if c.last_authorized_at is not None:
            out["LastAuthorizedTime"] = dt(c.last_authorized_at)
        return out

    def list_connections(self, call: Call, r: Request) -> Response:
        found = self.connections.list(
            call, prefix=r.get("NamePrefix"), state=r.get("ConnectionState")
        )
        page, token = _page(found, lambda c: c.name, r)
        entries = []
        for c in page:
            entry = _connection_summary(c)
            entry["Name"] = c.name
            entry["AuthorizationType"] = c.authorization_type
            if c.state_reason:
                entry["StateReason"] = c.state_reason
            entries.append(entry)
        out: Response = {"Connections": entries}
        if token is not None:
            out["NextToken"] = token
        return out

    def update_connection(self, call: Call, r: Request) -> Response:
        return _connection_summary(self.connections.update(call, r))

    def delete_connection(self, call: Call, r: Request) -> Response:
        c = self.connections.delete(call, r["Name"])
        out = _connection_summary(c)
        out["ConnectionState"] = "DELETING"
        return out

    def deauthorize_connection(self, call: Call, r: Request) -> Response:
        c = self.connections.deauthorize(call, r["Name"])
        out = _connection_summary(c)
        out["ConnectionState"] = "DEAUTHORIZING"
        return out

    # -- API destinations ----------------------------------------------------------------
    @staticmethod
    def _destination_summary(d: ApiDestination) -> dict[str, Any]:
        return {
            "ApiDestinationArn": d.arn,
            "ApiDestinationState": d.state,
            "CreationTime": dt(d.created_at),
            "LastModifiedTime": dt(d.last_modified_at),
        }

    @staticmethod
    def _destination(d: ApiDestination) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ApiDestinationArn": d.arn,
            "Name": d.name,
            "ApiDestinationState": d.state,
            "ConnectionArn": d.connection_arn,
            "InvocationEndpoint": d.endpoint,
            "HttpMethod": d.http_method,
            "CreationTime": dt(d.created_at),
            "LastModifiedTime": dt(d.last_modified_at),
        }
        if d.rate_limit is not None:
            out["InvocationRateLimitPerSecond"] = d.rate_limit
        return out

    def create_api_destination(self, call: Call, r: Request) -> Response:
        return self._destination_summary(self.destinations.create(call, r))

    def describe_api_destination(self, call: Call, r: Request) -> Response:
        d = self.destinations.describe(call, r["Name"])
        out = self._destination(d)
        if d.description is not None:
            out["Description"] = d.description
        return out

    def list_api_destinations(self, call: Call, r: Request) -> Response:
        found = self.destinations.list(
            call, prefix=r.get("NamePrefix"), connection_arn=r.get("ConnectionArn")
        )
        page, token = _page(found, lambda d: d.name, r)
        out: Response = {"ApiDestinations": [self._destination(d) for d in page]}
        if token is not None:
            out["NextToken"] = token
        return out

    def update_api_destination(self, call: Call, r: Request) -> Response:
        return self._destination_summary(self.destinations.update(call, r))

    def delete_api_destination(self, call: Call, r: Request) -> Response:
        self.destinations.delete(call, r["Name"])
        return {}
