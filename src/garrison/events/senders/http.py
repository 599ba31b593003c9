"""Delivery to API destinations: an HTTP(S) request per event, authorised by the
destination's connection, as EventBridge sends it.

    target ARN  arn:aws:events:<region>:<account>:api-destination/<name>/<uuid>
    request     <HttpMethod> <InvocationEndpoint, each "*" replaced by the target's
                HttpParameters.PathParameterValues in order>
                ?<target's QueryStringParameters> + <connection's>
                Content-Type: application/json; charset=utf-8
                User-Agent: Amazon/EventBridge/ApiDestinations
                <target's HeaderParameters> + <connection's InvocationHttpParameters>
                <API_KEY: "<ApiKeyName>: <ApiKeyValue>" | BASIC: Basic <user:password>
                 | OAUTH_CLIENT_CREDENTIALS: Authorization: Bearer <access token>>
                body: the payload (the connection's BodyParameters added to a JSON object)
    answer      2xx delivered; 408/429/5xx, timeouts (5 s) and connection errors retried;
                401/407 with OAuth: the token fetched again and the call repeated once;
                any other status: not retried (dead letter)

OAuth client credentials: the token is fetched from AuthorizationEndpoint with
the connection's HttpMethod, ``Authorization: Basic <ClientID:ClientSecret>`` and
the OAuthHttpParameters (headers, query string, body parameters form-encoded),
at the first delivery and again when it is within 60 s of its ``expires_in`` or
refused; the connection turns AUTHORIZED (or DEAUTHORIZED with a StateReason
when the endpoint refuses). The token is sealed with the connection's secrets.

Failure reasons name the destination's host and the status, never a URL's query
string, a header or a secret.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from garrison.clock import Clock
from garrison.events import connections as store
from garrison.events.connections import (
    API_KEY,
    AUTHORIZED,
    BASIC,
    DEAUTHORIZED,
    OAUTH,
    ApiDestination,
    Connection,
)
from garrison.events.senders import Delivery, DeliveryFailed
from garrison.storage.database import Database
from garrison.storage.writer import Tx

log = logging.getLogger(__name__)

USER_AGENT = "Amazon/EventBridge/ApiDestinations"
TIMEOUT_SECONDS = 5.0  # AWS's API destination invocation timeout
TOKEN_EARLY_REFRESH_SECONDS = 60.0
RETRYABLE_STATUS = frozenset({408, 429})


def _host(url: str) -> str:
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "(invalid URL)"


def _pairs(params: dict[str, Any] | None, kind: str) -> list[tuple[str, str]]:
    return [
        (str(p.get("Key", "")), str(p.get("Value", "")))
        for p in (params or {}).get(kind) or ()
        if p.get("Key")
    ]


class _RateLimiter:
    """Spaces the calls to one destination by 1/InvocationRateLimitPerSecond (wall time)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next: dict[str, float] = {}

    def wait(self, key: str, rate: int | None) -> None:
        if not rate:
            return
        with self._lock:
            now = time.monotonic()
            at = max(now, self._next.get(key, 0.0))
            self._next[key] = at + 1.0 / rate
        if at > now:
            time.sleep(min(at - now, 1.0))


