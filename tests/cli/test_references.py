"""Parsing of dynamic references, `--env` bindings and parameter-to-variable names."""

from __future__ import annotations

import pytest

from garrison.cli.references import (
    ResolveError,
    SecretReference,
    SsmReference,
    Syntax,
    env_name_for,
    find_dynamic_references,
    is_valid_env_name,
    normalise_path,
    parse_env_binding,
    substitute,
)


def test_the_three_cloudformation_forms_parse() -> None:
    template = (
        "a={{resolve:ssm:/app/host}} b={{resolve:ssm:plain.name-1_x:12}} "
        "c={{resolve:ssm-secure:/app/db/password:3}} d={{resolve:ssm-secure:/app/key}}"
    )
    found = [o.reference for o in find_dynamic_references(template)]
    assert found == [
        SsmReference("{{resolve:ssm:/app/host}}", "/app/host", None, False, Syntax.TEMPLATE),
        SsmReference(
            "{{resolve:ssm:plain.name-1_x:12}}", "plain.name-1_x", "12", False, Syntax.TEMPLATE
        ),
        SsmReference(
            "{{resolve:ssm-secure:/app/db/password:3}}",
            "/app/db/password",
            "3",
            True,
            Syntax.TEMPLATE,
        ),
        SsmReference("{{resolve:ssm-secure:/app/key}}", "/app/key", None, True, Syntax.TEMPLATE),
    ]
    assert isinstance(found[1], SsmReference) and found[1].selected_name == "plain.name-1_x:12"
    assert isinstance(found[0], SsmReference) and found[0].selected_name == "/app/host"


def test_public_parameters_are_ordinary_names() -> None:
    (occurrence,) = find_dynamic_references(
        "{{resolve:ssm:/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64}}"
    )
    assert isinstance(occurrence.reference, SsmReference)
    assert occurrence.reference.name.startswith("/aws/service/")


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("{{resolve:ssm:/app/x:prod}}", "malformed ssm reference"),  # labels: not in templates
        ("{{resolve:ssm:/app/x:1:2}}", "malformed ssm reference"),
        ("{{resolve:ssm:/app/has space}}", "malformed ssm reference"),
        ("{{resolve:ssm:/app/x\\}}", "malformed ssm reference"),  # a trailing backslash
        ("{{resolve:ssm-secure:/app/x:}}", "malformed ssm-secure reference"),
        ("{{resolve:ssm:}}", "expected SCHEME:KEY"),
        ("{{resolve:ssm}}", "expected SCHEME:KEY"),
        ("{{resolve:vault:/app/x}}", "unsupported reference scheme 'vault'"),
        ("{{resolve:SSM:/app/x}}", "unsupported reference scheme 'SSM'"),
        ("ok\n{{ resolve:ssm:/app/x}}", "line 2: malformed dynamic reference"),
        ("{{resolve:ssm:/app/x", "line 1: malformed dynamic reference"),
    ],
)
def test_bad_template_references_are_refused_with_the_reference_named(
    template: str, complaint: str
) -> None:
    with pytest.raises(ResolveError) as exc:
        find_dynamic_references(template)
    assert complaint in str(exc.value)


def test_text_without_references_is_left_alone() -> None:
    template = "{{ not a reference }} {resolve:ssm:/x} {{Ref: ssm}}"
    assert find_dynamic_references(template) == []
    assert substitute(template, [], {}) == template


def test_substitution_replaces_every_occurrence_in_place() -> None:
    template = "x={{resolve:ssm:/a}};y={{resolve:ssm:/b:2}};z={{resolve:ssm:/a}}\n"
    found = find_dynamic_references(template)
    values = {"{{resolve:ssm:/a}}": "A", "{{resolve:ssm:/b:2}}": "B{{resolve:ssm:/c}}"}
    # a value that looks like a reference is not resolved again
    assert substitute(template, found, values) == "x=A;y=B{{resolve:ssm:/c}};z=A\n"


