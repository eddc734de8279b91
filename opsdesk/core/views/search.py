"""The global search page (`/search/?q=…`): every model the person may see, grouped by model."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext as _

from opsdesk.core.search import COUNT_CAP, HITS_PER_MODEL, MIN_LENGTH, search

# A pasted log line is not a search; longer queries are cut rather than refused.
MAX_LENGTH = 200


@login_required
def search_view(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "").strip()[:MAX_LENGTH]
    groups = search(request.user, query) if len(query) >= MIN_LENGTH else []
    return render(request, "core/search.html", {
        "title": _("Search"), "search_query": query, "groups": groups,
        "too_short": 0 < len(query) < MIN_LENGTH, "min_length": MIN_LENGTH,
        "hits_per_model": HITS_PER_MODEL, "count_cap": COUNT_CAP,
    })


# Mounted by the project's urls.py with include(), so the page is named plainly "search".
urlpatterns = [path("", search_view, name="search")]
