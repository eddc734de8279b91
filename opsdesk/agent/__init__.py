"""The opsdesk agent: runs on a monitored host, collects metrics and the inventory with psutil and
pushes them to the server over HTTP(S), buffering on disk while the server is away.

    cli.py        `opsdesk agent enroll | run | status` (dispatched by opsdesk/cli.py before Django)
    runner.py     the run loop: ticks, pushing, the inventory's schedule, the log of state changes
    metrics.py    host metrics with counter-safe rates
    inventory.py  OS, hardware, disks, addresses, packages, listening ports
    spool.py      the bounded on-disk queue of batches
    sender.py     pushing spooled batches in order
    transport.py  JSON over HTTP(S) with urllib (httpx would double the agent's memory)
    state.py      the state directory and its files

It imports nothing of Django or of the server's apps (tests/test_layering.py holds that), so it
runs with the standard library and psutil alone. See docs/agent.md.
"""
