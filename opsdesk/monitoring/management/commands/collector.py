"""`opsdesk collector`: the central collector, one asyncio process running every check on its schedule
(monitoring.collector.engine), plus this machine's own host metrics every 30 s."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from django.core.management.base import BaseCommand
from django.db import close_old_connections

from opsdesk.monitoring.hooks import COLLECTOR_HEARTBEAT_SECONDS

log = logging.getLogger("opsdesk.collector")



class Command(BaseCommand):
    help = ("Run the central collector: every enabled check that no remote collector is named for, on its "
            "schedule, in one asyncio process; and this machine's CPU, memory, disk and network every "
            "--host-interval seconds, as an item of the internal customer. `opsdesk up` starts it. "
            "Inside a customer's network, without the database: `opsdesk collector enroll --server URL "
            "--token T`, then `opsdesk collector remote` (see `opsdesk collector remote --help`).")

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=500,
                            help="checks running at once at most (default: 500)")
        parser.add_argument("--host-interval", type=float, default=30.0,
                            help="seconds between this machine's own metrics; 0 turns them off (default: 30)")
        parser.add_argument("--refresh", type=float, default=30.0,
                            help="seconds between reloads of the check list (default: 30)")

    def handle(self, *args, **options):
        from opsdesk.monitoring.local import ensure_local_monitoring

        host, central = ensure_local_monitoring()
        asyncio.run(self._run(host, central, options))

    async def _run(self, host, central, options) -> None:
        from opsdesk.agent.metrics import HostMetrics
        from opsdesk.core import services as core_services
        from opsdesk.monitoring import local
        from opsdesk.monitoring.collector.engine import Collector
        from opsdesk.monitoring.results import batches_of, record_to_result

        # Every database call goes through one thread: one connection, and Django's ORM never runs
        # on the event loop's thread (where it refuses to).
        database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="collector-db")
        loop = asyncio.get_running_loop()

        def in_db(fn, *args):
            def call():
                close_old_connections()
                return fn(*args)
            return loop.run_in_executor(database, call)

        checks_sink = await in_db(local.DirectSink, central)
        host_sink = await in_db(local.DirectSink, host)
        state = {"checks": 0}

        async def source():
            specs = await in_db(local.load_specs, central)
            state["checks"] = len(specs)
            return specs

        async def sink(records) -> None:
            results = [record_to_result(record) for record in records]
            for body in batches_of(results):
                await in_db(checks_sink.send, body)

        stop = asyncio.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)

        async def host_metrics() -> None:
            interval = options["host_interval"]
            if interval <= 0:
                return
            metrics = HostMetrics()
            tick = time.monotonic()
            while not stop.is_set():
                samples = await in_db(metrics.collect)
                now = time.time()
                if samples:
                    body = {"samples": [{"name": s.name, "labels": s.labels, "value": s.value, "ts": now}
                                        for s in samples]}
                    try:
                        await in_db(host_sink.send, body)
                    except Exception:
                        log.exception("this machine's metrics could not be stored")
                tick += interval
                try:
                    await asyncio.wait_for(stop.wait(), timeout=max(0.0, tick - time.monotonic()))
                except TimeoutError:
                    pass

        async def heartbeat() -> None:
            while not stop.is_set():
                try:
                    await in_db(core_services.beat, "collector", f"{state['checks']} checks")
                except Exception:
                    log.exception("collector heartbeat failed")
                try:
                    await asyncio.wait_for(stop.wait(), timeout=COLLECTOR_HEARTBEAT_SECONDS)
                except TimeoutError:
                    pass

        collector = Collector(source, sink, max_concurrency=options["concurrency"],
                              refresh_interval=options["refresh"])
        self.stdout.write(f"collector running (pid {__import__('os').getpid()})")
        await asyncio.gather(collector.run(stop), host_metrics(), heartbeat())
        database.shutdown(wait=True)