def test_env_bindings_take_versions_and_labels() -> None:
    plain = parse_env_binding("DB_HOST=ssm:/app/db/host")
    assert plain.var == "DB_HOST"
    assert plain.reference == SsmReference(
        "ssm:/app/db/host", "/app/db/host", None, False, Syntax.ENV
    )
    versioned = parse_env_binding("_x1=ssm:/app/db/host:7").reference
    labelled = parse_env_binding("PW=ssm-secure:/app/db/pw:prod-2").reference
    assert isinstance(versioned, SsmReference) and versioned.selected_name == "/app/db/host:7"
    assert isinstance(labelled, SsmReference) and labelled.selected_name == "/app/db/pw:prod-2"
    assert labelled.secure


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("DB_HOST", "expected VAR=SCHEME:KEY"),
        ("1DB=ssm:/x", "not a valid environment variable name"),
        ("DB-HOST=ssm:/x", "not a valid environment variable name"),
        ("=ssm:/x", "not a valid environment variable name"),
        ("DB=/app/x", "expected SCHEME:KEY"),
        ("DB=file:/etc/passwd", "unsupported reference scheme 'file'"),
        ("DB=ssm:/a b", "malformed ssm reference"),
        ("DB=ssm:/a:b:c", "malformed ssm reference"),
    ],
)
def test_bad_env_bindings_are_refused(spec: str, complaint: str) -> None:
    with pytest.raises(ResolveError) as exc:
        parse_env_binding(spec)
    assert complaint in str(exc.value)


@pytest.mark.parametrize(
    ("path", "name", "var"),
    [
        ("/prod/app/", "/prod/app/db/password", "DB_PASSWORD"),
        ("/prod/app", "/prod/app/db/password", "DB_PASSWORD"),
        ("/prod/app", "/prod/app/api.key", "API_KEY"),
        ("/prod/app", "/prod/app/a--b__c/.d", "A_B_C_D"),
        ("/prod/app", "/prod/app/mixedCase", "MIXEDCASE"),
        ("/prod/app", "/prod/app/tail-", "TAIL_"),
        ("/prod/app", "/prod/app/1st", "1ST"),  # invalid: the caller refuses it
        ("/", "/top/level", "TOP_LEVEL"),
        ("/", "flat", "FLAT"),
    ],
)
def test_parameter_names_become_variables(path: str, name: str, var: str) -> None:
    assert env_name_for(path, name) == var


def test_a_name_outside_the_path_is_refused() -> None:
    with pytest.raises(ResolveError):
        env_name_for("/prod/app", "/prod/application/x")


@pytest.mark.parametrize(
    ("name", "valid"),
    [("A", True), ("_", True), ("A1_B", True), ("1A", False), ("", False), ("A-B", False)],
)
def test_valid_variable_names_are_posix_portable(name: str, valid: bool) -> None:
    assert is_valid_env_name(name) is valid


@pytest.mark.parametrize(
    ("path", "normal"), [("/prod/app/", "/prod/app"), ("/", "/"), ("//", "/"), ("/a", "/a")]
)
def test_paths_are_normalised(path: str, normal: str) -> None:
    assert normalise_path(path) == normal


@pytest.mark.parametrize("path", ["prod/app", "/prod app", "/prod/$x"])
def test_bad_paths_are_refused(path: str) -> None:
    with pytest.raises(ResolveError):
        normalise_path(path)


# --- Secrets Manager (issue 6) -------------------------------------------------------

_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"
_VID = "EXAMPLE1-90ab-cdef-fedc-ba987EXAMPLE"


def _secret(
    text: str,
    secret_id: str,
    key: str | None = None,
    stage: str | None = None,
    version: str | None = None,
    syntax: Syntax = Syntax.TEMPLATE,
) -> SecretReference:
    return SecretReference(text, secret_id, key, stage, version, syntax)


@pytest.mark.parametrize(
    ("reference", "secret_id", "key", "stage", "version"),
    [
        ("MySecret", "MySecret", None, None, None),
        ("MySecret:SecretString", "MySecret", None, None, None),
        ("MySecret:SecretString:password", "MySecret", "password", None, None),
        ("MySecret::password", "MySecret", "password", None, None),
        ("MySecret:SecretString:password:AWSPREVIOUS", "MySecret", "password", "AWSPREVIOUS", None),
        ("MySecret:SecretString::AWSPENDING", "MySecret", None, "AWSPENDING", None),
        (f"MySecret:SecretString:password::{_VID}", "MySecret", "password", None, _VID),
        (f"MySecret::::{_VID}", "MySecret", None, None, _VID),
        ("MySecret::::", "MySecret", None, None, None),
        ("prod/app+x=y.z@w-1_2", "prod/app+x=y.z@w-1_2", None, None, None),
        (_ARN, _ARN, None, None, None),
        (f"{_ARN}:SecretString:password", _ARN, "password", None, None),
        (f"{_ARN}::username:AWSCURRENT", _ARN, "username", "AWSCURRENT", None),
        (
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:partial",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:partial",
            None,
            None,
            None,
        ),
    ],
)
def test_cloudformation_secretsmanager_references_parse(
    reference: str, secret_id: str, key: str | None, stage: str | None, version: str | None
) -> None:
    text = f"{{{{resolve:secretsmanager:{reference}}}}}"
    (occurrence,) = find_dynamic_references(f"x: {text}\n")
    assert occurrence.reference == _secret(text, secret_id, key, stage, version)


