"""The customer portal: "My requests", "New request" and a request's page with its public
conversation, a reply with files, and "confirm resolved" / "reopen".

Every ticket is looked up through scoping (opsdesk.core.scoping.scope_for), so another
customer's ticket is 404 whatever is asked of it; every write is a ticket service
(opsdesk.servicedesk.services). Staff may open these pages to see what the customer sees, but
write in the desk: the forms here are the customer's.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core.generic.forms import apply_errors
from opsdesk.core.permissions import CUSTOMER, can
from opsdesk.core.scoping import scope_for
from opsdesk.servicedesk import category_fields, services
from opsdesk.servicedesk.models import Ticket, TicketChannel, TicketStatus
from opsdesk.servicedesk.models.tickets import OPEN_STATUSES
from opsdesk.servicedesk.portal import timeline
from opsdesk.servicedesk.portal.forms import NewRequestForm, ReopenForm, ReplyForm

PAGE_SIZE = 25
MAX_ID = 2**63 - 1
S = TicketStatus

# The list's status filter: name -> statuses.
STATES = {
    "open": OPEN_STATUSES,
    "waiting": frozenset({S.WAITING_CUSTOMER}),
    "resolved": frozenset({S.RESOLVED}),
    "closed": frozenset({S.CLOSED}),
}


def _state_choices() -> list[tuple[str, str]]:
    return [("", _("Any status")), ("open", _("Open")), ("waiting", _("Waiting for my answer")),
            ("resolved", _("Resolved, to confirm")), ("closed", _("Closed"))]


def _visible_tickets(request: HttpRequest) -> QuerySet[Ticket]:
    if not can(request.user, "view", Ticket):
        raise Http404
    return scope_for(request.user, Ticket.objects.select_related("customer", "category", "requester",
                                                                 "requester_user"))


def _ticket(request: HttpRequest, pk: int) -> Ticket:
    """The ticket if this person may see it; 404 otherwise (existence is not revealed)."""
    if not 0 < pk <= MAX_ID:
        raise Http404
    return get_object_or_404(_visible_tickets(request), pk=pk)


def _is_customer(request: HttpRequest) -> bool:
    return getattr(request.user, "role", None) == CUSTOMER and bool(request.user.customer_id)


def _require_customer(request: HttpRequest) -> None:
    if not _is_customer(request):
        raise PermissionDenied(_("The portal's forms are for customer users; staff work on tickets in the "
                                 "service desk."))


def requester_label(ticket: Ticket) -> str:
    if ticket.requester_user_id:
        return str(ticket.requester_user.get_full_name() or ticket.requester_user.username)
    if ticket.requester_id:
        return ticket.requester.name
    return ticket.requester_email


@login_required
def request_list(request: HttpRequest) -> HttpResponse:
    tickets = _visible_tickets(request)
    whose = request.GET.get("whose", "company")
    whose = whose if whose in ("mine", "company") else "company"
    if whose == "mine":
        tickets = tickets.filter(requester_user=request.user)
    state = request.GET.get("state", "")
    state = state if state in STATES else ""
    if state:
        tickets = tickets.filter(status__in=STATES[state])
    query = request.GET.get("q", "").strip()[:200]
    if query:
        match = Q(title__icontains=query) | Q(description__icontains=query)
        number = query.lstrip("#")
        if number.isdigit() and len(number) <= 18:
            match |= Q(pk=int(number))
        tickets = tickets.filter(match)
    page = Paginator(tickets.order_by("-updated_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    rows = [{"ticket": t, "status": timeline.status_words(t.status), "style": timeline.STATUS_STYLE.get(t.status),
             "requester": requester_label(t)} for t in page.object_list]
    title = _("My requests") if _is_customer(request) else _("Requests as customers see them")
    return render(request, "servicedesk/portal/list.html", {
        "title": title, "page": page, "rows": rows, "whose": whose, "state": state, "query": query,
        "states": _state_choices(), "querystring": params.urlencode(), "is_customer": _is_customer(request),
        "filtered": bool(state or query or whose == "mine"),
        "paginator_range": page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
    })


@login_required
@require_http_methods(["GET", "POST"])
def new_request(request: HttpRequest) -> HttpResponse:
    _require_customer(request)
    if request.method == "POST":
        form = NewRequestForm(request.POST, request.FILES, user=request.user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                ticket = services.open_ticket(
                    actor=request.user, customer=request.user.customer, title=data["title"],
                    description=data["description"], channel=TicketChannel.PORTAL, category=data["category"],
                    impact=data["impact"], urgency=data["urgency"],
                    configuration_items=data["configuration_items"], form_data=form.form_data(),
                    files=data["files"], language=get_language() or "")
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("Request #%(number)s is received. We answer here; you can add to it "
                                            "below.") % {"number": ticket.number})
                return HttpResponseRedirect(reverse("servicedesk:portal_detail", args=[ticket.pk]))
        status = 400
    else:
        form = NewRequestForm(user=request.user, initial={"category": request.GET.get("category")})
        status = 200
    template = "servicedesk/portal/new.html"
    if request.headers.get("HX-Request") and request.method == "GET":
        # The category was changed: only its own fields are swapped in.
        template = "servicedesk/portal/_category_fields.html"
    return render(request, template, {"title": _("New request"), "form": form}, status=status)


def _detail(request: HttpRequest, ticket: Ticket, *, reply_form: ReplyForm | None = None,
            reopen_form: ReopenForm | None = None, status: int = 200) -> HttpResponse:
    user = request.user
    customer = _is_customer(request)
    may_reply = customer and can(user, "reply", ticket)
    items = scope_for(user, ConfigurationItem.objects.filter(tickets=ticket)).select_related("kind")
    return render(request, "servicedesk/portal/detail.html", {
        "title": f"#{ticket.number} {ticket.title}", "ticket": ticket, "items": timeline.items(ticket),
        "attachments": list(timeline.public_attachments(ticket)),
        "status_words": timeline.status_words(ticket.status), "status_style": timeline.STATUS_STYLE.get(ticket.status),
        "form_rows": category_fields.display_rows(ticket.category.form_fields if ticket.category_id else [],
                                                  ticket.form_data),
        "configuration_items": items, "requester": requester_label(ticket),
        "is_customer": customer, "desk_url": reverse("servicedesk:ticket_detail", args=[ticket.pk]),
        "may_reply": may_reply, "may_close": customer and can(user, "close", ticket),
        "may_reopen": customer and can(user, "reopen", ticket),
        "reply_form": reply_form or ReplyForm(), "reopen_form": reopen_form or ReopenForm(),
    }, status=status)


@login_required
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _ticket(request, pk))


@login_required
@require_POST
def reply(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    _require_customer(request)
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        if not can(request.user, "reply", ticket):
            form.add_error("body", _("This request is closed: reopen it, or open a new request."))
        else:
            try:
                entry = services.reply(ticket, actor=request.user, body=form.cleaned_data["body"],
                                       files=form.cleaned_data["files"], via=TicketChannel.PORTAL)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("Your reply was added."))
                return HttpResponseRedirect(f"{reverse('servicedesk:portal_detail', args=[ticket.pk])}"
                                            f"#entry-{entry.pk}")
    if request.FILES and form.errors:
        # A browser cannot be given files back: say so beside the words that were kept.
        form.add_error("files", _("Choose the files again (those that may be kept) before sending."))
    return _detail(request, ticket, reply_form=form, status=400)


@login_required
@require_POST
def close(request: HttpRequest, pk: int) -> HttpResponse:
    """The customer confirms the resolution."""
    ticket = _ticket(request, pk)
    _require_customer(request)
    if not can(request.user, "close", ticket):
        messages.error(request, _("Only a resolved request can be confirmed."))
    else:
        try:
            services.close(ticket, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Thank you: request #%(number)s is closed.") % {"number": ticket.number})
    return HttpResponseRedirect(reverse("servicedesk:portal_detail", args=[ticket.pk]))


@login_required
@require_POST
def reopen(request: HttpRequest, pk: int) -> HttpResponse:
    ticket = _ticket(request, pk)
    _require_customer(request)
    form = ReopenForm(request.POST)
    if not form.is_valid():
        return _detail(request, ticket, reopen_form=form, status=400)
    if not can(request.user, "reopen", ticket):
        messages.error(request, _("This request is open already, or was merged into another one."))
        return HttpResponseRedirect(reverse("servicedesk:portal_detail", args=[ticket.pk]))
    try:
        services.reopen(ticket, actor=request.user, reason=form.cleaned_data["reason"])
    except ValidationError as exc:
        apply_errors(form, exc)
        return _detail(request, ticket, reopen_form=form, status=400)
    messages.success(request, _("Request #%(number)s is open again.") % {"number": ticket.number})
    return HttpResponseRedirect(reverse("servicedesk:portal_detail", args=[ticket.pk]))
