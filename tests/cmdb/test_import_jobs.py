"""Large imports run as jobs: a row with a lease, taken by one worker, sent again if it dies."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation

from opsdesk.cmdb import jobs
from opsdesk.cmdb.models import ConfigurationItem, ImportJob
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def big_csv(rows: int, bad_line: int | None = None) -> bytes:
    lines = ["customer,name,kind,attr:ip_address"]
    for i in range(rows):
        ip = "999.0.0.1" if bad_line is not None and i + 2 == bad_line else f"10.0.{i // 250}.{i % 250 + 1}"
        lines.append(f"ALPHA,host-{i:05d},server,{ip}")
    content = ("\n".join(lines) + "\n").encode()
    assert len(content) > jobs.INLINE_MAX_BYTES or rows < 1000
    return content


def test_a_large_file_becomes_a_job_that_a_worker_runs(admin_client, admin, customer_a,
                                                         django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("big.csv", big_csv(8000))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("cmdb:import"), {"file": upload})
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("cmdb:import_job", args=[job.pk])
    job.refresh_from_db()
    assert job.state == "done" and job.report["created"] == 8000 and job.content == b""
    assert ConfigurationItem.objects.count() == 8000
    page = admin_client.get(response["Location"]).content.decode()
    assert 'data-state="done"' in page and "8000" in page


def test_a_job_with_a_bad_row_writes_nothing_and_reports_it_in_the_submitters_language(admin, customer_a):
    with translation.override("zh-hans"):
        job = jobs.submit(admin, "big.csv", big_csv(300, bad_line=150), dry_run=False)
    jobs.run(job.pk)
    job.refresh_from_db()
    assert job.state == "done"
    assert job.report["problems"][0]["line"] == 150 and job.report["problems"][0]["field"] == "attr:ip_address"
    assert "IPv4" in job.report["problems"][0]["message"] and "Is not" not in job.report["problems"][0]["message"]
    assert not ConfigurationItem.objects.exists()


def test_only_one_worker_claims_a_job_and_a_lapsed_lease_is_taken_again(admin, customer_a):
    job = ImportJob.objects.create(created_by=admin, filename="x.csv", content=big_csv(3), dry_run=False)
    assert jobs.claim(job.pk) is True
    assert jobs.claim(job.pk) is False  # another worker, while the lease holds
    ImportJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - dt.timedelta(seconds=1))
    jobs.run(job.pk)  # the worker died; this one takes over
    job.refresh_from_db()
    assert job.state == "done" and job.attempts == 2
    assert ConfigurationItem.objects.count() == 3


def test_the_sweep_sends_again_what_nobody_works_on_and_gives_up_after_three_tries(admin, customer_a):
    old = timezone.now() - dt.timedelta(minutes=5)
    lost = ImportJob.objects.create(created_by=admin, filename="a.csv", content=big_csv(2), dry_run=False)
    ImportJob.objects.filter(pk=lost.pk).update(created_at=old)
    dead = ImportJob.objects.create(created_by=admin, filename="b.csv", content=b"", state="running",
                                    lease_until=old, attempts=3)
    assert jobs.sweep() == 1  # tasks are eager in tests: the lost job runs now
    lost.refresh_from_db()
    dead.refresh_from_db()
    assert lost.state == "done" and ConfigurationItem.objects.count() == 2
    assert dead.state == "failed" and "3" in dead.error


def test_a_job_is_visible_to_its_owner_and_administrators_only(client, admin, engineer, customer_a):
    job = ImportJob.objects.create(created_by=engineer, filename="x.csv", content=b"")
    someone = UserFactory(role="engineer")
    client.force_login(someone)
    assert client.get(reverse("cmdb:import_job", args=[job.pk])).status_code == 404
    client.force_login(engineer)
    assert client.get(reverse("cmdb:import_job", args=[job.pk])).status_code == 200
    client.force_login(admin)
    assert client.get(reverse("cmdb:import_job", args=[job.pk])).status_code == 200


def test_the_api_answers_202_with_a_job_for_a_large_file(admin_api, engineer, customer_a,
                                                          django_capture_on_commit_callbacks):
    upload = SimpleUploadedFile("big.csv", big_csv(8000))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_api.post("/api/cmdb/import/", {"file": upload, "dry_run": "false"}, format="multipart")
    assert response.status_code == 202
    job = admin_api.get(response.json()["url"]).json()
    assert job["state"] == "done" and job["report"]["created"] == 8000 and job["report"]["written"] is True
    from tests.conftest import api_client_for

    assert api_client_for(engineer).get(response.json()["url"]).status_code == 404
