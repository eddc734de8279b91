"""The one registry (NetBox's idea): every extension point of opsdesk is a store in it.

An app adds itself in `<app>/registrations.py` (loaded by its AppConfig.ready): its models with
their actions, navigation links, dashboard panels, panels on other apps' detail pages, health
checks, /metrics figures, API routes, demo data and search. Core reads the stores and never
imports the apps, so the layering core ← cmdb ← notify ← monitoring ← servicedesk holds.

The registry refuses keys it does not know and stores cannot be replaced, so a typo is an error
at start-up instead of a silently empty page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Model, QuerySet

from opsdesk.core.permissions import ADMINS, ALL_ROLES, MANAGERS, STAFF  # noqa: F401  (re-exported)

STORES = (
    "models",            # model class -> ModelEntry
    "navigation",        # NavLink, in registration order
    "dashboard_panels",  # DashboardPanel
    "detail_panels",     # model class -> [DetailPanel]
    "health_checks",     # name -> callable() -> {"status": "ok"|…}
    "metrics",           # callable() -> iterable of prometheus metric families
    "api_urls",          # URL patterns mounted under /api/
    "demo",              # DemoStep
    "setup",             # DemoStep-shaped: what `opsdesk setup` does after migrating, in order
    "fast_routes",       # path -> callable(environ, body) -> 200 body bytes, FastAnswer or None (core/fast_routes.py)
    "audit_labels",      # key of an audit change that is no model field -> its label (lazy translation)
)


class Registry(dict):
    """A dict of fixed stores: reading an unknown key or replacing a store is an error."""

    def __init__(self) -> None:
        super().__init__()
        for key in STORES:
            store: Any = {} if key in ("models", "health_checks", "fast_routes", "audit_labels") else []
            if key == "detail_panels":
                store = defaultdict(list)
            super().__setitem__(key, store)

    def __getitem__(self, key: str) -> Any:
        try:
            return super().__getitem__(key)
        except KeyError:
            raise KeyError(f"unknown registry store {key!r}; known: {', '.join(STORES)}") from None

    def __setitem__(self, key: str, value: Any) -> None:
        raise TypeError("registry stores cannot be replaced; add to them through the register_* functions")

    def __delitem__(self, key: str) -> None:
        raise TypeError("registry stores cannot be removed")


registry = Registry()


@dataclass(frozen=True)
class Action:
    """A named domain action on one object (deactivate a user, acknowledge an alert).

    The same declaration gives the button on the detail page, `POST <object url>/actions/<name>/`
    in the UI and `POST /api/<app>/<slug>/<id>/<name>/` in the API. `run(obj, *, actor, **params)`
    is the app's service function: it checks `can()`, validates, writes in one transaction and
    audits (opsdesk.core.actions.domain_action does all of that for it).
    """

    name: str
    label: Any
    run: Callable[..., Any]
    roles: frozenset[str] = STAFF
    # Whether the action applies to the object in its current state (hidden and refused if not).
    available: Callable[[Model], bool] | None = None
    # The same for a given person ("take it" is not offered on a ticket that is already yours).
    available_to: Callable[[Model, Any], bool] | None = None
    # Parameters the person gives (a Django form; the API takes the same fields as JSON).
    form: type | None = None
    icon: str = "bi-lightning"
    style: str = "outline-secondary"
    confirm: Any = ""

    def applies_to(self, obj: Model, user: Any = None) -> bool:
        if self.available is not None and not self.available(obj):
            return False
        return self.available_to is None or user is None or bool(self.available_to(obj, user))


def plural(name: str) -> str:
    """The URL word for a model's rows: categories, escalationpolicies, checks, discoveries."""
    if name.endswith("y") and len(name) > 1 and name[-2] not in "aeiou":
        return name[:-1] + "ies"
    return name + "s"


