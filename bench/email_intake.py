#!/usr/bin/env python
"""Email intake: 10,000 messages in a real IMAP mailbox (Debian's Dovecot on 127.0.0.1) fetched and
threaded into tickets, then fetched again as if the fetcher's bookkeeping were lost.

A scratch database (a fresh SQLite file in a temporary data directory, or a PostgreSQL database
named `…bench…` when DATABASE_URL says so; see bench/_scratch.py) gets 10 customers with 5
contacts each, a mail domain and a contract in force per customer (business-hours SLA targets on a
calendar with China's holidays, so every new ticket starts its SLA clocks), and one mailbox with
an SMTP relay configured (so acknowledgements are written, as in production; nothing sends them
here: no worker runs, the wake-ups go to the filesystem queue). The messages are APPENDed before
the clock starts:

- 60 % new requests from the contacts (a quarter with an HTML part, a fifth with a GB2312 subject
  and body, some with a small attachment);
- 30 % replies of the contacts' clients to an earlier request (In-Reply-To and References);
- 5 % from unknown addresses of a customer's domain (matched by the domain), 2 % from unknown
  domains (triage), 3 % out-of-office answers (Auto-Submitted; ignored).

`seconds` is the wall-clock time of the fetch (the fetcher's own loop, the same code the Celery
task runs, in this process): every message read over IMAP, parsed, de-duplicated and filed in its
own transaction. Then the mailbox's last UID is set back to 0 and it is fetched again:
`duplicates_after_refetch` counts what the second fetch added (mail rows, tickets, timeline
entries), which must be 0; `refetch_seconds` is its time. `--quick` uses 1,000 messages.

The last line of output is one JSON object (bench/README.md); progress goes to stderr.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email.utils
import json
import os
import random
import signal
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from _scratch import Bench

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the Dovecot peer of the tests (tests/servicedesk/mail/peers.py)

BENCH = Bench("email_intake")
CUSTOMERS, CONTACTS = 10, 5


def build_messages(count: int, seed: int) -> tuple[list[bytes], dict[str, int]]:
    rng = random.Random(seed)
    messages: list[bytes] = []
    opened: list[tuple[str, str]] = []  # (message id, subject) of the requests so far
    kinds = {"new": 0, "reply": 0, "domain": 0, "triage": 0, "auto": 0}
    for n in range(count):
        roll = rng.random()
        customer, contact = rng.randrange(CUSTOMERS), rng.randrange(CONTACTS)
        sender = f"user{contact}@c{customer}.example.com"
        mail = EmailMessage()
        mid = f"<bench{n}.{seed}@c{customer}.example.com>"
        mail["Message-ID"] = mid
        mail["Date"] = email.utils.formatdate(localtime=False)
        mail["To"] = "support@desk.example.com"
        body = f"第 {n} 号请求：服务器 srv-{n % 97:02d} 的磁盘使用率超过 90%。\n请尽快处理。\n"
        if roll < 0.30 and opened:
            kind = "reply"
            parent, subject = rng.choice(opened)
            mail["From"] = sender  # a colleague may answer: the Message-ID threads it
            mail["Subject"] = f"Re: {subject}"
            mail["In-Reply-To"] = parent
            mail["References"] = parent
            body = f"补充信息 {n}：重启后仍然报错。\n\n在 2026年1月5日 写道：\n> {subject}\n"
        elif roll < 0.35:
            kind = "domain"
            mail["From"] = f"new{n}@c{customer}.example.com"
            mail["Subject"] = f"New colleague asks {n}"
        elif roll < 0.37:
            kind = "triage"
            mail["From"] = f"stranger{n}@nowhere{n}.example.org"
            mail["Subject"] = f"Who handles this? {n}"
        elif roll < 0.40:
            kind = "auto"
            mail["From"] = sender
            mail["Subject"] = f"自动回复：外出 {n}"
            mail["Auto-Submitted"] = "auto-replied"
        else:
            kind = "new"
            mail["From"] = email.utils.formataddr((f"联系人 {contact}", sender))
            subject = f"[C{customer}] 磁盘告警 srv-{n % 97:02d} 编号 {n}"
            mail["Subject"] = subject
            opened.append((mid, subject))
        kinds[kind] += 1
        charset = "gb2312" if kind == "new" and rng.random() < 0.2 else "utf-8"
        mail.set_content(body, charset=charset)
        if kind == "new" and rng.random() < 0.25:
            mail.add_alternative(f"<p>{body}</p><script>alert(1)</script>", subtype="html", charset="utf-8")
        if kind == "new" and rng.random() < 0.05:
            mail.add_attachment(f"log line {n}\n".encode() * 50, maintype="text", subtype="plain",
                                filename=f"error-{n}.log")
        messages.append(bytes(mail))
    return messages, kinds


def measure(args: argparse.Namespace, database: str, data_dir: str) -> dict[str, Any]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db.models import Count

    from opsdesk.core.models import Contact, Contract, Customer, ServiceLevel, ServiceLevelTarget
    from opsdesk.servicedesk.mail import fetch
    from opsdesk.servicedesk.mail import services as mail_services
    from opsdesk.servicedesk.models import (
        BusinessCalendar,
        CustomerMailDomain,
        InboundMail,
        MailChannel,
        SLAClock,
        SLAPolicy,
        Ticket,
        TicketEntry,
    )
    from tests.servicedesk.mail.peers import Dovecot

    count = args.messages or (1_000 if args.quick else 10_000)
    BENCH.log(f"database {database}, data directory {data_dir}; migrating")
    call_command("migrate", interactive=False, verbosity=0)
    # Every customer has a contract in force with business-hours targets on a calendar with
    # China's holidays, as in production: each new ticket starts its SLA clocks.
    calendar = BusinessCalendar.objects.create(name="工作日 9-18", chinese_holidays=True, is_default=True)
    level = ServiceLevel.objects.create(name="标准 Standard")
    for fault, response, resolution in (("severe", 15, 240), ("general", 60, 480), ("minor", 240, 2400)):
        ServiceLevelTarget.objects.create(service_level=level, fault_level=fault, response_minutes=response,
                                          resolution_minutes=resolution, business_hours_only=fault != "severe")
    SLAPolicy.objects.create(service_level=level, calendar=calendar)
    today = dt.date.today()
    for c in range(CUSTOMERS):
        customer = Customer.objects.create(code=f"C{c}", name=f"客户 {c}")
        Contract.objects.create(customer=customer, number=f"HT-{c}", name="运维服务", service_level=level,
                                start_date=today - dt.timedelta(days=100), end_date=today + dt.timedelta(days=265))
        CustomerMailDomain.objects.create(customer=customer, domain=f"c{c}.example.com")
        for k in range(CONTACTS):
            Contact.objects.create(customer=customer, name=f"联系人 {k}", email=f"user{k}@c{c}.example.com")
    dovecot = Dovecot()
    try:
        channel = mail_services.create_channel({
            "name": "support", "imap_host": "127.0.0.1", "imap_port": dovecot.port, "imap_security": "none",
            "imap_username": dovecot.user, "imap_password": dovecot.password, "smtp_host": "127.0.0.1",
            "smtp_port": 9, "smtp_security": "none", "from_address": "support@desk.example.com"}, actor=None)
        messages, kinds = build_messages(count, args.seed)
        BENCH.log(f"appending {count} messages to Dovecot: {kinds}")
        conn = dovecot.connect()
        for raw in messages:
            conn.append("INBOX", None, None, raw)
        conn.logout()

        BENCH.log("fetching")
        profiler = None
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            profiler.enable()
        started, cpu_started = time.perf_counter(), time.process_time()
        while True:
            result = fetch.fetch(channel.pk)
            if result is None or result.error:
                raise SystemExit(f"email_intake: the fetch failed: {result and result.error}")
            if not result.more:
                break
        seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
        if profiler is not None:
            profiler.disable()
            profiler.dump_stats(args.profile)
        states = dict(InboundMail.objects.values_list("state").annotate(n=Count("pk")).order_by())
        before = (InboundMail.objects.count(), Ticket.objects.count(), TicketEntry.objects.count())
        BENCH.log(f"fetched in {seconds:.1f} s: {states}; again from UID 0")

        MailChannel.objects.filter(pk=channel.pk).update(last_uid=0)
        started = time.perf_counter()
        again = fetch.fetch(channel.pk)
        refetch_seconds = time.perf_counter() - started
        after = (InboundMail.objects.count(), Ticket.objects.count(), TicketEntry.objects.count())
        duplicates = sum(a - b for a, b in zip(after, before, strict=True))
        if states.get("reply", 0) != kinds["reply"] or states.get("ignored", 0) != kinds["auto"]:
            raise SystemExit(f"email_intake: threading went wrong: {states} for {kinds}")
        clocks = SLAClock.objects.count()
        if clocks < 2 * states.get("ticket", 0):
            raise SystemExit(f"email_intake: {clocks} SLA clocks for {states.get('ticket', 0)} tickets")
        return {
            "messages": count,
            "seconds": round(seconds, 2),
            "messages_per_s": round(count / seconds, 1),
            # This process's CPU time (SQLite runs in it): what the fetch costs on an idle machine.
            "cpu_seconds": round(cpu_seconds, 2),
            "load_average": round(os.getloadavg()[0], 2),
            "duplicates_after_refetch": duplicates,
            "refetch_seconds": round(refetch_seconds, 2),
            "refetch_skipped": again.skipped if again else None,
            "tickets_opened": states.get("ticket", 0),
            "replies_threaded": states.get("reply", 0),
            "ignored_automatic": states.get("ignored", 0),
            "triage": states.get("triage", 0),
            "quarantined": states.get("quarantined", 0),
            "sla_clocks_started": clocks,
            "database": database,
            "goal_seconds": 60,
        }
    finally:
        dovecot.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,000 messages (under a minute)")
    parser.add_argument("--messages", type=int, default=0, help="how many messages (default 10,000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", default="", help="write a cProfile of the first fetch to this file")
    parser.add_argument("--keep", action="store_true", help="keep the data directory and database afterwards")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    os.environ.setdefault("OPSDESK_MAIL_IDLE", "false")
    result = BENCH.run(args.keep, lambda database, data_dir: measure(args, database, data_dir))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
