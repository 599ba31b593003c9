"""`garrison render TEMPLATE`: CloudFormation's dynamic references resolved, to stdout.

Every reference in the file is parsed first (a malformed or unsupported one fails
before any call), then each distinct reference is resolved once, and only when all
of them resolved is the result written, in one write: a failure leaves stdout empty
and prints one line on stderr naming the reference. The template is read as UTF-8;
`-` reads standard input.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from garrison.cli.references import ResolveError, find_dynamic_references, substitute
from garrison.cli.resolvers import ClientOptions, Resolvers

EXIT_FAILED = 1


def _fail(message: str) -> int:
    sys.stderr.write(f"garrison render: {message}\n")
    sys.stderr.flush()
    return EXIT_FAILED


def _read(template: str) -> str:
    try:
        data = sys.stdin.buffer.read() if template == "-" else Path(template).read_bytes()
    except OSError as err:
        raise ResolveError(f"{template}: {err.strerror or err}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ResolveError(f"{template}: not UTF-8 text") from None


def render(template: str, options: ClientOptions) -> int:
    try:
        text = _read(template)
        occurrences = find_dynamic_references(text)
        resolvers = Resolvers(options)
        values = resolvers.resolve_all([o.reference for o in occurrences])
        rendered = substitute(text, occurrences, values).encode("utf-8")
    except ResolveError as err:
        return _fail(str(err))
    try:
        out = sys.stdout.buffer
        out.write(rendered)
        out.flush()
    except BrokenPipeError:  # `garrison render t | head`: the reader left
        # keep Python's exit-time flush of stdout from complaining about the closed pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED
    return 0
