from django.utils.translation import gettext_lazy as _

from opsdesk.cmdb import importer, services
from opsdesk.cmdb.api.imports import import_urls
from opsdesk.cmdb.dashboard import cmdb_widgets
from opsdesk.cmdb.demo import load_items
from opsdesk.cmdb.filters import ConfigurationItemFilterSet, RelationFilterSet
from opsdesk.cmdb.forms import CIKindForm, ConfigurationItemForm, RelationForm
from opsdesk.cmdb.models import CIKind, ConfigurationItem, Relation
from opsdesk.cmdb.views.items import ci_detail_context, customer_items_panel
from opsdesk.core import registry
from opsdesk.core.models import Customer
from opsdesk.core.permissions import ADMINS, ALL_ROLES
from opsdesk.core.registry import DetailPanel, ModelEntry

registry.register(ModelEntry(
    ConfigurationItem, tenant_path="customer", menu="cmdb",
    columns=["name", "kind", "customer", "site", "status", "criticality", "owner_team", "updated_at"],
    sortable=("name", "kind__name", "customer__name", "status", "criticality", "updated_at"),
    # Attribute values (IP address, host name, OS…) and the customer's name and code; the list's q
    # and the global search both read these (opsdesk/core/search.py).
    search_fields=["name", "description", "attributes", "customer__name", "customer__code"],
    filterset=ConfigurationItemFilterSet, form=ConfigurationItemForm,
    select_related=("kind", "customer", "site", "owner_team"), detail_template="cmdb/ci_detail.html",
    detail_exclude=("attributes",), bulk_edit_fields=("status", "criticality", "owner_team", "site"),
    detail_context=ci_detail_context, export_rows=importer.export_rows, update=services.update_item,
))
registry.register(ModelEntry(
    CIKind, tenant_path=None, shared_with_customers=True, menu="cmdb", edit_roles=ADMINS, form=CIKindForm,
    columns=["name", "slug", "icon", "builtin"], search_fields=["name", "slug"],
))
registry.register(ModelEntry(
    Relation, tenant_path="customer", menu="cmdb", form=RelationForm, filterset=RelationFilterSet,
    columns=["source", "type", "target", "customer", "note"], sortable=("type", "source__name", "target__name"),
    select_related=("source", "target", "customer"),
))

registry.add_nav_link("cmdb", "cmdb:graph", _("Relation graph"), ALL_ROLES)
registry.add_nav_link("cmdb", "cmdb:import", _("Import"))

registry.add_api_urls(import_urls())

registry.add_dashboard_panel("cmdb", cmdb_widgets, order=10)
registry.add_demo("cmdb", load_items, order=10)


registry.add_detail_panel(Customer, DetailPanel(
    "configuration_items", _("Configuration items"), "cmdb/_customer_panel.html", order=40, column="right",
    context=customer_items_panel))