class HttpSender:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        allow_http: bool,
        ca_file: str = "",
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.db = db
        self.clock = clock
        self.allow_http = allow_http
        verify: Any = ca_file if ca_file else True
        # httpx logs every request's full URL at INFO; a query string may carry a
        # connection's secret parameter, so only its warnings are let through
        logging.getLogger("httpx").setLevel(logging.WARNING)
        logging.getLogger("httpcore").setLevel(logging.WARNING)
        self._client = httpx.Client(timeout=timeout, verify=verify, follow_redirects=False)
        self._limiter = _RateLimiter()

    # -- the Sender protocol ---------------------------------------------------------------
    def handles(self, target_arn: str) -> bool:
        return store.parse_arn(target_arn, "api-destination") is not None

    def close(self) -> None:
        self._client.close()

    def send(self, delivery: Delivery) -> None:
        destination, connection = self.db.read(lambda tx: self._lookup(tx, delivery.target_arn))
        self._check_scheme(destination.endpoint, "API destination")
        self._limiter.wait(destination.arn, destination.rate_limit)
        request = self._request(destination, connection, delivery)
        if connection.authorization_type == OAUTH:
            token = self._token(connection, refresh=False)
            request.headers["Authorization"] = f"Bearer {token}"
            response = self._call(request, destination)
            if response.status_code in (401, 407):
                token = self._token(connection, refresh=True)
                request.headers["Authorization"] = f"Bearer {token}"
                response = self._call(request, destination)
        else:
            response = self._call(request, destination)
        self._judge(response.status_code, destination)

    # -- building the call -------------------------------------------------------------------
    def _lookup(self, tx: Tx, arn: str) -> tuple[ApiDestination, Connection]:
        parsed = store.parse_arn(arn, "api-destination")
        if parsed is None:
            raise DeliveryFailed("not an API destination ARN", retryable=False)
        region, account, name, destination_id = parsed
        destination = store.get_destination(tx, account, region, name)
        if destination is None or destination.destination_id != destination_id:
            raise DeliveryFailed(f"API destination {name} does not exist", retryable=False)
        conn_parsed = store.parse_arn(destination.connection_arn, "connection")
        connection = None
        if conn_parsed is not None:
            connection = store.get_connection(tx, conn_parsed[1], conn_parsed[0], conn_parsed[2])
        if connection is None or conn_parsed is None or connection.connection_id != conn_parsed[3]:
            raise DeliveryFailed(
                f"the connection of API destination {name} does not exist", retryable=False
            )
        if connection.state == DEAUTHORIZED and not connection.secrets:
            raise DeliveryFailed(f"connection {connection.name} is DEAUTHORIZED", retryable=False)
        return destination, connection

    def _check_scheme(self, url: str, what: str) -> None:
        scheme = urlsplit(url).scheme
        if scheme == "https" or (scheme == "http" and self.allow_http):
            return
        raise DeliveryFailed(f"the {what} endpoint is not HTTPS", retryable=False)

    def _request(
        self, destination: ApiDestination, connection: Connection, delivery: Delivery
    ) -> httpx.Request:
        target_params: dict[str, Any] = dict(delivery.target.get("HttpParameters") or {})
        auth = store.full_parameters(connection.parameters, connection.secrets)
        invocation = auth.get("InvocationHttpParameters") or {}
        url = destination.endpoint
        for value in target_params.get("PathParameterValues") or ():
            url = url.replace("*", str(value), 1)
        headers: dict[str, str] = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
        }
        for key, value in (target_params.get("HeaderParameters") or {}).items():
            headers[str(key)] = str(value)
        for key, value in _pairs(invocation, "HeaderParameters"):
            headers[key] = value  # the connection's parameters win, as AWS
        query: dict[str, str] = {
            str(k): str(v) for k, v in (target_params.get("QueryStringParameters") or {}).items()
        }
        query.update(_pairs(invocation, "QueryStringParameters"))
        if connection.authorization_type == API_KEY:
            api_key = auth.get("ApiKeyAuthParameters") or {}
            headers[api_key.get("ApiKeyName", "x-api-key")] = api_key.get("ApiKeyValue", "")
        elif connection.authorization_type == BASIC:
            basic = auth.get("BasicAuthParameters") or {}
            pair = f"{basic.get('Username', '')}:{basic.get('Password', '')}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        body: bytes | None = delivery.payload
        extra = _pairs(invocation, "BodyParameters")
        if extra:
            try:
                document = json.loads(delivery.payload)
            except ValueError:
                document = None
            if isinstance(document, dict):
                document.update(extra)
                body = json.dumps(document, separators=(",", ":")).encode()
        if destination.http_method in ("GET", "HEAD"):
            body = None
        try:
            return self._client.build_request(
                destination.http_method, url, headers=headers, params=query or None, content=body
            )
        except (httpx.InvalidURL, ValueError, TypeError):
            raise DeliveryFailed(
                f"API destination {destination.name}: the request cannot be built "
                "(endpoint or HTTP parameters)",
                retryable=False,
            ) from None

    def _call(self, request: httpx.Request, destination: ApiDestination) -> httpx.Response:
        where = _host(destination.endpoint)
        try:
            response = self._client.send(request)
            response.read()
            response.close()
            return response
        except httpx.TimeoutException:
            raise DeliveryFailed(f"{where} timed out after {TIMEOUT_SECONDS:g} s") from None
        except httpx.TransportError as exc:
            raise DeliveryFailed(f"{where} could not be reached ({type(exc).__name__})") from None

    @staticmethod
    def _judge(status: int, destination: ApiDestination) -> None:
        if 200 <= status < 300:
            return
        where = _host(destination.endpoint)
        retryable = status >= 500 or status in RETRYABLE_STATUS
        raise DeliveryFailed(f"{where} answered HTTP {status}", retryable=retryable)

    # -- OAuth -----------------------------------------------------------------------------
    def _token(self, connection: Connection, *, refresh: bool) -> str:
        """The connection's access token: the stored one, else a fresh one."""
        latest = self.db.read(
            lambda tx: store.get_connection(
                tx, connection.account_id, connection.region, connection.name
            )
        )
        if latest is None or latest.connection_id != connection.connection_id:
            raise DeliveryFailed(f"connection {connection.name} does not exist", retryable=False)
        token = latest.secrets.get("token") or {}
        now = self.clock.time()
        if (
            not refresh
            and token.get("access_token")
            and float(token.get("expires_at", 0)) - TOKEN_EARLY_REFRESH_SECONDS > now
        ):
            return str(token["access_token"])
        if "ClientSecret" not in latest.secrets:
            raise DeliveryFailed(f"connection {latest.name} is DEAUTHORIZED", retryable=False)
        return self._fetch_token(latest)

    def _fetch_token(self, connection: Connection) -> str:
        auth = store.full_parameters(connection.parameters, connection.secrets)
        oauth = auth.get("OAuthParameters") or {}
        endpoint = str(oauth.get("AuthorizationEndpoint", ""))
        self._check_scheme(endpoint, "authorization")
        client = oauth.get("ClientParameters") or {}
        pair = f"{client.get('ClientID', '')}:{client.get('ClientSecret', '')}".encode()
        http = oauth.get("OAuthHttpParameters") or {}
        headers = {
            "User-Agent": USER_AGENT,
            "Authorization": "Basic " + base64.b64encode(pair).decode(),
        }
        headers.update(_pairs(http, "HeaderParameters"))
        method = str(oauth.get("HttpMethod", "POST"))
        form = _pairs(http, "BodyParameters")
        where = _host(endpoint)
        try:
            response = self._client.request(
                method,
                endpoint,
                headers=headers,
                params=dict(_pairs(http, "QueryStringParameters")) or None,
                data=dict(form) if form and method != "GET" else None,
            )
        except httpx.TimeoutException:
            raise DeliveryFailed(f"authorization endpoint {where} timed out") from None
        except httpx.TransportError as exc:
            raise DeliveryFailed(
                f"authorization endpoint {where} could not be reached ({type(exc).__name__})"
            ) from None
        token: str | None = None
        expires_in = 3600.0
        if 200 <= response.status_code < 300:
            try:
                document = response.json()
                token = str(document["access_token"])
                expires_in = float(document.get("expires_in") or 3600)
            except (ValueError, KeyError, TypeError):
                token = None
        if not token:
            reason = (
                f"The authorization endpoint answered HTTP {response.status_code}"
                if response.status_code >= 300
                else "The authorization endpoint's answer has no access_token"
            )
            self._settle_connection(connection, None, 0.0, reason)
            raise DeliveryFailed(f"connection {connection.name}: {reason.lower()}")
        self._settle_connection(connection, token, self.clock.time() + expires_in, None)
        return token

    def _settle_connection(
        self, connection: Connection, token: str | None, expires_at: float, reason: str | None
    ) -> None:
        """Record the fetch: AUTHORIZED with the (sealed) token, or DEAUTHORIZED and why."""
        now = self.clock.time()

        def unit(tx: Tx) -> None:
            current = store.get_connection(
                tx, connection.account_id, connection.region, connection.name
            )
            if current is None or current.connection_id != connection.connection_id:
                return
            if current.authorization_type != OAUTH or "ClientSecret" not in current.secrets:
                return  # changed meanwhile (UpdateConnection / DeauthorizeConnection)
            secrets = dict(current.secrets)
            secrets.pop("token", None)
            if token is not None:
                secrets["token"] = {"access_token": token, "expires_at": expires_at}
            store.save_connection(
                tx,
                Connection(
                    account_id=current.account_id,
                    region=current.region,
                    name=current.name,
                    connection_id=current.connection_id,
                    authorization_type=current.authorization_type,
                    state=AUTHORIZED if token is not None else DEAUTHORIZED,
                    state_reason=reason,
                    description=current.description,
                    parameters=current.parameters,
                    secrets=secrets,
                    created_at=current.created_at,
                    last_modified_at=current.last_modified_at,
                    last_authorized_at=now if token is not None else current.last_authorized_at,
                ),
            )

        self.db.write(unit)
