"""The built-in rotation functions, step by step as AWS's rotation templates do it.

    garrison-postgresql-single-user        (SecretsManagerRDSPostgreSQLRotationSingleUser)
    garrison-postgresql-alternating-users  (SecretsManagerRDSPostgreSQLRotationMultiUser)
    garrison-mysql-single-user             (SecretsManagerRDSMySQLRotationSingleUser)
    garrison-mysql-alternating-users       (SecretsManagerRDSMySQLRotationMultiUser)

The secret is AWS's JSON structure for database credentials: ``engine``, ``host``,
``port``, ``username``, ``password``, ``dbname`` (optional), ``ssl`` (optional) and,
for alternating users, ``masterarn``: the ARN of the secret whose user creates and
alters the clone ``<username>_clone``.

As AWS's templates, every value read (current, pending, master) must name the
function's engine: ``postgres`` or ``aurora-postgresql`` for the PostgreSQL
functions, ``mysql``, ``aurora-mysql`` or ``mariadb`` for the MySQL ones (AWS's MySQL
and MariaDB templates in one); another engine, or none, fails the step that reads it
(createSecret first) with AWS's message (a previous value that does not is not used).

``ssl`` as the templates read it: true (or "true") -> TLS only, with the server's
certificate and host name verified against the system's CA bundle; false (or "false")
-> no TLS; absent or anything else -> TLS first, then without TLS when that fails.

    createSecret   AWSPENDING already has a value: done. Else the AWSCURRENT value with
                   a new password (GetRandomPassword, ExcludeCharacters /@"'\\) and,
                   alternating, the other user name; PutSecretValue AWSPENDING.
    setSecret      pending logs in already: done. Single user: log in with AWSCURRENT
                   (else AWSPREVIOUS) and change its own password. Alternating: log in
                   as the master, create the clone (granted the user's role / grants)
                   or change its password.
    testSecret     log in with AWSPENDING and run a query.
    finishSecret   move AWSCURRENT to the pending version.

Passwords are passed as bound parameters or quoted literals, never logged and never
put into an error message.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Mapping
from typing import Any

import psycopg
import pymysql
from psycopg import sql

from garrison.services.secretsmanager.rotation_functions import RotationClient, RotationFunction

EXCLUDE_CHARACTERS = "/@\"'\\"
CLONE_SUFFIX = "_clone"
CONNECT_TIMEOUT = 5
_MAX_USER = {"postgres": 63, "mysql": 32}
# the `engine` values each function accepts, and what its refusal says (AWS's text)
ENGINES = {
    "postgres": ("postgres", "aurora-postgresql"),
    "mysql": ("mysql", "aurora-mysql", "mariadb"),
}
_ENGINE_NAMED = {"postgres": "'postgres'", "mysql": "'mysql' or 'mariadb'"}


class RotationStepError(Exception):
    """A step that cannot go on; its message names users and hosts, never passwords."""


class DatabaseRotator:
    def __init__(self, engine: str, alternating: bool) -> None:
        self.engine = engine  # "postgres" or "mysql"
        self.alternating = alternating

    def _value(
        self, client: RotationClient, arn: str, *, stage: str, version: str | None = None
    ) -> dict[str, Any]:
        """A value of the secret (or of its master), refused when it names another engine."""
        value = _value(client, arn, stage=stage, version=version)
        if "engine" not in value:
            raise RotationStepError(f"The {stage} value of {arn} has no engine key.")
        if value["engine"] not in ENGINES[self.engine]:
            raise RotationStepError(
                f"Database engine must be set to {_ENGINE_NAMED[self.engine]} in order to use "
                "this rotation lambda"
            )
        return value

    # -- the Lambda handler -------------------------------------------------------------
    def __call__(self, event: Mapping[str, str], client: RotationClient) -> None:
        arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
        metadata = client.describe_secret(SecretId=arn)
        if not metadata.get("RotationEnabled"):
            raise RotationStepError(f"Secret {arn} is not enabled for rotation.")
        versions = metadata.get("VersionIdsToStages", {})
        if token not in versions:
            raise RotationStepError(
                f"Secret version {token} has no stage for rotation of secret {arn}."
            )
        if "AWSCURRENT" in versions[token]:
            return  # already rotated
        if "AWSPENDING" not in versions[token]:
            raise RotationStepError(
                f"Secret version {token} not set as AWSPENDING for rotation of secret {arn}."
            )
        steps = {
            "createSecret": self.create_secret,
            "setSecret": self.set_secret,
            "testSecret": self.test_secret,
            "finishSecret": self.finish_secret,
        }
        if step not in steps:
            raise RotationStepError(f"Invalid step parameter {step}.")
        steps[step](client, arn, token)

    # -- the steps ------------------------------------------------------------------------
    def create_secret(self, client: RotationClient, arn: str, token: str) -> None:
        current = self._value(client, arn, stage="AWSCURRENT")
        try:
            client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
            return
        except client.exceptions.ResourceNotFoundException:
            pass
        pending = dict(current)
        if self.alternating:
            pending["username"] = self._other_user(str(current["username"]))
        pending["password"] = client.get_random_password(ExcludeCharacters=EXCLUDE_CHARACTERS)[
            "RandomPassword"
        ]
        client.put_secret_value(
            SecretId=arn,
            ClientRequestToken=token,
            SecretString=json.dumps(pending),
            VersionStages=["AWSPENDING"],
        )

    def set_secret(self, client: RotationClient, arn: str, token: str) -> None:
        pending = self._value(client, arn, version=token, stage="AWSPENDING")
        if self._can_log_in(pending):
            return  # set already (a retried step)
        current = self._value(client, arn, stage="AWSCURRENT")
        if pending.get("host") != current.get("host"):
            raise RotationStepError("The pending secret's host differs from the current one.")
        if self.alternating:
            master_arn = current.get("masterarn")
            if not master_arn:
                raise RotationStepError("The secret has no masterarn for alternating users.")
            master = self._value(client, str(master_arn), stage="AWSCURRENT")
            if master.get("host") != current.get("host"):
                raise RotationStepError("The master secret's host differs from the secret's.")
            self._set_clone(master, current, pending)
            return
        if pending.get("username") != current.get("username"):
            raise RotationStepError("The pending secret's user differs from the current one.")
        login = current
        if not self._can_log_in(current):
            try:
                login = self._value(client, arn, stage="AWSPREVIOUS")
            except (client.exceptions.ResourceNotFoundException, RotationStepError):
                login = current  # no usable previous value, as AWS's templates
        self._set_own_password(login, str(pending["password"]))

    def test_secret(self, client: RotationClient, arn: str, token: str) -> None:
        pending = self._value(client, arn, version=token, stage="AWSPENDING")
        self._query(pending, "SELECT NOW()")

    def finish_secret(self, client: RotationClient, arn: str, token: str) -> None:
        metadata = client.describe_secret(SecretId=arn)
        current_version = None
        for version, stages in metadata.get("VersionIdsToStages", {}).items():
            if "AWSCURRENT" in stages:
                if version == token:
                    return
                current_version = version
                break
        client.update_secret_version_stage(
            SecretId=arn,
            VersionStage="AWSCURRENT",
            MoveToVersionId=token,
            RemoveFromVersionId=current_version,
        )

    # -- the database -----------------------------------------------------------------------
    def _other_user(self, username: str) -> str:
        if username.endswith(CLONE_SUFFIX):
            return username[: -len(CLONE_SUFFIX)]
        other = username + CLONE_SUFFIX
        if len(other) > _MAX_USER[self.engine]:
            raise RotationStepError(
                f"Unable to clone user {username}: the clone's name would be too long."
            )
        return other

    def _connect(self, creds: Mapping[str, Any]) -> Any:
        """A connection as `creds` say, TLS as their ``ssl`` key says (`ssl_config`)."""
        use_tls, fall_back = ssl_config(creds)
        try:
            return self._connect_once(creds, use_tls)
        except (psycopg.Error, pymysql.MySQLError):
            if not fall_back:
                raise
        return self._connect_once(creds, False)

    def _connect_once(self, creds: Mapping[str, Any], use_tls: bool) -> Any:
        host = str(creds.get("host", ""))
        user = str(creds.get("username", ""))
        password = str(creds.get("password", ""))
        dbname = creds.get("dbname")
        if self.engine == "postgres":
            # AWS's templates: sslmode verify-full against the system's CAs, else disable
            tls: dict[str, Any] = {"sslmode": "disable"}
            if use_tls:
                tls = {"sslmode": "verify-full", "sslrootcert": _ca_file() or "system"}
            return psycopg.connect(
                host=host,
                port=int(creds.get("port") or 5432),
                user=user,
                password=password,
                dbname=str(dbname or "postgres"),
                connect_timeout=CONNECT_TIMEOUT,
                autocommit=True,
                **tls,
            )
        return pymysql.connect(
            host=host,
            port=int(creds.get("port") or 3306),
            user=user,
            password=password,
            database=None if dbname is None else str(dbname),
            connect_timeout=CONNECT_TIMEOUT,
            autocommit=True,
            ssl_ca=_ca_file() if use_tls else None,
            ssl_verify_cert=use_tls,
            ssl_verify_identity=use_tls,
            ssl_disabled=not use_tls,
        )

    def _can_log_in(self, creds: Mapping[str, Any]) -> bool:
        try:
            self._connect(creds).close()
            return True
        except (psycopg.Error, pymysql.MySQLError):
            return False

    def _query(self, creds: Mapping[str, Any], query: str) -> None:
        try:
            conn = self._connect(creds)
        except (psycopg.Error, pymysql.MySQLError):
            raise _login_failed(creds, "with the pending secret") from None
        try:
            with conn.cursor() as cur:
                cur.execute(query)
                cur.fetchall()
        finally:
            conn.close()

    def _admin(self, creds: Mapping[str, Any], what: str) -> Any:
        try:
            return self._connect(creds)
        except (psycopg.Error, pymysql.MySQLError):
            raise _login_failed(creds, what) from None

    def _set_own_password(self, login: Mapping[str, Any], password: str) -> None:
        conn = self._admin(login, "with the current or previous secret")
        try:
            self._alter_own(conn, login, password)
        except (psycopg.Error, pymysql.MySQLError) as err:
            raise _statement_failed(
                err, f"changing the password of {login.get('username')}"
            ) from None
        finally:
            conn.close()

    def _alter_own(self, conn: Any, login: Mapping[str, Any], password: str) -> None:
        with conn.cursor() as cur:
            if self.engine == "postgres":
                cur.execute(
                    sql.SQL("ALTER USER {} WITH PASSWORD {}").format(
                        sql.Identifier(str(login["username"])), sql.Literal(password)
                    )
                )
            elif "MariaDB" in str(conn.get_server_info()):
                # MariaDB's ALTER USER needs CREATE USER, even for one's own password
                cur.execute("SET PASSWORD = PASSWORD(%s)", (password,))
            else:
                cur.execute("ALTER USER CURRENT_USER() IDENTIFIED BY %s", (password,))

    def _set_clone(
        self, master: Mapping[str, Any], current: Mapping[str, Any], pending: Mapping[str, Any]
    ) -> None:
        conn = self._admin(master, "with the master secret")
        try:
            self._create_or_alter_clone(conn, current, pending)
        except (psycopg.Error, pymysql.MySQLError) as err:
            raise _statement_failed(err, f"setting up the user {pending.get('username')}") from None
        finally:
            conn.close()

    def _create_or_alter_clone(
        self, conn: Any, current: Mapping[str, Any], pending: Mapping[str, Any]
    ) -> None:
        user = str(pending["username"])
        password = str(pending["password"])
        with conn.cursor() as cur:
            if self.engine == "postgres":
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (user,))
                if cur.fetchone() is None:
                    cur.execute(
                        sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(
                            sql.Identifier(user), sql.Literal(password)
                        )
                    )
                    cur.execute(
                        sql.SQL("GRANT {} TO {}").format(
                            sql.Identifier(str(current["username"])), sql.Identifier(user)
                        )
                    )
                else:
                    cur.execute(
                        sql.SQL("ALTER USER {} WITH PASSWORD {}").format(
                            sql.Identifier(user), sql.Literal(password)
                        )
                    )
                return
            cur.execute("SELECT Host FROM mysql.user WHERE User = %s", (user,))
            hosts = [str(r[0]) for r in cur.fetchall()]
            if hosts:
                for host in hosts:
                    cur.execute("ALTER USER %s@%s IDENTIFIED BY %s", (user, host, password))
                return
            source = str(current["username"])
            cur.execute("SELECT Host FROM mysql.user WHERE User = %s", (source,))
            source_hosts = [str(r[0]) for r in cur.fetchall()] or ["%"]
            for host in source_hosts:
                cur.execute("CREATE USER %s@%s IDENTIFIED BY %s", (user, host, password))
                cur.execute("SHOW GRANTS FOR %s@%s", (source, host))
                for (grant,) in cur.fetchall():
                    head = str(grant).split(" TO ")[0]
                    if "IDENTIFIED BY" in head or head.startswith("GRANT USAGE "):
                        continue
                    cur.execute(head.replace("%", "%%") + " TO %s@%s", (user, host))


def ssl_config(creds: Mapping[str, Any]) -> tuple[bool, bool]:
    """(use TLS, fall back to no TLS when TLS fails), from the secret's ``ssl`` key as
    AWS's templates read it: a bool or "true"/"false" (any case) is obeyed, without
    fallback; absent or anything else: TLS first, then without."""
    value = creds.get("ssl")
    if isinstance(value, bool):
        return value, False
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true", False
    return True, True


def _ca_file() -> str | None:
    """The system's CA bundle (AWS's templates use Amazon Linux's /etc/pki/tls/cert.pem);
    None: OpenSSL's default locations."""
    return ssl.get_default_verify_paths().cafile


