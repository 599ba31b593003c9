"""The rotation functions of a node, by Lambda function name, in this order:

1. built-in (`builtin.BUILTIN`), present in every account and Region;
2. configured Python callables: ``secretsmanager_rotation_functions`` =
   ``"name=module:function,other=module:function"``;
3. configured webhooks: ``secretsmanager_rotation_webhooks`` = ``"name=https://...,..."``;
4. installed packages' entry points in the group ``garrison.rotators`` (the entry
   point's name is the function name, its object the callable).

A callable is ``fn(event, client)`` (`RotationFunction`); it is imported when first
invoked, so a missing module fails that rotation (recorded as RotationFailed), not the
server's start.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from importlib.metadata import entry_points
from typing import Any, cast

from garrison.rotation.builtin import BUILTIN
from garrison.rotation.webhook import Webhook
from garrison.services.secretsmanager.rotation_functions import RotationClient, RotationFunction

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "garrison.rotators"


def parse_mapping(text: str) -> dict[str, str]:
    """``"a=x,b=y"`` -> {"a": "x", "b": "y"} (blank entries ignored)."""
    out: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, target = part.partition("=")
        if not sep or not name.strip() or not target.strip():
            raise ValueError(f"expected name=target, got {part.strip()!r}")
        out[name.strip()] = target.strip()
    return out


class _Lazy:
    """A ``module:function`` imported on first use."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._fn: RotationFunction | None = None

    def __call__(self, event: Mapping[str, str], client: RotationClient) -> None:
        if self._fn is None:
            module, _, attribute = self.target.partition(":")
            found: Any = importlib.import_module(module)
            for part in attribute.split("."):
                found = getattr(found, part)
            self._fn = cast(RotationFunction, found)
        self._fn(event, client)


class Functions:
    def __init__(self, callables: str = "", webhooks: str = "") -> None:
        self._functions: dict[str, RotationFunction] = dict(BUILTIN)
        for name, target in parse_mapping(callables).items():
            self._functions[name] = _Lazy(target)
        for name, url in parse_mapping(webhooks).items():
            self._functions[name] = Webhook(url)
        self._entry_points: dict[str, Any] = {}
        try:
            for ep in entry_points(group=ENTRY_POINT_GROUP):
                self._entry_points.setdefault(ep.name, ep)
        except Exception:  # a broken installed distribution must not stop the server
            log.exception("could not list the %s entry points", ENTRY_POINT_GROUP)

    def function(self, name: str) -> RotationFunction | None:
        found = self._functions.get(name)
        if found is not None:
            return found
        ep = self._entry_points.get(name)
        if ep is None:
            return None
        loaded = cast(RotationFunction, ep.load())
        self._functions[name] = loaded
        return loaded
