"""Host metrics with psutil: CPU, memory, swap, load, per-mount disk usage, disk I/O and
per-interface network rates.

Series (labels in brackets):

    cpu_usage_percent, cpu_iowait_percent, cpu_count, load1, load5, load15
    memory_total_bytes, memory_available_bytes, memory_used_percent
    swap_total_bytes, swap_used_bytes, swap_used_percent
    filesystem_size_bytes, filesystem_free_bytes, filesystem_used_percent,
        filesystem_inodes_used_percent                                          [mount, fstype]
    disk_read_bytes_per_second, disk_written_bytes_per_second, disk_reads_per_second,
        disk_writes_per_second, disk_busy_percent                               [device]
    network_received_bytes_per_second, network_sent_bytes_per_second,
        network_received_packets_per_second, network_sent_packets_per_second,
        network_errors_per_second, network_dropped_per_second                   [interface]

Disks are whole block devices (and device-mapper volumes), not their partitions, whose traffic
the disk already counts; loop and RAM disks are left out. Interfaces leave out the loopback and
containers' veth pairs (their traffic also crosses the bridge they hang on).

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

# Counters measured in milliseconds of busy time: their rate becomes a percentage of the interval.
AS_PERCENT = {"disk_busy_ms": "disk_busy_percent"}


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
        seen = set()
        for name, labels, value in counters:
            key = (name, tuple(sorted(labels.items())))
            seen.add(key)
            per_second = rate(self._last_counters.get(key), value, seconds)
            self._last_counters[key] = value
            if per_second is None:
                continue
            if name in AS_PERCENT:  # milliseconds busy per second of time: a share of it
                samples.append(Sample(AS_PERCENT[name], min(100.0, per_second / 10.0), labels))
            else:
                samples.append(Sample(f"{name}_per_second", per_second, labels))
        for gone in set(self._last_counters) - seen:  # an unplugged disk, a removed interface
            del self._last_counters[gone]
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
                Sample("swap_used_bytes", float(swap.used)),
                Sample("swap_used_percent", float(swap.percent))]

    @staticmethod
    def _load() -> list[Sample]:
        one, five, fifteen = os.getloadavg()
        return [Sample("load1", one), Sample("load5", five), Sample("load15", fifteen),
                Sample("cpu_count", float(psutil.cpu_count() or 1))]

    @staticmethod
    def _filesystems() -> list[Sample]:
        samples = []
        for part in file_systems():
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except (PermissionError, OSError):
                continue  # an unreadable mount (a stale network share) is left out, not fatal
            labels = {"mount": part.mountpoint, "fstype": part.fstype}
            samples += [Sample("filesystem_size_bytes", float(usage.total), labels),
                        Sample("filesystem_free_bytes", float(usage.free), labels),
                        Sample("filesystem_used_percent", float(usage.percent), labels)]
            inodes = _inodes_used_percent(part.mountpoint)
            if inodes is not None:
                samples.append(Sample("filesystem_inodes_used_percent", inodes, labels))
        return samples

    @staticmethod
    def _disk_io() -> list[tuple[str, dict[str, str], float]]:
        counters = psutil.disk_io_counters(perdisk=True) or {}
        out = []
        whole = _whole_disks()
        for disk, c in counters.items():
            if disk.startswith(("loop", "ram")) or (whole is not None and disk not in whole):
                continue
            labels = {"device": disk}
            out += [("disk_read_bytes", labels, float(c.read_bytes)),
                    ("disk_written_bytes", labels, float(c.write_bytes)),
                    ("disk_reads", labels, float(c.read_count)), ("disk_writes", labels, float(c.write_count))]
            if hasattr(c, "busy_time"):  # Linux and FreeBSD
                out.append(("disk_busy_ms", labels, float(c.busy_time)))
        return out

    @staticmethod
    def _network() -> list[tuple[str, dict[str, str], float]]:
        counters = psutil.net_io_counters(pernic=True) or {}
        out = []
        for nic, c in counters.items():
            if nic == "lo" or nic.startswith("veth"):
                continue
            labels = {"interface": nic}
            out += [("network_received_bytes", labels, float(c.bytes_recv)),
                    ("network_sent_bytes", labels, float(c.bytes_sent)),
                    ("network_received_packets", labels, float(c.packets_recv)),
                    ("network_sent_packets", labels, float(c.packets_sent)),
                    ("network_errors", labels, float(c.errin + c.errout)),
                    ("network_dropped", labels, float(c.dropin + c.dropout))]
        return out


def file_systems() -> list[Any]:
    """The mounted file systems a person manages (psutil's partitions without pseudo file
    systems), each once: a device mounted at several places — bind mounts, and the private /tmp,
    read-only / and state directory of a systemd sandbox — counts once, at its shortest mount
    point (/ rather than /tmp)."""
    chosen: dict[str, Any] = {}
    for part in psutil.disk_partitions(all=False):
        if part.fstype in PSEUDO_FS:
            continue
        key = part.device if part.device.startswith("/") else f"{part.device} {part.mountpoint}"
        if key not in chosen or len(part.mountpoint) < len(chosen[key].mountpoint):
            chosen[key] = part
    return sorted(chosen.values(), key=lambda part: part.mountpoint)


def _whole_disks() -> set[str] | None:
    """Block devices that are disks, not partitions (Linux lists only those in /sys/block);
    None where there is no /sys/block to ask."""
    try:
        return set(os.listdir("/sys/block"))
    except OSError:
        return None


def _inodes_used_percent(mountpoint: str) -> float | None:
    try:
        stat = os.statvfs(mountpoint)
    except OSError:
        return None
    if not stat.f_files:  # file systems without a fixed inode table (btrfs, vfat) report none
        return None
    return 100.0 * (stat.f_files - stat.f_ffree) / stat.f_files
