from django.db import migrations


def create(apps, schema_editor):
    from opsdesk.cmdb.builtin_kinds import BUILTIN_KINDS

    CIKind = apps.get_model("cmdb", "CIKind")
    for spec in BUILTIN_KINDS:
        CIKind.objects.update_or_create(slug=spec["slug"], defaults={**spec, "builtin": True})


class Migration(migrations.Migration):
    dependencies = [("cmdb", "0002_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
