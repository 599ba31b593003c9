"""The audit trail: CloudTrail-format events, hash-chained, signed, queryable.

`event` builds an event from a finished call (redacted: no plaintext, secret or
key material ever enters it); `trail` appends it to this node's chain inside the
same transaction as the state change it records and signs the chain head with
every batch; `verify` walks every chain and names the first event that was
altered, removed or reordered, or the missing tail.
"""
