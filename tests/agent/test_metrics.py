"""Host metrics from this machine, and rates that never go negative on a counter reset."""

from __future__ import annotations

import time
from collections import namedtuple

import psutil

from opsdesk.agent.metrics import HostMetrics, file_systems, rate


def test_a_counter_that_went_down_gives_no_rate():
    assert rate(None, 100, 10) is None  # first sample
    assert rate(100, 50, 10) is None  # reset or wrap: no negative or huge value
    assert rate(100, 100, 0) is None
    assert rate(100, 300, 10) == 20


def test_this_machine_is_measured():
    clock = iter([0.0, 30.0])
    host = HostMetrics(clock=lambda: next(clock))
    first = {s.name for s in host.collect()}
    assert {"memory_used_percent", "load1", "swap_used_percent"} <= first
    assert not any(name.endswith("_per_second") for name in first)  # no rate from one sample
    time.sleep(0.3)  # CPU time is counted in ticks of 10 ms: let some pass
    second = host.collect()
    names = {s.name for s in second}
    assert "cpu_usage_percent" in names
    assert any(s.name == "filesystem_used_percent" and s.labels["mount"] for s in second)
    rates = [s for s in second if s.name.endswith("_per_second")]
    assert rates and all(s.value >= 0 for s in rates)
    assert all(0 <= s.value <= 100 for s in second if s.name.endswith("_percent"))


def test_a_file_system_mounted_at_several_places_counts_once(monkeypatch):
    """Under the systemd unit, / is also mounted read-only, /tmp is private (a bind mount of the
    same disk) and the state directory is bound writable: one file system, one series."""
    part = namedtuple("part", "device mountpoint fstype opts")
    mounts = [part("/dev/vda1", "/", "ext4", "rw"), part("/dev/vda1", "/", "ext4", "ro"),
              part("/dev/vda1", "/tmp", "ext4", "rw"), part("/dev/vda1", "/var/lib/opsdesk-agent", "ext4", "rw"),
              part("/dev/vdb1", "/home", "xfs", "ro"), part("tmpfs", "/run", "tmpfs", "rw"),
              part("overlay", "/var/lib/docker/overlay2/a/merged", "overlay", "rw"),
              part("overlay", "/var/lib/docker/overlay2/b/merged", "overlay", "rw")]
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: mounts)
    assert [(p.device, p.mountpoint) for p in file_systems()] == [
        ("/dev/vda1", "/"), ("/dev/vdb1", "/home"), ("overlay", "/var/lib/docker/overlay2/a/merged"),
        ("overlay", "/var/lib/docker/overlay2/b/merged")]
