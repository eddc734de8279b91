from celery import shared_task


@shared_task(name="opsdesk.monitoring.tasks.file_batches", ignore_result=True)
def file_batches() -> None:
    """File pushed batches into per-series storage (woken by a push, and swept every 10 s)."""
    from opsdesk.monitoring import filing

    filing.file_pending()


@shared_task(name="opsdesk.monitoring.tasks.housekeeping", ignore_result=True)
def housekeeping() -> None:
    """Rollups, compaction and retention of the metric store; filed batches a day old are forgotten."""
    from opsdesk.monitoring import filing
    from opsdesk.monitoring.store import get_store

    get_store().housekeeping()
    filing.forget_filed()


@shared_task(name="opsdesk.monitoring.tasks.alerting_pass", ignore_result=True)
def alerting_pass() -> None:
    """What arrives NOT: "no data" rules, held alerts whose hold ended, silences ending."""
    from opsdesk.monitoring.alerting import periodic

    periodic.run()
