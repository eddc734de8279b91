from opsdesk.notify.models.channels import Channel, ContactKind, ContactMethod
from opsdesk.notify.models.deliveries import DeliveryAttempt, Notification, NotificationState
from opsdesk.notify.models.oncall import (
    EscalationPolicy,
    EscalationStep,
    Override,
    Page,
    PageState,
    Rotation,
    RotationKind,
    RotationMember,
    Schedule,
    StepTarget,
)

__all__ = [
    "Channel", "ContactKind", "ContactMethod", "DeliveryAttempt", "EscalationPolicy", "EscalationStep",
    "Notification", "NotificationState", "Override", "Page", "PageState", "Rotation", "RotationKind",
    "RotationMember", "Schedule", "StepTarget",
]
