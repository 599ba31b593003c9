"""A provider's handler table, each handler guarded by the request members it honours.

Every provider keeps a table `HANDLED` (operation -> the request members it
implements, all of the pinned model's). A member a newer model adds and the
table does not know is refused with UnsupportedOperationException naming it,
never silently dropped; `guarded_handlers` applies that check in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from garrison.api import Call, Handler, Request, Response
from garrison.errors import UnsupportedOperationException

HandlerFn = Callable[[Call, Request], Response | None]


def guarded_handlers(
    handlers: Mapping[str, HandlerFn],
    handled: Mapping[str, frozenset[str]],
    hide_response: Callable[[str], bool] | None = None,
) -> dict[str, Handler]:
    """`handlers`, each refusing request members not in `handled[operation]`.

    `hide_response(operation)` true: the call's audit event records no
    responseElements (CloudTrail's rule for some services' read-only calls).
    """
    return {
        name: _guard(name, fn, handled[name], hide_response is not None and hide_response(name))
        for name, fn in handlers.items()
    }


def _guard(name: str, fn: HandlerFn, handled: frozenset[str], hide: bool) -> Handler:
    def handler(call: Call, request: Request) -> Response | None:
        for member in request:
            if member not in handled:
                raise UnsupportedOperationException(
                    f"The {member} parameter of {name} is not supported by this Garrison release."
                )
        if hide:
            call.hide_response = True
        return fn(call, request)

    return handler