@dataclass
class ModelEntry:
    model: type[Model]
    # Django lookup from the model to its customer's id ("customer", "pk" for Customer itself),
    # or None for models that no customer owns.
    tenant_path: str | None
    columns: list[str]
    search_fields: list[str] = field(default_factory=list)
    # Rows whose tenant is empty are shared among staff (users: staff accounts have no customer).
    tenant_optional: bool = False
    # May customer users read a model that no customer owns (such as CI kinds)?
    shared_with_customers: bool = False
    # A narrower rule than customers for who sees which rows (an engineer sees the on-call
    # schedules of their own teams): narrow(user, queryset) -> queryset, applied by scope_for,
    # and so by every list, page, search, export and API alike.
    narrow: Callable[[Any, QuerySet], QuerySet] | None = None
    view_roles: frozenset[str] = ALL_ROLES
    # Roles that may add, change and delete (per-action overrides in `roles`).
    edit_roles: frozenset[str] = STAFF
    # Per-action roles that differ from view_roles/edit_roles, e.g. {"delete": ADMINS}.
    roles: dict[str, frozenset[str]] = field(default_factory=dict)
    actions: list[Action] = field(default_factory=list)
    # Fields only an action may change (states, computed values): read-only in generated forms
    # and serializers, and ignored by the generic update.
    readonly_fields: tuple[str, ...] = ()
    # Domain functions for the generic create/update/delete, when the model needs more than the
    # generic ones in opsdesk.core.services (a password to hash, relations to move…):
    # create(data, *, actor), update(obj, data, *, actor), delete(obj, *, actor).
    create: Callable[..., Model] | None = None
    update: Callable[..., Model] | None = None
    delete: Callable[..., None] | None = None
    filterset: type | None = None
    form: type | None = None
    serializer: type | None = None
    # Generated view classes replaced or subclassed per model: {"detail": MyDetailView}.
    views: dict[str, type] = field(default_factory=dict)
    select_related: tuple[str, ...] = ()
    prefetch_related: tuple[str, ...] = ()
    ordering: tuple[str, ...] = ()
    sortable: tuple[str, ...] = ()
    url_slug: str = ""
    # The list page's heading where the model's plural name would not say what it shows (the
    # series with their last values are "Latest data", as the menu calls them).
    list_title: Any = None
    menu: str = ""
    detail_template: str = ""
    # Fields the detail page leaves out of its field table (because its template shows them).
    detail_exclude: tuple[str, ...] = ()
    # Extra context for the detail page: callable(request, obj) -> dict.
    detail_context: Callable[[Any, Model], dict] | None = None
    # Export in a format of the model's own (such as the import format) instead of the columns.
    export_rows: Callable[[Any], tuple[list[str], list[list[Any]]]] | None = None
    # Fields the list's "Edit selected" may set on many objects at once.
    bulk_edit_fields: tuple[str, ...] = ()
    # Attributes that create or an action sets on the object it returns and that exist nowhere
    # else (a new token, stored only hashed): the API's answer to that request carries them,
    # once; no later read can.
    shown_once: tuple[str, ...] = ()
    creatable: bool = True
    api: bool = True

    def __post_init__(self) -> None:
        if not self.url_slug:
            self.url_slug = plural(self.model._meta.model_name)
        if not self.ordering:
            self.ordering = tuple(self.model._meta.ordering) or ("pk",)
        if not self.sortable:
            self.sortable = tuple(c for c in self.columns if "__" not in c)
        names = [a.name for a in self.actions]
        clash = {"view", "add", "change", "delete"} & set(names)
        if clash or len(names) != len(set(names)):
            raise ValueError(f"{self.model.__name__}: action names must be unique and not {sorted(clash)}")

    def roles_for(self, action: str) -> frozenset[str]:
        """Which roles may do `action` (view, add, change, delete or a named action)."""
        if action in self.roles:
            return self.roles[action]
        if action == "view":
            return self.view_roles
        if action in ("add", "change", "delete"):
            return self.edit_roles
        named = self.action(action)
        return named.roles if named is not None else frozenset()

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)

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


@dataclass(frozen=True)
class NavLink:
    area: str
    url_name: str
    label: Any
    roles: frozenset[str] = STAFF


@dataclass(frozen=True)
class DashboardPanel:
    """A panel on the home page: `render(request) -> list[widget dict]` (see core/home.html)."""

    name: str
    render: Callable[[Any], list[dict]]
    order: int = 100


@dataclass(frozen=True)
class DetailPanel:
    """A card on another model's detail page. `context(request, obj)` returns the template's
    context, or None to leave the card out (nothing to show this person)."""

    name: str
    title: Any
    template: str
    context: Callable[[Any, Model], dict | None]
    order: int = 100
    # Left or right column of the detail page.
    column: str = "left"


@dataclass(frozen=True)
class DemoStep:
    """Demo data an app contributes: `run(stdout) -> None`, in `order` (core first)."""

    name: str
    run: Callable[..., None]
    order: int = 100


# --- registration ------------------------------------------------------------------------------

def register(entry: ModelEntry) -> ModelEntry:
    models = registry["models"]
    if entry.model in models:
        raise ValueError(f"{entry.model.__name__} is registered twice")
    models[entry.model] = entry
    return entry


def add_nav_link(area: str, url_name: str, label, roles: frozenset[str] = STAFF) -> None:
    registry["navigation"].append(NavLink(area, url_name, label, frozenset(roles)))


def add_dashboard_panel(name: str, render: Callable, order: int = 100) -> None:
    registry["dashboard_panels"].append(DashboardPanel(name, render, order))
    registry["dashboard_panels"].sort(key=lambda p: p.order)


def add_detail_panel(model: type[Model], panel: DetailPanel) -> None:
    registry["detail_panels"][model].append(panel)
    registry["detail_panels"][model].sort(key=lambda p: p.order)


def add_health_check(name: str, check: Callable[[], dict]) -> None:
    registry["health_checks"][name] = check


def add_metrics(collect: Callable) -> None:
    registry["metrics"].append(collect)


def add_fast_route(path: str, answer: Callable[[dict, bytes], Any]) -> None:
    """A POST to `path` is first offered to `answer` before Django's request handling (see
    opsdesk/core/fast_routes.py); it answers the JSON body of a 200, a FastAnswer (another status),
    or None to let Django answer."""
    registry["fast_routes"][path] = answer


def add_audit_labels(labels: dict[str, Any]) -> None:
    """Labels for the keys an action writes into its audit row that are no field of the model
    (`action.audit(alert, {"comment": …})`), so the history shows them in the person's language."""
    registry["audit_labels"].update(labels)


def add_api_urls(patterns: list) -> None:
    registry["api_urls"].extend(patterns)


def add_demo(name: str, run: Callable, order: int = 100) -> None:
    registry["demo"].append(DemoStep(name, run, order))
    registry["demo"].sort(key=lambda s: s.order)


def add_setup_step(name: str, run: Callable[[], str | None], order: int = 100) -> None:
    """Something an app prepares at every `opsdesk setup` (idempotent); `run()` may answer a line to print."""
    registry["setup"].append(DemoStep(name, run, order))
    registry["setup"].sort(key=lambda s: s.order)


# --- lookup ------------------------------------------------------------------------------------

def find(model: type[Model]) -> ModelEntry | None:
    return registry["models"].get(model)


def get(model: type[Model]) -> ModelEntry:
    return registry["models"][model]


def entries(app_label: str | None = None) -> list[ModelEntry]:
    return [e for e in registry["models"].values() if app_label is None or e.app_label == app_label]


def detail_panels(model: type[Model]) -> list[DetailPanel]:
    return list(registry["detail_panels"].get(model, ()))
