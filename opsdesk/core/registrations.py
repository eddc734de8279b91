"""Core models in the registry: each line gives a model its views, API, scoping and tests."""

from django.utils.translation import gettext_lazy as _

from opsdesk.core import dashboard, panels, registry, services
from opsdesk.core.api.core_serializers import CredentialSerializer, UserSerializer
from opsdesk.core.demo import load_core
from opsdesk.core.forms import CredentialForm, SetPasswordForm, UserForm
from opsdesk.core.models import (
    Contact,
    Contract,
    Credential,
    Customer,
    ServiceLevel,
    ServiceLevelTarget,
    Site,
    Team,
    User,
)
from opsdesk.core.permissions import ADMINS, ALL_ROLES, MANAGERS, STAFF
from opsdesk.core.registry import Action, DetailPanel, ModelEntry

registry.register(ModelEntry(
    Customer, tenant_path="pk", menu="customers", edit_roles=MANAGERS,
    columns=["code", "name", "is_active", "created_at"], search_fields=["code", "name", "notes"],
    bulk_edit_fields=("is_active",),
))
registry.register(ModelEntry(
    Contract, tenant_path="customer", menu="customers", edit_roles=MANAGERS,
    columns=["number", "name", "customer", "service_level", "start_date", "end_date"],
    search_fields=["number", "name"], select_related=("customer", "service_level"),
))
registry.register(ModelEntry(
    Site, tenant_path="customer", menu="customers",
    columns=["name", "customer", "address"], search_fields=["name", "address"], select_related=("customer",),
))
registry.register(ModelEntry(
    Contact, tenant_path="customer", menu="customers",
    columns=["name", "customer", "title", "email", "phone", "is_primary"], bulk_edit_fields=("is_primary",),
    search_fields=["name", "email", "phone"], select_related=("customer",),
))
registry.register(ModelEntry(
    ServiceLevel, tenant_path=None, shared_with_customers=True, menu="customers", edit_roles=MANAGERS,
    columns=["name", "description"], search_fields=["name"], prefetch_related=("targets",),
    detail_template="core/servicelevel_detail.html",
))
registry.register(ModelEntry(
    ServiceLevelTarget, tenant_path=None, shared_with_customers=True, edit_roles=MANAGERS,
    columns=["service_level", "fault_level", "response_minutes", "resolution_minutes", "business_hours_only"],
    select_related=("service_level",),
))
registry.register(ModelEntry(
    # Staff accounts have no customer and are seen by all staff; a customer's users only by
    # those who serve that customer.
    User, tenant_path="customer", tenant_optional=True, menu="admin", view_roles=STAFF, edit_roles=ADMINS,
    form=UserForm, serializer=UserSerializer, create=services.create_user, update=services.update_user,
    delete=services.delete_user,
    columns=["username", "first_name", "last_name", "email", "role", "customer", "is_active", "last_login"],
    search_fields=["username", "first_name", "last_name", "email"], select_related=("customer",),
    bulk_edit_fields=("role",), readonly_fields=("is_active",),
    actions=[
        Action("deactivate", _("Deactivate"), services.deactivate_user, roles=ADMINS, icon="bi-person-x",
               available=lambda u: u.is_active, style="outline-danger",
               confirm=_("The user can no longer log in or use their API tokens.")),
        Action("activate", _("Activate"), services.activate_user, roles=ADMINS, icon="bi-person-check",
               available=lambda u: not u.is_active),
        Action("set_password", _("Set password"), services.set_password, roles=ADMINS, icon="bi-key",
               form=SetPasswordForm),
        Action("unlock", _("Unlock login"), services.unlock_user, roles=ADMINS, icon="bi-unlock",
               confirm=_("Clears failed login attempts so the user can log in again at once.")),
        Action("reset_two_factor", _("Reset two-factor"), services.reset_two_factor, roles=ADMINS,
               icon="bi-shield-x", available=lambda u: u.is_staff_role, style="outline-danger",
               confirm=_("Removes the user's authenticator; they enrol a new one at their next login.")),
    ],
))
registry.register(ModelEntry(
    Team, tenant_path=None, menu="admin", view_roles=STAFF, edit_roles=MANAGERS,
    columns=["name", "email", "description"], search_fields=["name"], prefetch_related=("members", "customers"),
))
registry.register(ModelEntry(
    Credential, tenant_path="customer", menu="admin", view_roles=STAFF, edit_roles=STAFF,
    form=CredentialForm, serializer=CredentialSerializer, create=services.create_credential,
    update=services.update_credential,
    columns=["name", "customer", "kind", "username", "secret_changed_at"],
    search_fields=["name", "username"], select_related=("customer",),
))

registry.add_nav_link("admin", "audit_list", _("Audit log"))
registry.add_nav_link("admin", "api-docs", _("API documentation"), ALL_ROLES)

registry.add_demo("core", load_core, order=0)
from opsdesk.core import health  # noqa: E402, F401  (registers core's health checks and /metrics figures)


def _dates(contract: Contract) -> str:
    return f"{contract.start_date} – {contract.end_date} · {contract.service_level}"


registry.add_detail_panel(Customer, DetailPanel(
    "contracts", _("Contracts"), panels.LIST_TEMPLATE, order=10,
    context=panels.related_list(Contract, lambda request, c: c.contracts.select_related("service_level"),
                                describe=_dates, empty=_("No contract yet: add one to set the service level."),
                                add_label=_("Add contract"), add_initial=lambda c: {"customer": c})))
registry.add_detail_panel(Customer, DetailPanel(
    "sites", _("Sites"), panels.LIST_TEMPLATE, order=20,
    context=panels.related_list(Site, lambda request, c: c.sites.all(), describe=lambda s: s.address,
                                empty=_("No site yet."), add_label=_("Add site"),
                                add_initial=lambda c: {"customer": c})))
registry.add_detail_panel(Customer, DetailPanel(
    "contacts", _("Contacts"), panels.LIST_TEMPLATE, order=30,
    context=panels.related_list(Contact, lambda request, c: c.contacts.all(),
                                describe=lambda p: " ".join(filter(None, [p.title, p.email, p.phone])),
                                empty=_("No contact yet: add the people who call you."),
                                add_label=_("Add contact"), add_initial=lambda c: {"customer": c})))

registry.add_dashboard_panel("customers", dashboard.customers_widget, order=0)
registry.add_dashboard_panel("ending_contracts", dashboard.ending_contracts, order=50)
registry.add_dashboard_panel("recent_changes", dashboard.recent_changes, order=90)

# Keys core's actions write into audit rows that are no model field (see registry.add_audit_labels).
registry.add_audit_labels({"password": _("Password"), "lockout": _("Login lockout"),
                           "two_factor": _("Two-factor authentication"), "comment": _("Comment")})
