"""Generic list, detail, edit and delete views shared by every registered model.

A model gets all of them by being registered (opsdesk.core.registry); `urls_for(app_label)`
generates the URL patterns. Every query goes through scoping, so a customer user reaching for
another customer's object by id gets 404, not 403: existence is not revealed.
"""

from __future__ import annotations

from django import forms as django_forms
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import models, transaction
from django.db.models import ProtectedError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View

from opsdesk.core import registry, services
from opsdesk.core.generic import export
from opsdesk.core.generic.columns import columns_for
from opsdesk.core.generic.filters import filterset_for
from opsdesk.core.generic.forms import ScopedModelForm, apply_errors, form_for
from opsdesk.core.permissions import can
from opsdesk.core.scoping import scope_for

PAGE_SIZES = (25, 50, 100, 250)
MAX_ID = 2**63 - 1
# Secrets, and fields derived from the role (is_staff, is_superuser) or unused (Django groups).
HIDDEN_FIELDS = {"password", "key_hash", "secret_encrypted", "secrets_encrypted", "limit_key",
                 "id", "is_staff", "is_superuser",
                 "groups", "user_permissions"}


class EntryMixin(LoginRequiredMixin):
    entry: registry.ModelEntry = None  # set by urls_for()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not can(request.user, "view", self.entry.model):
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def require(self, action: str, target) -> None:
        """403 unless the person may do `action`; an object they cannot see was 404 before."""
        if not can(self.request.user, action, target):
            raise PermissionDenied(_("You do not have permission to change this."))

    def next_url(self, default: str) -> str:
        """Back to where the person came from (?next=, such as the CI a relation was added on)."""
        target = self.request.POST.get("next") or self.request.GET.get("next") or ""
        if target and url_has_allowed_host_and_scheme(target, {self.request.get_host()},
                                                      self.request.is_secure()):
            return target
        return default

    def base_queryset(self) -> models.QuerySet:
        qs = self.entry.model._default_manager.all()
        if self.entry.select_related:
            qs = qs.select_related(*self.entry.select_related)
        if self.entry.prefetch_related:
            qs = qs.prefetch_related(*self.entry.prefetch_related)
        return scope_for(self.request.user, qs)

    def get_object(self, pk) -> models.Model:
        if pk is not None and not 0 < int(pk) <= MAX_ID:
            raise Http404  # not an id at all (and too large for the database driver)
        return get_object_or_404(self.base_queryset(), pk=pk)

    def context(self, **extra) -> dict:
        meta = self.entry.model._meta
        user, model = self.request.user, self.entry.model
        obj = extra.get("object")
        target = obj if obj is not None else model
        return {"entry": self.entry, "verbose_name": meta.verbose_name,
                "verbose_name_plural": meta.verbose_name_plural,
                "list_title": self.entry.list_title or meta.verbose_name_plural,
                "can_add": self.entry.creatable and can(user, "add", model),
                "can_edit": can(user, "change", target), "can_delete": can(user, "delete", target),
                "next": self.request.GET.get("next", ""), **extra}


def _sort_param(entry: registry.ModelEntry, raw: str) -> tuple[str, ...]:
    key = raw.lstrip("-")
    if key in entry.sortable:
        # pk as a tie-breaker keeps pages stable when names repeat.
        return (raw, "-pk" if raw.startswith("-") else "pk")
    return (*entry.ordering, "pk")


def filtered_queryset(view: EntryMixin):
    """The scoped, filtered and sorted queryset of a list request (page and export alike)."""
    request = view.request
    filterset = filterset_for(view.entry)(request.GET, queryset=view.base_queryset(), request=request)
    qs = filterset.qs if filterset.is_valid() else view.base_queryset().none()
    sort = request.GET.get("sort", "")
    return filterset, qs.order_by(*_sort_param(view.entry, sort)), sort


