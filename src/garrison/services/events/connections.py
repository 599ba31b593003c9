"""Connections: CreateConnection, DescribeConnection, ListConnections, UpdateConnection,
DeleteConnection, DeauthorizeConnection (EventBridge API destinations' authorisation).

A connection holds how Garrison authorises itself to an HTTP endpoint: an API key
header, HTTP Basic, or OAuth client credentials (a token fetched from the
authorization endpoint at the first delivery, `garrison.events.senders.http`),
plus HTTP parameters sent with every invocation. Secret values are sealed at rest
and never returned, logged or audited (their model shapes are ``sensitive``).

    CreateConnection ──> AUTHORIZED   (API_KEY, BASIC)
                    └──> AUTHORIZING  (OAUTH_CLIENT_CREDENTIALS) ──token──> AUTHORIZED
    DeauthorizeConnection ──> DEAUTHORIZED (every secret dropped; deliveries fail)
    UpdateConnection with the secrets again ──> AUTHORIZED / AUTHORIZING

Not implemented, refused by name: InvocationConnectivityParameters and
AuthParameters.ConnectivityParameters (private endpoints through VPC Lattice), and
KmsKeyIdentifier (connections are sealed by Garrison's barrier).
"""

from __future__ import annotations

import copy
import uuid
from typing import Any
from urllib.parse import urlsplit

from garrison.api import Call
from garrison.clock import Clock
from garrison.errors import AwsError, UnsupportedOperationException, ValidationException
from garrison.events import connections as store
from garrison.events.connections import (
    API_KEY,
    AUTHORIZED,
    AUTHORIZING,
    BASIC,
    DEAUTHORIZED,
    OAUTH,
    Connection,
)
from garrison.iam.authorizer import Authorizer
from garrison.services.events.actions import ACTIONS
from garrison.services.events.errors import LimitExceededException, ResourceNotFoundException

MAX_CONNECTIONS = 3000  # AWS's "Connections" quota per account and Region
MAX_API_DESTINATIONS = 3000  # AWS's "Api destinations" quota per account and Region


class ResourceAlreadyExistsException(AwsError):
    code = "ResourceAlreadyExistsException"


_AUTH_MEMBER = {
    API_KEY: "ApiKeyAuthParameters",
    BASIC: "BasicAuthParameters",
    OAUTH: "OAuthParameters",
}
_HTTP_LISTS = ("HeaderParameters", "QueryStringParameters", "BodyParameters")


