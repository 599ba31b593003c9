"""Secrets Manager rotation against real databases (issue 6, item 3).

A dedicated server per backend (its clock is moved), configured with extra rotation
functions: Python callables from a module written here (`flaky`: the built-in
PostgreSQL alternating-users rotator that fails at testSecret while a flag file exists;
`counter`: a database-free rotator; `broken`: always fails; `watched` and `spy`: note
what they see; `stepper`: `counter` pausing between steps, so that a test can look at
the replicas of a secret being rotated) and a webhook (`hook`) served by a test HTTP
server that does its work through boto3, as a Lambda would. The databases check
passwords: a PostgreSQL cluster started with scram-sha-256 and the machine's MariaDB
with users that have passwords; neither speaks TLS (the `ssl` tests rely on it).
"""

from __future__ import annotations

import json
import secrets
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import (
    ACCOUNT_ID,
    BACKENDS,
    REGION,
    ServerProcess,
    create_pg_database,
    drop_pg_database,
    make_client,
)
from tests.e2e.helpers import error, error_of
from tests.e2e.rotation_dbs import MariaDb, PgCluster, password

DAY = 86_400
FN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:"
ROTATORS = textwrap.dedent(
    '''
    """Rotation functions for tests/e2e/test_secrets_rotation.py."""
    import json
    import os
    import time

    from garrison.rotation.builtin import DatabaseRotator

    FLAG = os.environ["ROTATION_TEST_FLAG"]
    _alternating = DatabaseRotator("postgres", alternating=True)


    def flaky(event, client):
        if event["Step"] == "testSecret" and os.path.exists(FLAG):
            raise RuntimeError("testSecret made to fail by the test")
        _alternating(event, client)


    def watched(event, client):
        """Alternating users, noting after each step which stages' credentials log in."""
        _alternating(event, client)
        arn = event["SecretId"]
        seen = {"step": event["Step"]}
        for stage in ("AWSCURRENT", "AWSPREVIOUS", "AWSPENDING"):
            try:
                creds = json.loads(
                    client.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]
                )
            except client.exceptions.ResourceNotFoundException:
                continue
            seen[stage] = [creds["username"], _alternating._can_log_in(creds)]
        with open(os.environ["ROTATION_TEST_LOG"], "a") as log:
            log.write(json.dumps(seen) + "\\n")


    def broken(event, client):
        raise RuntimeError("this rotator always fails at " + event["Step"])


    def spy(event, client):
        """Notes each event it gets and the AWSPENDING and AWSCURRENT values it sees;
        PostgreSQL single user besides (testSecret logs in with AWSPENDING)."""
        arn, token = event["SecretId"], event["ClientRequestToken"]
        seen = {"event": dict(event)}
        for stage in ("AWSPENDING", "AWSCURRENT"):
            try:
                got = client.get_secret_value(SecretId=arn, VersionStage=stage)
                seen[stage] = [got["VersionId"], got.get("SecretString")]
            except client.exceptions.ResourceNotFoundException:
                seen[stage] = None
        with open(os.environ["ROTATION_TEST_SPY"], "a") as log:
            log.write(json.dumps(seen) + "\\n")
        _single(event, client)


    _single = DatabaseRotator("postgres", alternating=False)


    def stepper(event, client):
        """`counter`, pausing before its first step and after each step until the test
        says go (a file)."""
        if event["Step"] in ("createSecret", "testSecret"):
            _pause(event["ClientRequestToken"] + ".start")
        counter(event, client)
        _pause(event["ClientRequestToken"] + "." + event["Step"])


    def _pause(mark):
        mark = os.path.join(os.environ["ROTATION_TEST_STEPS"], mark)
        if os.path.exists(mark + ".go"):
            return
        open(mark + ".done", "w").close()
        deadline = time.monotonic() + 60
        while not os.path.exists(mark + ".go") and time.monotonic() < deadline:
            time.sleep(0.05)


    def counter(event, client):
        arn, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
        if step == "createSecret":
            try:
                client.get_secret_value(SecretId=arn, VersionId=token, VersionStage="AWSPENDING")
                return
            except client.exceptions.ResourceNotFoundException:
                pass
            n = json.loads(client.get_secret_value(SecretId=arn)["SecretString"])["n"]
            client.put_secret_value(SecretId=arn, ClientRequestToken=token,
                                    SecretString=json.dumps({"n": n + 1}),
                                    VersionStages=["AWSPENDING"])
        elif step == "finishSecret":
            stages = client.describe_secret(SecretId=arn)["VersionIdsToStages"]
            current = next(v for v, s in stages.items() if "AWSCURRENT" in s)
            if current != token:
                client.update_secret_version_stage(SecretId=arn, VersionStage="AWSCURRENT",
                                                   MoveToVersionId=token,
                                                   RemoveFromVersionId=current)
    '''
)


class Hook:
    """The webhook rotation function: records each event and does the step via boto3."""

    def __init__(self) -> None:
        self.events: list[dict[str, str]] = []
        self.endpoint = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/rotate"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.events.append(event)
                try:
                    hook.step(event)
                    self.send_response(200)
                except Exception:
                    self.send_response(500)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        return Handler

    def step(self, event: dict[str, str]) -> None:
        sm = make_client(self.endpoint, "secretsmanager")
        arn, token = event["SecretId"], event["ClientRequestToken"]
        if event["Step"] == "createSecret":
            sm.put_secret_value(
                SecretId=arn,
                ClientRequestToken=token,
                SecretString="from-the-webhook",
                VersionStages=["AWSPENDING"],
            )
        elif event["Step"] == "finishSecret":
            stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
            current = next(v for v, s in stages.items() if "AWSCURRENT" in s)
            sm.update_secret_version_stage(
                SecretId=arn,
                VersionStage="AWSCURRENT",
                MoveToVersionId=token,
                RemoveFromVersionId=current,
            )