class ObjectListView(EntryMixin, View):
    template_name = "generic/list.html"
    # What an htmx filter or refresh swaps in (a list with a table of its own names its own).
    partial_template_name = "generic/_table.html"

    def rows(self, columns, objects) -> list:
        """(object, cell values) of the page's rows; a list with a table of its own may build them
        its own way."""
        return [(obj, [c.value(obj) for c in columns]) for obj in objects]

    def get(self, request):
        filterset, qs, sort = filtered_queryset(self)
        columns = columns_for(self.entry.model, self.entry.columns, self.entry.sortable)
        fmt = request.GET.get("export")
        if fmt in ("csv", "xlsx"):
            name = str(self.entry.model._meta.verbose_name_plural).replace(" ", "_")
            if self.entry.export_rows is not None:
                header, body = self.entry.export_rows(qs)
                rows = [header, *body]
            else:
                rows = export.table(columns, qs)
            return (export.as_csv if fmt == "csv" else export.as_xlsx)(rows, name)
        try:
            per_page = int(request.GET.get("per_page", 50))
        except ValueError:
            per_page = 50
        per_page = per_page if per_page in PAGE_SIZES else 50
        page = Paginator(qs, per_page).get_page(request.GET.get("page"))
        rows = self.rows(columns, page.object_list)
        params = request.GET.copy()
        for key in ("page", "export"):
            params.pop(key, None)
        template = self.partial_template_name if request.headers.get("HX-Request") and \
            request.headers.get("HX-Target") == "object-table" else self.template_name
        return render(request, template, self.context(
            filterset=filterset, page=page, rows=rows, columns=columns, sort=sort,
            querystring=params.urlencode(), page_sizes=PAGE_SIZES, per_page=per_page,
            paginator_range=page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1),
        ))


def field_rows(obj: models.Model, exclude: tuple[str, ...] = ()) -> list[tuple[str, object, str | None]]:
    """(label, value, link) for each concrete field of an object, secrets left out."""
    rows = []
    for f in obj._meta.concrete_fields:
        if f.name in HIDDEN_FIELDS or f.name in exclude:
            continue
        link = None
        if f.is_relation:
            value = getattr(obj, f.name)
            if value is not None and registry.find(type(value)) is not None:
                link = detail_url(value)
        elif f.choices or callable(getattr(obj, f"get_{f.name}_display", None)):
            # A choice's label; or a model's own display of a code (a check's type by name).
            value = getattr(obj, f"get_{f.name}_display")()
        else:
            value = getattr(obj, f.name)
            if isinstance(value, float):
                value = readable_number(value)
        rows.append((f.verbose_name, value, link))
    for f in obj._meta.many_to_many:
        if f.name in HIDDEN_FIELDS:
            continue
        rows.append((f.verbose_name, ", ".join(str(o) for o in getattr(obj, f.name).all()), None))
    return rows


def readable_number(value: float) -> str:
    """A measured value as a person reads it: 96.505381… as 96.51, 0.000123 as 0.000123, 3.0 as 3."""
    if value != value or value in (float("inf"), float("-inf")):  # NaN, ±inf
        return str(value)
    if abs(value) < 1:
        return f"{value:.4g}"
    if abs(value) >= 1e15:
        return f"{value:.6g}"
    return f"{value:.2f}".rstrip("0").rstrip(".")


def detail_url(obj: models.Model) -> str | None:
    entry = registry.find(type(obj))
    if entry is None:
        return None
    try:
        return reverse(entry.url_name("detail"), args=[obj.pk])
    except NoReverseMatch:
        return None


class ObjectDetailView(EntryMixin, View):
    template_name = "generic/detail.html"

    def get(self, request, pk):
        obj = self.get_object(pk)
        extra = self.entry.detail_context(request, obj) if self.entry.detail_context else {}
        from opsdesk.core.views.audit import history_for

        actions = [a for a in self.entry.actions if can(request.user, a.name, obj)]
        panels = []
        for panel in registry.detail_panels(self.entry.model):
            panel_context = panel.context(request, obj)
            if panel_context is not None:
                panels.append({"panel": panel, "context": panel_context})
        return render(request, self.entry.detail_template or self.template_name, self.context(
            object=obj, fields=field_rows(obj, self.entry.detail_exclude), actions=actions,
            panels_left=[p for p in panels if p["panel"].column == "left"],
            panels_right=[p for p in panels if p["panel"].column == "right"],
            history=history_for(request.user, obj)[:20], **extra))


