"""Import jobs: large files are imported by a worker while the page polls the job's row.

The row is written in the request's transaction and the task is sent on commit with its id. A
worker claims the row with a lease (an atomic UPDATE … WHERE state/lease), so two workers never
run the same job; the lease is extended after every written batch. If a worker dies, the periodic
sweep sends the job again once the lease ran out; the import writes upserts, so the new run
finishes what the dead one began. A job always ends "done" or "failed" with its cause, and then
no longer keeps the file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from opsdesk.cmdb import importer
from opsdesk.cmdb.models import ImportJob
from opsdesk.core.permissions import ADMIN

logger = logging.getLogger(__name__)

LEASE = dt.timedelta(minutes=10)
MAX_ATTEMPTS = 3
# Files up to this size are imported in the request; larger ones become a job. An XLSX is judged
# by what it unpacks to, which is what reading it costs.
INLINE_MAX_BYTES = 256 * 1024
INLINE_MAX_UNPACKED_BYTES = 4 * 1024 * 1024


def visible_to(user):
    """Import jobs a person may follow: their own; every job for administrators."""
    jobs = ImportJob.objects.defer("content")
    return jobs if getattr(user, "role", None) == ADMIN else jobs.filter(created_by=user)


def needs_worker(filename: str, content: bytes) -> bool:
    """Is the file too large to be read in the web process?"""
    if len(content) > INLINE_MAX_BYTES:
        return True
    return importer.unpacked_size(filename, content) > INLINE_MAX_UNPACKED_BYTES


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


def _finish(job_id: int, state: str, **fields) -> None:
    # content=b"": a finished job does not keep the file (it may hold what the person did not
    # mean to leave lying in the database, and it can be large).
    ImportJob.objects.filter(pk=job_id).update(state=state, finished_at=timezone.now(), lease_until=None,
                                               content=b"", **fields)


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".strip()
    return text[:500]


def run(job_id: int) -> None:
    if not claim(job_id):
        return  # done already, or another worker holds it
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)

    def extend_lease() -> None:
        ImportJob.objects.filter(pk=job_id, state=ImportJob.State.RUNNING).update(
            lease_until=timezone.now() + LEASE)

    with translation.override(job.language):
        try:
            report = importer.import_items(job.created_by, job.filename, bytes(job.content), dry_run=job.dry_run,
                                           progress=extend_lease)
        except importer.ImportFileError as exc:
            _finish(job_id, ImportJob.State.FAILED, error=str(exc))
            return
        except MemoryError:
            _finish(job_id, ImportJob.State.FAILED,
                    error=_("The file needs more memory than the worker has; split it into smaller files."))
            return
        except (OperationalError, InterfaceError) as exc:
            # The database was busy or went away: worth another attempt (the import is an upsert,
            # so it finishes what this attempt wrote), until the attempts are spent.
            logger.warning("import job %s: attempt %s failed: %s", job_id, job.attempts, exc)
            if job.attempts < MAX_ATTEMPTS:
                ImportJob.objects.filter(pk=job_id).update(
                    state=ImportJob.State.QUEUED, lease_until=None,
                    error=_("Attempt %(attempt)d failed (%(error)s); the import will be tried again.")
                    % {"attempt": job.attempts, "error": _describe(exc)})
            else:
                _finish(job_id, ImportJob.State.FAILED, error=_("The import failed: %(error)s.")
                        % {"error": _describe(exc)})
            return
        except Exception as exc:  # a job must end with its cause named
            logger.exception("import job %s failed", job_id)
            _finish(job_id, ImportJob.State.FAILED, error=_("The import failed: %(error)s.")
                    % {"error": _describe(exc)})
            return
    _finish(job_id, ImportJob.State.DONE, report=report_to_dict(report), error="")


def sweep() -> int:
    """Send again the jobs nobody is working on: queued for a while, or with a lapsed lease.
    Jobs that failed MAX_ATTEMPTS times are marked failed."""
    from opsdesk.cmdb.tasks import run_import_job

    now = timezone.now()
    for job in ImportJob.objects.filter(attempts__gte=MAX_ATTEMPTS, state=ImportJob.State.RUNNING,
                                        lease_until__lt=now).only("pk", "language", "error"):
        with translation.override(job.language):
            error = _("The import was given up after %(count)d failed attempts.") % {"count": MAX_ATTEMPTS}
        if job.error:
            error = f"{error} {job.error}"
        _finish(job.pk, ImportJob.State.FAILED, error=error)
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
    known = {f.name for f in dataclasses.fields(importer.ImportReport)}
    problems = [importer.RowProblem(**p) for p in data.get("problems", [])]
    warnings = [importer.RowProblem(**p) for p in data.get("warnings", [])]
    return importer.ImportReport(**{**{k: v for k, v in data.items() if k in known},
                                    "problems": problems, "warnings": warnings})
