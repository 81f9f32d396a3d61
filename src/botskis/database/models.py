"""Imports every domain's models so `Base.metadata` is complete.

Alembic's autogenerate and the test schema need the whole metadata; each
domain adds one line here when it gains tables.
"""

from botskis.database.base import Base
from botskis.users import models as users_models

__all__ = ["Base", "users_models"]
