"""Core models in the registry: each line gives a model its views, API, scoping and tests."""

from django.utils.translation import gettext_lazy as _

from opsdesk.core import registry
from opsdesk.core.api.core_serializers import CredentialSerializer, UserSerializer
from opsdesk.core.forms import CredentialForm, UserForm
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
from opsdesk.core.registry import ModelEntry

registry.register(ModelEntry(
    Customer, tenant_path="pk", menu="customers", edit_roles=MANAGERS,
    columns=["code", "name", "is_active", "created_at"], search_fields=["code", "name", "notes"],
    bulk_edit_fields=("is_active",),
    detail_template="core/customer_detail.html",
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
    User, tenant_path=None, menu="admin", view_roles=STAFF, edit_roles=ADMINS, form=UserForm,
    serializer=UserSerializer, columns=["username", "first_name", "last_name", "email", "role", "customer",
                                        "is_active", "last_login"],
    search_fields=["username", "first_name", "last_name", "email"], select_related=("customer",),
    bulk_edit_fields=("is_active", "role"),
))
registry.register(ModelEntry(
    Team, tenant_path=None, menu="admin", view_roles=STAFF, edit_roles=MANAGERS,
    columns=["name", "email", "description"], search_fields=["name"], prefetch_related=("members", "customers"),
))
registry.register(ModelEntry(
    Credential, tenant_path="customer", menu="admin", view_roles=STAFF, edit_roles=STAFF,
    form=CredentialForm, serializer=CredentialSerializer,
    columns=["name", "customer", "kind", "username", "secret_changed_at"],
    search_fields=["name", "username"], select_related=("customer",),
))

registry.add_nav_link("admin", "audit_list", _("Audit log"))
registry.add_nav_link("admin", "api-docs", _("API documentation"), ALL_ROLES)
