from opsdesk.core.models.credentials import Credential
from opsdesk.core.models.customers import (
    Contact,
    Contract,
    Customer,
    FaultLevel,
    ServiceLevel,
    ServiceLevelTarget,
    Site,
)
from opsdesk.core.models.heartbeat import Heartbeat
from opsdesk.core.models.people import Role, Team, User
from opsdesk.core.models.tokens import ApiToken

__all__ = [
    "ApiToken",
    "Contact",
    "Contract",
    "Credential",
    "Customer",
    "FaultLevel",
    "Heartbeat",
    "Role",
    "ServiceLevel",
    "ServiceLevelTarget",
    "Site",
    "Team",
    "User",
]
