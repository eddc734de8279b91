"""Notify on-call in the registry: schedules (with their rotations, members and overrides as panels
on the schedule's page), escalation policies (with their steps), pages (read-only), the take-over
action, the menu links to "On call now" and "My on-call", and the on-call API route."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from opsdesk.core import panels, registry
from opsdesk.core.audit import register as audit
from opsdesk.core.permissions import STAFF
from opsdesk.core.registry import Action, DetailPanel, ModelEntry
from opsdesk.notify import escalation, oncall_services, tasks_oncall  # noqa: F401  (the tasks register themselves)
from opsdesk.notify.api.oncall import oncall_urls
from opsdesk.notify.models import (
    EscalationPolicy,
    EscalationStep,
    Override,
    Page,
    PageState,
    Rotation,
    RotationMember,
    Schedule,
)
from opsdesk.notify.oncall_services import policies_through, schedules_through
from opsdesk.notify.views.oncall_forms import OverrideForm, RotationForm, TakeOverForm
from opsdesk.notify.views.oncall_pages import schedule_detail_context

NOBODY: frozenset[str] = frozenset()


def _take_over(schedule: Schedule, *, actor, starts_at=None, ends_at=None, reason: str = "") -> Override:
    return oncall_services.take_over(schedule, actor=actor, starts_at=starts_at, ends_at=ends_at, reason=reason)


registry.register(ModelEntry(
    Schedule, tenant_path=None, menu="alerts", view_roles=STAFF, edit_roles=STAFF,
    roles={"import_calendar": STAFF},
    columns=["name", "team", "time_zone", "ical_url"], search_fields=["name", "description"],
    select_related=("team",), narrow=schedules_through("pk"), detail_template="notify/oncall_schedule_detail.html",
    detail_context=schedule_detail_context,
    actions=[Action("take_over", _("Take over"), _take_over, roles=STAFF, icon="bi-person-raised-hand",
                    form=TakeOverForm, style="outline-primary")],
))
registry.register(ModelEntry(
    Rotation, tenant_path=None, view_roles=STAFF, edit_roles=STAFF, form=RotationForm,
    columns=["name", "schedule", "layer", "kind", "starts_at", "handoff_time"], search_fields=["name"],
    select_related=("schedule",), narrow=schedules_through("schedule"),
))
registry.register(ModelEntry(
    RotationMember, tenant_path=None, view_roles=STAFF, edit_roles=STAFF, url_slug="rotationmembers",
    columns=["rotation", "user", "position"], select_related=("rotation", "rotation__schedule", "user"),
    narrow=schedules_through("rotation__schedule"),
))
registry.register(ModelEntry(
    Override, tenant_path=None, menu="alerts", view_roles=STAFF, edit_roles=STAFF, form=OverrideForm,
    create=oncall_services.create_override,
    columns=["schedule", "user", "starts_at", "ends_at", "reason", "created_by"], search_fields=["reason"],
    select_related=("schedule", "user", "created_by"), narrow=schedules_through("schedule"),
))
registry.register(ModelEntry(
    EscalationPolicy, tenant_path=None, menu="alerts", view_roles=STAFF, edit_roles=STAFF,
    columns=["name", "team", "repeat", "final_user"], search_fields=["name"],
    select_related=("team", "final_user"), prefetch_related=("customers", "channels"),
    narrow=policies_through("pk"),
))
registry.register(ModelEntry(
    EscalationStep, tenant_path=None, view_roles=STAFF, edit_roles=STAFF,
    columns=["policy", "position", "delay_minutes", "target", "schedule", "user", "team"],
    select_related=("policy", "schedule", "user", "team"), narrow=policies_through("policy"),
))
registry.register(ModelEntry(
    # Written by escalation only (monitoring opens, acknowledges and resolves them).
    Page, tenant_path="customer", tenant_optional=True, menu="alerts", view_roles=STAFF, edit_roles=NOBODY,
    roles={"acknowledge": STAFF},
    creatable=False, columns=["source", "customer", "policy", "state", "step", "round", "next_at", "created_at"],
    search_fields=["source"], select_related=("customer", "policy", "acknowledged_by"),
    actions=[Action("acknowledge", _("Acknowledge"), escalation.acknowledge, roles=STAFF, icon="bi-hand-thumbs-up",
                    style="primary", available=lambda page: page.state in (PageState.ACTIVE, PageState.EXHAUSTED))],
))

for _label in ("notify.Schedule", "notify.Rotation", "notify.RotationMember", "notify.Override",
               "notify.EscalationStep"):
    audit(_label)
audit("notify.EscalationPolicy", m2m=("customers", "channels"))


def _describe_rotation(rotation: Rotation) -> str:
    return f"{_('layer')} {rotation.layer} · {rotation.get_kind_display()} · {rotation.members.count()}"


registry.add_detail_panel(Schedule, DetailPanel(
    "rotations", _("Rotations (layers)"), panels.LIST_TEMPLATE, order=10,
    context=panels.related_list(Rotation, lambda request, s: s.rotations.order_by("-layer", "id"),
                                describe=_describe_rotation,
                                empty=_("No rotation yet: add one, then its members."),
                                add_label=_("Add rotation"), add_initial=lambda s: {"schedule": s})))
registry.add_detail_panel(Schedule, DetailPanel(
    "overrides", _("Overrides"), panels.LIST_TEMPLATE, order=20, column="right",
    context=panels.related_list(Override, lambda request, s: s.overrides.order_by("-starts_at"),
                                describe=lambda o: f"{o.starts_at:%Y-%m-%d %H:%M} – {o.ends_at:%Y-%m-%d %H:%M} UTC",
                                empty=_("No override: use “Take over” to cover someone's shift."),
                                add_label=_("Add override"), add_initial=lambda s: {"schedule": s})))
registry.add_detail_panel(Rotation, DetailPanel(
    "members", _("Members, in turn"), panels.LIST_TEMPLATE, order=10,
    context=panels.related_list(RotationMember, lambda request, r: r.members.select_related("user"),
                                describe=lambda m: f"#{m.position}", limit=50,
                                empty=_("No member yet: add the people who take turns."),
                                add_label=_("Add member"),
                                add_initial=lambda r: {"rotation": r, "position": r.members.count()})))
registry.add_detail_panel(EscalationPolicy, DetailPanel(
    "steps", _("Steps"), panels.LIST_TEMPLATE, order=10,
    context=panels.related_list(EscalationStep, lambda request, p: p.steps.order_by("position", "id"),
                                describe=lambda s: f"+{s.delay_minutes} min · {s.get_target_display()}",
                                empty=_("No step yet: add who is notified first."), add_label=_("Add step"),
                                add_initial=lambda p: {"policy": p, "position": p.steps.count()})))

registry.add_nav_link("alerts", "notify:oncall_now", _("On call now"), STAFF)
registry.add_nav_link("alerts", "notify:oncall_mine", _("My on-call"), STAFF)
registry.add_api_urls(oncall_urls())
