"""One package per AWS service Garrison serves.

Every package has the same files: `provider.py` (wire-shaped request dict ->
use case -> response dict), `service.py` (the use cases), `domain.py` (frozen
dataclasses and state machines), `store.py` (persistence through
`garrison.storage.sql`), and whatever else the service needs. A service never
imports the protocol layer, HTTP, SQLAlchemy or `cryptography`. `common/` is
not a service: it holds the few helpers every provider and store shares.
"""
