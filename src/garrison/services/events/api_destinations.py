"""API destinations: CreateApiDestination, DescribeApiDestination, ListApiDestinations,
UpdateApiDestination, DeleteApiDestination.

An API destination is an HTTP endpoint (InvocationEndpoint, with ``*`` path
parameters a target's HttpParameters.PathParameterValues fill), the method to call
it with, an invocation rate limit and the connection that authorises it. The
connection must exist in the caller's account and Region; the endpoint must be
HTTPS unless the server allows plain HTTP (`events_allow_http_targets`, on in dev
mode). Delivery itself is `garrison.events.senders.http`.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from garrison.api import Call
from garrison.clock import Clock
from garrison.events import connections as store
from garrison.events.connections import ApiDestination
from garrison.iam.authorizer import Authorizer
from garrison.services.events.actions import ACTIONS
from garrison.services.events.connections import (
    MAX_API_DESTINATIONS,
    ResourceAlreadyExistsException,
    check_endpoint,
)
from garrison.services.events.errors import LimitExceededException, ResourceNotFoundException

ACTIVE = "ACTIVE"
DEFAULT_RATE_LIMIT = 300  # AWS's default InvocationRateLimitPerSecond


class ApiDestinationUseCases:
    def __init__(self, clock: Clock, authorizer: Authorizer, *, allow_http: bool) -> None:
        self.clock = clock
        self.authorizer = authorizer
        self.allow_http = allow_http

    def _authorize(self, call: Call, operation: str, arn: str) -> None:
        self.authorizer.authorize(call, ACTIONS[operation].action, arn)

    def find(self, call: Call, name: str) -> ApiDestination:
        ctx = call.ctx
        found = store.get_destination(call.tx, ctx.account_id, ctx.region, name)
        if found is None:
            raise ResourceNotFoundException(
                "Failed to describe the api-destination(s). "
                f"An api-destination '{name}' does not exist."
            )
        return found

    def _connection_arn(self, call: Call, arn: str) -> str:
        """The ARN of an existing connection of the caller's account and Region."""
        parsed = store.parse_arn(arn, "connection")
        ctx = call.ctx
        found = None
        if parsed is not None and parsed[:2] == (ctx.region, ctx.account_id):
            found = store.get_connection(call.tx, ctx.account_id, ctx.region, parsed[2])
        if found is None or parsed is None or found.connection_id != parsed[3]:
            raise ResourceNotFoundException(f"Connection '{arn}' does not exist.")
        return found.arn

    def _check_endpoint(self, url: str) -> None:
        check_endpoint(url, "InvocationEndpoint", allow_http=self.allow_http)

    def create(self, call: Call, r: dict[str, Any]) -> ApiDestination:
        ctx = call.ctx
        name = r["Name"]
        destination_id = str(uuid.uuid4())
        arn = store.api_destination_arn(ctx.region, ctx.account_id, name, destination_id)
        self._authorize(call, "CreateApiDestination", arn)
        self._check_endpoint(r["InvocationEndpoint"])
        connection_arn = self._connection_arn(call, r["ConnectionArn"])
        if store.get_destination(call.tx, ctx.account_id, ctx.region, name) is not None:
            raise ResourceAlreadyExistsException(f"An api-destination '{name}' already exists.")
        if store.count_destinations(call.tx, ctx.account_id, ctx.region) >= MAX_API_DESTINATIONS:
            raise LimitExceededException(
                "The requested resource exceeds the maximum number allowed "
                f"({MAX_API_DESTINATIONS})."
            )
        now = self.clock.time()
        destination = ApiDestination(
            account_id=ctx.account_id,
            region=ctx.region,
            name=name,
            destination_id=destination_id,
            connection_arn=connection_arn,
            endpoint=r["InvocationEndpoint"],
            http_method=r["HttpMethod"],
            rate_limit=r.get("InvocationRateLimitPerSecond") or DEFAULT_RATE_LIMIT,
            state=ACTIVE,
            description=r.get("Description"),
            created_at=now,
            last_modified_at=now,
        )
        store.insert_destination(call.tx, destination)
        call.audit_resource("AWS::Events::ApiDestination", arn)
        return destination

    def describe(self, call: Call, name: str) -> ApiDestination:
        found = self.find(call, name)
        self._authorize(call, "DescribeApiDestination", found.arn)
        return found

    def list(
        self, call: Call, *, prefix: str | None, connection_arn: str | None
    ) -> list[ApiDestination]:
        ctx = call.ctx
        self._authorize(
            call,
            "ListApiDestinations",
            f"arn:aws:events:{ctx.region}:{ctx.account_id}:api-destination/*",
        )
        return store.list_destinations(
            call.tx, ctx.account_id, ctx.region, prefix=prefix, connection_arn=connection_arn
        )

    def update(self, call: Call, r: dict[str, Any]) -> ApiDestination:
        current = self.find(call, r["Name"])
        self._authorize(call, "UpdateApiDestination", current.arn)
        changes: dict[str, Any] = {"last_modified_at": self.clock.time()}
        if "InvocationEndpoint" in r:
            self._check_endpoint(r["InvocationEndpoint"])
            changes["endpoint"] = r["InvocationEndpoint"]
        if "ConnectionArn" in r:
            changes["connection_arn"] = self._connection_arn(call, r["ConnectionArn"])
        if "HttpMethod" in r:
            changes["http_method"] = r["HttpMethod"]
        if "InvocationRateLimitPerSecond" in r:
            changes["rate_limit"] = r["InvocationRateLimitPerSecond"]
        if "Description" in r:
            changes["description"] = r["Description"]
        updated = replace(current, **changes)
        store.save_destination(call.tx, updated)
        call.audit_resource("AWS::Events::ApiDestination", updated.arn)
        return updated

    def delete(self, call: Call, name: str) -> None:
        current = self.find(call, name)
        self._authorize(call, "DeleteApiDestination", current.arn)
        ctx = call.ctx
        store.delete_destination(call.tx, ctx.account_id, ctx.region, name)
        call.audit_resource("AWS::Events::ApiDestination", current.arn)