@pytest.fixture(scope="module")
def pg() -> Iterator[PgCluster]:
    cluster = PgCluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def maria() -> MariaDb:
    db = MariaDb()
    assert db.available(), "MariaDB at 127.0.0.1:3306 (root, no password) is required"
    return db


@pytest.fixture(scope="module")
def hook() -> Iterator[Hook]:
    h = Hook()
    yield h
    h.server.shutdown()


@pytest.fixture(scope="module")
def flag(tmp_root: Path) -> Path:
    return tmp_root / f"fail-test-secret-{secrets.token_hex(4)}"


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_root: Path, hook: Hook, flag: Path
) -> Iterator[ServerProcess]:
    modules = tmp_root / f"rotators-{request.param}"
    modules.mkdir()
    (modules / "steps").mkdir()
    (modules / "rotators_for_tests.py").write_text(ROTATORS)
    url = create_pg_database() if request.param == "postgresql" else ""
    srv = ServerProcess(
        tmp_root / f"sm-rotation-{request.param}",
        database_url=url,
        env={
            "PYTHONPATH": str(modules),
            "ROTATION_TEST_FLAG": str(flag),
            "ROTATION_TEST_LOG": str(modules / "watched.jsonl"),
            "ROTATION_TEST_SPY": str(modules / "spy.jsonl"),
            "ROTATION_TEST_STEPS": str(modules / "steps"),
            "GARRISON_SECRETSMANAGER_ROTATION_FUNCTIONS": (
                "flaky=rotators_for_tests:flaky,broken=rotators_for_tests:broken,"
                "watched=rotators_for_tests:watched,"
                "counter=rotators_for_tests:counter,spy=rotators_for_tests:spy,"
                "stepper=rotators_for_tests:stepper"
            ),
            "GARRISON_SECRETSMANAGER_ROTATION_WEBHOOKS": f"hook={hook.url}",
        },
    ).start()
    hook.endpoint = srv.endpoint
    yield srv
    srv.stop()
    if url:
        drop_pg_database(url)


@pytest.fixture
def sm(server: ServerProcess) -> Any:
    return server.client("secretsmanager")


def name(prefix: str) -> str:
    return f"rot/{prefix}/{secrets.token_hex(4)}"


def user(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(3)}"


def value(sm: Any, arn: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
    return dict(json.loads(sm.get_secret_value(SecretId=arn, VersionStage=stage)["SecretString"]))


def wait_for(check: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def wait_tested(sm: Any, arn: str) -> dict[str, Any]:
    """RotateImmediately=false's configuration test is over: no AWSPENDING left."""

    def done() -> bool:
        stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
        return not any("AWSPENDING" in s for s in stages.values())

    wait_for(done, f"the rotation test of {arn}")
    return dict(sm.describe_secret(SecretId=arn))


def wait_rotated(sm: Any, arn: str, token: str) -> dict[str, Any]:
    def done() -> bool:
        stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
        return stages.get(token) == ["AWSCURRENT"]

    wait_for(done, f"rotation {token} of {arn}")
    return dict(sm.describe_secret(SecretId=arn))


def service_events(server: ServerProcess, arn: str, event_name: str) -> list[dict[str, Any]]:
    ct = server.client("cloudtrail")
    now = datetime.now(UTC)
    out = ct.lookup_events(
        LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": event_name}],
        StartTime=now - timedelta(days=3),
        EndTime=now + timedelta(days=400),
        MaxResults=50,
    )
    found = []
    for e in out["Events"]:
        body = json.loads(e["CloudTrailEvent"])
        if body.get("additionalEventData", {}).get("SecretId") == arn:
            found.append(body)
    return found


# -- single user ------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_single_user_new_password_logs_in_and_the_old_one_no_longer(
    sm: Any, pg: PgCluster, maria: MariaDb, engine: str
) -> None:
    db: PgCluster | MariaDb = pg if engine == "postgresql" else maria
    u, old = user("single"), password()
    db.create_user(u, old)
    arn = sm.create_secret(Name=name("single"), SecretString=json.dumps(db.creds(u, old)))["ARN"]
    first = sm.list_secret_version_ids(SecretId=arn)["Versions"][0]["VersionId"]
    out = sm.rotate_secret(SecretId=arn, RotationLambdaARN=f"{FN}garrison-{engine}-single-user")
    token = out["VersionId"]
    d = wait_rotated(sm, arn, token)
    new = value(sm, arn)
    assert new["username"] == u and new["password"] != old
    assert db.can_log_in(u, new["password"])
    assert not db.can_log_in(u, old)
    assert d["VersionIdsToStages"] == {token: ["AWSCURRENT"], first: ["AWSPREVIOUS"]}
    assert d["RotationEnabled"] is True
    assert d["RotationLambdaARN"] == f"{FN}garrison-{engine}-single-user"
    assert "LastRotatedDate" in d
    if isinstance(db, MariaDb):
        db.drop_users(u)


# -- alternating users --------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_alternating_users_take_turns_and_both_log_in_throughout(
    sm: Any, pg: PgCluster, maria: MariaDb, engine: str
) -> None:
    db: PgCluster | MariaDb = pg if engine == "postgresql" else maria
    master_arn = sm.create_secret(Name=name("master"), SecretString=json.dumps(db.master()))["ARN"]
    u, pw = user("alt"), password()
    db.create_user(u, pw)
    creds = {**db.creds(u, pw), "masterarn": master_arn}
    arn = sm.create_secret(Name=name("alt"), SecretString=json.dumps(creds))["ARN"]
    fn = f"{FN}garrison-{engine}-alternating-users"
    seen = [(u, pw)]
    for _ in range(3):
        token = sm.rotate_secret(SecretId=arn, RotationLambdaARN=fn)["VersionId"]
        wait_rotated(sm, arn, token)
        current, previous = value(sm, arn), value(sm, arn, "AWSPREVIOUS")
        assert current["username"] != previous["username"]
        assert {current["username"], previous["username"]} == {u, f"{u}_clone"}
        assert current["masterarn"] == master_arn
        # both users log in: the one just rotated and the one apps may still hold
        assert db.can_log_in(current["username"], current["password"])
        assert db.can_log_in(previous["username"], previous["password"])
        seen.append((current["username"], current["password"]))
    # the third rotation gave the clone a new password: its first one is gone
    assert seen[1][0] == seen[3][0] == f"{u}_clone"
    assert not db.can_log_in(seen[1][0], seen[1][1])
    if isinstance(db, MariaDb):
        db.drop_users(u, f"{u}_clone")


