"""Generic list, detail, edit and delete views shared by every registered model.

A model gets all of them by being registered (opsdesk.core.registry); `urls_for(app_label)`
generates the URL patterns. Every query goes through scoping, so a customer user reaching for
another customer's object by id gets 404, not 403: existence is not revealed.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import models
from django.db.models import ProtectedError
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import NoReverseMatch, path, reverse
from django.utils.translation import gettext as _
from django.views import View

from opsdesk.core import registry, services
from opsdesk.core.generic import export
from opsdesk.core.generic.columns import columns_for
from opsdesk.core.generic.filters import filterset_for
from opsdesk.core.generic.forms import form_for
from opsdesk.core.scoping import scope_for

PAGE_SIZES = (25, 50, 100, 250)
# Secrets, and fields derived from the role (is_staff, is_superuser) or unused (Django groups).
HIDDEN_FIELDS = {"password", "key_hash", "secret_encrypted", "id", "is_staff", "is_superuser", "groups",
                 "user_permissions"}


class EntryMixin(LoginRequiredMixin):
    entry: registry.ModelEntry = None  # set by urls_for()

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if request.user.role not in self.entry.view_roles:
            raise Http404
        return super().dispatch(request, *args, **kwargs)

    def require_edit(self) -> None:
        if self.request.user.role not in self.entry.edit_roles:
            raise PermissionDenied(_("You do not have permission to change this."))

    def base_queryset(self) -> models.QuerySet:
        qs = self.entry.model._default_manager.all()
        if self.entry.select_related:
            qs = qs.select_related(*self.entry.select_related)
        if self.entry.prefetch_related:
            qs = qs.prefetch_related(*self.entry.prefetch_related)
        return scope_for(self.request.user, qs)

    def get_object(self, pk) -> models.Model:
        return get_object_or_404(self.base_queryset(), pk=pk)

    def context(self, **extra) -> dict:
        meta = self.entry.model._meta
        can_edit = self.request.user.role in self.entry.edit_roles
        return {"entry": self.entry, "verbose_name": meta.verbose_name,
                "verbose_name_plural": meta.verbose_name_plural, "can_edit": can_edit, **extra}


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
        rows = [(obj, [c.value(obj) for c in columns]) for obj in page.object_list]
        params = request.GET.copy()
        for key in ("page", "export"):
            params.pop(key, None)
        template = "generic/_table.html" if request.headers.get("HX-Request") and \
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
        elif f.choices:
            value = getattr(obj, f"get_{f.name}_display")()
        else:
            value = getattr(obj, f.name)
        rows.append((f.verbose_name, value, link))
    for f in obj._meta.many_to_many:
        if f.name in HIDDEN_FIELDS:
            continue
        rows.append((f.verbose_name, ", ".join(str(o) for o in getattr(obj, f.name).all()), None))
    return rows


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

        return render(request, self.entry.detail_template or self.template_name, self.context(
            object=obj, fields=field_rows(obj, self.entry.detail_exclude),
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

    def get(self, request, pk=None):
        # Scoping first: another customer's object is 404 whatever the role may do.
        obj = self.get_object(pk) if pk is not None else None
        self.require_edit()
        if obj is None and not self.entry.creatable:
            raise Http404
        return render(request, self.template_name, self.context(form=self.form(obj), object=obj))

    def post(self, request, pk=None):
        obj = self.get_object(pk) if pk is not None else None
        self.require_edit()
        form = self.form(obj)
        if form.is_valid():
            saved = (self.entry.save or services.save_form)(form, request.user)
            messages.success(request, _("Saved %(name)s.") % {"name": saved})
            return HttpResponseRedirect(detail_url(saved) or reverse(self.entry.url_name("list")))
        return render(request, self.template_name, self.context(form=form, object=obj), status=400)


class ObjectDeleteView(EntryMixin, View):
    template_name = "generic/confirm_delete.html"

    def get(self, request, pk):
        obj = self.get_object(pk)
        self.require_edit()
        return render(request, self.template_name, self.context(object=obj))

    def post(self, request, pk):
        obj = self.get_object(pk)
        self.require_edit()
        try:
            (self.entry.delete or services.delete_object)(obj, request.user)
        except ProtectedError:
            messages.error(request, _("%(name)s is still in use and cannot be deleted.") % {"name": obj})
            return HttpResponseRedirect(detail_url(obj) or reverse(self.entry.url_name("list")))
        messages.success(request, _("Deleted %(name)s.") % {"name": obj})
        return HttpResponseRedirect(reverse(self.entry.url_name("list")))


class BulkDeleteView(EntryMixin, View):
    template_name = "generic/confirm_bulk_delete.html"

    def post(self, request):
        self.require_edit()
        ids = [i for i in request.POST.getlist("pk") if i.isdigit()]
        objects = list(self.base_queryset().filter(pk__in=ids))
        if not objects:
            messages.warning(request, _("Nothing was selected."))
            return HttpResponseRedirect(reverse(self.entry.url_name("list")))
        if request.POST.get("confirm") != "yes":
            return render(request, self.template_name, self.context(objects=objects))
        delete = self.entry.delete or services.delete_object
        try:
            from django.db import transaction

            with transaction.atomic():
                for obj in objects:
                    delete(obj, request.user)
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
        from django import forms as django_forms

        from opsdesk.core.generic.forms import ScopedModelForm

        # The plain scoped form, not the entry's own (which may expect fields this one lacks);
        # each object's full_clean() below applies the model's rules.
        fields = list(self.entry.bulk_edit_fields)
        return django_forms.modelform_factory(self.entry.model, form=ScopedModelForm, fields=fields), fields

    def post(self, request):
        self.require_edit()
        if not self.entry.bulk_edit_fields:
            raise Http404
        ids = [i for i in request.POST.getlist("pk") if i.isdigit()]
        objects = list(self.base_queryset().filter(pk__in=ids))
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
        from django.core.exceptions import ValidationError
        from django.db import transaction

        problems = []
        with transaction.atomic():
            for obj in objects:
                for name, value in changes.items():
                    setattr(obj, name, value)
                try:
                    obj.full_clean()
                except ValidationError as exc:
                    problems += [f"{obj}: {msg}" for msgs in exc.message_dict.values() for msg in msgs]
                    continue
                obj.save()
            if problems:
                transaction.set_rollback(True)
        return problems


def urls_for(app_label: str) -> list:
    patterns = []
    for entry in registry.entries(app_label):
        base = entry.url_slug
        name = entry.model_name

        def make(view_class, e=entry):
            return view_class.as_view(entry=e)

        patterns += [
            path(f"{base}/", make(ObjectListView), name=f"{name}_list"),
            path(f"{base}/add/", make(ObjectEditView), name=f"{name}_add"),
            path(f"{base}/bulk-delete/", make(BulkDeleteView), name=f"{name}_bulk_delete"),
            path(f"{base}/bulk-edit/", make(BulkEditView), name=f"{name}_bulk_edit"),
            path(f"{base}/<int:pk>/", make(ObjectDetailView), name=f"{name}_detail"),
            path(f"{base}/<int:pk>/edit/", make(ObjectEditView), name=f"{name}_edit"),
            path(f"{base}/<int:pk>/delete/", make(ObjectDeleteView), name=f"{name}_delete"),
        ]
    return patterns
