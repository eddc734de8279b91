"""The availability page: every item the person may see (of one customer, if chosen) with its
availability over 24 h, 7 d or 30 d, worst first, best first or by name, a page at a time.

The availability of an item is computed, not stored, so the sort is done here on all the items
of the choice (four queries whatever their number; see docs/monitoring.md for what it costs)."""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for
from opsdesk.monitoring.availability.panels import (
    PERIOD_DAYS,
    PERIODS,
    item_rows,
    legend,
    page_url,
    sort_labels,
    sort_of,
)
from opsdesk.monitoring.models import Check
from opsdesk.monitoring.views import chosen_customer

PER_PAGE = 50
PAGE_PERIOD = "30d"


@login_required
def availability_page(request):
    user = request.user
    if not can(user, "view", Check):
        raise PermissionDenied
    customers, selected = chosen_customer(request)
    # 30 days unless another period is asked for (the customer page links here for 30 days).
    period = str(request.GET.get("period", ""))
    if period not in PERIOD_DAYS:
        period = PAGE_PERIOD
    sort = sort_of(request)
    items = scope_for(user, ConfigurationItem.objects.all())
    if selected is not None:
        items = items.filter(customer=selected)
    now = timezone.now()
    start = now - dt.timedelta(days=PERIOD_DAYS[period])
    rows = item_rows(user, items, scope_for(user, Check.objects.all()), start, now, sort=sort, now=now)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    customer = selected.pk if selected is not None and user.is_staff_role else None
    context = {
        "title": _("Availability"), "customers": customers, "selected": selected, "page": page,
        "rows": list(page.object_list), "total": len(rows), "period": period, "sort": sort,
        "show_customer": selected is None and user.is_staff_role, "legend": legend(),
        "start": start, "end": now,
        "periods": [{"key": k, "label": str(label), "active": k == period,
                     "url": page_url(customer=customer, period=k, sort=sort)} for k, label, _days in PERIODS],
        "sorts": [{"key": k, "label": label, "active": k == sort,
                   "url": page_url(customer=customer, period=period, sort=k)} for k, label in sort_labels()],
        "page_query": page_url(customer=customer, period=period, sort=sort).partition("?")[2],
    }
    return render(request, "monitoring/availability.html", context)
