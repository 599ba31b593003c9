"""What every service package shares: not a service, the small helpers their files repeat.

- `handlers`: the provider's handler table, with the request-member guard every
  provider applies (a member the pinned model has but the provider does not
  handle is refused by name, never dropped).
- `rows`: store helpers over `garrison.storage.sql` (timestamps, keyset pages,
  existence and count queries).
"""