def test_alternating_users_both_log_in_between_every_step(
    server: ServerProcess, sm: Any, pg: PgCluster, tmp_root: Path
) -> None:
    log = Path(str(server.data_dir).replace("sm-rotation-", "rotators-")) / "watched.jsonl"
    log.unlink(missing_ok=True)
    master_arn = sm.create_secret(Name=name("master"), SecretString=json.dumps(pg.master()))["ARN"]
    u, pw = user("watch"), password()
    pg.create_user(u, pw)
    creds = {**pg.creds(u, pw), "masterarn": master_arn}
    arn = sm.create_secret(Name=name("watch"), SecretString=json.dumps(creds))["ARN"]
    for _ in range(2):
        token = sm.rotate_secret(SecretId=arn, RotationLambdaARN=f"{FN}watched")["VersionId"]
        wait_rotated(sm, arn, token)
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    assert [s["step"] for s in seen] == [
        "createSecret", "setSecret", "testSecret", "finishSecret"
    ] * 2  # fmt: skip
    for s in seen:
        assert s["AWSCURRENT"][1] is True, s  # the value readers get logs in, always
    for s in seen[1:]:  # once the first createSecret made the clone's credentials:
        # the other user logs in too, with its previous password until setSecret changes
        # it, with the pending one from then on
        other = [
            s[stage][1]
            for stage in ("AWSPREVIOUS", "AWSPENDING")
            if stage in s and s[stage][0] != s["AWSCURRENT"][0]
        ]
        assert any(other), s
    assert seen[3]["AWSCURRENT"][0] == f"{u}_clone" and seen[7]["AWSCURRENT"][0] == u


# -- failure at testSecret, recorded and retried --------------------------------------------------
def test_failure_at_test_secret_leaves_current_working_records_and_retries(
    server: ServerProcess, sm: Any, pg: PgCluster, flag: Path
) -> None:
    master_arn = sm.create_secret(Name=name("master"), SecretString=json.dumps(pg.master()))["ARN"]
    u, pw = user("flaky"), password()
    pg.create_user(u, pw)
    creds = {**pg.creds(u, pw), "masterarn": master_arn}
    arn = sm.create_secret(Name=name("flaky"), SecretString=json.dumps(creds))["ARN"]
    flag.write_text("fail")
    try:
        token = sm.rotate_secret(SecretId=arn, RotationLambdaARN=f"{FN}flaky")["VersionId"]
        wait_for(lambda: bool(service_events(server, arn, "RotationFailed")), "RotationFailed")
        failed = service_events(server, arn, "RotationFailed")[0]
        assert failed["eventType"] == "AwsServiceEvent"
        assert failed["eventSource"] == "secretsmanager.amazonaws.com"
        details = failed["serviceEventDetails"]
        assert details["step"] == "testSecret" and details["versionId"] == token
        assert pw not in json.dumps(failed)
        # AWSCURRENT still names the user and password that log in
        current = value(sm, arn)
        assert current == creds and pg.can_log_in(u, pw)
        stages = sm.describe_secret(SecretId=arn)["VersionIdsToStages"]
        assert stages[token] == ["AWSPENDING"]
        with pytest.raises(ClientError) as exc:  # still in progress: it will be retried
            sm.rotate_secret(SecretId=arn)
        assert error_of(exc) == (
            "InvalidRequestException",
            "A previous rotation isn't complete. That rotation will be reattempted.",
        )
    finally:
        flag.unlink(missing_ok=True)
    server.advance(301)  # the first retry is due 5 minutes later
    server.run_scheduler()
    wait_rotated(sm, arn, token)
    new = value(sm, arn)
    assert new["username"] == f"{u}_clone" and pg.can_log_in(new["username"], new["password"])
    assert pg.can_log_in(u, pw)
    assert service_events(server, arn, "RotationSucceeded")


