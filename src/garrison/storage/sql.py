"""The query-building vocabulary services may use in their store.py.

Re-exported here so that SQLAlchemy stays an implementation detail of
`garrison.storage`: a service never imports sqlalchemy itself.
"""

from sqlalchemy import and_, bindparam, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

__all__ = [
    "IntegrityError",
    "and_",
    "bindparam",
    "delete",
    "func",
    "insert",
    "or_",
    "select",
    "update",
]
