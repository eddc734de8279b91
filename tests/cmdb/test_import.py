"""CSV/XLSX import: all or nothing, every problem named by line and column."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook

from opsdesk.cmdb import importer
from opsdesk.cmdb.models import ConfigurationItem, Relation
from tests.factories import ConfigurationItemFactory, SiteFactory

pytestmark = pytest.mark.django_db

GOOD = (
    "customer,name,kind,site,criticality,attr:ip_address,attr:cpu_cores,runs_on,depends_on\n"
    "ALPHA,web01,server,Main,high,10.0.0.5,8,,\n"
    "ALPHA,db01,server,,critical,10.0.0.6,16,,\n"
    "ALPHA,shop,application,,,,,web01,db01\n"
)


@pytest.fixture
def main_site(customer_a):
    return SiteFactory(customer=customer_a, name="Main")


def run(user, text: str, *, dry_run: bool = False, name: str = "items.csv") -> importer.ImportReport:
    return importer.import_items(user, name, text.encode(), dry_run=dry_run)


def test_a_good_file_creates_items_and_relations(admin, main_site):
    report = run(admin, GOOD)
    assert report.ok, report.problems
    assert (report.created, report.updated, report.relations_created) == (3, 0, 2)
    web = ConfigurationItem.objects.get(name="web01")
    assert web.site == main_site and web.criticality == "high"
    assert web.attributes == {"ip_address": "10.0.0.5", "cpu_cores": 8}
    shop = ConfigurationItem.objects.get(name="shop")
    assert set(Relation.objects.filter(source=shop).values_list("type", "target__name")) == {
        ("runs_on", "web01"), ("depends_on", "db01")}


def test_a_dry_run_reports_but_writes_nothing(admin, main_site):
    report = run(admin, GOOD, dry_run=True)
    assert report.ok and report.created == 3 and not report.written
    assert not ConfigurationItem.objects.exists()


def test_a_bad_row_is_named_by_line_and_field_and_nothing_is_written(admin, main_site):
    text = GOOD + "ALPHA,bad01,server,,,999.1.1.1,many,,\nALPHA,ghost,nosuchkind,,,,,,\n"
    report = run(admin, text)
    problems = {(p.line, p.field) for p in report.problems}
    assert (5, "attr:ip_address") in problems
    assert (5, "attr:cpu_cores") in problems
    assert (6, "kind") in problems
    assert not report.ok
    assert not ConfigurationItem.objects.exists()
    assert not Relation.objects.exists()


def test_every_kind_of_problem_is_reported_at_once(admin, customer_a):
    text = (
        "customer,name,kind,site,status,criticality,owner_team,runs_on\n"
        "NOPE,a,server,,,,,\n"               # line 2: unknown customer
        "ALPHA,,server,,,,,\n"               # line 3: no name
        "ALPHA,b,server,Nowhere,,,,\n"       # line 4: unknown site
        "ALPHA,c,server,,sleeping,,,\n"      # line 5: bad status
        "ALPHA,d,server,,,urgent,,\n"        # line 6: bad criticality
        "ALPHA,e,server,,,,No team,\n"       # line 7: unknown team
        "ALPHA,f,server,,,,,missing\n"       # line 8: relation to nothing
        "ALPHA,f,server,,,,,\n"              # line 9: duplicate of line 8
    )
    report = run(admin, text)
    assert [(p.line, p.field) for p in report.problems] == [
        (2, "customer"), (3, "name"), (4, "site"), (5, "status"), (6, "criticality"), (7, "owner_team"),
        (8, "runs_on"), (9, "name")]


def test_a_customer_user_cannot_import_into_another_customer(customer_b, other_customer_user, customer_a):
    report = run(other_customer_user, "customer,name,kind\nALPHA,x,server\n")
    assert [(p.line, p.field) for p in report.problems] == [(2, "customer")]


def test_existing_items_are_updated(admin, customer_a):
    ConfigurationItemFactory(customer=customer_a, name="web01", attributes={"ip_address": "10.0.0.1"})
    report = run(admin, "customer,name,kind,attr:ip_address\nALPHA,web01,server,10.0.0.9\n")
    assert (report.created, report.updated) == (0, 1)
    assert ConfigurationItem.objects.get(name="web01").attributes == {"ip_address": "10.0.0.9"}


def test_chinese_headers_and_gb18030_files(admin, customer_a):
    text = "客户,名称,类型,attr:os\nALPHA,文件服务器,server,麒麟 V10\n"
    report = importer.import_items(admin, "cn.csv", text.encode("gb18030"), dry_run=False)
    assert report.ok, report.problems
    assert ConfigurationItem.objects.get(name="文件服务器").attributes == {"os": "麒麟 V10"}


def test_xlsx_files(admin, customer_a):
    book = Workbook()
    sheet = book.active
    sheet.append(["customer", "name", "kind", "attr:cpu_cores"])
    sheet.append(["ALPHA", "x1", "server", 4])
    sheet.append(["ALPHA", "x2", "server", "four"])
    buffer = io.BytesIO()
    book.save(buffer)
    report = importer.import_items(admin, "items.xlsx", buffer.getvalue(), dry_run=False)
    assert [(p.line, p.field) for p in report.problems] == [(3, "attr:cpu_cores")]
    assert not ConfigurationItem.objects.exists()


def test_a_file_without_the_required_columns_is_refused(admin):
    with pytest.raises(importer.ImportFileError):
        run(admin, "name,kind\nx,server\n")
    with pytest.raises(importer.ImportFileError):
        run(admin, "whatever", name="items.pdf")


def test_export_then_import_round_trips(admin_client, admin, main_site):
    run(admin, GOOD)
    response = admin_client.get(reverse("cmdb:configurationitem_list"), {"export": "csv"})
    exported = b"".join(response.streaming_content)
    ConfigurationItem.objects.all().delete()
    report = importer.import_items(admin, "export.csv", exported, dry_run=False)
    assert report.ok, report.problems
    assert report.created == 3 and report.relations_created == 2


def test_the_import_page_shows_each_problem(admin_client, customer_a):
    upload = SimpleUploadedFile("items.csv", b"customer,name,kind\nALPHA,ok1,server\nALPHA,bad,nokind\n")
    response = admin_client.post(reverse("cmdb:import"), {"file": upload})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'id="import-problems"' in page and "<td>3</td>" in page and "<code>kind</code>" in page
    assert not ConfigurationItem.objects.exists()


def test_the_import_page_writes_a_good_file_when_not_a_dry_run(admin_client, customer_a):
    upload = SimpleUploadedFile("items.csv", b"customer,name,kind\nALPHA,ok1,server\n")
    response = admin_client.post(reverse("cmdb:import"), {"file": upload})
    assert response.status_code == 200
    assert ConfigurationItem.objects.filter(name="ok1").exists()


def test_customers_cannot_open_the_import(customer_client):
    assert customer_client.get(reverse("cmdb:import")).status_code == 403


def test_the_command_reports_problems_and_fails(admin, customer_a, tmp_path, capsys):
    path = tmp_path / "items.csv"
    path.write_text("customer,name,kind\nALPHA,ok,server\nALPHA,bad,nokind\n")
    with pytest.raises(CommandError, match="1 problem"):
        call_command("import_cis", str(path), "--actor", admin.username)
    assert "line 3, kind" in capsys.readouterr().err
    path.write_text("customer,name,kind\nALPHA,ok,server\n")
    call_command("import_cis", str(path), "--actor", admin.username)
    assert ConfigurationItem.objects.filter(name="ok").exists()


def test_the_api_imports_with_a_dry_run_and_reports_problems(admin_api, customer_a, customer_api):
    bad = SimpleUploadedFile("items.csv", b"customer,name,kind\nALPHA,ok1,server\nALPHA,bad,nokind\n")
    response = admin_api.post("/api/cmdb/import/", {"file": bad, "dry_run": "false"}, format="multipart")
    assert response.status_code == 400
    assert response.json()["problems"] == [
        {"line": 3, "field": "kind", "message": "No kind nokind.", "value": "nokind"}]
    good = SimpleUploadedFile("items.csv", b"customer,name,kind\nALPHA,ok1,server\n")
    dry = admin_api.post("/api/cmdb/import/", {"file": good}, format="multipart")
    assert dry.status_code == 200 and dry.json()["created"] == 1 and dry.json()["written"] is False
    assert not ConfigurationItem.objects.exists()
    good.seek(0)
    real = admin_api.post("/api/cmdb/import/", {"file": good, "dry_run": "false"}, format="multipart")
    assert real.status_code == 200 and real.json()["written"] is True
    assert ConfigurationItem.objects.filter(name="ok1").exists()
    good.seek(0)
    assert customer_api.post("/api/cmdb/import/", {"file": good}, format="multipart").status_code == 403
    assert admin_api.post("/api/cmdb/import/", {"dry_run": "true"}, format="multipart").status_code == 400


def test_the_import_page_repeats_the_bad_value_and_links_to_what_was_imported(admin_client, customer_a):
    upload = SimpleUploadedFile("items.csv", b"customer,name,kind\nALPHA,ok1,server\nALPHA,bad,no<b>kind\n")
    page = admin_client.post(reverse("cmdb:import"), {"file": upload}).content.decode()
    assert "<td>3</td><td><code>kind</code></td><td class=\"text-break\">no&lt;b&gt;kind</td>" in page
    upload = SimpleUploadedFile("items.csv", b"customer,name,kind\nALPHA,ok1,server\n")
    page = admin_client.post(reverse("cmdb:import"), {"file": upload}).content.decode()
    link = reverse("cmdb:configurationitem_list") + f"?customer={customer_a.pk}"
    assert f'href="{link}"' in page and 'id="import-items-link"' in page
    upload = SimpleUploadedFile("items.csv", b"customer,name,kind\nALPHA,ok2,server\n")
    page = admin_client.post(reverse("cmdb:import"), {"file": upload, "dry_run": "on"}).content.decode()
    assert 'id="import-items-link"' not in page  # a dry run wrote nothing to show


def test_the_job_page_links_to_what_was_imported(admin_client, admin, customer_a):
    from opsdesk.cmdb import jobs

    job = jobs.submit(admin, "x.csv", b"customer,name,kind\nALPHA,j1,server\n", dry_run=False)
    jobs.run(job.pk)
    page = admin_client.get(reverse("cmdb:import_job", args=[job.pk])).content.decode()
    assert f"?customer={customer_a.pk}" in page


@pytest.mark.parametrize("language,first", [("en", "customer"), ("zh-hans", "客户")])
def test_the_template_has_the_header_and_an_example_that_imports(admin_client, admin, customer_a, language, first):
    with translation.override(language):
        response = admin_client.get(reverse("cmdb:import"), {"template": "csv"}, HTTP_ACCEPT_LANGUAGE=language)
        content = b"".join(response.streaming_content)
        rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
        assert rows[0][0] == first and rows[1][0] == "ALPHA" and len(rows) == 2
        report = importer.import_items(admin, "template.csv", content, dry_run=True)
    assert report.ok and report.created == 1, report.problems
    xlsx = admin_client.get(reverse("cmdb:import"), {"template": "xlsx"})
    assert importer.import_items(admin, "template.xlsx", xlsx.content, dry_run=True).ok
    page = admin_client.get(reverse("cmdb:import")).content.decode()
    assert "?template=csv" in page and "?template=xlsx" in page


def test_who_may_import_is_decided_by_can(engineer_client, manager, client, customer_a):
    assert engineer_client.get(reverse("cmdb:import")).status_code == 200
    client.force_login(manager)
    assert client.get(reverse("cmdb:import")).status_code == 200
