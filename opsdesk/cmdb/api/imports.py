"""POST /api/cmdb/import/: the CSV/XLSX import for scripts, with the same all-or-nothing checks."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from opsdesk.cmdb import importer
from opsdesk.cmdb.models import ConfigurationItem
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


class ImportView(APIView):
    """400 with every problem (line, column, message) when the file has any; nothing is written."""

    parser_classes = [MultiPartParser]
    entry = None  # set below: the CI entry's roles decide who may import

    @extend_schema(request={"multipart/form-data": ImportRequestSerializer},
                   responses={200: ImportReportSerializer, 400: ImportReportSerializer})
    def post(self, request):
        incoming = ImportRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        upload = incoming.validated_data["file"]
        try:
            report = importer.import_items(request.user, upload.name, upload.read(),
                                           dry_run=incoming.validated_data["dry_run"])
        except importer.ImportFileError as exc:
            raise serializers.ValidationError({"file": [str(exc)]}) from None
        body = ImportReportSerializer({**report.__dict__, "written": report.written}).data
        return Response(body, status=status.HTTP_200_OK if report.ok else status.HTTP_400_BAD_REQUEST)


def import_urls() -> list:
    from django.urls import path

    ImportView.entry = registry.get(ConfigurationItem)
    return [path("cmdb/import/", ImportView.as_view(), name="api-cmdb-import")]
