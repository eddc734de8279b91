"""The CMDB import page (dry run, inline for small files, a job for large ones) and a job's page."""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from opsdesk.cmdb import importer, jobs
from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core import registry

MAX_UPLOAD_BYTES = 20 * 1024 * 1024


class ImportForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("File (CSV or XLSX)"),
                           widget=forms.ClearableFileInput(attrs={"class": "form-control", "accept": ".csv,.xlsx"}))
    dry_run = forms.BooleanField(label=gettext_lazy("Dry run: check only, write nothing"), required=False,
                                 initial=True, widget=forms.CheckboxInput(attrs={"class": "form-check-input"}))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 20 MB."))
        return upload


def _require_import_permission(request) -> None:
    if request.user.role not in registry.get(ConfigurationItem).edit_roles:
        raise PermissionDenied(_("You do not have permission to change this."))


@login_required
def import_view(request):
    _require_import_permission(request)
    form = ImportForm(request.POST or None, request.FILES or None)
    report = None
    status = 200
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        content = upload.read()
        dry_run = form.cleaned_data["dry_run"]
        if len(content) > jobs.INLINE_MAX_BYTES:
            # A large file is a job for a worker; the job's page follows it.
            job = jobs.submit(request.user, upload.name, content, dry_run=dry_run)
            return redirect("cmdb:import_job", pk=job.pk)
        try:
            report = importer.import_items(request.user, upload.name, content, dry_run=dry_run)
        except importer.ImportFileError as exc:
            form.add_error("file", str(exc))
        if report is not None and not report.ok:
            status = 400
    if form.errors:
        status = 400
    return render(request, "cmdb/import.html", {"form": form, "report": report}, status=status)


@login_required
def import_job(request, pk: int):
    """A job's page; htmx asks for the status part again every second until it is finished."""
    _require_import_permission(request)
    job = get_object_or_404(jobs.visible_to(request.user), pk=pk)
    report = jobs.report_from_dict(job.report) if job.report else None
    template = "cmdb/_import_job_status.html" if request.headers.get("HX-Request") else "cmdb/import_job.html"
    return render(request, template, {"job": job, "report": report})
