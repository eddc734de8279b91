"""Tickets from customers' chat groups (DingTalk, Feishu / Lark, WeCom): the bots opsdesk listens
to, the groups they are in, each message received (exactly once), and the messages opsdesk sends
back to a group through the vendor's own API (ChatOutbox; replies through a group robot go through
notify's delivery instead).

Secrets (app secrets, verification tokens, encrypt keys, EncodingAESKeys) live in
`ChatIntegration.secrets_encrypted` only, as one Fernet token of a JSON object; a DingTalk
session webhook or a WeCom response URL (each lets anyone who has it post into the group) is kept
encrypted on its message the same way."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from opsdesk.core.models.base import TimestampedModel


class ChatKind(models.TextChoices):
    DINGTALK = "dingtalk", _("DingTalk")
    FEISHU = "feishu", _("Feishu / Lark")
    WECOM = "wecom", _("WeCom")


class ChatIntegration(TimestampedModel):
    """One bot (a DingTalk robot of an internal app, a Feishu app with its bot, a WeCom smart
    robot) whose callbacks opsdesk receives at its own URL: /api/servicedesk/chat/<kind>/<url_token>/."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("type"), max_length=10, choices=ChatKind.choices)
    customer = models.ForeignKey(
        "core.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("default customer"),
        help_text=_("A group seen for the first time belongs to this customer. Empty: new groups wait until "
                    "staff choose their customer."))
    # Settings that are not secret (app id, API address, receiver id); checked per kind by the services.
    config = models.JSONField(_("settings"), default=dict, blank=True)
    secrets_encrypted = models.TextField(editable=False, blank=True)
    # The secret part of the callback URL: who does not know it reaches nothing.
    url_token = models.CharField(_("callback URL token"), max_length=64, unique=True, editable=False,
                                 help_text=_("The callback URL is /api/servicedesk/chat/<type>/<this token>/."))
    language = models.CharField(_("language"), max_length=10, default="zh-hans",
                                choices=[("en", "English"), ("zh-hans", "简体中文")],
                                help_text=_("The language of new groups' tickets and of what the bot says."))
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("chat integration")
        verbose_name_plural = _("chat integrations")

    def __str__(self) -> str:
        return self.name


