"""DeleteSecret's recovery window, RestoreSecret and the "secretsmanager-deletion" job.

A dedicated server per backend: these tests move its clock by days. A secret
scheduled for deletion refuses its value (InvalidRequestException), still
answers DescribeSecret (DeletedDate), is listed only with
IncludePlannedDeletion, and is deleted by the scheduler at its DeletionDate
(not before); RestoreSecret cancels it. ForceDeleteWithoutRecovery deletes at
once; the name is free again.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import BACKENDS, ServerProcess, backend_server
from tests.e2e.helpers import error, error_of

JOB = "secretsmanager-deletion"
DAY = 86_400
MARKED = "You can't perform this operation on the secret because it was marked for deletion."


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_root: Path) -> Iterator[ServerProcess]:
    yield from backend_server(tmp_root / f"sm-deletion-{request.param}", request.param)


@pytest.fixture
def sm(server: ServerProcess) -> Any:
    return server.client("secretsmanager")


def sname() -> str:
    return f"del/{secrets.token_hex(4)}"


def listed(sm: Any, name: str, planned: bool = False) -> bool:
    out = sm.list_secrets(
        IncludePlannedDeletion=planned, Filters=[{"Key": "name", "Values": [name]}]
    )
    return any(s["Name"] == name for s in out["SecretList"])


def test_recovery_window_then_the_job_deletes(server: ServerProcess, sm: Any) -> None:
    n = sname()
    arn = sm.create_secret(Name=n, SecretString="doomed")["ARN"]
    out = sm.delete_secret(SecretId=n, RecoveryWindowInDays=7)
    assert out["ARN"] == arn
    deletion = out["DeletionDate"].timestamp()
    d = sm.describe_secret(SecretId=n)
    assert abs(deletion - d["DeletedDate"].timestamp() - 7 * DAY) < 2
    for call in (
        lambda: sm.get_secret_value(SecretId=n),
        lambda: sm.put_secret_value(SecretId=n, SecretString="x"),
        lambda: sm.update_secret(SecretId=n, Description="x"),
        lambda: sm.tag_resource(SecretId=n, Tags=[{"Key": "k", "Value": "v"}]),
        lambda: sm.delete_secret(SecretId=n),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc) == ("InvalidRequestException", MARKED)
    with pytest.raises(ClientError) as exc:  # the name is still taken
        sm.create_secret(Name=n, SecretString="again")
    assert error(exc) == ("InvalidRequestException", 400)
    assert not listed(sm, n) and listed(sm, n, planned=True)
    server.advance(6 * DAY)
    server.run_scheduler()
    assert sm.describe_secret(SecretId=n)["ARN"] == arn  # not yet
    server.advance(DAY + 60)
    assert server.run_scheduler().get(JOB, 0) >= 1
    with pytest.raises(ClientError) as exc:
        sm.describe_secret(SecretId=n)
    assert error(exc) == ("ResourceNotFoundException", 400)
    assert sm.create_secret(Name=n, SecretString="new")["ARN"] != arn


def test_default_window_is_30_days_and_restore_cancels(server: ServerProcess, sm: Any) -> None:
    n = sname()
    sm.create_secret(Name=n, SecretString="kept")
    out = sm.delete_secret(SecretId=n)
    d = sm.describe_secret(SecretId=n)
    assert abs(out["DeletionDate"].timestamp() - d["DeletedDate"].timestamp() - 30 * DAY) < 2
    restored = sm.restore_secret(SecretId=n)
    assert restored["Name"] == n
    assert "DeletedDate" not in sm.describe_secret(SecretId=n)
    server.advance(31 * DAY)
    server.run_scheduler()
    assert sm.get_secret_value(SecretId=n)["SecretString"] == "kept"
    assert listed(sm, n)


def test_force_delete_is_immediate(sm: Any) -> None:
    n = sname()
    arn = sm.create_secret(Name=n, SecretString="gone")["ARN"]
    sm.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as exc:
        sm.get_secret_value(SecretId=n)
    assert error(exc) == ("ResourceNotFoundException", 400)
    assert sm.create_secret(Name=n, SecretString="reborn")["ARN"] != arn
    # a secret already scheduled can still be force-deleted
    sm.delete_secret(SecretId=n, RecoveryWindowInDays=10)
    sm.delete_secret(SecretId=n, ForceDeleteWithoutRecovery=True)
    with pytest.raises(ClientError) as exc:
        sm.describe_secret(SecretId=n)
    assert error(exc) == ("ResourceNotFoundException", 400)


def test_window_bounds(sm: Any) -> None:
    n = sname()
    sm.create_secret(Name=n, SecretString="x")
    for days in (6, 31):
        with pytest.raises(ClientError) as exc:
            sm.delete_secret(SecretId=n, RecoveryWindowInDays=days)
        assert error_of(exc) == (
            "InvalidParameterException",
            "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
        )
    with pytest.raises(ClientError) as exc:
        sm.delete_secret(SecretId=n, RecoveryWindowInDays=7, ForceDeleteWithoutRecovery=True)
    assert error(exc) == ("InvalidParameterException", 400)
    assert "DeletedDate" not in sm.describe_secret(SecretId=n)
    with pytest.raises(ClientError) as exc:
        sm.restore_secret(SecretId=sname())
    assert error(exc) == ("ResourceNotFoundException", 400)


def test_last_accessed_is_a_date_updated_per_day(server: ServerProcess, sm: Any) -> None:
    n = sname()
    sm.create_secret(Name=n, SecretString="x")
    assert "LastAccessedDate" not in sm.describe_secret(SecretId=n)
    sm.get_secret_value(SecretId=n)
    first = sm.describe_secret(SecretId=n)["LastAccessedDate"]
    assert first.timestamp() % DAY == 0
    server.advance(2 * DAY)
    sm.get_secret_value(SecretId=n)
    second = sm.describe_secret(SecretId=n)["LastAccessedDate"]
    assert second.timestamp() - first.timestamp() >= 2 * DAY - 1
    assert second.timestamp() % DAY == 0
