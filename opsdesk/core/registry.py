"""The model registry: one declaration per model gives it scoping, UI views, an API endpoint,
audit, export and the generic tests (NetBox's register_model_view idea).

An app declares its models in `<app>/registrations.py`; URLs, API routes, navigation and the
tenancy tests are all generated from what is registered here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model

STAFF = frozenset({"admin", "manager", "engineer"})
ALL_ROLES = STAFF | {"customer"}
MANAGERS = frozenset({"admin", "manager"})
ADMINS = frozenset({"admin"})


@dataclass
class ModelEntry:
    model: type[Model]
    # Django lookup from the model to its customer's id ("customer", "pk" for Customer itself),
    # or None for models that no customer owns.
    tenant_path: str | None
    columns: list[str]
    search_fields: list[str] = field(default_factory=list)
    # May customer users read a model that no customer owns (such as CI kinds)?
    shared_with_customers: bool = False
    view_roles: frozenset[str] = ALL_ROLES
    edit_roles: frozenset[str] = STAFF
    filterset: type | None = None
    form: type | None = None
    serializer: type | None = None
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    ordering: tuple[str, ...] = ()
    sortable: tuple[str, ...] = ()
    url_slug: str = ""
    menu: str = ""
    # Hooks: how the generic views save and delete (default: services.save_form / delete_object).
    save: Callable[..., Model] | None = None
    delete: Callable[..., None] | None = None
    detail_template: str = ""
    # Fields the detail page leaves out of its field table (because its template shows them).
    detail_exclude: tuple[str, ...] = ()
    # Extra context for the detail page: callable(request, obj) -> dict.
    detail_context: Callable[[Any, Model], dict] | None = None
    # Export in a format of the model's own (such as the import format) instead of the columns.
    export_rows: Callable[[Any], tuple[list[str], list[list[Any]]]] | None = None
    # Fields the list's "Edit selected" may set on many objects at once.
    bulk_edit_fields: tuple[str, ...] = ()
    creatable: bool = True
    api: bool = True

    def __post_init__(self) -> None:
        if not self.url_slug:
            self.url_slug = f"{self.model._meta.model_name}s"
        if not self.ordering:
            self.ordering = tuple(self.model._meta.ordering) or ("pk",)
        if not self.sortable:
            self.sortable = tuple(c for c in self.columns if "__" not in c)

    @property
    def app_label(self) -> str:
        return self.model._meta.app_label

    @property
    def model_name(self) -> str:
        return self.model._meta.model_name

    def url_name(self, action: str) -> str:
        return f"{self.app_label}:{self.model_name}_{action}"

    @property
    def api_basename(self) -> str:
        return f"{self.app_label}-{self.model_name}"


_entries: dict[type[Model], ModelEntry] = {}
# URL patterns of API views that are not a model's viewset (imports, actions), added by apps at
# start-up and mounted under /api/ by opsdesk.core.api.urls.
extra_api_urls: list = []


def register(entry: ModelEntry) -> ModelEntry:
    if entry.model in _entries:
        raise ValueError(f"{entry.model.__name__} is registered twice")
    _entries[entry.model] = entry
    return entry


def find(model: type[Model]) -> ModelEntry | None:
    return _entries.get(model)


def get(model: type[Model]) -> ModelEntry:
    return _entries[model]


def entries(app_label: str | None = None) -> list[ModelEntry]:
    return [e for e in _entries.values() if app_label is None or e.app_label == app_label]


def by_name(app_label: str, model_name: str) -> ModelEntry | None:
    for entry in _entries.values():
        if entry.app_label == app_label and entry.model_name == model_name:
            return entry
    return None
