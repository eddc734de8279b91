"""The engineers' pages: the queue (tabs, saved filters, bulk assign) and the ticket page (the
conversation, the composer with macros and attachments, the CI panel, the SLA)."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Replace
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views import View

from opsdesk.core.generic.forms import apply_errors
from opsdesk.core.models import Team, User
from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for
from opsdesk.core.views.generic import EntryMixin, ObjectDetailView, ObjectListView
from opsdesk.servicedesk import services
from opsdesk.servicedesk.desk import badges, queues, ticket_page
from opsdesk.servicedesk.models import SavedFilter, Ticket


class TicketQueueView(ObjectListView):
    """The ticket list as queues: a tab is a filter on top of the person's scope and the
    filter form, nearest SLA due first."""

    template_name = "servicedesk/desk/queue.html"
    partial_template_name = "servicedesk/desk/_queue_table.html"

    def queue(self) -> queues.Queue:
        default = queues.DEFAULT if self.request.user.is_staff_role else "all"
        return queues.selected(self.request.GET.get("queue", default))

    def base_queryset(self):
        return self.queue().filter(self.request.user, super().base_queryset())

    def rows(self, columns, objects) -> list:
        from django.utils import timezone

        return [(row["ticket"], row) for row in badges.rows(objects, timezone.now())]

    def context(self, **extra) -> dict:
        context = super().context(**extra)
        user = self.request.user
        if "page" not in extra:
            return context
        current = self.queue()
        counts = queues.counts(user, EntryMixin.base_queryset(self))
        tabs = []
        for queue in queues.QUEUES:
            if queue.key in ("mine", "team", "unassigned", "breaching") and not user.is_staff_role:
                continue  # the desk's own queues (a customer's place is the portal's list)
            tabs.append({"queue": queue, "count": counts.get(queue.key), "active": queue.key == current.key,
                         "url": f"{self.request.path}?{urlencode({'queue': queue.key})}"})
        context.update(tabs=tabs, queue=current, saved_filters=SavedFilter.objects.filter(user=user),
                       bulk_form=BulkAssignForm(user=user) if can(user, "assign", Ticket) else None)
        return context


class BulkAssignForm(forms.Form):
    assignee = forms.ModelChoiceField(label=gettext_lazy("assignee"), required=False, queryset=User.objects.none())
    team = forms.ModelChoiceField(label=gettext_lazy("team"), required=False, queryset=Team.objects.none())

    def __init__(self, *args, user=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        from opsdesk.servicedesk.registrations import colleagues

        self.fields["assignee"].queryset, self.fields["team"].queryset = colleagues(user)
        self.fields["assignee"].empty_label = gettext_lazy("Assignee…")
        self.fields["team"].empty_label = gettext_lazy("Team…")
        for field in self.fields.values():
            # Inline under the table: as wide as their choices, named for screen readers.
            field.widget.attrs.update({"class": "form-select form-select-sm w-auto", "aria-label": field.label})


class BulkAssignView(EntryMixin, View):
    """Assign the selected tickets, all or none: one refusal (a person who does not serve a
    customer) leaves every ticket as it was and says which."""

    def post(self, request):
        self.require("assign", Ticket)
        form = BulkAssignForm(request.POST, user=request.user)
        back = self.next_url(reverse("servicedesk:ticket_list"))
        ids = [int(pk) for pk in request.POST.getlist("pk") if pk.isdigit()]
        tickets = list(self.base_queryset().filter(pk__in=ids))
        if not tickets or not form.is_valid():
            messages.error(request, _("Select tickets and a person or a team."))
            return HttpResponseRedirect(back)
        try:
            with transaction.atomic():
                for ticket in tickets:
                    services.assign(ticket, actor=request.user, assignee=form.cleaned_data["assignee"],
                                    team=form.cleaned_data["team"])
        except (ValidationError, PermissionDenied) as exc:
            text = "; ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
            messages.error(request, _("Nothing was assigned: #%(number)s: %(error)s")
                           % {"number": ticket.pk, "error": text})
        else:
            messages.success(request, _("%(count)d tickets assigned.") % {"count": len(tickets)})
        return HttpResponseRedirect(back)


class SaveFilterView(EntryMixin, View):
    """Keep the queue's current filter under a name, for this person only."""

    def post(self, request):
        name = (request.POST.get("name") or "").strip()[:100]
        query = (request.POST.get("query") or "")[:1000]
        back = f"{reverse('servicedesk:ticket_list')}?{query}"
        if not name:
            messages.error(request, _("Give the filter a name."))
        else:
            SavedFilter.objects.update_or_create(user=request.user, name=name, defaults={"query": query})
            messages.success(request, _("Filter “%(name)s” saved.") % {"name": name})
        return HttpResponseRedirect(back)


