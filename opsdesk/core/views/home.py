"""The home dashboard: what the person may see, at a glance."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.utils.translation import gettext as _

from opsdesk.core import registry
from opsdesk.core.dashboard import widgets


@login_required
def home(request):
    return render(request, "core/home.html", {"widgets": widgets(request), "title": _("Dashboard"),
                                              "registry": registry})


@login_required
def coming(request, area: str):
    return render(request, "core/coming.html", {"area": area})