class ObjectEditView(EntryMixin, View):
    template_name = "generic/edit.html"

    def form(self, obj=None):
        kwargs = {"instance": obj, "user": self.request.user}
        if self.request.method == "POST":
            return form_for(self.entry)(self.request.POST, self.request.FILES, **kwargs)
        # GET parameters pre-fill the form (links such as "add relation from this item", and the
        # htmx re-render when the CI kind changes).
        return form_for(self.entry)(initial=self.request.GET.dict(), **kwargs)

    def authorise(self, pk):
        # Scoping first: another customer's object is 404 whatever the role may do.
        obj = self.get_object(pk) if pk is not None else None
        if obj is None and not self.entry.creatable:
            raise Http404
        self.require("change" if obj is not None else "add", obj if obj is not None else self.entry.model)
        return obj

    def get(self, request, pk=None):
        obj = self.authorise(pk)
        return render(request, self.template_name, self.context(form=self.form(obj), object=obj))

    def post(self, request, pk=None):
        obj = self.authorise(pk)
        form = self.form(obj)
        if form.is_valid():
            try:
                if obj is None:
                    saved = services.create(self.entry.model, form.service_data(), actor=request.user)
                else:
                    # A fresh copy: the form has already put the new values on its instance.
                    saved = services.update(self.get_object(pk), form.service_data(), actor=request.user)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("Saved %(name)s.") % {"name": saved})
                return HttpResponseRedirect(self.next_url(detail_url(saved) or reverse(self.entry.url_name("list"))))
        return render(request, self.template_name, self.context(form=form, object=obj), status=400)


