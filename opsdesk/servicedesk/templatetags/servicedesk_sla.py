"""{% load servicedesk_sla %}{% sla_badge ticket %}: the ticket's SLA badge (time left in the
reader's language, "paused", "breached 35 min ago"), coloured; `notice=True` adds the line that
says the count used plain weekday hours for days the calendar does not know."""

from __future__ import annotations

from django import template
from django.utils import timezone

from opsdesk.servicedesk.sla.summary import sla_summary

register = template.Library()


@register.inclusion_tag("servicedesk/sla/badge.html")
def sla_badge(ticket, notice: bool = False) -> dict:
    return {"sla": sla_summary(ticket, timezone.now()), "show_notice": notice}
