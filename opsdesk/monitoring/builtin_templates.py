"""The monitoring templates every opsdesk has (a manager adds more, or edits these).

Names, descriptions and check names are English msgids marked for translation (as the built-in
CI kinds are): the database keeps the msgid and people read it in their language. The data
migration 0003_builtin_templates writes them; `sync` creates any that are missing after every
`migrate` (so `opsdesk setup` brings back one deleted from the database by hand).

A check's `target` says where its address comes from when the template is applied to an item:
`{ip_address}` is the item's attribute, `{ip_address|hostname}` the first of them that is filled
in (on the item, or else on the item it runs on: a database's address is its server's), and
`https://{hostname}/` puts it into a URL. `param_attributes` maps a parameter to an attribute that
overrides it where the item has one (the port a database listens on).
"""

# `_` (not N_) so that makemessages extracts the texts; they are translated when shown.
from django.utils.translation import gettext_noop as _

ADDRESS = "{ip_address|hostname}"

PING = {"name": _("Ping"), "type": "ping", "target": ADDRESS, "interval": 60, "timeout": 10,
        "params": {"count": 3, "warning": 200, "critical": 500, "loss_warning": 20, "loss_critical": 60}}


def _port(name: str, port: int, *, target: str = ADDRESS) -> dict:
    return {"name": name, "type": "tcp", "target": target, "interval": 60, "timeout": 10,
            "params": {"port": port, "warning": 1000, "critical": 3000}}