def _login_failed(creds: Mapping[str, Any], what: str) -> RotationStepError:
    use_tls, fall_back = ssl_config(creds)
    why = " (the secret's ssl key requires TLS)" if use_tls and not fall_back else ""
    return RotationStepError(
        f"Unable to log into database as {creds.get('username')} on {creds.get('host')} "
        f"{what}{why}."
    )


def _statement_failed(err: Exception, what: str) -> RotationStepError:
    """The database's refusal without its text: a syntax error's message quotes the
    statement, and the statement holds the new password."""
    code = getattr(err, "sqlstate", None) or (err.args[0] if err.args else "")
    return RotationStepError(f"The database refused {what}: {type(err).__name__} {code}".strip())


def _value(
    client: RotationClient, arn: str, *, stage: str, version: str | None = None
) -> dict[str, Any]:
    if version is None:
        answer = client.get_secret_value(SecretId=arn, VersionStage=stage)
    else:
        answer = client.get_secret_value(SecretId=arn, VersionId=version, VersionStage=stage)
    try:
        value = json.loads(answer["SecretString"])
    except (KeyError, ValueError):
        raise RotationStepError(f"The {stage} value of {arn} is not a JSON object.") from None
    if not isinstance(value, dict):
        raise RotationStepError(f"The {stage} value of {arn} is not a JSON object.")
    for key in ("host", "username", "password"):
        if key not in value:
            raise RotationStepError(f"The {stage} value of {arn} has no {key} key.")
    return value


BUILTIN: dict[str, RotationFunction] = {
    "garrison-postgresql-single-user": DatabaseRotator("postgres", alternating=False),
    "garrison-postgresql-alternating-users": DatabaseRotator("postgres", alternating=True),
    "garrison-mysql-single-user": DatabaseRotator("mysql", alternating=False),
    "garrison-mysql-alternating-users": DatabaseRotator("mysql", alternating=True),
}
