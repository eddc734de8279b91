"""Monitoring's own pages in the registry: the menu links to the status overview and the busiest
items, and the panel on the home dashboard."""

from django.utils.translation import gettext_lazy as _

from opsdesk.core import registry
from opsdesk.core.permissions import ALL_ROLES, STAFF
from opsdesk.monitoring.dashboard import monitoring_widgets

registry.add_nav_link("monitoring", "monitoring:overview", _("Status overview"), ALL_ROLES)
registry.add_nav_link("monitoring", "monitoring:trends", _("Trends and bottlenecks"), ALL_ROLES)
registry.add_nav_link("monitoring", "monitoring:availability", _("Availability"), ALL_ROLES)
registry.add_nav_link("monitoring", "monitoring:enrol", _("Enrol an agent"), STAFF)
registry.add_dashboard_panel("monitoring", monitoring_widgets, order=20)
