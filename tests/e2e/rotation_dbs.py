"""Real databases with password authentication, for the rotation tests.

- `PgCluster`: a PostgreSQL cluster of its own (`initdb --auth=scram-sha-256`, a
  superuser password from a file, a spare port), started with `pg_ctl` and stopped at
  the end: the machine's server trusts loopback, which would prove nothing.
- `MariaDb`: the machine's MariaDB at 127.0.0.1:3306 as root (empty password); users
  created here have passwords, checked over TCP.

Both give `can_log_in(user, password)` and make users for a test.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pymysql
from psycopg import sql

PG_BIN = Path("/usr/lib/postgresql/15/bin")
RUN_AS = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def password() -> str:
    return secrets.token_urlsafe(18)


@dataclass
class PgCluster:
    root: Path
    port: int
    superuser_password: str
    host: str = "127.0.0.1"
    superuser: str = "postgres"

    @classmethod
    def start(cls) -> PgCluster:
        root = Path(tempfile.mkdtemp(prefix="garrison-pg-"))
        data = root / "data"
        pwfile = root / "pw"
        su_password = password()
        pwfile.write_text(su_password + "\n")
        if RUN_AS:
            shutil.chown(root, "postgres")
            shutil.chown(pwfile, "postgres")
        port = free_port()
        subprocess.run(
            [
                *RUN_AS,
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [
                *RUN_AS,
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(root / "log"),
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1",
                "-w",
                "start",
            ],
            check=True,
            capture_output=True,
        )
        return cls(root, port, su_password)

    def stop(self) -> None:
        subprocess.run(
            [*RUN_AS, str(PG_BIN / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast", "stop"],
            capture_output=True,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def can_log_in(self, user: str, pw: str) -> bool:
        try:
            psycopg.connect(
                host=self.host,
                port=self.port,
                user=user,
                password=pw,
                dbname="postgres",
                connect_timeout=5,
            ).close()
            return True
        except psycopg.OperationalError:
            return False

    def create_user(self, user: str, pw: str) -> None:
        with psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.superuser,
            password=self.superuser_password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute(
                sql.SQL("CREATE ROLE {} WITH LOGIN PASSWORD {}").format(
                    sql.Identifier(user), sql.Literal(pw)
                )
            )

    def master(self) -> dict[str, object]:
        return {
            "engine": "postgres",
            "host": self.host,
            "port": self.port,
            "username": self.superuser,
            "password": self.superuser_password,
            "dbname": "postgres",
        }

    def creds(self, user: str, pw: str) -> dict[str, object]:
        return {
            "engine": "postgres",
            "host": self.host,
            "port": self.port,
            "username": user,
            "password": pw,
            "dbname": "postgres",
        }


@dataclass
class MariaDb:
    host: str = "127.0.0.1"
    port: int = 3306

    def _root(self) -> pymysql.connections.Connection:
        return pymysql.connect(
            host=self.host, port=self.port, user="root", password="", autocommit=True
        )

    def available(self) -> bool:
        try:
            self._root().close()
            return True
        except pymysql.MySQLError:
            return False

    def can_log_in(self, user: str, pw: str) -> bool:
        try:
            pymysql.connect(
                host=self.host, port=self.port, user=user, password=pw, connect_timeout=5
            ).close()
            return True
        except pymysql.MySQLError:
            return False

    def create_user(self, user: str, pw: str) -> None:
        conn = self._root()
        try:
            with conn.cursor() as cur:
                cur.execute("CREATE USER %s@'%%' IDENTIFIED BY %s", (user, pw))
                cur.execute("GRANT SELECT ON mysql.db TO %s@'%%'", (user,))
        finally:
            conn.close()

    def drop_users(self, *users: str) -> None:
        conn = self._root()
        try:
            with conn.cursor() as cur:
                for user in users:
                    cur.execute("DROP USER IF EXISTS %s@'%%'", (user,))
        finally:
            conn.close()

    def master(self) -> dict[str, object]:
        return {
            "engine": "mysql",
            "host": self.host,
            "port": self.port,
            "username": "root",
            "password": "",
        }

    def creds(self, user: str, pw: str) -> dict[str, object]:
        return {
            "engine": "mysql",
            "host": self.host,
            "port": self.port,
            "username": user,
            "password": pw,
        }
