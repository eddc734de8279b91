#!/usr/bin/env python
"""SLA due-date computations per second over a year of the Chinese business calendar.

The calendar is the seed one (Monday to Friday 09:00–18:00, Asia/Shanghai, China's statutory
holidays and swapped working days from chinese-calendar), compiled once as the engine does
(opsdesk.servicedesk.sla.calendar.CompiledCalendar; no database is needed for the arithmetic).
Then N random (start, target) pairs: starts uniform over 2025 to the second, targets uniform
between 15 minutes and 72 hours of business time (the seed service level's range), so many
answers cross weekends, Spring Festival and National Day. `add()` is timed over all N pairs in
one loop, three rounds, best kept; `between()` the same over N random pairs of instants.

Keys: `due_dates_per_s` (add() calls a second; goal > 50,000), `between_per_s`, `compile_year_ms`
(compiling one year of intervals from nothing), `pairs`. The last line of output is one JSON
object (bench/README.md); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "opsdesk.settings")

GOAL_PER_S = 50_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer pairs (a few seconds)")
    parser.add_argument("--pairs", type=int, default=0)
    args = parser.parse_args()
    n = args.pairs or (50_000 if args.quick else 500_000)

    import django

    django.setup()
    from opsdesk.servicedesk.sla.calendar import CompiledCalendar
    from opsdesk.servicedesk.sla.hours import parse_hours

    week = tuple(parse_hours("09:00-18:00") if day < 5 else () for day in range(7))

    def fresh() -> CompiledCalendar:
        return CompiledCalendar(name="China", zone="Asia/Shanghai", week=week, chinese_holidays=True)

    started = time.perf_counter()
    fresh()._covering(dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp(),
                      dt.datetime(2025, 12, 31, tzinfo=dt.UTC).timestamp())
    compile_ms = (time.perf_counter() - started) * 1000

    rng = random.Random(9)
    year_start = dt.datetime(2025, 1, 1, tzinfo=dt.UTC).timestamp()
    starts = [dt.datetime.fromtimestamp(year_start + rng.randrange(365 * 86400), dt.UTC) for _ in range(n)]
    targets = [rng.randrange(15 * 60, 72 * 3600) for _ in range(n)]
    ends = [s + dt.timedelta(seconds=rng.randrange(0, 30 * 86400)) for s in starts]
    cal = fresh()
    cal.add(starts[0], 72 * 3600)  # compiled as the engine's cache would hold it
    print(f"sla: {n} pairs, compiled a year in {compile_ms:.1f} ms", file=sys.stderr)

    best_add = best_between = float("inf")
    for round_ in range(3):
        began = time.perf_counter()
        add = cal.add
        for start, seconds in zip(starts, targets, strict=True):
            add(start, seconds)
        best_add = min(best_add, time.perf_counter() - began)
        began = time.perf_counter()
        between = cal.between
        for a, b in zip(starts, ends, strict=True):
            between(a, b)
        best_between = min(best_between, time.perf_counter() - began)
        print(f"sla: round {round_ + 1}: add {n / best_add:,.0f}/s, between {n / best_between:,.0f}/s",
              file=sys.stderr)
    result = {"due_dates_per_s": round(n / best_add), "between_per_s": round(n / best_between),
              "compile_year_ms": round(compile_ms, 1), "pairs": n, "goal_due_dates_per_s": GOAL_PER_S,
              "goal_met": n / best_add > GOAL_PER_S}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