class DeleteFilterView(EntryMixin, View):
    def post(self, request, pk):
        get_object_or_404(SavedFilter, pk=pk, user=request.user).delete()
        return HttpResponseRedirect(reverse("servicedesk:ticket_list"))


class TicketPageView(ObjectDetailView):
    template_name = "servicedesk/desk/ticket.html"

    def get(self, request, pk, composer=None, status=200):
        ticket = self.get_object(pk)
        if not request.user.is_staff_role:
            # The customer's view of a ticket is the portal's page (public entries only).
            try:
                return HttpResponseRedirect(reverse("servicedesk:portal_ticket", args=[ticket.pk]))
            except Exception:
                pass
        context = ticket_page.context(request, ticket, composer=composer)
        actions = [a for a in self.entry.actions if a.name not in ("reply", "note") and can(request.user, a.name,
                                                                                              ticket)]
        from opsdesk.core.views.audit import history_for

        return render(request, self.template_name, self.context(
            object=ticket, actions=actions, history=history_for(request.user, ticket)[:20], **context),
            status=status)


class ComposerForm(forms.Form):
    body = forms.CharField(label=gettext_lazy("Text"), required=False, widget=forms.Textarea(attrs={"rows": 6}))
    public = forms.TypedChoiceField(label=gettext_lazy("Visibility"), coerce=lambda v: v == "1", initial="1",
                                    choices=[("1", gettext_lazy("Public reply (the customer is told)")),
                                             ("0", gettext_lazy("Internal note"))])
    status = forms.ChoiceField(label=gettext_lazy("Then"), required=False, choices=[
        ("", gettext_lazy("Keep the status")), ("waiting_customer", gettext_lazy("Wait for the customer")),
        ("waiting_third_party", gettext_lazy("Wait for a third party")),
        ("resolved", pgettext_lazy("ticket action", "Resolve"))])


class ComposeView(EntryMixin, View):
    """The ticket page's composer: a reply or note with files, and optionally a status after it,
    all in one transaction. On a refusal (an attachment over the limit) the page comes back
    with the text as written."""

    def post(self, request, pk):
        ticket = self.get_object(pk)
        form = ComposerForm(request.POST)
        files = request.FILES.getlist("files")
        if form.is_valid():
            public, then = form.cleaned_data["public"], form.cleaned_data["status"]
            try:
                with transaction.atomic():
                    services.reply(ticket, actor=request.user, body=form.cleaned_data["body"], public=public,
                                   files=files, from_customer=False)
                    if then == "resolved":
                        services.resolve(ticket, actor=request.user)
                    elif then:
                        services.change_status(ticket, actor=request.user, status=then)
            except ValidationError as exc:
                apply_errors(form, exc)
            except PermissionDenied:
                raise
            else:
                messages.success(request, _("Reply sent.") if public else _("Note added."))
                return HttpResponseRedirect(reverse("servicedesk:ticket_detail", args=[ticket.pk]) + "#timeline-end")
        page = TicketPageView(entry=self.entry)
        page.setup(request, pk=pk)
        return page.get(request, pk, composer=form, status=400)

    def get(self, request, pk):
        raise Http404


def caller_lookup(request):
    """The phone desk's caller lookup: contacts and customer users whose number ends with the digits typed."""
    from opsdesk.core.models import Contact

    if not request.user.is_authenticated or not request.user.is_staff_role:
        raise Http404
    digits = "".join(ch for ch in request.GET.get("phone", "") if ch.isdigit())[-11:]
    contacts = []
    if len(digits) >= 4:
        # Numbers are written every way (+86 138-0013-8000, (010) 6552 1234): compare the digits.
        bare = F("phone")
        for mark in ("-", " ", "+", "(", ")", "."):
            bare = Replace(bare, Value(mark), Value(""))
        contacts = list(scope_for(request.user, Contact.objects.select_related("customer"))
                        .annotate(digits=bare).filter(digits__contains=digits)[:10])
    return render(request, "servicedesk/desk/_callers.html", {"contacts": contacts, "digits": digits})


def macro_text(request, pk: int):
    """The composer's textarea with a macro's text for this ticket (htmx swaps it in)."""
    from django.utils.html import escape

    from opsdesk.servicedesk import macros
    from opsdesk.servicedesk.models import Macro

    if not request.user.is_authenticated or not request.user.is_staff_role:
        raise Http404
    ticket = get_object_or_404(scope_for(request.user, Ticket.objects.select_related("customer")), pk=pk)
    macro = Macro.objects.filter(pk=request.GET.get("macro") or 0).first()
    text = macros.render(macro, ticket, request.user) if macro else ""
    from django.http import HttpResponse

    return HttpResponse(f'<textarea name="body" cols="40" rows="6" class="form-control" id="id_body">'
                        f'{escape(text)}</textarea>')