# -- schedule ---------------------------------------------------------------------------------
def test_scheduled_rotation_runs_once_when_the_clock_passes_its_window(
    server: ServerProcess, sm: Any
) -> None:
    arn = sm.create_secret(Name=name("sched"), SecretString=json.dumps({"n": 0}))["ARN"]
    out = sm.rotate_secret(
        SecretId=arn,
        RotationLambdaARN=f"{FN}counter",
        RotationRules={"ScheduleExpression": "rate(1 day)", "Duration": "2h"},
        RotateImmediately=False,
    )
    assert "VersionId" not in out
    d = wait_tested(sm, arn)
    assert d["RotationRules"] == {  # the interval a days schedule implies is shown too
        "AutomaticallyAfterDays": 1,
        "ScheduleExpression": "rate(1 day)",
        "Duration": "2h",
    }
    nxt = d["NextRotationDate"].timestamp()
    assert nxt % DAY == 0  # a rate() window opens at midnight UTC
    server.run_scheduler()
    assert value(sm, arn) == {"n": 0}  # not yet
    server.advance(DAY + 60)
    server.run_scheduler()
    wait_for(lambda: value(sm, arn) == {"n": 1}, "the scheduled rotation")
    server.run_scheduler()
    server.run_scheduler()
    time.sleep(0.5)
    assert value(sm, arn) == {"n": 1}  # once per window
    d = sm.describe_secret(SecretId=arn)
    assert d["NextRotationDate"].timestamp() > nxt
    assert "AWSPENDING" not in json.dumps(d["VersionIdsToStages"])
    assert len(service_events(server, arn, "RotationStarted")) == 1


# -- webhook ----------------------------------------------------------------------------------
def test_webhook_rotator_receives_the_four_lambda_events(sm: Any, hook: Hook) -> None:
    arn = sm.create_secret(Name=name("hook"), SecretString="before")["ARN"]
    before = len(hook.events)
    token = sm.rotate_secret(SecretId=arn, RotationLambdaARN=f"{FN}hook")["VersionId"]
    wait_rotated(sm, arn, token)
    events = [e for e in hook.events[before:] if e["SecretId"] == arn]
    assert [e["Step"] for e in events] == [
        "createSecret",
        "setSecret",
        "testSecret",
        "finishSecret",
    ]
    assert all(e["ClientRequestToken"] == token for e in events)
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "from-the-webhook"


# -- cancel -----------------------------------------------------------------------------------
def test_cancel_rotate_secret_turns_rotation_off_and_leaves_awspending(
    server: ServerProcess, sm: Any
) -> None:
    events = server.client("events")
    rule = f"rotation-failed-{secrets.token_hex(4)}"
    pattern = {
        "source": ["aws.secretsmanager"],
        "detail-type": ["AWS Service Event via CloudTrail"],
        "detail": {"eventName": ["RotationFailed"]},
    }
    events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
    path = Path(server.data_dir).resolve() / "events" / f"{rule}.jsonl"
    target = f"arn:garrison:file:{REGION}:{ACCOUNT_ID}:path/{path}"
    events.put_targets(Rule=rule, Targets=[{"Id": "file", "Arn": target}])
    arn = sm.create_secret(Name=name("cancel"), SecretString="v")["ARN"]
    token = sm.rotate_secret(
        SecretId=arn,
        RotationLambdaARN=f"{FN}broken",
        RotationRules={"AutomaticallyAfterDays": 30},
    )["VersionId"]
    wait_for(lambda: bool(service_events(server, arn, "RotationFailed")), "RotationFailed")

    def delivered() -> bool:
        server.run_scheduler()  # the events-delivery job
        return path.exists() and arn in path.read_text()

    wait_for(delivered, "the RotationFailed event on the bus")
    [event] = [json.loads(line) for line in path.read_text().splitlines() if arn in line]
    assert event["detail"]["eventType"] == "AwsServiceEvent"
    assert event["detail"]["serviceEventDetails"]["step"] == "createSecret"
    out = sm.cancel_rotate_secret(SecretId=arn)
    assert out["ARN"] == arn and out["VersionId"] == token
    d = sm.describe_secret(SecretId=arn)
    assert d["RotationEnabled"] is False and "NextRotationDate" not in d
    assert d["VersionIdsToStages"][token] == ["AWSPENDING"]
    assert sm.get_secret_value(SecretId=arn)["SecretString"] == "v"
    # no longer in progress: rotation can be turned on again
    again = sm.rotate_secret(
        SecretId=arn, RotationLambdaARN=f"{FN}counter", RotateImmediately=False
    )
    assert "VersionId" not in again


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "rules",
    [
        {"AutomaticallyAfterDays": 10, "ScheduleExpression": "rate(10 days)"},
        {"ScheduleExpression": "rate(2 hours)"},
        {"ScheduleExpression": "rate(1000 days)"},
        {"ScheduleExpression": "rate(5 minutes)"},
        {"ScheduleExpression": "cron(15 10 * * ? *)"},
        {"ScheduleExpression": "cron(0 10 * * ? 2027)"},
        {"ScheduleExpression": "cron(0 10 * * *)"},
        {"ScheduleExpression": "cron(0 25 * * ? *)"},
        {"ScheduleExpression": "cron(0 10 * * * *)"},
        {"ScheduleExpression": "every day"},
        {"ScheduleExpression": "rate(1 day)", "Duration": "25h"},
        {"ScheduleExpression": "rate(1 day)", "Duration": "3 hours"},
        {"ScheduleExpression": "cron(0 22 * * ? *)", "Duration": "4h"},
        {"ScheduleExpression": "rate(4 hours)", "Duration": "5h"},
        {"Duration": "2h"},
        {"AutomaticallyAfterDays": 1001},
    ],
)
def test_bad_rotation_rules_are_refused(sm: Any, rules: dict[str, Any]) -> None:
    arn = sm.create_secret(Name=name("bad"), SecretString="v")["ARN"]
    with pytest.raises(ClientError) as exc:
        sm.rotate_secret(SecretId=arn, RotationLambdaARN=f"{FN}counter", RotationRules=rules)
    assert error(exc) in (("InvalidParameterException", 400), ("ValidationException", 400))
    d = sm.describe_secret(SecretId=arn)
    assert d["RotationEnabled"] is False and "RotationRules" not in d  # nothing written


