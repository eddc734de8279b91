"""The CMDB import page (dry run, inline for small files, a job for large ones), its template
download, and a job's page."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from opsdesk.cmdb import importer, jobs
from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core.generic import export
from opsdesk.core.permissions import can

# The multipart envelope and the other fields around the file.
UPLOAD_OVERHEAD_BYTES = 64 * 1024


def too_large_message() -> str:
    return _("The file is larger than %(max)s MB.") % {"max": importer.MAX_UPLOAD_BYTES // (1024 * 1024)}


def declared_too_large(request: HttpRequest) -> bool:
    """Does the request announce a body larger than any allowed upload? Checked before anything
    reads the body, so that a huge upload is not first spooled to disk."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > importer.MAX_UPLOAD_BYTES + UPLOAD_OVERHEAD_BYTES


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File (CSV or XLSX)"),
                           widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": ".csv,.xlsx"}))
    dry_run = forms.BooleanField(label=gettext_lazy("Dry run: check only, write nothing"), required=False,
                                 initial=True, widget=forms.CheckboxInput(attrs={"class": "form-check-input"}))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > importer.MAX_UPLOAD_BYTES:
            raise forms.ValidationError(too_large_message())
        return upload


def _require_import_permission(request: HttpRequest) -> None:
    if not can(request.user, "add", ConfigurationItem):
        raise PermissionDenied(_("You do not have permission to change this."))


def items_url(report: importer.ImportReport | None) -> str:
    """The item list filtered to the customers a written import touched."""
    if report is None or not report.written or not report.customer_ids:
        return ""
    return reverse("cmdb:configurationitem_list") + "?" + urlencode([("customer", pk) for pk in report.customer_ids])


def _template_download(request: HttpRequest, fmt: str) -> HttpResponse:
    chinese = (get_language() or "").lower().startswith("zh")
    rows = importer.template_rows(request.user, chinese=chinese)
    name = "cmdb_import_template"
    return export.as_csv(rows, name) if fmt == "csv" else export.as_xlsx(rows, name)


# csrf_exempt only so that the size can be refused before the CSRF check reads the body; the
# token is still checked, by csrf_protect on _import_page.
@csrf_exempt
@login_required
def import_view(request: HttpRequest) -> HttpResponse:
    _require_import_permission(request)
    if request.method == "GET" and request.GET.get("template") in ("csv", "xlsx"):
        return _template_download(request, request.GET["template"])
    if request.method == "POST" and declared_too_large(request):
        return render(request, "cmdb/import.html", {"form": ImportForm(), "upload_error": too_large_message()},
                      status=413)
    return _import_page(request)


@csrf_protect
def _import_page(request: HttpRequest) -> HttpResponse:
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        content = upload.read()
        dry_run = form.cleaned_data["dry_run"]
        if jobs.needs_worker(upload.name, content):
            # A large file is a job for a worker; the job's page follows it.
            job = jobs.submit(request.user, upload.name, content, dry_run=dry_run)
            return redirect("cmdb:import_job", pk=job.pk)
        try:
            report = importer.import_items(request.user, upload.name, content, dry_run=dry_run)
        except importer.ImportConflictError as exc:
            form.add_error("file", str(exc))
            status = 409
        except importer.ImportFileError as exc:
            form.add_error("file", str(exc))
        except IntegrityError:
            # The import retries its batches; this is only a last resort, never a 500.
            form.add_error("file", _("Another import was writing the same items at the same time. Import the "
                                     "file again to finish it."))
            status = 409
        if report is not None and not report.ok:
            status = 400
    if form.errors and status == 200:
        status = 400
    return render(request, "cmdb/import.html", {"form": form, "report": report, "items_url": items_url(report)},
                  status=status)


@login_required
def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's page; htmx asks for the status part again every second until it is finished."""
    _require_import_permission(request)
    job = get_object_or_404(jobs.visible_to(request.user), pk=pk)
    report = jobs.report_from_dict(job.report) if job.report else None
    template = "cmdb/_import_job_status.html" if request.headers.get("HX-Request") else "cmdb/import_job.html"
    return render(request, template, {"job": job, "report": report, "items_url": items_url(report)})
