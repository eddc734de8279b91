"""The kinds every opsdesk has (an administrator adds more). Titles are English msgids marked for
translation; the data migration copies these into the database. Each schema's `x-order` is the
order its properties are written in here (PostgreSQL's jsonb would not keep it, see attributes.py)."""

# `_` (not N_) so that makemessages extracts the names; they are translated when shown.
from django.utils.translation import gettext_noop as _

IP = {"type": "string", "format": "ipv4", "title": _("IP address")}
VERSION = {"type": "string", "maxLength": 60, "title": _("Version")}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535, "title": _("Port")}


def _enum(*choices: tuple[str, str]) -> dict:
    """`enum` and, parallel to it, `x-enum-titles`: the labels people read (see attributes.py)."""
    return {"enum": [value for value, _title in choices], "x-enum-titles": [title for _value, title in choices]}


def _schema(properties: dict[str, dict], *, required: list[str] | None = None) -> dict:
    """An object schema whose `x-order` is the order of `properties` as written below."""
    schema: dict = {"type": "object", "additionalProperties": False, "properties": properties,
                    "x-order": list(properties)}
    if required is not None:
        schema["required"] = required
    return schema


BUILTIN_KINDS = [
    {
        "slug": "server", "name": _("Server"), "icon": "bi-hdd-stack",
        "attribute_schema": _schema({
            "hostname": {"type": "string", "maxLength": 253, "title": _("Host name")},
            "ip_address": IP,
            "os": {"type": "string", "maxLength": 100, "title": _("Operating system")},
            "cpu_cores": {"type": "integer", "minimum": 1, "maximum": 4096, "title": _("CPU cores")},
            "memory_gb": {"type": "number", "minimum": 0, "title": _("Memory (GB)")},
            "serial_number": {"type": "string", "maxLength": 100, "title": _("Serial number")},
            "virtual": {"type": "boolean", "title": _("Virtual machine")},
        }),
    },
    {
        "slug": "network_device", "name": _("Network device"), "icon": "bi-router",
        "attribute_schema": _schema({
            "ip_address": IP,
            "vendor": {"type": "string", "maxLength": 60, "title": _("Vendor")},
            "model": {"type": "string", "maxLength": 100, "title": _("Model")},
            "role": {"type": "string", "title": _("Role"), **_enum(
                ("core", _("Core")), ("access", _("Access")), ("firewall", _("Firewall")), ("router", _("Router")),
                ("wireless", _("Wireless")), ("load_balancer", _("Load balancer")))},
            "firmware": VERSION | {"title": _("Firmware")},
            "serial_number": {"type": "string", "maxLength": 100, "title": _("Serial number")},
        }),
    },
    {
        "slug": "database", "name": _("Database"), "icon": "bi-database",
        "attribute_schema": _schema({
            "engine": {"type": "string", "title": _("Engine"), **_enum(
                ("mysql", "MySQL"), ("mariadb", "MariaDB"), ("postgresql", "PostgreSQL"), ("oracle", "Oracle"),
                ("sqlserver", "SQL Server"), ("mongodb", "MongoDB"), ("redis", "Redis"),
                ("dameng", _("Dameng")), ("kingbase", _("KingbaseES")), ("oceanbase", "OceanBase"),
                ("tidb", "TiDB"), ("other", _("Other")))},
            "version": VERSION,
            "port": PORT,
            "instance": {"type": "string", "maxLength": 100, "title": _("Instance")},
        }, required=["engine"]),
    },
    {
        "slug": "middleware", "name": _("Middleware"), "icon": "bi-diagram-3",
        "attribute_schema": _schema({
            "product": {"type": "string", "maxLength": 60, "title": _("Product")},
            "version": VERSION,
            "port": PORT,
        }),
    },
    {
        "slug": "application", "name": _("Application"), "icon": "bi-window-stack",
        "attribute_schema": _schema({
            "version": VERSION,
            "url": {"type": "string", "maxLength": 300, "title": _("URL")},
            "language": {"type": "string", "maxLength": 40, "title": _("Language or runtime")},
        }),
    },
    {
        "slug": "service", "name": _("Service"), "icon": "bi-briefcase",
        "attribute_schema": _schema({
            "service_hours": {"type": "string", "maxLength": 100, "title": _("Service hours")},
            "url": {"type": "string", "maxLength": 300, "title": _("URL")},
        }),
    },
]

# (attribute key, value) -> label of the built-in kinds' enumerated values: also for databases
# whose built-in schemas were copied before the labels existed.
ENUM_TITLES = {
    (key, value): title
    for spec in BUILTIN_KINDS
    for key, prop in spec["attribute_schema"]["properties"].items()
    for value, title in zip(prop.get("enum", ()), prop.get("x-enum-titles", ()), strict=True)
}