def test_unknown_function_and_no_function_are_refused(sm: Any) -> None:
    arn = sm.create_secret(Name=name("nofn"), SecretString="v")["ARN"]
    for fn in (
        f"{FN}no-such-function",
        f"arn:aws:lambda:eu-west-3:{ACCOUNT_ID}:function:counter",
        "not-an-arn",
    ):
        with pytest.raises(ClientError) as exc:
            sm.rotate_secret(SecretId=arn, RotationLambdaARN=fn)
        assert error(exc) == ("AccessDeniedException", 400)
    with pytest.raises(ClientError) as exc:
        sm.rotate_secret(SecretId=arn)
    assert error(exc) == ("InvalidRequestException", 400)
    assert sm.describe_secret(SecretId=arn)["RotationEnabled"] is False


def test_valid_schedules_set_the_next_window(sm: Any) -> None:
    arn = sm.create_secret(Name=name("cron"), SecretString="v")["ARN"]
    for expression, duration in (
        ("cron(0 16 1,15 * ? *)", "3h"),
        ("cron(0 4/12 * * ? *)", None),
        ("cron(0 0 ? * SUN#1 *)", None),
        ("cron(0 16 L * ? *)", "8h"),
        ("rate(4 hours)", "4h"),
    ):
        rules: dict[str, Any] = {"ScheduleExpression": expression}
        if duration:
            rules["Duration"] = duration
        sm.rotate_secret(
            SecretId=arn,
            RotationLambdaARN=f"{FN}counter",
            RotationRules=rules,
            RotateImmediately=False,
        )
        d = wait_tested(sm, arn)  # another RotateSecret before: "isn't complete", as AWS
        assert d["RotationRules"]["ScheduleExpression"] == expression
        assert d["NextRotationDate"].timestamp() % 3600 == 0  # windows open on the hour
        assert d["NextRotationDate"] > datetime.now(UTC) - timedelta(seconds=5)


# -- authorisation: the service principal and customer managed keys ------------------------
def _key_policy(service: bool) -> str:
    statements: list[dict[str, Any]] = [
        {
            "Sid": "root",
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"},
            "Action": "kms:*",
            "Resource": "*",
        }
    ]
    if service:
        statements.append(
            {
                "Sid": "rotation",
                "Effect": "Allow",
                "Principal": {"Service": "secretsmanager.amazonaws.com"},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                "Resource": "*",
            }
        )
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def test_rotation_with_a_customer_key_needs_the_service_in_its_policy(
    server: ServerProcess, sm: Any
) -> None:
    kms = server.client("kms")
    for allowed in (True, False):
        key = kms.create_key(Policy=_key_policy(allowed))["KeyMetadata"]["Arn"]
        arn = sm.create_secret(Name=name("cmk"), SecretString=json.dumps({"n": 0}), KmsKeyId=key)[
            "ARN"
        ]
        token = sm.rotate_secret(SecretId=arn, RotationLambdaARN=f"{FN}counter")["VersionId"]
        if allowed:
            wait_rotated(sm, arn, token)
            assert value(sm, arn) == {"n": 1}
            continue
        wait_for(lambda a=arn: bool(service_events(server, a, "RotationFailed")), "failure")
        [failed] = service_events(server, arn, "RotationFailed")
        assert failed["serviceEventDetails"]["failureReason"].startswith("AccessDeniedException")
        assert value(sm, arn) == {"n": 0}


def test_a_deny_in_the_secret_policy_stops_rotation_too(server: ServerProcess, sm: Any) -> None:
    """Rotation acts as the Secrets Manager service principal; an explicit Deny of the
    secret's resource policy binds it, as it would bind a rotation Lambda's role."""
    arn = sm.create_secret(Name=name("deny"), SecretString=json.dumps({"n": 0}))["ARN"]
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Principal": "*",
                       "Action": "secretsmanager:PutSecretValue", "Resource": "*"}],
    }  # fmt: skip
    sm.put_resource_policy(SecretId=arn, ResourcePolicy=json.dumps(deny))
    sm.rotate_secret(SecretId=arn, RotationLambdaARN=f"{FN}counter")
    wait_for(lambda: bool(service_events(server, arn, "RotationFailed")), "failure")
    failed = service_events(server, arn, "RotationFailed")[0]
    assert failed["serviceEventDetails"]["failureReason"].startswith("AccessDeniedException")
    assert value(sm, arn) == {"n": 0}


# -- RotateImmediately=false: testSecret on a copy of AWSCURRENT, then removed ------------------
def _spied(server: ServerProcess, arn: str) -> list[dict[str, Any]]:
    log = Path(str(server.data_dir).replace("sm-rotation-", "rotators-")) / "spy.jsonl"
    if not log.exists():
        return []
    seen = [json.loads(line) for line in log.read_text().splitlines()]
    return [s for s in seen if s["event"]["SecretId"] == arn]


