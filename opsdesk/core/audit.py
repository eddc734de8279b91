"""Which models the audit log (django-auditlog) follows, and with what left out.

Every create, update and delete of these models, by a person in the UI, a token in the API or a
command run with --actor, is a LogEntry with who, when, the object and before/after values.
"""

from auditlog.registry import auditlog
from django.apps import apps

# Fields that are never written into the log: secrets and their hashes, and bookkeeping that
# changes on every request.
EXCLUDED = ["password", "key_hash", "secret_encrypted", "secrets_encrypted", "limit_key",
            "last_login", "last_used_at", "updated_at",
            # Derived from the role on every save: the role itself is logged.
            "is_staff", "is_superuser"]

AUDITED = [
    "core.Customer", "core.Contract", "core.ServiceLevel", "core.ServiceLevelTarget", "core.Site",
    "core.Contact", "core.User", "core.Team", "core.ApiToken", "core.Credential",
]


def register(label: str, m2m: tuple[str, ...] = ()) -> None:
    model = apps.get_model(label)
    # Only the object's own columns: the primary key, timestamps and reverse relations are noise.
    fields = [f.name for f in model._meta.concrete_fields
              if f.name not in EXCLUDED and not f.primary_key and f.name != "created_at"]
    auditlog.register(model, include_fields=fields, exclude_fields=EXCLUDED, m2m_fields=set(m2m))


for _label in AUDITED:
    register(_label, m2m=("members", "customers") if _label == "core.Team" else ())
