"""POST /api/cmdb/import/: the CSV/XLSX import for scripts, with the same all-or-nothing checks."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from opsdesk.cmdb import importer, jobs
from opsdesk.cmdb.models import ConfigurationItem, ImportJob
from opsdesk.core import registry


class ImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("A .csv or .xlsx file in the import format (docs/cmdb.md)."))
    dry_run = serializers.BooleanField(default=True, help_text=_("Check only, write nothing."))


class ProblemSerializer(serializers.Serializer):
    line = serializers.IntegerField()
    field = serializers.CharField()
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    relations_created = serializers.IntegerField()
    dry_run = serializers.BooleanField()
    written = serializers.BooleanField()
    problems = ProblemSerializer(many=True)


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


class ImportView(APIView):
    """400 with every problem (line, column, message) when the file has any; nothing is written.
    A file over 256 KB is a job: 202 with the job, whose URL tells when it is done."""

    parser_classes = [MultiPartParser]
    entry = None  # set below: the CI entry's roles decide who may import

    @extend_schema(request={"multipart/form-data": ImportRequestSerializer},
                   responses={200: ImportReportSerializer, 202: ImportJobSerializer, 400: ImportReportSerializer})
    def post(self, request):
        incoming = ImportRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        upload = incoming.validated_data["file"]
        content = upload.read()
        if len(content) > jobs.INLINE_MAX_BYTES:
            job = jobs.submit(request.user, upload.name, content, dry_run=incoming.validated_data["dry_run"])
            return Response(job_body(job), status=status.HTTP_202_ACCEPTED)
        try:
            report = importer.import_items(request.user, upload.name, content,
                                           dry_run=incoming.validated_data["dry_run"])
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
