"""The default service level, with the three fault levels and their commitments (data, editable)."""

from django.db import migrations

TARGETS = [
    # fault level, respond within, resolve within (minutes)
    ("severe", 15, 4 * 60),
    ("general", 30, 24 * 60),
    ("minor", 4 * 60, 72 * 60),
]


def create(apps, schema_editor):
    ServiceLevel = apps.get_model("core", "ServiceLevel")
    Target = apps.get_model("core", "ServiceLevelTarget")
    if ServiceLevel.objects.exists():
        return
    level = ServiceLevel.objects.create(
        name="Standard", description="严重: response 15 min, resolution 4 h · 一般: 30 min, 24 h · 轻微: 4 h, 72 h")
    for fault, response, resolution in TARGETS:
        Target.objects.create(service_level=level, fault_level=fault, response_minutes=response,
                              resolution_minutes=resolution)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
