"""Tickets and what hangs on them: the timeline (replies, notes, events), attachments, links,
work log, and the configuration around them (categories, the priority matrix, macros).

The ticket's state, priority, assignee and SLA columns are written by the actions in
opsdesk.servicedesk.services only (the generic edit shows them read-only)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from opsdesk.core.models.base import TimestampedModel


class TicketType(models.TextChoices):
    INCIDENT = "incident", _("Incident")
    REQUEST = "request", _("Service request")
    QUESTION = "question", _("Question")


class TicketStatus(models.TextChoices):
    NEW = "new", pgettext_lazy("ticket status", "New")
    ASSIGNED = "assigned", pgettext_lazy("ticket status", "Assigned")
    IN_PROGRESS = "in_progress", pgettext_lazy("ticket status", "In progress")
    WAITING_CUSTOMER = "waiting_customer", pgettext_lazy("ticket status", "Waiting for customer")
    WAITING_THIRD_PARTY = "waiting_third_party", pgettext_lazy("ticket status", "Waiting for third party")
    RESOLVED = "resolved", pgettext_lazy("ticket status", "Resolved")
    CLOSED = "closed", pgettext_lazy("ticket status", "Closed")


OPEN_STATUSES = frozenset({TicketStatus.NEW, TicketStatus.ASSIGNED, TicketStatus.IN_PROGRESS,
                           TicketStatus.WAITING_CUSTOMER, TicketStatus.WAITING_THIRD_PARTY})
# Statuses that stop the SLA clocks while the ticket waits on the customer.
PAUSED_STATUSES = frozenset({TicketStatus.WAITING_CUSTOMER})


class Impact(models.TextChoices):
    HIGH = "high", pgettext_lazy("impact", "High: business interrupted")
    MEDIUM = "medium", pgettext_lazy("impact", "Medium: part of the functions affected")
    LOW = "low", pgettext_lazy("impact", "Low: no core impact")


class Urgency(models.TextChoices):
    HIGH = "high", pgettext_lazy("urgency", "High")
    MEDIUM = "medium", pgettext_lazy("urgency", "Medium")
    LOW = "low", pgettext_lazy("urgency", "Low")


class Priority(models.TextChoices):
    # The seed's fault levels (严重 / 一般 / 轻微) plus questions; "p1" sorts before "p4".
    P1 = "p1", pgettext_lazy("ticket priority", "P1 Severe")
    P2 = "p2", pgettext_lazy("ticket priority", "P2 General")
    P3 = "p3", pgettext_lazy("ticket priority", "P3 Minor")
    P4 = "p4", pgettext_lazy("ticket priority", "P4 Consultation")


# The contract's fault level (core.FaultLevel) whose response and resolution targets apply.
FAULT_LEVEL_OF_PRIORITY = {"p1": "severe", "p2": "general", "p3": "minor", "p4": "minor"}


class TicketChannel(models.TextChoices):
    PORTAL = "portal", _("Portal")
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")
    WEB = "web", _("Service desk")
    API = "api", _("API")
    ALERT = "alert", _("Alert")
    CHAT = "chat", _("Chat group")


class PriorityRule(models.Model):
    """One cell of the impact × urgency matrix (ITIL's): which priority a ticket gets."""

    impact = models.CharField(_("impact"), max_length=10, choices=Impact.choices)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices)
    priority = models.CharField(_("priority"), max_length=4, choices=Priority.choices)

    class Meta:
        ordering = ["impact", "urgency"]
        constraints = [models.UniqueConstraint(fields=["impact", "urgency"], name="unique_priority_cell")]
        verbose_name = _("priority rule")
        verbose_name_plural = _("priority matrix")

    def __str__(self) -> str:
        return f"{self.get_impact_display()} × {self.get_urgency_display()} → {self.get_priority_display()}"


class Category(TimestampedModel):
    """What a ticket is about (hardware fault, account request…). A category may ask for fields
    of its own on the portal (`form_fields`: a list of {name, label, type, required, choices})."""

    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children",
                               verbose_name=_("parent"))
    ticket_type = models.CharField(_("ticket type"), max_length=12, choices=TicketType.choices,
                                   default=TicketType.INCIDENT)
    default_team = models.ForeignKey("core.Team", on_delete=models.SET_NULL, null=True, blank=True,
                                     related_name="+", verbose_name=_("default team"))
    form_fields = models.JSONField(_("portal form fields"), default=list, blank=True)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["parent", "name"], name="unique_category_name")]
        verbose_name = _("category")
        verbose_name_plural = _("categories")

    def __str__(self) -> str:
        return f"{self.parent} / {self.name}" if self.parent_id else self.name