@pytest.mark.parametrize(
    ("reference", "complaint"),
    [
        ("", "expected SCHEME:KEY"),
        (":SecretString:password", "the secret id is missing"),
        ("MySecret:SecretBinary", "SecretBinary is not supported"),
        ("MySecret:secretstring:password", "only SecretString values"),
        ("MySecret:SecretString:k:AWSCURRENT:" + _VID, "not both"),
        ("MySecret:SecretString:k:s:v:extra", "too many parts"),
        ("My Secret", "is not 1 to 512 of"),
        ("My$ecret", "is not 1 to 512 of"),
        ("x" * 513, "is not 1 to 512 of"),
        ("MySecret:SecretString:key\\", "cannot end in a backslash"),
        ("arn:aws:secretsmanager:us-east-1:123456789012:secret", "is not a secret ARN"),
        ("arn:aws:ssm:us-east-1:123456789012:parameter:x", "is not a secret ARN"),
        ("arn:aws:secretsmanager:us-east-1:12345:secret:x", "is not a secret ARN"),
    ],
)
def test_bad_secretsmanager_references_are_refused_with_the_reference_named(
    reference: str, complaint: str
) -> None:
    text = f"{{{{resolve:secretsmanager:{reference}}}}}"
    with pytest.raises(ResolveError) as exc:
        find_dynamic_references(text)
    assert complaint in str(exc.value)
    assert str(exc.value).startswith(text[:60])


def test_secretsmanager_env_bindings_have_no_secretstring_part() -> None:
    plain = parse_env_binding("DB=secretsmanager:prod/db")
    assert plain.reference == _secret("secretsmanager:prod/db", "prod/db", syntax=Syntax.ENV)
    keyed = parse_env_binding("PW=secretsmanager:prod/db:password").reference
    assert keyed == _secret(
        "secretsmanager:prod/db:password", "prod/db", "password", syntax=Syntax.ENV
    )
    previous = parse_env_binding("OLD=secretsmanager:prod/db:password:AWSPREVIOUS").reference
    assert isinstance(previous, SecretReference)
    assert (previous.json_key, previous.version_stage) == ("password", "AWSPREVIOUS")
    whole_at = parse_env_binding(f"V=secretsmanager:prod/db:::{_VID}").reference
    assert isinstance(whole_at, SecretReference)
    assert (whole_at.json_key, whole_at.version_stage, whole_at.version_id) == (None, None, _VID)
    by_arn = parse_env_binding(f"U=secretsmanager:{_ARN}:username").reference
    assert by_arn == _secret(f"secretsmanager:{_ARN}:username", _ARN, "username", syntax=Syntax.ENV)
    # in --env the second part is the JSON key, even one called SecretString
    odd = parse_env_binding("X=secretsmanager:db:SecretString").reference
    assert isinstance(odd, SecretReference) and odd.json_key == "SecretString"


@pytest.mark.parametrize(
    ("spec", "complaint"),
    [
        ("DB=secretsmanager:", "expected SCHEME:KEY"),
        ("DB=secretsmanager::password", "the secret id is missing"),
        ("DB=secretsmanager:db:k:AWSCURRENT:" + _VID, "not both"),
        ("DB=secretsmanager:db:k:s:v:extra", "too many parts"),
        ("DB=secretsmanager:a b", "is not 1 to 512 of"),
        ("DB=secretsmanager:arn:aws:secretsmanager:us-east-1", "is not a secret ARN"),
    ],
)
def test_bad_secretsmanager_env_bindings_are_refused(spec: str, complaint: str) -> None:
    with pytest.raises(ResolveError) as exc:
        parse_env_binding(spec)
    assert complaint in str(exc.value)
