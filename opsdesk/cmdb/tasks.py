from celery import shared_task


@shared_task(name="opsdesk.cmdb.tasks.run_import_job", ignore_result=True, acks_late=True)
def run_import_job(job_id: int) -> None:
    from opsdesk.cmdb import jobs

    jobs.run(job_id)


@shared_task(name="opsdesk.cmdb.tasks.sweep_import_jobs", ignore_result=True)
def sweep_import_jobs() -> None:
    from opsdesk.cmdb import jobs

    jobs.sweep()
