"""References to stored values, as `garrison exec` and `garrison render` write them.

Two spellings name the same things:

- CloudFormation's dynamic references, found in a template by `garrison render`:
  `{{resolve:ssm:NAME}}`, `{{resolve:ssm:NAME:VERSION}}`,
  `{{resolve:ssm-secure:NAME}}`, `{{resolve:ssm-secure:NAME:VERSION}}`
  (NAME matches `[a-zA-Z0-9_.\\-/]+`, VERSION `\\d+`, as CloudFormation documents);
  and `{{resolve:secretsmanager:SECRET-ID:SecretString:JSON-KEY:VERSION-STAGE:VERSION-ID}}`
  (every part after SECRET-ID optional, an empty part written as nothing between
  colons, e.g. `{{resolve:secretsmanager:db::password}}`; see `_parse_secretsmanager`);
- `garrison exec --env VAR=SCHEME:KEY`, where KEY may also carry a label selector
  (`ssm:/app/db/password:prod`) since GetParameter accepts one, and a Secrets Manager
  KEY is `SECRET-ID[:JSON-KEY[:VERSION-STAGE[:VERSION-ID]]]` (no `SecretString` part).

Parsing is pure (no I/O) so that a malformed template or flag fails before any call:

    Reference                      a parsed reference (frozen); `text` is how the user wrote it
      +-- SsmReference             a Parameter Store parameter (`ssm` or `ssm-secure`)
      +-- SecretReference          a Secrets Manager secret (`secretsmanager`), optionally
                                   one JSON key of it, at a version stage or version id

A new scheme is one `Reference` subclass, one parser registered in `SCHEMES` and one
resolver in `garrison.cli.resolvers` (as `secretsmanager` was added for issue 6).

Nothing here ever holds a value: errors name the reference, never what it resolves to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class ResolveError(Exception):
    """A reference that cannot be parsed or resolved; the message is safe to print."""


class Syntax(Enum):
    """Where a reference was written: the rules differ slightly."""

    TEMPLATE = "template"  # CloudFormation's dynamic reference: version only
    ENV = "env"  # `--env VAR=...`: version or label, as GetParameter accepts


@dataclass(frozen=True)
class Reference:
    """A reference to one stored value; `text` is how the user wrote it."""

    text: str


@dataclass(frozen=True)
class SsmReference(Reference):
    """A Parameter Store parameter, optionally at a version or label.

    `secure` is the `ssm-secure` scheme: the parameter must be a SecureString and is
    read with decryption. The `ssm` scheme in a template only reads String and
    StringList parameters (CloudFormation's rule); in `garrison exec` it reads any
    type, decrypting SecureStrings.
    """

    name: str
    selector: str | None
    secure: bool
    syntax: Syntax

    @property
    def selected_name(self) -> str:
        """The `Name` GetParameter takes: `name`, `name:version` or `name:label`."""
        return self.name if self.selector is None else f"{self.name}:{self.selector}"


_SSM_NAME = r"[a-zA-Z0-9_.\-/]+"
_TEMPLATE_SSM_KEY = re.compile(rf"({_SSM_NAME})(?::(\d+))?")
# a label: letters, digits, `.`, `-`, `_` (GetParameter's server-side rules apply)
_ENV_SSM_KEY = re.compile(rf"({_SSM_NAME})(?::([a-zA-Z0-9_.\-]+))?")


def _parse_ssm(secure: bool) -> Callable[[str, str, Syntax], Reference]:
    def parse(key: str, text: str, syntax: Syntax) -> Reference:
        scheme = "ssm-secure" if secure else "ssm"
        pattern = _TEMPLATE_SSM_KEY if syntax is Syntax.TEMPLATE else _ENV_SSM_KEY
        match = pattern.fullmatch(key)
        if match is None:
            what = "NAME[:VERSION]" if syntax is Syntax.TEMPLATE else "NAME[:VERSION|:LABEL]"
            raise ResolveError(
                f"{text}: malformed {scheme} reference: expected {scheme}:{what} with NAME "
                "made of a-z, A-Z, 0-9, '_', '.', '-' and '/'"
                + (" and VERSION a number" if syntax is Syntax.TEMPLATE else "")
            )
        return SsmReference(
            text=text, name=match[1], selector=match[2], secure=secure, syntax=syntax
        )

    return parse


@dataclass(frozen=True)
class SecretReference(Reference):
    """A Secrets Manager secret's SecretString, or one top-level key of it as JSON.

    `secret_id` is a name, a full ARN or a partial ARN, as GetSecretValue takes it.
    With neither `version_stage` nor `version_id` the AWSCURRENT version is read.
    """

    secret_id: str
    json_key: str | None
    version_stage: str | None
    version_id: str | None
    syntax: Syntax


# Secrets Manager's name characters (CreateSecret: letters, digits and /_+=.@-)
_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@\-]{1,512}")
_SECRET_ARN = re.compile(
    r"arn:[a-z0-9-]+:secretsmanager:[a-z0-9-]*:\d{12}:secret:[A-Za-z0-9/_+=.@\-]+"
)
_ARN_PARTS = 7  # arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME[-SUFFIX]
_STRING_KIND = "SecretString"


def _parse_secretsmanager(key: str, text: str, syntax: Syntax) -> Reference:
    """`SECRET-ID[:SecretString[:JSON-KEY[:VERSION-STAGE[:VERSION-ID]]]]` in a template
    (CloudFormation's rules), `SECRET-ID[:JSON-KEY[:VERSION-STAGE[:VERSION-ID]]]` after
    `--env VAR=secretsmanager:`.

    SECRET-ID is a name or an ARN (`arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME`,
    whose own colons are part of it); it is the one required part. An omitted part is
    empty (`db:SecretString::AWSPREVIOUS`). The second template part may only be
    `SecretString` (CloudFormation reads no SecretBinary); a version stage and a
    version id exclude each other (CloudFormation: specify one or neither).
    """
    form = (
        "SECRET-ID[:SecretString[:JSON-KEY[:VERSION-STAGE[:VERSION-ID]]]]"
        if syntax is Syntax.TEMPLATE
        else "SECRET-ID[:JSON-KEY[:VERSION-STAGE[:VERSION-ID]]]"
    )

    def bad(why: str) -> ResolveError:
        return ResolveError(f"{text}: malformed secretsmanager reference: {why} (expected {form})")

    parts = key.split(":")
    if parts[0] == "arn":
        secret_id = ":".join(parts[:_ARN_PARTS])
        rest = parts[_ARN_PARTS:]
        if _SECRET_ARN.fullmatch(secret_id) is None:
            raise bad(
                f"{secret_id!r} is not a secret ARN "
                "(arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME)"
            )
    else:
        secret_id, rest = parts[0], parts[1:]
        if not secret_id:
            raise bad("the secret id is missing")
        if _SECRET_NAME.fullmatch(secret_id) is None:
            raise bad(f"the secret name {secret_id!r} is not 1 to 512 of a-z, A-Z, 0-9 and /_+=.@-")
    if syntax is Syntax.TEMPLATE and rest:
        kind = rest.pop(0)
        if kind not in ("", _STRING_KIND):
            raise bad(
                f"{kind!r} in place of SecretString: only SecretString values can be "
                "referenced (SecretBinary is not supported)"
            )
    if len(rest) > 3:
        raise bad("too many parts")
    json_key, version_stage, version_id = (rest + ["", "", ""])[:3]
    if key.endswith("\\"):
        raise bad("a reference cannot end in a backslash")
    if version_stage and version_id:
        raise bad("give a version stage or a version id, not both")
    return SecretReference(
        text=text,
        secret_id=secret_id,
        json_key=json_key or None,
        version_stage=version_stage or None,
        version_id=version_id or None,
        syntax=syntax,
    )


# scheme -> parser(key, text as written, syntax)
SCHEMES: dict[str, Callable[[str, str, Syntax], Reference]] = {
    "ssm": _parse_ssm(secure=False),
    "ssm-secure": _parse_ssm(secure=True),
    "secretsmanager": _parse_secretsmanager,
}


def parse_reference(spec: str, *, text: str, syntax: Syntax) -> Reference:
    """Parse `SCHEME:KEY` (the part after `resolve:` in a template)."""
    scheme, sep, key = spec.partition(":")
    if not sep or not key:
        raise ResolveError(f"{text}: expected SCHEME:KEY (schemes: {', '.join(SCHEMES)})")
    parser = SCHEMES.get(scheme)
    if parser is None:
        raise ResolveError(
            f"{text}: unsupported reference scheme {scheme!r} (supported: {', '.join(SCHEMES)})"
        )
    return parser(key, text, syntax)


# --- templates -------------------------------------------------------------------

# Anything that opens like a dynamic reference is one: a typo must fail, not pass through.
_DYNAMIC = re.compile(r"\{\{resolve:(.*?)\}\}", re.DOTALL)
_OPENING = re.compile(r"\{\{\s*resolve\s*:")


@dataclass(frozen=True)
class Occurrence:
    """One dynamic reference in a template: where it is and what it names."""

    start: int
    end: int
    reference: Reference


def find_dynamic_references(template: str) -> list[Occurrence]:
    """Every `{{resolve:...}}` in `template`, parsed; the first bad one raises."""
    found: list[Occurrence] = []
    covered: list[tuple[int, int]] = []
    for match in _DYNAMIC.finditer(template):
        text = match[0]
        found.append(
            Occurrence(
                match.start(),
                match.end(),
                parse_reference(match[1], text=text, syntax=Syntax.TEMPLATE),
            )
        )
        covered.append((match.start(), match.end()))
    for opening in _OPENING.finditer(template):
        if not any(start <= opening.start() < end for start, end in covered):
            line = template.count("\n", 0, opening.start()) + 1
            snippet = template[opening.start() : opening.start() + 40].split("\n", 1)[0]
            raise ResolveError(
                f"line {line}: malformed dynamic reference starting {snippet!r}: "
                "expected {{resolve:SCHEME:KEY}}"
            )
    return found


def substitute(template: str, occurrences: list[Occurrence], values: dict[str, str]) -> str:
    """`template` with each occurrence replaced by `values[occurrence.reference.text]`."""
    parts: list[str] = []
    position = 0
    for occurrence in occurrences:
        parts.append(template[position : occurrence.start])
        parts.append(values[occurrence.reference.text])
        position = occurrence.end
    parts.append(template[position:])
    return "".join(parts)


# --- environment variables ---------------------------------------------------------

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")
_NON_PATH = re.compile(r"[^a-zA-Z0-9_.\-/]")


@dataclass(frozen=True)
class EnvBinding:
    """`--env VAR=SCHEME:KEY`: the variable `var` gets the value `reference` names."""

    var: str
    reference: Reference


def is_valid_env_name(name: str) -> bool:
    """POSIX's portable name: letters, digits and `_`, not starting with a digit."""
    return _ENV_NAME.fullmatch(name) is not None


def parse_env_binding(spec: str) -> EnvBinding:
    """Parse the argument of `--env`: `VAR=ssm:/path/name[:version|:label]` or
    `VAR=secretsmanager:secret-id[:json-key[:version-stage[:version-id]]]`."""
    var, sep, ref = spec.partition("=")
    if not sep:
        raise ResolveError(f"--env {spec}: expected VAR=SCHEME:KEY, e.g. DB=ssm:/app/db")
    if not is_valid_env_name(var):
        raise ResolveError(
            f"--env {spec}: {var!r} is not a valid environment variable name "
            "(letters, digits and '_', not starting with a digit)"
        )
    return EnvBinding(var, parse_reference(ref, text=ref, syntax=Syntax.ENV))


def normalise_path(path: str) -> str:
    """A hierarchy path as GetParametersByPath takes it: leading `/`, no trailing `/`."""
    if not path.startswith("/"):
        raise ResolveError(f"--path {path}: a path starts with '/', e.g. /prod/app/")
    if _NON_PATH.search(path):
        raise ResolveError(f"--path {path}: a path is made of a-z, A-Z, 0-9, '_', '.', '-' and '/'")
    stripped = path.rstrip("/")
    return stripped or "/"


def env_name_for(path: str, parameter_name: str) -> str:
    """The variable a parameter under `path` becomes: the path removed, the rest
    upper-cased, every run of non-alphanumerics turned into `_`.

    `env_name_for("/prod/app", "/prod/app/db/password") == "DB_PASSWORD"`.
    The result may be invalid (`1ST_KEY`, empty); the caller checks it.
    """
    prefix = normalise_path(path)
    prefix = "/" if prefix == "/" else prefix + "/"
    if parameter_name.startswith(prefix):
        rest = parameter_name[len(prefix) :]
    elif prefix == "/":
        rest = parameter_name  # a name outside any hierarchy, listed under the root
    else:
        raise ResolveError(f"{parameter_name}: not under the path {path}")
    return _NON_ALNUM.sub("_", rest).upper()
