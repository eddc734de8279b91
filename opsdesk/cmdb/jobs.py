"""Import jobs: large files are imported by a worker while the page polls the job's row.

The row is written in the request's transaction and the task is sent on commit with its id. A
worker claims the row with a lease (an atomic UPDATE … WHERE state/lease), so two workers never
run the same job; if a worker dies, the periodic sweep sends the job again once the lease ran
out. The import itself is all-or-nothing, so running it again is safe.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from opsdesk.cmdb import importer
from opsdesk.cmdb.models import ImportJob

LEASE = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 3
# Files up to this size are imported in the request; larger ones become a job.
INLINE_MAX_BYTES = 256 * 1024


def visible_to(user):
    """Import jobs a person may follow: their own; every job for administrators."""
    jobs = ImportJob.objects.defer("content")
    return jobs if user.role == "admin" else jobs.filter(created_by=user)


def submit(user, filename: str, content: bytes, *, dry_run: bool) -> ImportJob:
    from opsdesk.cmdb.tasks import run_import_job

    with transaction.atomic():
        job = ImportJob.objects.create(created_by=user, filename=filename, content=content, dry_run=dry_run,
                                       language=translation.get_language() or "en")
        transaction.on_commit(lambda: run_import_job.delay(job.pk))
    return job


def claim(job_id: int) -> bool:
    """Take the job if it is queued, or running under a lease that ran out."""
    now = timezone.now()
    return bool(ImportJob.objects.filter(pk=job_id, attempts__lt=MAX_ATTEMPTS).filter(
        Q(state=ImportJob.State.QUEUED) | Q(state=ImportJob.State.RUNNING, lease_until__lt=now),
    ).update(state=ImportJob.State.RUNNING, lease_until=now + LEASE, attempts=F("attempts") + 1))


def run(job_id: int) -> None:
    if not claim(job_id):
        return  # done already, or another worker holds it
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    try:
        with translation.override(job.language):
            report = importer.import_items(job.created_by, job.filename, bytes(job.content), dry_run=job.dry_run)
    except importer.ImportFileError as exc:
        ImportJob.objects.filter(pk=job_id).update(state=ImportJob.State.FAILED, error=str(exc),
                                                   finished_at=timezone.now(), lease_until=None)
        return
    ImportJob.objects.filter(pk=job_id).update(
        state=ImportJob.State.DONE, report=report_to_dict(report), finished_at=timezone.now(), lease_until=None,
        content=b"")  # the file is no longer needed


def sweep() -> int:
    """Send again the jobs nobody is working on: queued for a while, or with a lapsed lease.
    Jobs that failed MAX_ATTEMPTS times are marked failed."""
    from opsdesk.cmdb.tasks import run_import_job

    now = timezone.now()
    for job in ImportJob.objects.filter(attempts__gte=MAX_ATTEMPTS, state=ImportJob.State.RUNNING,
                                        lease_until__lt=now).only("pk", "language"):
        with translation.override(job.language):
            error = _("The import was given up after %(count)d failed attempts.") % {"count": MAX_ATTEMPTS}
        ImportJob.objects.filter(pk=job.pk).update(state=ImportJob.State.FAILED, error=error, finished_at=now)
    stale = ImportJob.objects.filter(
        Q(state=ImportJob.State.QUEUED, created_at__lt=now - dt.timedelta(minutes=1))
        | Q(state=ImportJob.State.RUNNING, lease_until__lt=now))
    ids = list(stale.values_list("pk", flat=True))
    for job_id in ids:
        run_import_job.delay(job_id)
    return len(ids)


def report_to_dict(report: importer.ImportReport) -> dict:
    return dataclasses.asdict(report)


def report_from_dict(data: dict) -> importer.ImportReport:
    problems = [importer.RowProblem(**p) for p in data.get("problems", [])]
    return importer.ImportReport(**{**data, "problems": problems})
