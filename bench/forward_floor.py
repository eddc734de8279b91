#!/usr/bin/env python
"""The floor under `ratio_via_opsdesk_to_vm` (bench/ingest.py): how fast samples reach
VictoriaMetrics through a Python web process that does next to nothing with them, against
VictoriaMetrics' own rate, on this machine.

VictoriaMetrics is started as in bench/ingest.py (Debian's `victoria-metrics`, scratch storage)
and its direct rate is measured the same way (Prometheus text bodies, 4 sender threads, 200
agents' batches of 1,000 samples). Then, for each case, granian (as `opsdesk web` runs it: one
worker, its default threads) serves bench/_forward_app.py and the same sender threads post the
same number of pre-built batches to it, as VictoriaMetrics' JSON lines with the labels opsdesk gives a series
(`__name__`, `opsdesk_series`, `ci`, `customer` and its own): the application reads each body and
forwards it unchanged, after parsing it with orjson (`parse`) and after spending a given number
of microseconds of Python CPU a batch (`parse+300us`: what the checks, the lines, the series' ids
and the digest of a push could cost). Every case is counted back from VictoriaMetrics. With
`--format remote-write` the forward case alone runs, its bodies snappy-compressed remote-write
requests posted to /api/v1/write: what the store spends a sample on either way.

So it tells how much of its own work a push may do, per batch of 1,000 samples, for the rate
through opsdesk to stay at a given share of the direct one. The last line is one JSON object
(bench/README.md); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import ingest
from ingest import Size, Victoria, batch_times, by_agent, cpu_s, descendants, free_port, own_cpu_s, send_all

ROOT = Path(__file__).resolve().parent.parent
FULL = Size(agents=200, batches=8000, vm_batches=8000)
QUICK = Size(agents=30, batches=600, vm_batches=600)
# opsdesk web's default (OPSDESK_WEB_THREADS: the CPUs plus one, at most 8; 3 on 2 CPUs. Until round
# thirteen of docs/performance.md it was twice the CPUs plus one, and these runs had 5)
THREADS = min(8, (os.cpu_count() or 1) + 1)


def lines_body(rng: random.Random, agent: int, times: list[float], tag: str) -> bytes:
    """A batch as VictoriaMetrics' JSON lines, a series a line, labelled as opsdesk labels it."""
    import orjson

    millis = [round(t * 1000) for t in times]
    out = []
    for index, (name, labels) in enumerate(ingest.series_of(agent)):
        metric = {"__name__": name, "opsdesk_series": str(100_000 + agent * 1000 + index), "ci": str(50 + agent),
                  "customer": str(3 + agent % 7), **labels, "bench": tag}
        out.append(orjson.dumps({"metric": metric, "values": [round(rng.uniform(0, 1000), 3) for _t in times],
                                 "timestamps": millis}))
    return b"\n".join(out) + b"\n"


def remote_write_body(rng: random.Random, agent: int, times: list[float], tag: str) -> bytes:
    """The same batch as a snappy-compressed remote-write request, as the store's filer writes one."""
    import cramjam

    from opsdesk.monitoring.store.victoria import _varint, encode_labels, encode_samples

    out = []
    for index, (name, labels) in enumerate(ingest.series_of(agent)):
        pairs = [("__name__", name), ("opsdesk_series", str(100_000 + agent * 1000 + index)), ("ci", str(50 + agent)),
                 ("customer", str(3 + agent % 7)), *labels.items(), ("bench", tag)]
        series = encode_labels(pairs) + encode_samples(times, [round(rng.uniform(0, 1000), 3) for _t in times])
        out.append(b"\x0a" + _varint(len(series)) + series)
    return bytes(cramjam.snappy.compress_raw(b"".join(out)))


