"""CloudTrail's authorisation table (AWS's Service Authorization Reference for ``cloudtrail:``).

Only LookupEvents is served; it reads the caller's account's trail, so it is
authorised like any other read: an IAM user needs a policy allowing it.
"""

from __future__ import annotations

from garrison.iam.actions import OperationAuth, table

ACTIONS: dict[str, OperationAuth] = table("cloudtrail", {"LookupEvents": ()})
