"""Connections and API destinations: their rows (``events_connections``,
``events_api_destinations``).

A connection's authorisation parameters are split in two: what DescribeConnection
shows (`Connection.parameters`: the API key's name, the user name, the OAuth client
id and endpoint, and the HTTP parameters whose values are not secret) stays clear;
the secret values (API key value, password, client secret, the values of
parameters marked ``IsValueSecret``, and the OAuth access token once fetched) are
`Connection.secrets`, sealed by the barrier under the connection's id.

    connection state     AUTHORIZED      API_KEY / BASIC, from creation
                         AUTHORIZING     OAUTH_CLIENT_CREDENTIALS until a token is fetched
                         DEAUTHORIZED    DeauthorizeConnection, or the token endpoint refused
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from garrison.storage import schema
from garrison.storage.sql import delete, func, insert, select, update
from garrison.storage.writer import Tx

_conn = schema.events_connections
_dest = schema.events_api_destinations

AUTHORIZED = "AUTHORIZED"
AUTHORIZING = "AUTHORIZING"
DEAUTHORIZED = "DEAUTHORIZED"
API_KEY = "API_KEY"
BASIC = "BASIC"
OAUTH = "OAUTH_CLIENT_CREDENTIALS"


@dataclass(frozen=True, slots=True)
class Connection:
    account_id: str
    region: str
    name: str
    connection_id: str
    authorization_type: str
    state: str
    state_reason: str | None
    description: str | None
    parameters: dict[str, Any]  # AuthParameters without secret values
    secrets: dict[str, Any] = field(repr=False)  # sealed at rest; never logged
    created_at: float
    last_modified_at: float
    last_authorized_at: float | None

    @property
    def arn(self) -> str:
        return connection_arn(self.region, self.account_id, self.name, self.connection_id)


@dataclass(frozen=True, slots=True)
class ApiDestination:
    account_id: str
    region: str
    name: str
    destination_id: str
    connection_arn: str
    endpoint: str
    http_method: str
    rate_limit: int | None
    state: str
    description: str | None
    created_at: float
    last_modified_at: float

    @property
    def arn(self) -> str:
        return api_destination_arn(self.region, self.account_id, self.name, self.destination_id)


def connection_arn(region: str, account_id: str, name: str, connection_id: str) -> str:
    return f"arn:aws:events:{region}:{account_id}:connection/{name}/{connection_id}"


def api_destination_arn(region: str, account_id: str, name: str, destination_id: str) -> str:
    return f"arn:aws:events:{region}:{account_id}:api-destination/{name}/{destination_id}"


def parse_arn(arn: str, kind: str) -> tuple[str, str, str, str] | None:
    """(region, account, name, id) of a connection / api-destination ARN, else None."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "events":
        return None
    resource = parts[5].split("/")
    if len(resource) != 3 or resource[0] != kind:
        return None
    return parts[3], parts[4], resource[1], resource[2]


# -- connections --------------------------------------------------------------------------
def _seal(tx: Tx, connection_id: str, secrets: dict[str, Any]) -> bytes:
    text = json.dumps(secrets, separators=(",", ":")).encode()
    return tx.barrier.seal("events_connections", connection_id, "secrets", text)


def _connection(tx: Tx, row: Any) -> Connection:
    opened = tx.barrier.open("events_connections", row.connection_id, "secrets", row.secrets)
    return Connection(
        account_id=row.account_id,
        region=row.region,
        name=row.name,
        connection_id=row.connection_id,
        authorization_type=row.authorization_type,
        state=row.state,
        state_reason=row.state_reason,
        description=row.description,
        parameters=json.loads(row.parameters),
        secrets=json.loads(opened),
        created_at=row.created_at,
        last_modified_at=row.last_modified_at,
        last_authorized_at=row.last_authorized_at,
    )


def insert_connection(tx: Tx, c: Connection) -> None:
    tx.execute(
        insert(_conn),
        {
            "account_id": c.account_id,
            "region": c.region,
            "name": c.name,
            "connection_id": c.connection_id,
            "authorization_type": c.authorization_type,
            "state": c.state,
            "state_reason": c.state_reason,
            "description": c.description,
            "parameters": json.dumps(c.parameters, separators=(",", ":")),
            "secrets": _seal(tx, c.connection_id, c.secrets),
            "created_at": c.created_at,
            "last_modified_at": c.last_modified_at,
            "last_authorized_at": c.last_authorized_at,
        },
    )


def save_connection(tx: Tx, c: Connection) -> None:
    """Rewrite every mutable column of an existing connection."""
    tx.execute(
        update(_conn)
        .where(_conn.c.account_id == c.account_id)
        .where(_conn.c.region == c.region)
        .where(_conn.c.name == c.name)
        .values(
            authorization_type=c.authorization_type,
            state=c.state,
            state_reason=c.state_reason,
            description=c.description,
            parameters=json.dumps(c.parameters, separators=(",", ":")),
            secrets=_seal(tx, c.connection_id, c.secrets),
            last_modified_at=c.last_modified_at,
            last_authorized_at=c.last_authorized_at,
        )
    )


