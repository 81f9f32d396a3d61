"""Imports every domain's models so `Base.metadata` is complete.

Alembic's autogenerate and the test schema need the whole metadata; each
domain adds one line here when it gains tables.
"""

from botskis.agents import models as agents_models
from botskis.analytics import models as analytics_models
from botskis.billing import models as billing_models
from botskis.credentials import models as credentials_models
from botskis.database.base import Base
from botskis.mail import models as mail_models
from botskis.notifications import models as notifications_models
from botskis.onboarding import models as onboarding_models
from botskis.realtime import models as realtime_models
from botskis.runs import models as runs_models
from botskis.users import models as users_models

__all__ = [
    "Base",
    "agents_models",
    "analytics_models",
    "billing_models",
    "credentials_models",
    "mail_models",
    "notifications_models",
    "onboarding_models",
    "realtime_models",
    "runs_models",
    "users_models",
]