BUILTIN_TEMPLATES = [
    {
        "slug": "linux-server", "kind": "server", "name": _("Linux server"),
        "description": _("Reachability of a Linux server: ping (warning above 200 ms round trip or 20% packet loss, "
                         "critical above 500 ms or 60%) and the SSH port (connect time above 1 s warning, 3 s "
                         "critical). CPU, memory, disk and network metrics come from the "
                         "opsdesk agent: install and enrol it on the server."),
        "checks": [
            PING,
            _port(_("SSH port"), 22),
        ],
    },
    {
        "slug": "windows-server", "kind": "server", "name": _("Windows server (windows_exporter)"),
        "description": _("A Windows server through windows_exporter on port 9182: CPU, memory, logical disks, "
                         "network, services and system metrics are scraped every minute (scrape above 2 s "
                         "warning, 5 s critical), plus ping and the RDP port."),
        "checks": [
            PING,
            {"name": _("windows_exporter metrics"), "type": "prometheus",
             "target": "http://" + ADDRESS + ":9182/metrics", "interval": 60, "timeout": 15,
             "params": {"include": ["^windows_(cpu|memory|logical_disk|net|os|system|service|cs)_"],
                        "max_samples": 5000, "warning": 2000, "critical": 5000}},
            _port(_("RDP port"), 3389),
        ],
    },
    {
        "slug": "switch", "kind": "network_device", "name": _("Switch (SNMP)"),
        "description": _("A switch or router over SNMP: the system group and every interface's state and "
                         "traffic (v2c by default; applied with an SNMPv3 credential it uses v3), plus ping."),
        "checks": [
            {**PING, "target": "{ip_address}"},
            {"name": _("SNMP system and interfaces"), "type": "snmp", "target": "{ip_address}",
             "interval": 120, "timeout": 20,
             "params": {"version": "2c", "port": 161, "interfaces": True, "max_interfaces": 1000}},
        ],
    },
    {
        "slug": "postgresql", "kind": "database", "name": _("PostgreSQL database"),
        "description": _("A PostgreSQL server: connections in use as a share of max_connections (warning above 80%, "
                         "critical above 95%), replication lag (above 30 s warning, 300 s critical), long-running "
                         "queries and database sizes. Give it a credential with the monitoring user's password; "
                         "the address is the server the database runs on."),
        "checks": [
            {"name": _("PostgreSQL"), "type": "postgresql", "target": ADDRESS, "interval": 60, "timeout": 10,
             "params": {"port": 5432, "warning": 80, "critical": 95, "lag_warning": 30, "lag_critical": 300,
                        "slow_query_seconds": 60},
             "param_attributes": {"port": "port"}},
        ],
    },
    {
        "slug": "mysql", "kind": "database", "name": _("MySQL / MariaDB database"),
        "description": _("A MySQL or MariaDB server: connections in use as a share of max_connections (warning above "
                         "80%, critical above 95%), replication lag (above 30 s warning, 300 s critical) and "
                         "database sizes. Give it a credential with the monitoring user's password."),
        "checks": [
            {"name": _("MySQL / MariaDB"), "type": "mysql", "target": ADDRESS, "interval": 60, "timeout": 10,
             "params": {"port": 3306, "warning": 80, "critical": 95, "lag_warning": 30, "lag_critical": 300},
             "param_attributes": {"port": "port"}},
        ],
    },
    {
        "slug": "redis", "kind": "database", "name": _("Redis"),
        "description": _("A Redis server: memory used as a share of maxmemory (warning above 80%, critical above "
                         "95%), clients, commands and replication lag (above 30 s warning, 300 s critical)."),
        "checks": [
            {"name": _("Redis"), "type": "redis", "target": ADDRESS, "interval": 60, "timeout": 10,
             "params": {"port": 6379, "warning": 80, "critical": 95, "lag_warning": 30, "lag_critical": 300},
             "param_attributes": {"port": "port"}},
        ],
    },
    {
        "slug": "nginx", "kind": "middleware", "name": _("Nginx"),
        "description": _("An Nginx web server: its stub_status page (http://address/nginx_status, which must "
                         "answer 200 with \"Active connections\"; response above 1 s warning, 3 s critical) and "
                         "its HTTP port."),
        "checks": [
            {"name": _("Nginx status page"), "type": "http", "target": "http://" + ADDRESS + "/nginx_status",
             "interval": 60, "timeout": 10,
             "params": {"expect_status": [200], "body_match": "Active connections", "warning": 1000,
                        "critical": 3000}},
            {**_port(_("HTTP port"), 80), "param_attributes": {"port": "port"}},
        ],
    },
    {
        "slug": "website", "kind": "application", "name": _("Web site (HTTPS)"),
        "description": _("A web site at the item's URL: status 200 to 399 (redirects followed), response time "
                         "(above 2 s warning, 5 s critical) and the TLS certificate (fewer than 14 days left "
                         "warning, 7 days critical)."),
        "checks": [
            {"name": _("Web site"), "type": "http", "target": "{url}", "interval": 60, "timeout": 15,
             "params": {"follow_redirects": True, "verify": True, "warning": 2000, "critical": 5000,
                        "tls_warning_days": 14, "tls_critical_days": 7}},
        ],
    },
]

# The template a discovered device gets when it is accepted with "apply the template" (kind, and
# the database engine or the operating system where it matters).
DEFAULT_TEMPLATES = {
    ("server", ""): "linux-server",
    ("server", "windows"): "windows-server",
    ("network_device", ""): "switch",
    ("database", "postgresql"): "postgresql",
    ("database", "mysql"): "mysql",
    ("database", "mariadb"): "mysql",
    ("database", "redis"): "redis",
}


def sync(template_model, kind_model, *, update: bool = True) -> int:
    """Write the built-in templates (the migration's models or the real ones); with update False
    only the missing ones are created, so a manager's edits survive. Returns how many were written."""
    written = 0
    kinds = {k.slug: k for k in kind_model.objects.filter(slug__in={t["kind"] for t in BUILTIN_TEMPLATES})}
    for spec in BUILTIN_TEMPLATES:
        kind = kinds.get(spec["kind"])
        if kind is None:
            continue  # an administrator deleted the kind: nothing to attach the template to
        values = {"name": spec["name"], "kind": kind, "description": spec["description"],
                  "checks": spec["checks"], "builtin": True}
        if update:
            template_model.objects.update_or_create(slug=spec["slug"], defaults=values)
            written += 1
        elif not template_model.objects.filter(slug=spec["slug"]).exists():
            template_model.objects.create(slug=spec["slug"], **values)
            written += 1
    return written
