"""`garrison` command line.

    garrison init      [--data-dir DIR] [--database-url URL]
    garrison server    [--host H] [--port P] [--dev] [--data-dir DIR] [--database-url URL] ...
    garrison operator  init --shares N --threshold K | unseal --endpoint URL | rotate
    garrison audit     verify [--public-key FILE] | public-key
    garrison events    dead-letters [--account ID] [--region R] [--json]
    garrison exec      --path /prod/app/ [--env VAR=ssm:/name[:version]] ... -- CMD ARGS...
                       [--env VAR=secretsmanager:secret-id[:json-key]] ...
    garrison render    TEMPLATE

Every setting has one name: the flag `--some-flag`, the environment variable
`GARRISON_SOME_FLAG`, and `some_flag` in the TOML file given with `--config`.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from typing import Any

from garrison.config import Settings, load_settings


def _add_settings(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="a TOML file of settings (GARRISON_CONFIG)")
    for f in fields(Settings):
        if f.name == "explicit":
            continue
        flag = "--" + f.name.replace("_", "-")
        default = getattr(Settings(), f.name)
        env = "GARRISON_" + f.name.upper()
        if isinstance(default, bool):
            parser.add_argument(
                flag, dest=f.name, action="store_const", const=True, default=None, help=f"({env})"
            )
        else:
            parser.add_argument(
                flag, dest=f.name, default=None, help=f"default {default!r} ({env})"
            )


def _settings(args: argparse.Namespace) -> Settings:
    flags = {f.name: getattr(args, f.name, None) for f in fields(Settings) if f.name != "explicit"}
    return load_settings(flags, config_file=getattr(args, "config", None))


def _add_client_options(parser: argparse.ArgumentParser) -> None:
    """How an AWS client finds its endpoint, credentials and region (botocore's rules)."""
    parser.add_argument("--profile", help="a profile of the AWS config files (AWS_PROFILE)")
    parser.add_argument("--region", help="the region (AWS_REGION, AWS_DEFAULT_REGION, profile)")
    parser.add_argument(
        "--endpoint-url",
        help="the server's URL (AWS_ENDPOINT_URL_SSM or AWS_ENDPOINT_URL_SECRETS_MANAGER, "
        "AWS_ENDPOINT_URL, profile)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="garrison", description="AWS security services, self-hosted."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _add_settings(
        sub.add_parser("init", help="create the store, the first account and its root credentials")
    )
    _add_settings(sub.add_parser("server", help="run the API server"))

    operator = sub.add_parser("operator", help="sealing, unsealing and keyring rotation")
    op_sub = operator.add_subparsers(dest="operator_command", required=True)
    op_init = op_sub.add_parser(
        "init", help="create a store whose root key is split into Shamir shares"
    )
    op_init.add_argument("--shares", type=int, default=5, help="how many shares to print (5)")
    op_init.add_argument(
        "--threshold", type=int, default=3, help="how many shares unseal the server (3)"
    )
    _add_settings(op_init)
    unseal = op_sub.add_parser(
        "unseal", help="give a sealed server its key shares (prompted, or one per line on stdin)"
    )
    unseal.add_argument(
        "--endpoint", required=True, help="the server's URL, e.g. http://127.0.0.1:4600"
    )
    unseal.add_argument("--reset", action="store_true", help="forget shares given so far")
    rotate = op_sub.add_parser("rotate", help="add a keyring term; new values are sealed under it")
    _add_settings(rotate)

    audit = sub.add_parser("audit", help="the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chains and signed heads")
    verify.add_argument("--public-key", help="a PEM file exported earlier (else the store's own)")
    _add_settings(verify)
    _add_settings(audit_sub.add_parser("public-key", help="print the trail's verifying key (PEM)"))

    events = sub.add_parser("events", help="the event bus")
    events_sub = events.add_subparsers(dest="events_command", required=True)
    dead = events_sub.add_parser("dead-letters", help="list the deliveries given up on")
    dead.add_argument("--account", help="one account's only")
    dead.add_argument("--region", help="one Region's only")
    dead.add_argument("--json", action="store_true", help="JSON, with each payload")
    dead.add_argument("--limit", type=int, default=1000, help="at most this many (1000)")
    _add_settings(dead)

    exec_ = sub.add_parser(
        "exec",
        help="run a command with parameters as environment variables",
        usage="garrison exec [--path PATH] [--env VAR=ssm:NAME[:VERSION|:LABEL]] ... -- CMD ...",
    )
    exec_.add_argument(
        "--path",
        action="append",
        default=[],
        help="every parameter under PATH (recursively): /prod/app/db/password -> DB_PASSWORD",
    )
    exec_.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="VAR=ssm:NAME[:VERSION|:LABEL]",
        help="one variable from one parameter, or from a Secrets Manager secret: "
        "VAR=secretsmanager:SECRET-ID[:JSON-KEY[:VERSION-STAGE[:VERSION-ID]]]",
    )
    _add_client_options(exec_)
    exec_.add_argument("argv", nargs=argparse.REMAINDER, metavar="CMD", help="-- CMD ARGS...")

    render = sub.add_parser(
        "render",
        help="resolve {{resolve:ssm:...}}, {{resolve:ssm-secure:...}} and "
        "{{resolve:secretsmanager:...}} to stdout",
    )
    render.add_argument("template", help="the file to render (- for standard input)")
    _add_client_options(render)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from garrison.cli import commands

    handlers: dict[str, Any] = {
        "init": commands.init,
        "server": commands.server,
    }
    if args.command in handlers:
        return int(handlers[args.command](_settings(args)))
    if args.command in ("exec", "render"):
        return _client_command(args)
    if args.command == "operator":
        if args.operator_command == "unseal":
            return commands.operator_unseal(args.endpoint, args.reset)
        settings = _settings(args)
        if args.operator_command == "init":
            return commands.operator_init(settings, args.shares, args.threshold)
        return commands.operator_rotate(settings)
    if args.command == "events":
        from garrison.cli.dead_letters import dead_letters

        return dead_letters(_settings(args), args.account, args.region, args.json, args.limit)
    settings = _settings(args)
    if args.audit_command == "verify":
        return commands.audit_verify(settings, args.public_key)
    return commands.audit_public_key(settings)


def _client_command(args: argparse.Namespace) -> int:
    from garrison.cli.resolvers import ClientOptions

    options = ClientOptions(
        profile=args.profile, region=args.region, endpoint_url=args.endpoint_url
    )
    if args.command == "render":
        from garrison.cli.render import render

        return render(args.template, options)
    from garrison.cli.exec_env import run

    return run(args.path, args.env, args.argv, options)


if __name__ == "__main__":
    sys.exit(main())
