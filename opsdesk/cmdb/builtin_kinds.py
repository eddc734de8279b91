"""The kinds every opsdesk has (an administrator adds more). Titles are English msgids marked for
translation; the data migration copies these into the database."""

# `_` (not N_) so that makemessages extracts the names; they are translated when shown.
from django.utils.translation import gettext_noop as _

IP = {"type": "string", "format": "ipv4", "title": _("IP address")}
VERSION = {"type": "string", "maxLength": 60, "title": _("Version")}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535, "title": _("Port")}

BUILTIN_KINDS = [
    {
        "slug": "server", "name": _("Server"), "icon": "bi-hdd-stack",
        "attribute_schema": {"type": "object", "additionalProperties": False, "properties": {
            "hostname": {"type": "string", "maxLength": 253, "title": _("Host name")},
            "ip_address": IP,
            "os": {"type": "string", "maxLength": 100, "title": _("Operating system")},
            "cpu_cores": {"type": "integer", "minimum": 1, "maximum": 4096, "title": _("CPU cores")},
            "memory_gb": {"type": "number", "minimum": 0, "title": _("Memory (GB)")},
            "serial_number": {"type": "string", "maxLength": 100, "title": _("Serial number")},
            "virtual": {"type": "boolean", "title": _("Virtual machine")},
        }},
    },
    {
        "slug": "network_device", "name": _("Network device"), "icon": "bi-router",
        "attribute_schema": {"type": "object", "additionalProperties": False, "properties": {
            "ip_address": IP,
            "vendor": {"type": "string", "maxLength": 60, "title": _("Vendor")},
            "model": {"type": "string", "maxLength": 100, "title": _("Model")},
            "role": {"type": "string", "enum": ["core", "access", "firewall", "router", "wireless", "load_balancer"],
                     "title": _("Role")},
            "firmware": VERSION | {"title": _("Firmware")},
            "serial_number": {"type": "string", "maxLength": 100, "title": _("Serial number")},
        }},
    },
    {
        "slug": "database", "name": _("Database"), "icon": "bi-database",
        "attribute_schema": {"type": "object", "additionalProperties": False, "properties": {
            "engine": {"type": "string", "title": _("Engine"), "enum": [
                "mysql", "mariadb", "postgresql", "oracle", "sqlserver", "mongodb", "redis", "dameng", "kingbase",
                "oceanbase", "tidb", "other"]},
            "version": VERSION,
            "port": PORT,
            "instance": {"type": "string", "maxLength": 100, "title": _("Instance")},
        }, "required": ["engine"]},
    },
    {
        "slug": "middleware", "name": _("Middleware"), "icon": "bi-diagram-3",
        "attribute_schema": {"type": "object", "additionalProperties": False, "properties": {
            "product": {"type": "string", "maxLength": 60, "title": _("Product")},
            "version": VERSION,
            "port": PORT,
        }},
    },
    {
        "slug": "application", "name": _("Application"), "icon": "bi-window-stack",
        "attribute_schema": {"type": "object", "additionalProperties": False, "properties": {
            "version": VERSION,
            "url": {"type": "string", "maxLength": 300, "title": _("URL")},
            "language": {"type": "string", "maxLength": 40, "title": _("Language or runtime")},
        }},
    },
    {
        "slug": "service", "name": _("Service"), "icon": "bi-briefcase",
        "attribute_schema": {"type": "object", "additionalProperties": False, "properties": {
            "service_hours": {"type": "string", "maxLength": 100, "title": _("Service hours")},
            "url": {"type": "string", "maxLength": 300, "title": _("URL")},
        }},
    },
]