def check_endpoint(url: str, what: str, *, allow_http: bool) -> None:
    """An endpoint Garrison may call: HTTPS (AWS's rule), or HTTP where the server allows."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or not host:
        raise ValidationException(f"{what} is not a valid URL.")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and allow_http:
        return
    if parts.scheme == "http":
        raise ValidationException(
            f"{what} must use HTTPS; plain HTTP needs the server setting "
            "events_allow_http_targets (on in dev mode)."
        )
    raise ValidationException(f"{what} must be an https:// URL.")


def _split_http(params: dict[str, Any] | None, secrets: dict[str, Any], where: str) -> None:
    """Move the values of parameters marked IsValueSecret out of `params` into `secrets`."""
    if not params:
        return
    for kind in _HTTP_LISTS:
        for index, entry in enumerate(params.get(kind) or ()):
            if entry.get("IsValueSecret") and "Value" in entry:
                secrets.setdefault("http", {})[f"{where}/{kind}/{index}"] = entry.pop("Value")


def split_secrets(auth: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """AuthParameters -> (what DescribeConnection shows, the sealed secret values)."""
    clear = copy.deepcopy(auth)
    secrets: dict[str, Any] = {}
    api_key = clear.get("ApiKeyAuthParameters")
    if api_key and "ApiKeyValue" in api_key:
        secrets["ApiKeyValue"] = api_key.pop("ApiKeyValue")
    basic = clear.get("BasicAuthParameters")
    if basic and "Password" in basic:
        secrets["Password"] = basic.pop("Password")
    oauth = clear.get("OAuthParameters")
    if oauth:
        client = oauth.get("ClientParameters") or {}
        if "ClientSecret" in client:
            secrets["ClientSecret"] = client.pop("ClientSecret")
        _split_http(oauth.get("OAuthHttpParameters"), secrets, "OAuthHttpParameters")
    _split_http(clear.get("InvocationHttpParameters"), secrets, "InvocationHttpParameters")
    return clear, secrets


class ConnectionUseCases:
    def __init__(self, clock: Clock, authorizer: Authorizer, *, allow_http: bool) -> None:
        self.clock = clock
        self.authorizer = authorizer
        self.allow_http = allow_http

    # -- helpers -------------------------------------------------------------------------
    def _authorize(self, call: Call, operation: str, arn: str) -> None:
        self.authorizer.authorize(call, ACTIONS[operation].action, arn)

    def _wildcard_arn(self, call: Call, kind: str) -> str:
        return f"arn:aws:events:{call.ctx.region}:{call.ctx.account_id}:{kind}/*"

    def find(self, call: Call, name: str) -> Connection:
        ctx = call.ctx
        found = store.get_connection(call.tx, ctx.account_id, ctx.region, name)
        if found is None:
            raise ResourceNotFoundException(
                f"Failed to describe the connection(s). Connection '{name}' does not exist."
            )
        return found

    def _check_auth(self, auth_type: str, auth: dict[str, Any]) -> None:
        if auth.get("ConnectivityParameters") is not None:
            raise UnsupportedOperationException(
                "AuthParameters.ConnectivityParameters (private OAuth endpoints through "
                "VPC Lattice) is not supported by this Garrison release."
            )
        wanted = _AUTH_MEMBER[auth_type]
        for member in _AUTH_MEMBER.values():
            if member != wanted and auth.get(member) is not None:
                raise ValidationException(
                    f"AuthParameters.{member} cannot be used with AuthorizationType {auth_type}."
                )
        given = auth.get(wanted)
        if not given:
            raise ValidationException(
                f"AuthParameters.{wanted} is required for AuthorizationType {auth_type}."
            )
        required = {
            API_KEY: ("ApiKeyName", "ApiKeyValue"),
            BASIC: ("Username", "Password"),
            OAUTH: ("AuthorizationEndpoint", "HttpMethod", "ClientParameters"),
        }[auth_type]
        for member in required:
            if not given.get(member):
                raise ValidationException(f"AuthParameters.{wanted}.{member} is required.")
        if auth_type == OAUTH:
            client = given["ClientParameters"]
            for member in ("ClientID", "ClientSecret"):
                if not client.get(member):
                    raise ValidationException(
                        f"AuthParameters.OAuthParameters.ClientParameters.{member} is required."
                    )
            check_endpoint(
                given["AuthorizationEndpoint"],
                "AuthParameters.OAuthParameters.AuthorizationEndpoint",
                allow_http=self.allow_http,
            )

    @staticmethod
    def _refuse_unsupported(r: dict[str, Any]) -> None:
        for member in ("InvocationConnectivityParameters", "KmsKeyIdentifier"):
            if r.get(member) is not None:
                raise UnsupportedOperationException(
                    f"{member} is not supported by this Garrison release: connections are "
                    "sealed by Garrison's barrier and reach public endpoints only."
                )

    # -- operations ----------------------------------------------------------------------
    def create(self, call: Call, r: dict[str, Any]) -> Connection:
        ctx = call.ctx
        self._refuse_unsupported(r)
        name = r["Name"]
        connection_id = str(uuid.uuid4())
        arn = store.connection_arn(ctx.region, ctx.account_id, name, connection_id)
        self._authorize(call, "CreateConnection", arn)
        auth_type = r["AuthorizationType"]
        auth = copy.deepcopy(r["AuthParameters"])
        self._check_auth(auth_type, auth)
        if store.get_connection(call.tx, ctx.account_id, ctx.region, name) is not None:
            raise ResourceAlreadyExistsException(f"Connection {name} already exists.")
        if store.count_connections(call.tx, ctx.account_id, ctx.region) >= MAX_CONNECTIONS:
            raise LimitExceededException(
                f"The requested resource exceeds the maximum number allowed ({MAX_CONNECTIONS})."
            )
        clear, secrets = split_secrets(auth)
        now = self.clock.time()
        oauth = auth_type == OAUTH
        connection = Connection(
            account_id=ctx.account_id,
            region=ctx.region,
            name=name,
            connection_id=connection_id,
            authorization_type=auth_type,
            state=AUTHORIZING if oauth else AUTHORIZED,
            state_reason=None,
            description=r.get("Description"),
            parameters=clear,
            secrets=secrets,
            created_at=now,
            last_modified_at=now,
            last_authorized_at=None if oauth else now,
        )
        store.insert_connection(call.tx, connection)
        call.audit_resource("AWS::Events::Connection", arn)
        return connection

    def describe(self, call: Call, name: str) -> Connection:
        connection = self.find(call, name)
        self._authorize(call, "DescribeConnection", connection.arn)
        return connection

    def list(self, call: Call, *, prefix: str | None, state: str | None) -> list[Connection]:
        self._authorize(call, "ListConnections", self._wildcard_arn(call, "connection"))
        ctx = call.ctx
        return store.list_connections(
            call.tx, ctx.account_id, ctx.region, prefix=prefix, state=state
        )

    def update(self, call: Call, r: dict[str, Any]) -> Connection:
        self._refuse_unsupported(r)
        current = self.find(call, r["Name"])
        self._authorize(call, "UpdateConnection", current.arn)
        auth_type = r.get("AuthorizationType") or current.authorization_type
        update = r.get("AuthParameters") or {}
        now = self.clock.time()
        if not update and auth_type == current.authorization_type:
            # the description only: authorisation, state and token as they were
            clear, secrets = current.parameters, current.secrets
            state, reason = current.state, current.state_reason
            last_authorized = current.last_authorized_at
        else:
            full = merge_secrets(current.parameters, current.secrets)
            full.pop("token", None)
            if auth_type != current.authorization_type:
                full.pop(_AUTH_MEMBER[current.authorization_type], None)
            for member, value in update.items():
                if member in _AUTH_MEMBER.values() and isinstance(value, dict):
                    merged = dict(full.get(member) or {})
                    for key, sub in value.items():
                        if key == "ClientParameters" and isinstance(sub, dict):
                            merged[key] = {**(merged.get(key) or {}), **sub}
                        else:
                            merged[key] = sub
                    full[member] = merged
                else:
                    full[member] = value
            self._check_auth(auth_type, full)
            clear, secrets = split_secrets(full)
            # new authorisation parameters authorise again (OAuth: a fresh token is
            # fetched at the next delivery)
            oauth = auth_type == OAUTH
            state, reason = (AUTHORIZING, None) if oauth else (AUTHORIZED, None)
            last_authorized = None if oauth else now
        updated = Connection(
            account_id=current.account_id,
            region=current.region,
            name=current.name,
            connection_id=current.connection_id,
            authorization_type=auth_type,
            state=state,
            state_reason=reason,
            description=r.get("Description", current.description),
            parameters=clear,
            secrets=secrets,
            created_at=current.created_at,
            last_modified_at=now,
            last_authorized_at=last_authorized,
        )
        store.save_connection(call.tx, updated)
        call.audit_resource("AWS::Events::Connection", updated.arn)
        return updated

    def delete(self, call: Call, name: str) -> Connection:
        current = self.find(call, name)
        self._authorize(call, "DeleteConnection", current.arn)
        ctx = call.ctx
        store.delete_connection(call.tx, ctx.account_id, ctx.region, name)
        call.audit_resource("AWS::Events::Connection", current.arn)
        return current

    def deauthorize(self, call: Call, name: str) -> Connection:
        """Drop every secret (the OAuth token too): deliveries through it fail until
        UpdateConnection gives the authorisation parameters again."""
        current = self.find(call, name)
        self._authorize(call, "DeauthorizeConnection", current.arn)
        now = self.clock.time()
        updated = Connection(
            account_id=current.account_id,
            region=current.region,
            name=current.name,
            connection_id=current.connection_id,
            authorization_type=current.authorization_type,
            state=DEAUTHORIZED,
            state_reason="Deauthorized by DeauthorizeConnection.",
            description=current.description,
            parameters=current.parameters,
            secrets={},
            created_at=current.created_at,
            last_modified_at=now,
            last_authorized_at=current.last_authorized_at,
        )
        store.save_connection(call.tx, updated)
        call.audit_resource("AWS::Events::Connection", updated.arn)
        return updated


def merge_secrets(parameters: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    """The full AuthParameters again (`split_secrets` undone), for UpdateConnection."""
    return store.full_parameters(parameters, secrets)
