"""POST /api/cmdb/import/: the CSV/XLSX import for scripts, with the same all-or-nothing checks."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, PermissionDenied
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from opsdesk.cmdb import importer, jobs
from opsdesk.cmdb.models import ConfigurationItem, ImportJob
from opsdesk.cmdb.views.imports import declared_too_large, too_large_message
from opsdesk.core import registry
from opsdesk.core.permissions import can


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("A .csv or .xlsx file in the import format (docs/cmdb.md)."))
    dry_run = serializers.BooleanField(default=True, help_text=_("Check only, write nothing."))


class ProblemSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    field = serializers.CharField()
    message = serializers.CharField()
    value = serializers.CharField(allow_blank=True, help_text=_("The value in the file (its beginning)."))


class ImportReportSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    relations_created = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    written = serializers.BooleanField()
    problems = ProblemSerializer(many=True)
    problems_omitted = serializers.IntegerField(help_text=_("Problems beyond those listed."))
    warnings = ProblemSerializer(many=True, help_text=_("What was not imported as written, without stopping "
                                                        "the import."))


class ImportJobSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    filename = serializers.CharField()
    dry_run = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    report = ImportReportSerializer(allow_null=True)
    url = serializers.CharField()


def job_body(job: ImportJob) -> dict:
    report = jobs.report_from_dict(job.report) if job.report else None
    return ImportJobSerializer({
        **{f: getattr(job, f) for f in ("id", "state", "filename", "dry_run", "created_at", "finished_at", "error")},
        "report": {**report.__dict__, "written": report.written} if report else None,
        "url": f"/api/cmdb/import/jobs/{job.pk}/",
    }).data


class FileTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "file_too_large"


class ImportConflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


# A 400 is the report of a file with problems (nothing written), or the request refused as a
# whole ({"file": [...]}, {"dry_run": [...]}, {"detail": ...}): the generic ValidationError that
# opsdesk.core.api.schema documents for every operation. The report has integer counts, which
# the generic error body cannot have, so exactly one of the two matches.
IMPORT_400 = {"oneOf": [{"$ref": "#/components/schemas/ImportReport"},
                        {"$ref": "#/components/schemas/ValidationError"}]}
FILE_ERROR = {"$ref": "#/components/schemas/ValidationError"}


class ImportView(APIView):
    """400 with every problem (line, column, value, message) when the file has any; nothing is
    written. A large file is a job: 202 with the job, whose URL tells when it is done. A file over
    the upload limit (the same as the page's) is 413, naming the field `file`."""

    parser_classes = [MultiPartParser]
    entry = None  # set below: the CI entry's roles decide who may import

    def initial(self, request, *args, **kwargs):
        # Before authentication: a session's CSRF check reads (and spools) the whole body.
        if declared_too_large(request._request):
            raise FileTooLarge({"file": [too_large_message()]})
        super().initial(request, *args, **kwargs)

    @extend_schema(request={"multipart/form-data": ImportRequestSerializer},
                   responses={200: ImportReportSerializer, 202: ImportJobSerializer, 400: IMPORT_400,
                              409: FILE_ERROR, 413: FILE_ERROR})
    def post(self, request):
        if not can(request.user, "add", ConfigurationItem):
            raise PermissionDenied()
        incoming = ImportRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        upload = incoming.validated_data["file"]
        if upload.size > importer.MAX_UPLOAD_BYTES:
            raise FileTooLarge({"file": [too_large_message()]})
        content = upload.read()
        if jobs.needs_worker(upload.name, content):
            job = jobs.submit(request.user, upload.name, content, dry_run=incoming.validated_data["dry_run"])
            return Response(job_body(job), status=status.HTTP_202_ACCEPTED)
        try:
            report = importer.import_items(request.user, upload.name, content,
                                           dry_run=incoming.validated_data["dry_run"])
        except importer.ImportConflictError as exc:
            raise ImportConflict({"file": [str(exc)]}) from None
        except importer.ImportFileError as exc:
            raise serializers.ValidationError({"file": [str(exc)]}) from None
        body = ImportReportSerializer({**report.__dict__, "written": report.written}).data
        return Response(body, status=status.HTTP_200_OK if report.ok else status.HTTP_400_BAD_REQUEST)


class ImportJobView(APIView):
    """An import job of the caller's (any job, for administrators)."""

    entry = None

    @extend_schema(responses={200: ImportJobSerializer})
    def get(self, request, pk: int):
        return Response(job_body(get_object_or_404(jobs.visible_to(request.user), pk=pk)))


def import_urls() -> list:
    from django.urls import path

    ImportView.entry = ImportJobView.entry = registry.get(ConfigurationItem)
    return [path("cmdb/import/", ImportView.as_view(), name="api-cmdb-import"),
            path("cmdb/import/jobs/<int:pk>/", ImportJobView.as_view(), name="api-cmdb-import-job")]
