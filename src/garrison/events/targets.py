"""What a rule's target is and what it receives.

Target ARNs (the forms of `senders`):

    arn:aws:events:<region>:<account>:api-destination/<name>/<uuid>   an API destination
    arn:garrison:nats:<region>:<account>:subject/<subject>             a NATS subject
    arn:garrison:file:<region>:<account>:path/<absolute path>          a JSON-lines file

`parse_target_arn` validates one and says which kind it is; any other ARN (AWS
Lambda, SQS, SNS, ...) raises `TargetArnError` naming the supported forms.

What the target receives (EventBridge's "Transforming target input"):

    no Input / InputPath / InputTransformer   the whole event (`render` of the envelope)
    Input                                     that JSON text, as it is
    InputPath                                 the JSON value the path selects from the event
    InputTransformer                          InputTemplate with each <variable> filled from
                                              InputPathsMap (and the predefined aws.events.*)

Paths are EventBridge's subset of JSONPath: ``$``, dot names (letters, digits,
``-``, ``_``, ``/``), ``[n]`` indices and ``*`` wildcards. `InputError`
carries the reason a target's input settings are refused (PutTargets answers it
as a ValidationException).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

API_DESTINATION: Final = "api-destination"
NATS: Final = "nats"
FILE: Final = "file"

SUPPORTED_FORMS: Final = (
    "API destinations (arn:aws:events:<region>:<account>:api-destination/<name>/<id>), "
    "NATS subjects (arn:garrison:nats:<region>:<account>:subject/<subject>) and "
    "JSON-lines files (arn:garrison:file:<region>:<account>:path/<absolute path>)"
)

_ARN = re.compile(r"arn:([a-z-]+):([a-z0-9-]+):([a-z0-9-]*):([0-9]{12}|):(.+)", re.DOTALL)
_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,64}")
_NATS_TOKEN = re.compile(r"[^\s.*>]+")

MAX_PATHS: Final = 100
RESERVED_PREFIX: Final = "aws."
PREDEFINED: Final = frozenset(
    {
        "aws.events.rule-arn",
        "aws.events.rule-name",
        "aws.events.event.ingestion-time",
        "aws.events.event",
        "aws.events.event.json",
    }
)


class TargetArnError(ValueError):
    """A target ARN Garrison cannot deliver to; the message says why."""


class InputError(ValueError):
    """Input / InputPath / InputTransformer settings EventBridge refuses."""


@dataclass(frozen=True, slots=True)
class TargetArn:
    kind: str  # API_DESTINATION, NATS or FILE
    region: str
    account_id: str
    resource: str  # "<name>/<uuid>", the subject, or the absolute path


def parse_target_arn(arn: str) -> TargetArn:
    m = _ARN.fullmatch(arn)
    if m is None:
        raise TargetArnError(f"Target Arn {arn!r} is not a valid ARN.")
    partition, service, region, account, rest = m.groups()
    if partition == "aws" and service == "events" and rest.startswith("api-destination/"):
        parts = rest.removeprefix("api-destination/").split("/")
        if len(parts) != 2 or not _NAME.fullmatch(parts[0]) or not parts[1]:
            raise TargetArnError(f"Target Arn {arn!r} is not a valid API destination ARN.")
        return TargetArn(API_DESTINATION, region, account, rest.removeprefix("api-destination/"))
    if partition == "garrison" and service == NATS and rest.startswith("subject/"):
        subject = rest.removeprefix("subject/")
        tokens = subject.split(".")
        if len(subject) > 1024 or not all(_NATS_TOKEN.fullmatch(t) for t in tokens):
            raise TargetArnError(
                f"Target Arn {arn!r} does not name a NATS subject one can publish to "
                "(dot-separated tokens, no spaces, no wildcards)."
            )
        return TargetArn(NATS, region, account, subject)
    if partition == "garrison" and service == FILE and rest.startswith("path/"):
        path = rest.removeprefix("path/")
        parts = path.split("/")
        if not path.startswith("/") or "\x00" in path or ".." in parts or path.endswith("/"):
            raise TargetArnError(
                f"Target Arn {arn!r} does not name an absolute file path (without '..')."
            )
        return TargetArn(FILE, region, account, path)
    raise TargetArnError(
        f"Target Arn {arn!r} is not supported by this Garrison release: the supported "
        f"targets are {SUPPORTED_FORMS}."
    )


# -- paths -------------------------------------------------------------------------
_SEGMENT = re.compile(r"\.([A-Za-z0-9_\-/]+|\*)|\[(\d+|\*)\]|\['([^']*)'\]")
_MISSING: Final = object()

Path = tuple[str | int, ...]  # "*" is the wildcard


def parse_path(text: str) -> Path:
    """A JSON path of EventBridge's subset, as its steps; InputError if it is not one."""
    if not text.startswith("$"):
        raise InputError(f"{text!r} is not a valid JSON path: it must start with '$'.")
    steps: list[str | int] = []
    pos = 1
    while pos < len(text):
        m = _SEGMENT.match(text, pos)
        if m is None:
            raise InputError(f"{text!r} is not a valid JSON path.")
        name, index, quoted = m.groups()
        if name is not None:
            steps.append(name)
        elif index is not None:
            steps.append("*" if index == "*" else int(index))
        else:
            steps.append(quoted)
        pos = m.end()
    return tuple(steps)


