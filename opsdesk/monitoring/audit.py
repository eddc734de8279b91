from opsdesk.core.audit import register

# Agents' last_seen_at and last_seq change on every push: they are written with a queryset
# update, which the audit log does not see (and need not).
register("monitoring.EnrolmentToken")
register("monitoring.Agent")
