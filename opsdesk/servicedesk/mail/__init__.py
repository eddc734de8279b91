"""Email for the service desk: fetching mailboxes over IMAP (imap.py, fetch.py, idle.py), reading
what arrives (parsing.py, loops.py), deciding where it goes (threads.py, senders.py, intake.py),
and mailing the requester (outgoing.py, smtp.py). Staff-facing actions are in services.py, the
Celery wrappers in tasks.py."""