class ObjectDeleteView(EntryMixin, View):
    template_name = "generic/confirm_delete.html"

    def get(self, request, pk):
        obj = self.get_object(pk)
        self.require("delete", obj)
        return render(request, self.template_name, self.context(object=obj))

    def post(self, request, pk):
        obj = self.get_object(pk)
        self.require("delete", obj)
        try:
            services.delete(obj, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(detail_url(obj) or reverse(self.entry.url_name("list")))
        except ProtectedError:
            messages.error(request, _("%(name)s is still in use and cannot be deleted.") % {"name": obj})
            return HttpResponseRedirect(detail_url(obj) or reverse(self.entry.url_name("list")))
        messages.success(request, _("Deleted %(name)s.") % {"name": obj})
        return HttpResponseRedirect(self.next_url(reverse(self.entry.url_name("list"))))


class BulkDeleteView(EntryMixin, View):
    template_name = "generic/confirm_bulk_delete.html"

    def post(self, request):
        self.require("delete", self.entry.model)
        objects = selected_objects(self)
        if not objects:
            messages.warning(request, _("Nothing was selected."))
            return HttpResponseRedirect(reverse(self.entry.url_name("list")))
        for obj in objects:
            self.require("delete", obj)
        if request.POST.get("confirm") != "yes":
            return render(request, self.template_name, self.context(objects=objects))
        try:
            with transaction.atomic():
                for obj in objects:
                    services.delete(obj, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return HttpResponseRedirect(reverse(self.entry.url_name("list")))
        except ProtectedError:
            messages.error(request, _("Some of the selected objects are still in use; nothing was deleted."))
            return HttpResponseRedirect(reverse(self.entry.url_name("list")))
        messages.success(request, _("Deleted %(count)d objects.") % {"count": len(objects)})
        return HttpResponseRedirect(reverse(self.entry.url_name("list")))


class BulkEditView(EntryMixin, View):
    """Set the same values on many objects at once (the entry's bulk_edit_fields); every object is
    validated as its own form would, and nothing is saved unless all of them are valid."""

    template_name = "generic/bulk_edit.html"

    def form_class(self):
        # The plain scoped form, not the entry's own (which may expect fields this one lacks);
        # each object's full_clean() below applies the model's rules.
        fields = list(self.entry.bulk_edit_fields)
        return django_forms.modelform_factory(self.entry.model, form=ScopedModelForm, fields=fields), fields

    def post(self, request):
        if not self.entry.bulk_edit_fields:
            raise Http404
        self.require("change", self.entry.model)
        objects = selected_objects(self)
        for obj in objects:
            self.require("change", obj)
        if not objects:
            messages.warning(request, _("Nothing was selected."))
            return HttpResponseRedirect(reverse(self.entry.url_name("list")))
        form_class, fields = self.form_class()
        form = form_class(request.POST if request.POST.get("apply") == "yes" else None, user=request.user)
        for name in fields:
            form.fields[name].required = False
        problems: list[str] = []
        if form.is_bound and form.is_valid():
            changes = {f: form.cleaned_data[f] for f in fields
                       if request.POST.get(f"set_{f}") == "on"}
            if not changes:
                form.add_error(None, _("Tick at least one field to change."))
            else:
                problems = self.apply(objects, changes)
                if not problems:
                    messages.success(request, _("Changed %(count)d objects.") % {"count": len(objects)})
                    return HttpResponseRedirect(reverse(self.entry.url_name("list")))
        return render(request, self.template_name, self.context(objects=objects, form=form, problems=problems),
                      status=400 if (form.errors or problems) else 200)

    def apply(self, objects: list[models.Model], changes: dict) -> list[str]:
        """Each object through the same update as its edit page; all or nothing."""
        problems = []
        with transaction.atomic():
            for obj in objects:
                try:
                    with transaction.atomic():
                        services.update(obj, changes, actor=self.request.user)
                except ValidationError as exc:
                    messages_ = exc.message_dict.values() if hasattr(exc, "error_dict") else [exc.messages]
                    problems += [f"{obj}: {msg}" for msgs in messages_ for msg in msgs]
            if problems:
                transaction.set_rollback(True)
        return problems


def selected_objects(view: EntryMixin) -> list[models.Model]:
    # Ids beyond 64 bits are not ids (and would overflow the database driver).
    ids = [i for i in view.request.POST.getlist("pk") if i.isdigit() and len(i) <= 18]
    return list(view.base_queryset().filter(pk__in=ids))


class ObjectActionView(EntryMixin, View):
    """A named action on one object: GET asks (its parameters, or a confirmation), POST runs it
    through the same service function the API calls."""

    template_name = "generic/action.html"

    def authorise(self, pk, name: str):
        obj = self.get_object(pk)
        action = self.entry.action(name)
        if action is None:
            raise Http404
        self.require(name, obj)
        return obj, action

    def form(self, action, data=None):
        form = action.form(data) if action.form is not None else django_forms.Form(data)
        from opsdesk.core.generic.forms import style_widgets

        style_widgets(form)
        return form

    def get(self, request, pk, name):
        obj, action = self.authorise(pk, name)
        return render(request, self.template_name, self.context(object=obj, action=action, form=self.form(action)))

    def post(self, request, pk, name):
        obj, action = self.authorise(pk, name)
        form = self.form(action, request.POST)
        if form.is_valid():
            try:
                services.run_action(obj, name, actor=request.user, **form.cleaned_data)
            except ValidationError as exc:
                apply_errors(form, exc)
            else:
                messages.success(request, _("%(action)s: done.") % {"action": action.label})
                return HttpResponseRedirect(self.next_url(detail_url(obj) or reverse(self.entry.url_name("list"))))
        return render(request, self.template_name, self.context(object=obj, action=action, form=form), status=400)


GENERATED_VIEWS = {
    "list": ObjectListView, "add": ObjectEditView, "bulk_delete": BulkDeleteView, "bulk_edit": BulkEditView,
    "detail": ObjectDetailView, "edit": ObjectEditView, "delete": ObjectDeleteView, "action": ObjectActionView,
}


def urls_for(app_label: str) -> list:
    patterns = []
    for entry in registry.entries(app_label):
        base = entry.url_slug
        name = entry.model_name

        def make(kind: str, e=entry):
            # An entry may replace or subclass any generated view: views={"detail": MyView}.
            return e.views.get(kind, GENERATED_VIEWS[kind]).as_view(entry=e)

        patterns += [
            path(f"{base}/", make("list"), name=f"{name}_list"),
            path(f"{base}/add/", make("add"), name=f"{name}_add"),
            path(f"{base}/bulk-delete/", make("bulk_delete"), name=f"{name}_bulk_delete"),
            path(f"{base}/bulk-edit/", make("bulk_edit"), name=f"{name}_bulk_edit"),
            path(f"{base}/<int:pk>/", make("detail"), name=f"{name}_detail"),
            path(f"{base}/<int:pk>/edit/", make("edit"), name=f"{name}_edit"),
            path(f"{base}/<int:pk>/delete/", make("delete"), name=f"{name}_delete"),
            path(f"{base}/<int:pk>/actions/<slug:name>/", make("action"), name=f"{name}_action"),
        ]
    return patterns