def forwarded(vm: Victoria, size: Size, senders: int, name: str, parse: bool, work_us: int, seed: int,
              run: int, interface: str, body_format: str = "lines") -> dict[str, Any]:
    port = free_port()
    granian = Path(sys.executable).parent / "granian"
    env = dict(os.environ, FORWARD_VM_URL=vm.url, FORWARD_PARSE="1" if parse else "0", FORWARD_WORK_US=str(work_us),
               FORWARD_FORMAT=body_format,
               PYTHONPATH=f"{ROOT / 'bench'}{os.pathsep}{ROOT}")
    # RSGI calls the application on granian's event loop, in one thread
    threads, target = ("1", "_forward_rsgi:app") if interface == "rsgi" else (str(THREADS), "_forward_app:application")
    command = [str(granian), "--interface", interface, "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
               "--blocking-threads", threads, "--no-ws", target]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        rng = random.Random(seed * 100 + run)
        tag = f"floor{run}"
        start = time.time() - 10 * 86400 + run * 3600
        headers = {"Content-Type": "application/stream+json"}
        make = remote_write_body if body_format == "remote-write" else lines_body
        warm = [(a, (headers, make(rng, a, batch_times(start, 0), tag))) for a in range(size.agents)]
        jobs = [(k % size.agents, (headers, make(rng, k % size.agents, batch_times(start, 1 + k // size.agents), tag)))
                for k in range(size.vm_batches)]
        deadline = time.monotonic() + 30
        while True:  # granian listening
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("forward_floor: granian did not start") from None
                time.sleep(0.1)
        ingest.log(f"{name}: warm-up, then {size.vm_batches} batches with {senders} senders")
        stats = send_all(port, "/", by_agent(warm, senders), ok=(204,))
        vm.flush()
        pids = descendants(proc.pid)
        web_before, vm_before, own_before = sum(map(cpu_s, pids)), cpu_s(vm.proc.pid), own_cpu_s()
        began = time.monotonic()
        stats = send_all(port, "/", by_agent(jobs, senders), ok=(204,))
        vm.flush()
        elapsed = time.monotonic() - began
        if stats.errors:
            raise SystemExit(f"forward_floor: {name} failed: {stats.errors[:3]}")
        per_agent = -(-size.vm_batches // size.agents)
        end = batch_times(start, 1 + per_agent)[-1]
        counted = vm.count(f'{{bench="{tag}"}}', end, int(end - start) + 60)
        expected = (size.agents + size.vm_batches) * ingest.SAMPLES_PER_BATCH
        if counted != expected:
            raise SystemExit(f"forward_floor: VictoriaMetrics holds {counted} samples of {expected} ({name})")
        samples = size.vm_batches * ingest.SAMPLES_PER_BATCH
        cpu = {"web": sum(map(cpu_s, pids)) - web_before, "victoria": cpu_s(vm.proc.pid) - vm_before,
               "senders": own_cpu_s() - own_before}
        result = {"samples_per_s": round(samples / elapsed), "parse": parse, "work_us_per_batch": work_us,
                  "cpu_us_per_sample": {key: round(value / samples * 1e6, 3) for key, value in cpu.items()}}
        ingest.log(f"{name}: {result}")
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="30 agents, 600 batches a case (seconds)")
    parser.add_argument("--work", default="100,300", help="microseconds of Python CPU a batch for the parse+work "
                        "cases, comma-separated (default 100,300)")
    parser.add_argument("--senders", type=int, default=4, help="sender threads (default 4, as bench/ingest.py)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--interface", choices=("wsgi", "rsgi"), default="wsgi",
                        help="how granian calls the application: WSGI from a pool of threads, as `opsdesk web` "
                        "(default), or RSGI on granian's asyncio loop, forwarding over asyncio streams "
                        "(bench/_forward_rsgi.py)")
    parser.add_argument("--format", choices=("lines", "remote-write"), default="lines", dest="body_format",
                        help="what the forward case posts: VictoriaMetrics' JSON lines to its import (default), or "
                        "snappy-compressed remote write to /api/v1/write (no parse cases then)")
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    cases: dict[str, Any] = {}
    plan = [("forward", False, 0), ("parse", True, 0)] + [
        (f"parse+{us}us", True, int(us)) for us in args.work.split(",") if us.strip()]
    if args.body_format == "remote-write":  # the parse cases read JSON lines
        plan = plan[:1]
    vm = Victoria().start()
    try:
        before = ingest.vm_direct(vm, size, args.senders, args.seed, run=2)
        for run, (name, parse, work_us) in enumerate(plan, start=1):
            cases[name] = forwarded(vm, size, args.senders, name, parse, work_us, args.seed, run,
                                    args.interface, args.body_format)
        after = ingest.vm_direct(vm, size, args.senders, args.seed, run=3)
    finally:
        vm.stop()
    direct = round((before["samples_per_s"] + after["samples_per_s"]) / 2)
    for case in cases.values():
        case["ratio_to_vm"] = round(case["samples_per_s"] / direct, 3)
    result = {"quick": args.quick, "interface": args.interface, "format": args.body_format, "agents": size.agents,
              "batches": size.vm_batches,
              "senders": args.senders,
              "web_threads": THREADS, "cpus": os.cpu_count(), "vm_direct_samples_per_s": direct,
              "vm_direct_samples_per_s_before": before["samples_per_s"],
              "vm_direct_samples_per_s_after": after["samples_per_s"],
              "vm_direct_cpu_s": {"before": before["cpu_s"], "after": after["cpu_s"]}}
    result.update({f"ratio_{name.replace('+', '_')}": case["ratio_to_vm"] for name, case in cases.items()})
    result["cases"] = cases
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
