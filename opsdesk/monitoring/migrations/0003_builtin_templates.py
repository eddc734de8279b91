from django.db import migrations


def create(apps, schema_editor):
    from opsdesk.monitoring.builtin_templates import sync

    sync(apps.get_model("monitoring", "Template"), apps.get_model("cmdb", "CIKind"))


class Migration(migrations.Migration):
    dependencies = [("monitoring", "0002_checks_series_templates"), ("cmdb", "0003_builtin_kinds")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
