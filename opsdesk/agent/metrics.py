"""Host metrics with psutil: CPU, memory, swap, load, per-mount disk usage, disk I/O and
per-interface network rates.

Counters (bytes read, packets sent…) become rates between two samples. A counter that went
down — a reboot, a driver reset, a 32-bit wrap — gives no rate for that interval rather than a
negative or absurd one; the next interval is measured from the new value.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

# File systems that are not storage a person manages (kernel, container and snap mounts).
# (overlay stays: it is the root file system of a container.)
PSEUDO_FS = {"tmpfs", "devtmpfs", "squashfs", "proc", "sysfs", "cgroup", "cgroup2", "devpts",
             "mqueue", "debugfs", "tracefs", "securityfs", "pstore", "bpf", "autofs", "nsfs", "fusectl",
             "configfs", "hugetlbfs", "ramfs", "efivarfs", "binfmt_misc", "rpc_pipefs"}


@dataclass(frozen=True)
class Sample:
    """One value of one series: `name` and `labels` identify it (Prometheus' model)."""

    name: str
    value: float
    labels: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "labels": self.labels, "value": self.value}


def rate(previous: float | None, current: float, seconds: float) -> float | None:
    """Per-second increase of a counter, or None when there is no honest answer (first
    sample, no time passed, or the counter went down: a reset or a wrap)."""
    if previous is None or seconds <= 0 or current < previous:
        return None
    return (current - previous) / seconds


class HostMetrics:
    """Call `collect()` at each interval; rates are per second over the time since the last
    call (the first call has no rates yet)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last_time: float | None = None
        self._last_counters: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._last_cpu = psutil.cpu_times()

    def collect(self) -> list[Sample]:
        now = self._clock()
        seconds = now - self._last_time if self._last_time is not None else 0.0
        samples = [*self._cpu(), *self._memory(), *self._load(), *self._filesystems()]
        counters = [*self._disk_io(), *self._network()]
        for name, labels, value in counters:
            key = (name, tuple(sorted(labels.items())))
            per_second = rate(self._last_counters.get(key), value, seconds)
            self._last_counters[key] = value
            if per_second is not None:
                samples.append(Sample(f"{name}_per_second", per_second, labels))
        self._last_time = now
        return samples

    def _cpu(self) -> list[Sample]:
        current = psutil.cpu_times()
        before, self._last_cpu = self._last_cpu, current
        total = sum(current) - sum(before)
        if total <= 0:
            return []
        idle = (current.idle + getattr(current, "iowait", 0.0)) - (before.idle + getattr(before, "iowait", 0.0))
        samples = [Sample("cpu_usage_percent", max(0.0, min(100.0, 100.0 * (1 - idle / total))))]
        if hasattr(current, "iowait"):
            samples.append(Sample("cpu_iowait_percent", max(0.0, 100.0 * (current.iowait - before.iowait) / total)))
        return samples

    @staticmethod
    def _memory() -> list[Sample]:
        memory, swap = psutil.virtual_memory(), psutil.swap_memory()
        return [Sample("memory_total_bytes", float(memory.total)),
                Sample("memory_available_bytes", float(memory.available)),
                Sample("memory_used_percent", float(memory.percent)),
                Sample("swap_total_bytes", float(swap.total)),
                Sample("swap_used_percent", float(swap.percent))]

    @staticmethod
    def _load() -> list[Sample]:
        one, five, fifteen = os.getloadavg()
        return [Sample("load1", one), Sample("load5", five), Sample("load15", fifteen),
                Sample("cpu_count", float(psutil.cpu_count() or 1))]

    @staticmethod
    def _filesystems() -> list[Sample]:
        samples = []
        for part in psutil.disk_partitions(all=False):
            if part.fstype in PSEUDO_FS:
                continue
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except (PermissionError, OSError):
                continue  # an unreadable mount (a stale network share) is left out, not fatal
            labels = {"mount": part.mountpoint, "fstype": part.fstype}
            samples += [Sample("filesystem_size_bytes", float(usage.total), labels),
                        Sample("filesystem_used_percent", float(usage.percent), labels)]
        return samples

    @staticmethod
    def _disk_io() -> list[tuple[str, dict[str, str], float]]:
        counters = psutil.disk_io_counters(perdisk=True) or {}
        out = []
        for disk, c in counters.items():
            if disk.startswith(("loop", "ram")):
                continue
            labels = {"device": disk}
            out += [("disk_read_bytes", labels, float(c.read_bytes)),
                    ("disk_written_bytes", labels, float(c.write_bytes)),
                    ("disk_reads", labels, float(c.read_count)), ("disk_writes", labels, float(c.write_count))]
        return out

    @staticmethod
    def _network() -> list[tuple[str, dict[str, str], float]]:
        counters = psutil.net_io_counters(pernic=True) or {}
        out = []
        for nic, c in counters.items():
            if nic == "lo":
                continue
            labels = {"interface": nic}
            out += [("network_received_bytes", labels, float(c.bytes_recv)),
                    ("network_sent_bytes", labels, float(c.bytes_sent)),
                    ("network_errors", labels, float(c.errin + c.errout))]
        return out
