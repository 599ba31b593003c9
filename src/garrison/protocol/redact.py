"""What of a request or response may enter an audit event.

CloudTrail records request parameters and response elements with lowerCamelCase
names. Blobs (plaintext, ciphertext, key material) and every member the model
marks sensitive are left out entirely: the trail holds no secret, and no
ciphertext either, since AWS's trail does not.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.model import ListShape, MapShape, Shape, StructureShape


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


def _is_secret(shape: Shape) -> bool:
    return (
        shape.type_name == "blob"
        or bool(shape.serialization.get("sensitive"))
        or bool(getattr(shape, "metadata", {}).get("sensitive"))
    )


def audit_view(shape: Shape | None, value: Any) -> Any:
    """A JSON-able copy of `value` (shaped by `shape`) with secrets removed."""
    if shape is None or value is None:
        return None
    if _is_secret(shape):
        return None
    if isinstance(shape, StructureShape):
        if not isinstance(value, dict):
            return None
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            if name in value and value[name] is not None and not _is_secret(member):
                view = audit_view(member, value[name])
                if view is not None:
                    out[_camel(name)] = view
        return out
    if isinstance(shape, ListShape):
        return [audit_view(shape.member, v) for v in value] if isinstance(value, list) else None
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            return None
        return {str(k): audit_view(shape.value, v) for k, v in value.items()}
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return value
