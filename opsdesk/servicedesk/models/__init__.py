from opsdesk.servicedesk.models.alert_policy import AlertTicketPolicy  # noqa: F401
from opsdesk.servicedesk.models.calendars import BusinessCalendar, CalendarDay, DayKind  # noqa: F401
from opsdesk.servicedesk.models.chat import ChatGroup, ChatIntegration, ChatKind, ChatMessage, ChatOutbox  # noqa: F401
from opsdesk.servicedesk.models.mail import (  # noqa: F401
    CustomerMailDomain,
    InboundMail,
    MailChannel,
    MailInstance,
    OutgoingMail,
)
from opsdesk.servicedesk.models.sla import ClockKind, SLAClock, SLAPolicy  # noqa: F401
from opsdesk.servicedesk.models.surveys import SurveyResponse  # noqa: F401
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
from opsdesk.servicedesk.models.webhooks import TicketWebhook  # noqa: F401