def test_rotate_immediately_false_runs_test_secret_on_a_pending_copy_then_removes_it(
    server: ServerProcess, sm: Any, pg: PgCluster
) -> None:
    u, pw = user("cfg"), password()
    pg.create_user(u, pw)
    creds = pg.creds(u, pw)
    arn = sm.create_secret(Name=name("cfg"), SecretString=json.dumps(creds))["ARN"]
    [first] = [v["VersionId"] for v in sm.list_secret_version_ids(SecretId=arn)["Versions"]]
    token = secrets.token_hex(16)
    out = sm.rotate_secret(
        SecretId=arn,
        ClientRequestToken=token,
        RotationLambdaARN=f"{FN}spy",
        RotationRules={"AutomaticallyAfterDays": 30},
        RotateImmediately=False,
    )
    assert "VersionId" not in out
    d = wait_tested(sm, arn)
    # the function got testSecret only, with an AWSPENDING version holding AWSCURRENT's value
    [seen] = _spied(server, arn)
    assert seen["event"] == {"Step": "testSecret", "SecretId": arn, "ClientRequestToken": token}
    assert seen["AWSPENDING"] == [token, json.dumps(creds)]
    assert seen["AWSCURRENT"] == [first, json.dumps(creds)]
    # ... and then it was removed: no label, no version, nothing rotated
    assert d["VersionIdsToStages"] == {first: ["AWSCURRENT"]}
    listed = sm.list_secret_version_ids(SecretId=arn, IncludeDeprecated=True)["Versions"]
    assert [v["VersionId"] for v in listed] == [first]
    assert d["RotationEnabled"] is True and "LastRotatedDate" not in d
    assert "NextRotationDate" in d
    assert value(sm, arn) == creds and pg.can_log_in(u, pw)
    assert not service_events(server, arn, "RotationFailed")
    # no longer in progress: RotateSecret works again at once
    token2 = sm.rotate_secret(SecretId=arn)["VersionId"]
    wait_rotated(sm, arn, token2)
    assert pg.can_log_in(u, value(sm, arn)["password"]) and not pg.can_log_in(u, pw)


def test_a_failed_configuration_test_is_recorded_removed_and_not_retried(
    server: ServerProcess, sm: Any, pg: PgCluster
) -> None:
    u, pw = user("cfgbad"), password()
    pg.create_user(u, pw)
    wrong = pg.creds(u, "not-" + pw)  # the function's testSecret can't log in with it
    arn = sm.create_secret(Name=name("cfgbad"), SecretString=json.dumps(wrong))["ARN"]
    [first] = [v["VersionId"] for v in sm.list_secret_version_ids(SecretId=arn)["Versions"]]
    out = sm.rotate_secret(
        SecretId=arn,
        RotationLambdaARN=f"{FN}garrison-postgresql-single-user",
        RotationRules={"AutomaticallyAfterDays": 30},
        RotateImmediately=False,
    )
    assert out["ARN"] == arn and "VersionId" not in out  # the call itself succeeds
    wait_for(lambda: bool(service_events(server, arn, "RotationFailed")), "RotationFailed")
    d = wait_tested(sm, arn)
    [failed] = service_events(server, arn, "RotationFailed")
    details = failed["serviceEventDetails"]
    assert details["step"] == "testSecret" and details["configurationTest"] is True
    assert details["failureReason"].startswith("RotationStepError: Unable to log into database")
    assert pw not in json.dumps(failed)
    assert d["VersionIdsToStages"] == {first: ["AWSCURRENT"]}
    listed = sm.list_secret_version_ids(SecretId=arn, IncludeDeprecated=True)["Versions"]
    assert [v["VersionId"] for v in listed] == [first]
    assert value(sm, arn) == wrong and d["RotationEnabled"] is True
    # a test is not retried: the schedule stands
    server.advance(301)
    server.run_scheduler()
    time.sleep(0.5)
    assert len(service_events(server, arn, "RotationFailed")) == 1
    sm.cancel_rotate_secret(SecretId=arn)


def test_cancel_during_a_configuration_test_leaves_no_pending_version(sm: Any) -> None:
    arn = sm.create_secret(Name=name("cfgcancel"), SecretString=json.dumps({"n": 0}))["ARN"]
    # `broken` never ends a test well; cancel it before or after it ran: nothing stays
    sm.rotate_secret(SecretId=arn, RotationLambdaARN=f"{FN}broken", RotateImmediately=False)
    out = sm.cancel_rotate_secret(SecretId=arn)
    assert "VersionId" not in out
    d = wait_tested(sm, arn)
    assert list(d["VersionIdsToStages"].values()) == [["AWSCURRENT"]]
    assert d["RotationEnabled"] is False
    assert value(sm, arn) == {"n": 0}


# -- the built-in functions check `engine`, as AWS's templates ---------------------------------
@pytest.mark.parametrize(
    ("function", "engine", "message"),
    [
        ("postgresql", "mysql", "Database engine must be set to 'postgres'"),
        ("postgresql", "mariadb", "Database engine must be set to 'postgres'"),
        ("mysql", "postgres", "Database engine must be set to 'mysql' or 'mariadb'"),
        ("mysql", "sqlserver-ex", "Database engine must be set to 'mysql' or 'mariadb'"),
        ("postgresql", None, "has no engine key"),
        ("mysql", None, "has no engine key"),
    ],
)
def test_a_secret_of_another_engine_fails_at_create_secret(
    server: ServerProcess,
    sm: Any,
    pg: PgCluster,
    maria: MariaDb,
    function: str,
    engine: str | None,
    message: str,
) -> None:
    db: PgCluster | MariaDb = pg if function == "postgresql" else maria
    u, pw = user("eng"), password()
    db.create_user(u, pw)
    creds = db.creds(u, pw)
    del creds["engine"]
    if engine is not None:
        creds["engine"] = engine
    arn = sm.create_secret(Name=name("engine"), SecretString=json.dumps(creds))["ARN"]
    token = sm.rotate_secret(
        SecretId=arn, RotationLambdaARN=f"{FN}garrison-{function}-single-user"
    )["VersionId"]
    wait_for(lambda: bool(service_events(server, arn, "RotationFailed")), "RotationFailed")
    [failed] = service_events(server, arn, "RotationFailed")
    details = failed["serviceEventDetails"]
    assert details["step"] == "createSecret" and details["versionId"] == token
    assert message in details["failureReason"]
    assert value(sm, arn) == creds and db.can_log_in(u, pw)  # AWSCURRENT untouched
    with pytest.raises(ClientError) as exc:  # createSecret never gave AWSPENDING a value
        sm.get_secret_value(SecretId=arn, VersionStage="AWSPENDING")
    assert error_of(exc)[0] == "ResourceNotFoundException"
    sm.cancel_rotate_secret(SecretId=arn)
    if isinstance(db, MariaDb):
        db.drop_users(u)