class ChatGroup(TimestampedModel):
    """A group chat a bot was @-mentioned in. A group belongs to one customer; a group the bot has
    never seen (and whose integration names no default customer) is "unassigned": its messages
    are kept and wait, and become a ticket when staff assign the group to a customer."""

    integration = models.ForeignKey(ChatIntegration, on_delete=models.CASCADE, related_name="groups",
                                    verbose_name=_("chat integration"))
    conversation_id = models.CharField(_("conversation id"), max_length=200, editable=False)
    title = models.CharField(_("group name"), max_length=300, blank=True)
    customer = models.ForeignKey("core.Customer", on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+", verbose_name=_("customer"), editable=False)
    # The ticket new messages of the group are added to while it is open; written by the intake.
    open_ticket = models.ForeignKey("servicedesk.Ticket", on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="+", verbose_name=_("open ticket"), editable=False)
    notify_channel = models.ForeignKey(
        "notify.Channel", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("group robot"),
        help_text=_("A DingTalk or WeCom group robot of this group (a notification channel): the desk's replies "
                    "go through it when the bot itself can no longer post into the group."))
    language = models.CharField(_("language"), max_length=10, default="zh-hans",
                                choices=[("en", "English"), ("zh-hans", "简体中文")])

    class Meta:
        ordering = ["integration", "title"]
        constraints = [models.UniqueConstraint(fields=["integration", "conversation_id"], name="unique_chat_group")]
        verbose_name = _("chat group")
        verbose_name_plural = _("chat groups")

    def __str__(self) -> str:
        return self.title or self.conversation_id

    def clean(self) -> None:
        errors = {}
        if self.notify_channel_id and self.notify_channel.kind != self.integration.kind:
            errors["notify_channel"] = _("Choose a group robot of the same type as the integration.")
        if self.notify_channel_id and self.notify_channel.customer_id not in (None, self.customer_id):
            errors["notify_channel"] = _("This channel belongs to another customer.")
        if errors:
            raise ValidationError(errors)


class MessageState(models.TextChoices):
    TICKETED = "ticketed", _("On a ticket")
    HELD = "held", _("Waiting for the group's customer")
    IGNORED = "ignored", _("Ignored")


class ChatMessage(models.Model):
    """One message a vendor delivered. (integration, vendor_message_id) is unique: vendors retry
    callbacks, and the same message delivered twice is written once."""

    integration = models.ForeignKey(ChatIntegration, on_delete=models.CASCADE, related_name="messages",
                                    verbose_name=_("chat integration"))
    group = models.ForeignKey(ChatGroup, on_delete=models.CASCADE, null=True, blank=True, related_name="messages",
                              verbose_name=_("chat group"))
    vendor_message_id = models.CharField(_("message id"), max_length=200)
    sender_id = models.CharField(_("sender id"), max_length=200, blank=True)
    sender_name = models.CharField(_("sender"), max_length=200, blank=True)
    text = models.TextField(_("text"), blank=True)
    state = models.CharField(_("state"), max_length=10, choices=MessageState.choices)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    ticket = models.ForeignKey("servicedesk.Ticket", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+", verbose_name=_("ticket"))
    entry = models.ForeignKey("servicedesk.TicketEntry", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="+", verbose_name=_("ticket entry"))
    # DingTalk signs only the timestamp: a signature seen before on another message is a replay.
    signature = models.CharField(max_length=200, blank=True, editable=False)
    # Where the bot can answer this message: DingTalk's session webhook, WeCom's response URL
    # (encrypted: either lets anyone post into the group), and until when.
    reply_url_encrypted = models.TextField(blank=True, editable=False)
    reply_url_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    reply_url_used = models.BooleanField(default=False, editable=False)
    received_at = models.DateTimeField(_("received"), default=timezone.now)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["integration", "vendor_message_id"],
                                               name="unique_chat_message")]
        indexes = [models.Index(fields=["integration", "signature"], name="chat_message_signature",
                                condition=~models.Q(signature=""))]
        verbose_name = _("chat message")
        verbose_name_plural = _("chat messages")

    def __str__(self) -> str:
        return self.text[:60] or self.vendor_message_id


class OutboxState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENDING = "sending", _("Sending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class ChatOutbox(models.Model):
    """A message to a group through the vendor's own API (the acknowledgement of a message, the
    desk's reply): a row written with its cause, sent after the commit under a lease, retried
    with a backoff, and found again by the sweep when a worker died holding it."""

    key = models.CharField(_("key"), max_length=120, unique=True, editable=False)
    group = models.ForeignKey(ChatGroup, on_delete=models.CASCADE, related_name="outbox",
                              verbose_name=_("chat group"), editable=False)
    # The message answered: its session webhook / response URL / message id is the address.
    message = models.ForeignKey(ChatMessage, on_delete=models.CASCADE, related_name="+",
                                verbose_name=_("answering"), editable=False)
    ticket = models.ForeignKey("servicedesk.Ticket", on_delete=models.SET_NULL, null=True, blank=True,
                               related_name="+", verbose_name=_("ticket"), editable=False)
    text = models.TextField(_("text"), editable=False)
    state = models.CharField(_("state"), max_length=10, choices=OutboxState.choices, default=OutboxState.PENDING,
                             editable=False)
    attempts = models.PositiveIntegerField(_("attempts"), default=0, editable=False)
    due_at = models.DateTimeField(_("due"), default=timezone.now, editable=False)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True, editable=False)
    last_error = models.CharField(_("last error"), max_length=500, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "due_at"], name="chat_outbox_due")]
        verbose_name = _("chat message sent")
        verbose_name_plural = _("chat messages sent")

    def __str__(self) -> str:
        return self.text[:60]
