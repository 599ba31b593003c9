"""`garrison exec`: run a command with parameters as environment variables.

    garrison exec --path /prod/app/ [--path ...] [--env VAR=ssm:/name[:version|:label]] ...
                  [--env VAR=secretsmanager:secret-id[:json-key[:stage[:version-id]]]] ...
                  -- CMD ARGS...

A `secretsmanager` binding reads the secret's SecretString (AWSCURRENT unless a
version stage or id is given) with GetSecretValue, or one key of it when the value
is a JSON object; a SecretBinary, a non-JSON value with a key named or a missing key
fail like any unreadable parameter.

Every parameter under each path (recursively, every page, SecureStrings decrypted)
becomes a variable named by `references.env_name_for`; each `--env` adds one
explicitly. Everything is fetched and checked before anything runs: an unreadable
parameter, a name that is not a valid variable (`/prod/app/1st` -> `1ST`) or two
sources for one variable (`/prod/app/db-host` and `/prod/app/db/host`, or a path and
an `--env`) fail with one line on stderr and exit code 1, and CMD never starts.
Parameters override variables inherited from garrison's own environment.

What is guaranteed about the values:
- they go from the HTTP response to `os.execvpe`'s environment in memory: no file,
  no temporary file, no pipe, no command line (visible in `ps`);
- garrison prints no value and configures no logging (botocore's wire logging stays
  off); error lines name references and parameter names only;
- while garrison holds them, its core-dump limit is 0 (restored just before exec, so
  CMD keeps the limit it was given);
- CMD replaces this process (`execvpe`): its exit code is the exit code, its signals
  are its own. If CMD cannot be run, exit 127 (not found) or 126 (not executable),
  as shells do.
What is not: the child's environment is readable by the same user and root
(`/proc/PID/environ`), and the child may pass it on to its own children or its logs.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress

from garrison.cli.references import (
    EnvBinding,
    ResolveError,
    env_name_for,
    is_valid_env_name,
    normalise_path,
    parse_env_binding,
)
from garrison.cli.resolvers import ClientOptions, Resolvers

EXIT_FAILED = 1
EXIT_NOT_EXECUTABLE = 126
EXIT_NOT_FOUND = 127


def _fail(message: str, code: int = EXIT_FAILED) -> int:
    sys.stderr.write(f"garrison exec: {message}\n")
    sys.stderr.flush()
    return code


@contextmanager
def _no_core_dumps() -> Iterator[None]:
    """Core-dump limit 0 while plaintext is in this process; the old limit restored after."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    try:
        old = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, old[1]))
    except (OSError, ValueError):  # pragma: no cover - the limit cannot be changed here
        yield
        return
    try:
        yield
    finally:
        with suppress(OSError, ValueError):
            resource.setrlimit(resource.RLIMIT_CORE, old)


def collect(paths: list[str], bindings: list[EnvBinding], resolvers: Resolvers) -> dict[str, str]:
    """The variables to add, every source fetched and checked; the first problem raises."""
    # variable -> where it comes from (a parameter name or `--env VAR=...`), for messages
    sources: dict[str, str] = {}
    values: dict[str, str] = {}

    def add(var: str, source: str, value: str) -> None:
        if var in sources:
            raise ResolveError(
                f"{source} and {sources[var]} both set {var}; "
                "rename one or use --env to choose explicitly"
            )
        sources[var] = source
        values[var] = value

    seen: set[str] = set()
    for given in paths:
        path = normalise_path(given)
        if path in seen:  # `--path /app --path /app/` is one path, not a clash with itself
            continue
        seen.add(path)
        for name, value in resolvers.ssm.under_path(path):
            var = env_name_for(path, name)
            if not is_valid_env_name(var):
                raise ResolveError(
                    f"{name} (under --path {given}) becomes {var!r}, which is not a valid "
                    "environment variable name; rename it or set it with --env"
                )
            add(var, name, value)
    for binding in bindings:
        add(binding.var, f"--env {binding.var}", resolvers.resolve(binding.reference))
    return values


def run(
    paths: list[str],
    env_specs: list[str],
    command: list[str],
    options: ClientOptions,
    environ: Mapping[str, str] | None = None,
) -> int:
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        return _fail("no command given: garrison exec --path /app/ -- CMD ARGS...")
    if not paths and not env_specs:
        return _fail("nothing to set: give --path and/or --env")
    # CMD inherits garrison's own environment, with the parameters added over it
    base = dict(os.environ if environ is None else environ)
    with _no_core_dumps():
        try:
            bindings = [parse_env_binding(spec) for spec in env_specs]
            for given in paths:
                normalise_path(given)
            added = collect(paths, bindings, Resolvers(options))
        except ResolveError as err:
            return _fail(str(err))
        child_env = {**base, **added}
        sys.stdout.flush()
        sys.stderr.flush()
    try:
        # no shell on purpose: CMD and its arguments are passed as given
        os.execvpe(command[0], command, child_env)  # noqa: S606
    except FileNotFoundError:
        return _fail(f"{command[0]}: command not found", EXIT_NOT_FOUND)
    except PermissionError:
        return _fail(f"{command[0]}: permission denied", EXIT_NOT_EXECUTABLE)
    except OSError as err:
        return _fail(f"{command[0]}: {err.strerror or 'cannot run'}", EXIT_NOT_EXECUTABLE)
    except ValueError:
        # an embedded NUL byte; the message would not name the value, but be sure
        return _fail("a value or argument contains a NUL byte and cannot be passed")
    return EXIT_FAILED  # pragma: no cover - execvpe does not return