@pytest.mark.parametrize(
    ("function", "engine"), [("postgresql", "aurora-postgresql"), ("mysql", "mariadb")]
)
def test_the_other_engines_of_a_family_rotate(
    sm: Any, pg: PgCluster, maria: MariaDb, function: str, engine: str
) -> None:
    db: PgCluster | MariaDb = pg if function == "postgresql" else maria
    u, pw = user("fam"), password()
    db.create_user(u, pw)
    creds = {**db.creds(u, pw), "engine": engine}
    arn = sm.create_secret(Name=name("family"), SecretString=json.dumps(creds))["ARN"]
    token = sm.rotate_secret(
        SecretId=arn, RotationLambdaARN=f"{FN}garrison-{function}-single-user"
    )["VersionId"]
    wait_rotated(sm, arn, token)
    new = value(sm, arn)
    assert new["engine"] == engine and db.can_log_in(u, new["password"])
    assert not db.can_log_in(u, pw)
    if isinstance(db, MariaDb):
        db.drop_users(u)


# -- ssl, as AWS's templates: true -> TLS only, false -> none, absent -> TLS then none -----------
@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_ssl_true_against_a_server_without_tls_fails_cleanly(
    server: ServerProcess, sm: Any, pg: PgCluster, maria: MariaDb, engine: str
) -> None:
    db: PgCluster | MariaDb = pg if engine == "postgresql" else maria
    u, pw = user("tls"), password()
    db.create_user(u, pw)
    creds = {**db.creds(u, pw), "ssl": True}
    arn = sm.create_secret(Name=name("tls"), SecretString=json.dumps(creds))["ARN"]
    [first] = [v["VersionId"] for v in sm.list_secret_version_ids(SecretId=arn)["Versions"]]
    token = sm.rotate_secret(SecretId=arn, RotationLambdaARN=f"{FN}garrison-{engine}-single-user")[
        "VersionId"
    ]
    wait_for(lambda: bool(service_events(server, arn, "RotationFailed")), "RotationFailed")
    [failed] = service_events(server, arn, "RotationFailed")
    details = failed["serviceEventDetails"]
    assert details["step"] == "setSecret" and details["versionId"] == token
    assert "the secret's ssl key requires TLS" in details["failureReason"]
    assert pw not in json.dumps(failed)
    d = sm.describe_secret(SecretId=arn)
    assert d["VersionIdsToStages"][first] == ["AWSCURRENT"]
    assert d["VersionIdsToStages"][token] == ["AWSPENDING"]
    assert value(sm, arn) == creds  # AWSCURRENT untouched ...
    assert db.can_log_in(u, pw)  # ... and still the password (without TLS, by the test)
    assert not db.can_log_in(u, value(sm, arn, "AWSPENDING")["password"])
    sm.cancel_rotate_secret(SecretId=arn)
    if isinstance(db, MariaDb):
        db.drop_users(u)


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
@pytest.mark.parametrize("ssl", [False, "false"])
def test_ssl_false_rotates_without_tls(
    sm: Any, pg: PgCluster, maria: MariaDb, engine: str, ssl: bool | str
) -> None:
    db: PgCluster | MariaDb = pg if engine == "postgresql" else maria
    u, pw = user("notls"), password()
    db.create_user(u, pw)
    creds = {**db.creds(u, pw), "ssl": ssl}
    arn = sm.create_secret(Name=name("notls"), SecretString=json.dumps(creds))["ARN"]
    token = sm.rotate_secret(SecretId=arn, RotationLambdaARN=f"{FN}garrison-{engine}-single-user")[
        "VersionId"
    ]
    wait_rotated(sm, arn, token)
    new = value(sm, arn)
    assert new["ssl"] == ssl and db.can_log_in(u, new["password"])
    assert not db.can_log_in(u, pw)
    if isinstance(db, MariaDb):
        db.drop_users(u)


# -- replication: every step's writes reach the replicas at once --------------------------------
def _state(client: Any, secret_id: str) -> dict[str, Any]:
    """What a reader of `secret_id` in `client`'s Region sees of its versions."""
    versions = client.list_secret_version_ids(SecretId=secret_id, IncludeDeprecated=True)
    out: dict[str, Any] = {
        "versions": {
            v["VersionId"]: sorted(v.get("VersionStages", [])) for v in versions["Versions"]
        }
    }
    for stage in ("AWSCURRENT", "AWSPENDING"):
        try:
            got = client.get_secret_value(SecretId=secret_id, VersionStage=stage)
            out[stage] = (got["VersionId"], got["SecretString"])
        except ClientError as exc:
            out[stage] = exc.response["Error"]["Code"]
    return out