def select(event: Any, path: Path) -> Any:
    """The value `path` selects in `event` (a list where a wildcard is crossed);
    `_MISSING` when nothing is there."""
    values = [event]
    wild = False
    for step in path:
        found: list[Any] = []
        for v in values:
            if step == "*":
                wild = True
                if isinstance(v, dict):
                    found.extend(v.values())
                elif isinstance(v, list):
                    found.extend(v)
            elif isinstance(step, int):
                if isinstance(v, list) and step < len(v):
                    found.append(v[step])
            elif isinstance(v, dict) and step in v:
                found.append(v[step])
        values = found
    if wild:
        return values
    return values[0] if values else _MISSING


# -- validation (PutTargets) ----------------------------------------------------------
def check_input(target: Mapping[str, Any]) -> None:
    """Raise InputError unless the target's input settings are valid as EventBridge
    checks them."""
    given = [k for k in ("Input", "InputPath", "InputTransformer") if k in target]
    if len(given) > 1:
        raise InputError("Only one of Input, InputPath, or InputTransformer must be provided.")
    if "Input" in target:
        try:
            json.loads(target["Input"])
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
            raise InputError("Input is not valid JSON text.") from None
    if "InputPath" in target:
        parse_path(target["InputPath"])
    transformer = target.get("InputTransformer")
    if transformer is not None:
        paths = transformer.get("InputPathsMap") or {}
        if len(paths) > MAX_PATHS:
            raise InputError(f"InputPathsMap cannot have more than {MAX_PATHS} variables.")
        for key, path in paths.items():
            if key.startswith(RESERVED_PREFIX):
                raise InputError(
                    f"Variable {key} in InputPathsMap is not valid: names starting with "
                    f"'{RESERVED_PREFIX}' are reserved."
                )
            parse_path(path)
        template: str = transformer["InputTemplate"]
        names = set(paths) | PREDEFINED
        if template.lstrip().startswith("{"):
            # a JSON object: valid JSON once each placeholder holds a value, and no
            # placeholder as an object key
            trial = _fill(template, lambda name, quoted: "0" if not quoted else "x", names)
            try:
                json.loads(trial)
            except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
                raise InputError(
                    "InputTemplate is not valid JSON (a placeholder cannot be an object key)."
                ) from None


# -- rendering (the bus, at publish time) ---------------------------------------------
_PLACEHOLDER = re.compile(r"<([A-Za-z0-9_\-.]+)>")


def render(
    target: Mapping[str, Any],
    envelope: dict[str, Any],
    *,
    rule_arn: str,
    rule_name: str,
    ingestion_time: str,
) -> bytes:
    """What the target receives for `envelope`, as bytes."""
    if "Input" in target:
        return str(target["Input"]).encode()
    if "InputPath" in target:
        value = select(envelope, parse_path(target["InputPath"]))
        return _dumps(None if value is _MISSING else value).encode()
    transformer = target.get("InputTransformer")
    if transformer is None:
        return _dumps(envelope).encode()
    values: dict[str, Any] = {
        key: select(envelope, parse_path(path))
        for key, path in (transformer.get("InputPathsMap") or {}).items()
    }
    values["aws.events.rule-arn"] = rule_arn
    values["aws.events.rule-name"] = rule_name
    values["aws.events.event.ingestion-time"] = ingestion_time
    values["aws.events.event.json"] = _Raw(_dumps(envelope))
    values["aws.events.event"] = _Raw(_dumps({k: v for k, v in envelope.items() if k != "detail"}))
    template: str = transformer["InputTemplate"]

    def fill(name: str, quoted: bool) -> str:
        value = values[name]
        if isinstance(value, _Raw):
            return value.text
        if value is _MISSING:
            return "" if quoted else "null"
        if isinstance(value, str):
            # inside a JSON string (or plain text): the characters; in JSON: a string
            return _dumps(value)[1:-1] if quoted else _dumps(value)
        return _dumps(value)

    stripped = template.lstrip()
    if stripped.startswith(("{", "[", '"')):
        return _fill(template, fill, set(values)).encode()
    # plain text: strings go in as they are
    return _fill(template, lambda n, q: fill(n, True), set(values)).encode()


@dataclass(frozen=True, slots=True)
class _Raw:
    """A value inserted as it is (the predefined whole-event variables)."""

    text: str


def _fill(template: str, fill: Callable[[str, bool], str], names: set[str]) -> str:
    """`template` with each known <name> replaced by `fill(name, inside a JSON string)`."""
    out: list[str] = []
    quoted = False
    pos = 0
    i = 0
    while i < len(template):
        ch = template[i]
        if ch == "\\" and quoted:
            i += 2
            continue
        if ch == '"':
            quoted = not quoted
        elif ch == "<":
            m = _PLACEHOLDER.match(template, i)
            if m is not None and m.group(1) in names:
                out.append(template[pos:i])
                out.append(fill(m.group(1), quoted))
                pos = i = m.end()
                continue
        i += 1
    out.append(template[pos:])
    return "".join(out)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
