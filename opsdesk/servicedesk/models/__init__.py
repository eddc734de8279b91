from opsdesk.servicedesk.models.chat import ChatGroup, ChatIntegration, ChatKind, ChatMessage, ChatOutbox  # noqa: F401
from opsdesk.servicedesk.models.tickets import (  # noqa: F401
    Attachment,
    Category,
    Impact,
    Macro,
    Priority,
    PriorityRule,
    SavedFilter,
    Ticket,
    TicketAlert,
    TicketChannel,
    TicketEntry,
    TicketLink,
    TicketStatus,
    TicketType,
    Urgency,
    WorkLog,
)