class Ticket(models.Model):
    customer = models.ForeignKey("core.Customer", on_delete=models.PROTECT, related_name="tickets",
                                 verbose_name=_("customer"))
    ticket_type = models.CharField(_("type"), max_length=12, choices=TicketType.choices,
                                   default=TicketType.INCIDENT)
    # "title" alone is a person's job title (职务) elsewhere.
    title = models.CharField(pgettext_lazy("ticket", "subject"), max_length=300)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets",
                                 verbose_name=_("category"))
    form_data = models.JSONField(_("form fields"), default=dict, blank=True)
    requester = models.ForeignKey("core.Contact", on_delete=models.SET_NULL, null=True, blank=True,
                                  related_name="tickets", verbose_name=_("requester"))
    requester_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="requested_tickets", verbose_name=_("requested by"))
    requester_email = models.EmailField(_("requester email"), blank=True)
    configuration_items = models.ManyToManyField("cmdb.ConfigurationItem", blank=True, related_name="tickets",
                                                 verbose_name=_("configuration items"))
    impact = models.CharField(_("impact"), max_length=10, choices=Impact.choices, default=Impact.MEDIUM)
    urgency = models.CharField(_("urgency"), max_length=10, choices=Urgency.choices, default=Urgency.MEDIUM)
    priority = models.CharField(_("priority"), max_length=4, choices=Priority.choices, default=Priority.P3,
                                editable=False)
    status = models.CharField(_("status"), max_length=20, choices=TicketStatus.choices, default=TicketStatus.NEW,
                              editable=False)
    team = models.ForeignKey("core.Team", on_delete=models.SET_NULL, null=True, blank=True, related_name="tickets",
                             verbose_name=_("team"), editable=False)
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                 related_name="assigned_tickets", verbose_name=_("assignee"), editable=False)
    watchers = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="watched_tickets",
                                      verbose_name=_("watchers"))
    channel = models.CharField(_("received by"), max_length=10, choices=TicketChannel.choices,
                               default=TicketChannel.WEB, editable=False)
    # The language replies and notices to the customer are written in.
    language = models.CharField(_("language"), max_length=10, default="zh-hans",
                                choices=[("en", "English"), ("zh-hans", "简体中文")])
    merged_into = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="merged_tickets", verbose_name=_("merged into"), editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True, editable=False)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True, editable=False)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True, editable=False)
    # The SLA, kept here for the queue (sorted by the nearest due date) and written by the SLA
    # engine only: the earliest due date of the running clocks, and the worst state of them.
    sla_due_at = models.DateTimeField(_("SLA due"), null=True, blank=True, editable=False)
    sla_state = models.CharField(_("SLA"), max_length=10, blank=True, editable=False, choices=[
        ("", _("No SLA")), ("running", _("Running")), ("warning", _("Warning")), ("breached", _("Breached")),
        ("paused", _("Paused")), ("met", _("Met"))])

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The queues: open tickets of a team / of a person / unassigned, nearest due first.
            # Partial: the open tickets only (the queues' own condition, so the planner can use
            # them), ordered by SLA due, and covering what the queues filter and count by (the
            # person's customers, unassigned, SLA state): a queue's page is an ordered index scan
            # and its count an index-only scan. INCLUDE is PostgreSQL's; SQLite gets plain indexes.
            models.Index(fields=["team", "sla_due_at"], name="ticket_team_due", include=["customer"],
                         condition=Q(status__in=sorted(OPEN_STATUSES))),
            models.Index(fields=["assignee", "sla_due_at"], name="ticket_assignee_due", include=["customer"],
                         condition=Q(status__in=sorted(OPEN_STATUSES))),
            models.Index(fields=["customer", "sla_due_at"], name="ticket_customer_due",
                         include=["assignee", "sla_state"], condition=Q(status__in=sorted(OPEN_STATUSES))),
            models.Index(fields=["customer", "-id"], name="ticket_customer"),
            models.Index(fields=["status", "sla_due_at"], name="ticket_status_due"),
        ]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")

    def __str__(self) -> str:
        return f"#{self.pk} {self.title}"

    @property
    def number(self) -> int:
        return self.pk

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class EntryKind(models.TextChoices):
    REPLY = "reply", _("Reply")
    NOTE = "note", _("Internal note")
    EVENT = "event", _("Event")