def test_a_replicated_secret_rotated_its_replicas_match_after_each_step(
    server: ServerProcess, sm: Any
) -> None:
    regions = ("us-west-2", "eu-west-1")
    n = name("repl")
    sm.create_secret(
        Name=n,
        SecretString=json.dumps({"n": 0}),
        AddReplicaRegions=[{"Region": r} for r in regions],
    )
    replicas = [make_client(server.endpoint, "secretsmanager", region=r) for r in regions]
    steps = Path(str(server.data_dir).replace("sm-rotation-", "rotators-")) / "steps"

    def check(what: str) -> dict[str, Any]:
        primary = _state(sm, n)
        for client in replicas:
            assert _state(client, n) == primary, what
        statuses = sm.describe_secret(SecretId=n)["ReplicationStatus"]
        assert [s["Status"] for s in statuses] == ["InSync", "InSync"], (what, statuses)
        return primary

    token = sm.rotate_secret(SecretId=n, RotationLambdaARN=f"{FN}stepper")["VersionId"]
    wait_for((steps / f"{token}.start.done").exists, "the function's first call")
    seen = {"RotateSecret": check("RotateSecret")}
    (steps / f"{token}.start.go").touch()
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        wait_for((steps / f"{token}.{step}.done").exists, f"step {step}")
        seen[step] = check(step)
        (steps / f"{token}.{step}.go").touch()
    wait_rotated(sm, n, token)
    seen["done"] = check("the rotation's end")
    # what each step showed (the same in every Region)
    assert seen["RotateSecret"]["versions"][token] == ["AWSPENDING"]
    assert seen["RotateSecret"]["AWSPENDING"] == "ResourceNotFoundException"  # no value yet
    assert seen["createSecret"]["AWSPENDING"] == (token, json.dumps({"n": 1}))
    assert seen["testSecret"]["AWSCURRENT"][1] == json.dumps({"n": 0})
    assert seen["finishSecret"]["AWSCURRENT"] == (token, json.dumps({"n": 1}))
    assert seen["finishSecret"]["versions"][token] == ["AWSCURRENT", "AWSPENDING"]
    assert seen["done"]["versions"][token] == ["AWSCURRENT"]
    assert seen["done"]["AWSPENDING"] == "ResourceNotFoundException"
    # a configuration test's version comes and goes on the replicas too
    sm.rotate_secret(
        SecretId=n,
        RotationRules={"ScheduleExpression": "rate(1 day)"},
        RotateImmediately=False,
    )
    token2 = pending_of(sm, n)
    wait_for((steps / f"{token2}.start.done").exists, "the configuration test")
    during = check("the configuration test")
    assert during["AWSPENDING"] == (token2, json.dumps({"n": 1}))  # AWSCURRENT's copy
    (steps / f"{token2}.start.go").touch()
    wait_for((steps / f"{token2}.testSecret.done").exists, "the configuration test's end")
    assert check("the configuration test, testSecret done") == during
    (steps / f"{token2}.testSecret.go").touch()
    wait_tested(sm, n)
    after = check("after the configuration test")
    assert token2 not in after["versions"]
    assert after["AWSCURRENT"] == (token, json.dumps({"n": 1}))
    # a scheduled rotation's AWSPENDING too
    server.advance(DAY + 60)
    # the scheduler's run answers once the rotation is over: in a thread of its own
    run = threading.Thread(target=server.run_scheduler, daemon=True)
    run.start()
    token3 = pending_of(sm, n)
    wait_for((steps / f"{token3}.start.done").exists, "the scheduled rotation")
    started = check("the scheduled rotation's start")
    assert started["versions"][token3] == ["AWSPENDING"]
    for mark in ("start", "createSecret", "setSecret", "testSecret", "finishSecret"):
        (steps / f"{token3}.{mark}.go").touch()
    wait_rotated(sm, n, token3)
    run.join(timeout=30)
    assert check("the scheduled rotation's end")["AWSCURRENT"] == (token3, json.dumps({"n": 2}))
    # the configuration test's copy reached the replicas through the engine: every KMS
    # call for it, in each replica's Region too, audited as made by Secrets Manager
    made: list[dict[str, Any]] = []
    for page in (
        server.client("cloudtrail")
        .get_paginator("lookup_events")
        .paginate(
            LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "GenerateDataKey"}],
            PaginationConfig={"MaxItems": 1000},
        )
    ):
        for event in page["Events"]:
            record = json.loads(event["CloudTrailEvent"])
            context = (record.get("requestParameters") or {}).get("encryptionContext") or {}
            if context.get("SecretVersionId") == token2:
                made.append(record)
    key_regions = {r["ARN"].split(":")[3] for record in made for r in record["resources"]}
    assert key_regions == {"us-east-1", *regions}  # the primary's copy and each replica's
    for record in made:
        assert record["userIdentity"]["invokedBy"] == "secretsmanager.amazonaws.com"
        assert record["sourceIPAddress"] == record["userAgent"] == "secretsmanager.amazonaws.com"
    sm.cancel_rotate_secret(SecretId=n)


def pending_of(sm: Any, secret_id: str) -> str:
    """The version AWSPENDING labels, once RotateSecret or the schedule put it there."""
    found: list[str] = []

    def labelled() -> bool:
        stages = sm.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
        found[:] = [v for v, s in stages.items() if s == ["AWSPENDING"]]
        return bool(found)

    wait_for(labelled, f"AWSPENDING on {secret_id}")
    return found[0]