def get_connection(tx: Tx, account_id: str, region: str, name: str) -> Connection | None:
    row = tx.execute(
        select(_conn)
        .where(_conn.c.account_id == account_id)
        .where(_conn.c.region == region)
        .where(_conn.c.name == name)
    ).first()
    return None if row is None else _connection(tx, row)


def list_connections(
    tx: Tx, account_id: str, region: str, *, prefix: str | None, state: str | None
) -> list[Connection]:
    stmt = select(_conn).where(_conn.c.account_id == account_id).where(_conn.c.region == region)
    if state is not None:
        stmt = stmt.where(_conn.c.state == state)
    rows = tx.execute(stmt.order_by(_conn.c.name)).all()
    return [_connection(tx, r) for r in rows if prefix is None or r.name.startswith(prefix)]


def count_connections(tx: Tx, account_id: str, region: str) -> int:
    stmt = (
        select(func.count())
        .select_from(_conn)
        .where(_conn.c.account_id == account_id)
        .where(_conn.c.region == region)
    )
    return int(tx.execute(stmt).scalar_one())


def delete_connection(tx: Tx, account_id: str, region: str, name: str) -> None:
    tx.execute(
        delete(_conn)
        .where(_conn.c.account_id == account_id)
        .where(_conn.c.region == region)
        .where(_conn.c.name == name)
    )


# -- API destinations -----------------------------------------------------------------------
def _destination(row: Any) -> ApiDestination:
    return ApiDestination(
        account_id=row.account_id,
        region=row.region,
        name=row.name,
        destination_id=row.destination_id,
        connection_arn=row.connection_arn,
        endpoint=row.endpoint,
        http_method=row.http_method,
        rate_limit=row.rate_limit,
        state=row.state,
        description=row.description,
        created_at=row.created_at,
        last_modified_at=row.last_modified_at,
    )


def _destination_row(d: ApiDestination) -> dict[str, Any]:
    return {
        "account_id": d.account_id,
        "region": d.region,
        "name": d.name,
        "destination_id": d.destination_id,
        "connection_arn": d.connection_arn,
        "endpoint": d.endpoint,
        "http_method": d.http_method,
        "rate_limit": d.rate_limit,
        "state": d.state,
        "description": d.description,
        "created_at": d.created_at,
        "last_modified_at": d.last_modified_at,
    }


def insert_destination(tx: Tx, d: ApiDestination) -> None:
    tx.execute(insert(_dest), _destination_row(d))


def save_destination(tx: Tx, d: ApiDestination) -> None:
    row = _destination_row(d)
    for key in ("account_id", "region", "name", "destination_id", "created_at"):
        row.pop(key)
    tx.execute(
        update(_dest)
        .where(_dest.c.account_id == d.account_id)
        .where(_dest.c.region == d.region)
        .where(_dest.c.name == d.name)
        .values(**row)
    )


def get_destination(tx: Tx, account_id: str, region: str, name: str) -> ApiDestination | None:
    row = tx.execute(
        select(_dest)
        .where(_dest.c.account_id == account_id)
        .where(_dest.c.region == region)
        .where(_dest.c.name == name)
    ).first()
    return None if row is None else _destination(row)


def list_destinations(
    tx: Tx, account_id: str, region: str, *, prefix: str | None, connection_arn: str | None
) -> list[ApiDestination]:
    stmt = select(_dest).where(_dest.c.account_id == account_id).where(_dest.c.region == region)
    if connection_arn is not None:
        stmt = stmt.where(_dest.c.connection_arn == connection_arn)
    rows = tx.execute(stmt.order_by(_dest.c.name)).all()
    return [_destination(r) for r in rows if prefix is None or r.name.startswith(prefix)]


def count_destinations(tx: Tx, account_id: str, region: str) -> int:
    stmt = (
        select(func.count())
        .select_from(_dest)
        .where(_dest.c.account_id == account_id)
        .where(_dest.c.region == region)
    )
    return int(tx.execute(stmt).scalar_one())


def delete_destination(tx: Tx, account_id: str, region: str, name: str) -> None:
    tx.execute(
        delete(_dest)
        .where(_dest.c.account_id == account_id)
        .where(_dest.c.region == region)
        .where(_dest.c.name == name)
    )


def full_parameters(parameters: dict[str, Any], secrets: dict[str, Any]) -> dict[str, Any]:
    """AuthParameters with their secret values put back (what a delivery sends)."""
    full: dict[str, Any] = json.loads(json.dumps(parameters))
    if "ApiKeyValue" in secrets and "ApiKeyAuthParameters" in full:
        full["ApiKeyAuthParameters"]["ApiKeyValue"] = secrets["ApiKeyValue"]
    if "Password" in secrets and "BasicAuthParameters" in full:
        full["BasicAuthParameters"]["Password"] = secrets["Password"]
    oauth = full.get("OAuthParameters")
    if oauth is not None and "ClientSecret" in secrets:
        oauth.setdefault("ClientParameters", {})["ClientSecret"] = secrets["ClientSecret"]
    for path, value in (secrets.get("http") or {}).items():
        where, kind, index = path.split("/")
        holder = (
            oauth.get("OAuthHttpParameters")
            if where == "OAuthHttpParameters" and oauth
            else full.get(where)
        )
        if holder is not None and int(index) < len(holder.get(kind) or ()):
            holder[kind][int(index)]["Value"] = value
    return full