class TicketEntry(models.Model):
    """One item of a ticket's timeline: a reply (public: the customer sees it and is mailed it),
    an internal note, or an event (status, assignment, SLA, alert). Events carry `event` and
    `data` and are rendered by the timeline in the reader's language."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="entries", verbose_name=_("ticket"))
    kind = models.CharField(_("kind"), max_length=8, choices=EntryKind.choices)
    public = models.BooleanField(_("public"), default=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+", verbose_name=_("author"))
    # Who wrote it when no user did (an email from a contact, a chat member).
    author_name = models.CharField(_("from"), max_length=200, blank=True)
    author_email = models.EmailField(_("from address"), blank=True)
    body = models.TextField(_("text"), blank=True)
    event = models.CharField(_("event"), max_length=30, blank=True)
    data = models.JSONField(default=dict, blank=True)
    via = models.CharField(_("via"), max_length=10, choices=TicketChannel.choices, default=TicketChannel.WEB)
    # Email threading: our own Message-ID for what we send, the sender's for what arrives.
    message_id = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["ticket", "created_at"], name="entry_ticket_time"),
                   models.Index(fields=["message_id"], name="entry_message_id", condition=~Q(message_id=""))]
        verbose_name = _("ticket entry")
        verbose_name_plural = _("ticket entries")

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.get_kind_display()}"


def attachment_path(instance: Attachment, filename: str) -> str:
    # Stored by content hash under the ticket: the name a person gave is kept in `name`.
    return f"tickets/{instance.ticket_id}/{instance.sha256[:2]}/{instance.sha256}"


class Attachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("ticket"))
    entry = models.ForeignKey(TicketEntry, on_delete=models.CASCADE, null=True, blank=True,
                              related_name="attachments", verbose_name=_("entry"))
    file = models.FileField(upload_to=attachment_path, max_length=300)
    name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("uploaded by"))
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["ticket", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.name


class LinkKind(models.TextChoices):
    RELATES = "relates", _("relates to")
    DUPLICATES = "duplicates", _("duplicates")
    CAUSED_BY = "caused_by", _("caused by")
    BLOCKS = "blocks", _("blocks")


class TicketLink(models.Model):
    source = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_out", verbose_name=_("ticket"))
    target = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_in",
                               verbose_name=_("linked ticket"))
    kind = models.CharField(_("link"), max_length=12, choices=LinkKind.choices, default=LinkKind.RELATES)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["source", "id"]
        constraints = [models.UniqueConstraint(fields=["source", "target"], name="unique_ticket_link")]
        verbose_name = _("ticket link")
        verbose_name_plural = _("ticket links")

    def __str__(self) -> str:
        return f"#{self.source_id} {self.get_kind_display()} #{self.target_id}"


class WorkLog(models.Model):
    """Time spent on a ticket, for the contract's reports."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="work_logs", verbose_name=_("ticket"))
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                             verbose_name=_("engineer"))
    minutes = models.PositiveIntegerField(_("minutes"))
    date = models.DateField(_("date"))
    note = models.CharField(_("note"), max_length=300, blank=True)
    billable = models.BooleanField(_("billable"), default=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["-date", "-id"]
        verbose_name = _("work log")
        verbose_name_plural = _("work logs")

    def __str__(self) -> str:
        return f"#{self.ticket_id} {self.minutes} min"


class Macro(TimestampedModel):
    """A canned reply: text with variables ({{ ticket.number }}, {{ customer.name }},
    {{ requester.name }}, {{ agent.name }}), and optionally a status to set with it."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    body = models.TextField(_("text"))
    public = models.BooleanField(_("public reply"), default=True)
    set_status = models.CharField(_("then set status"), max_length=20, blank=True, choices=TicketStatus.choices)
    team = models.ForeignKey("core.Team", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                             verbose_name=_("team"), help_text=_("Empty: every team may use it."))

    class Meta:
        ordering = ["name"]
        verbose_name = _("macro")
        verbose_name_plural = _("macros")

    def __str__(self) -> str:
        return self.name


class SavedFilter(models.Model):
    """A queue filter a person kept (the query string of the ticket list)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+",
                             verbose_name=_("user"))
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(_("filter"), max_length=1000)

    class Meta:
        ordering = ["user", "name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="unique_saved_filter")]
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")

    def __str__(self) -> str:
        return self.name


class TicketAlert(models.Model):
    """An alert the ticket was opened for or linked to. One ticket per alert group: the alerts
    of one group (`group_key`) that fire while the ticket is open are added to it."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="alert_links", verbose_name=_("ticket"))
    alert = models.ForeignKey("monitoring.Alert", on_delete=models.CASCADE, related_name="ticket_links",
                              verbose_name=_("alert"))
    group_key = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["ticket", "id"]
        constraints = [models.UniqueConstraint(fields=["ticket", "alert"], name="unique_ticket_alert")]
        indexes = [models.Index(fields=["group_key"], name="ticket_alert_group")]
        verbose_name = _("linked alert")
        verbose_name_plural = _("linked alerts")

    def __str__(self) -> str:
        return f"#{self.ticket_id} ← {self.alert_id}"
