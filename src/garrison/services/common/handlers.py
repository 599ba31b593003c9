"""A provider's handler table, each handler guarded by the request members it honours.

Every provider keeps a table `HANDLED` (operation -> the request members it
implements, all of the pinned model's). A member a newer model adds and the
table does not know is refused with UnsupportedOperationException naming it,
never silently dropped; `guarded_handlers` applies that check in one place.

A provider may add, in the same single wrapper (one call layer per request, not
one per concern): a check that runs before everything (`before`, KMS's request
quotas) and checks of a member's value where the operation has that member
(`member_checks`, KMS's grant tokens).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from garrison.api import Call, Handler, Request, Response
from garrison.errors import UnsupportedOperationException

HandlerFn = Callable[[Call, Request], Response | None]
# A check of a whole call, before its handler runs (raises the AwsError refusing it)
CallCheck = Callable[[Call, Request], None]
# A check of one request member's value, when the request has the member
MemberCheck = Callable[[Any], None]


def guarded_handlers(
    handlers: Mapping[str, HandlerFn],
    handled: Mapping[str, frozenset[str]],
    hide_response: Callable[[str], bool] | None = None,
    *,
    before: Callable[[str], CallCheck | None] | None = None,
    member_checks: Mapping[str, MemberCheck] | None = None,
) -> dict[str, Handler]:
    """`handlers`, each refusing request members not in `handled[operation]`.

    `hide_response(operation)` true: the call's audit event records no
    responseElements (CloudTrail's rule for some services' read-only calls).
    `before(operation)`: a check run first, before the members are looked at
    (None: none for that operation). `member_checks`: member -> a check of its
    value, run after the member check for the operations that have the member.
    """
    guarded: dict[str, Handler] = {}
    for name, fn in handlers.items():
        members = handled[name]
        checks = tuple(
            (member, check) for member, check in (member_checks or {}).items() if member in members
        )
        guarded[name] = _guard(
            name,
            fn,
            members,
            hide_response is not None and hide_response(name),
            before(name) if before is not None else None,
            checks,
        )
    return guarded


def _guard(
    name: str,
    fn: HandlerFn,
    handled: frozenset[str],
    hide: bool,
    before: CallCheck | None,
    checks: tuple[tuple[str, MemberCheck], ...],
) -> Handler:
    # One wrapper for every concern, and the member test in C (`issuperset`): KMS
    # had three nested wrappers per call (quota, grant tokens, members).
    def handler(call: Call, request: Request) -> Response | None:
        if before is not None:
            before(call, request)
        if not handled.issuperset(request):
            raise _unsupported(name, handled, request)
        if hide:
            call.hide_response = True
        for member, check in checks:
            value = request.get(member)
            if value is not None:
                check(value)
        return fn(call, request)

    return handler


def _unsupported(
    name: str, handled: frozenset[str], request: Request
) -> UnsupportedOperationException:
    member = next(m for m in request if m not in handled)
    return UnsupportedOperationException(
        f"The {member} parameter of {name} is not supported by this Garrison release."
    )
