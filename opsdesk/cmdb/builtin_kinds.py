"""The kinds every opsdesk has (an administrator adds more). Titles are English msgids marked for
translation; the data migration copies these into the database."""

from django.utils.translation import gettext_noop as N_

IP = {"type": "string", "format": "ipv4", "title": N_("IP address")}
VERSION = {"type": "string", "maxLength": 60, "title": N_("Version")}
PORT = {"type": "integer", "minimum": 1, "maximum": 65535, "title": N_("Port")}

BUILTIN_KINDS = [
    {
        "slug": "server", "name": N_("Server"), "icon": "bi-hdd-stack",
        "attribute_schema": {"type": "object", "additionalProperties": False, "properties": {
            "hostname": {"type": "string", "maxLength": 253, "title": N_("Host name")},
            "ip_address": IP,
            "os": {"type": "string", "maxLength": 100, "title": N_("Operating system")},
            "cpu_cores": {"type": "integer", "minimum": 1, "maximum": 4096, "title": N_("CPU cores")},
            "memory_gb": {"type": "number", "minimum": 0, "title": N_("Memory (GB)")},
            "serial_number": {"type": "string", "maxLength": 100, "title": N_("Serial number")},
            "virtual": {"type": "boolean", "title": N_("Virtual machine")},
        }},
    },
    {
        "slug": "network_device", "name": N_("Network device"), "icon": "bi-router",
        "attribute_schema": {"type": "object", "additionalProperties": False, "properties": {
            "ip_address": IP,
            "vendor": {"type": "string", "maxLength": 60, "title": N_("Vendor")},
            "model": {"type": "string", "maxLength": 100, "title": N_("Model")},
            "role": {"type": "string", "enum": ["core", "access", "firewall", "router", "wireless", "load_balancer"],
                     "title": N_("Role")},
            "firmware": VERSION | {"title": N_("Firmware")},
            "serial_number": {"type": "string", "maxLength": 100, "title": N_("Serial number")},
        }},
    },
    {
        "slug": "database", "name": N_("Database"), "icon": "bi-database",
        "attribute_schema": {"type": "object", "additionalProperties": False, "properties": {
            "engine": {"type": "string", "title": N_("Engine"), "enum": [
                "mysql", "mariadb", "postgresql", "oracle", "sqlserver", "mongodb", "redis", "dameng", "kingbase",
                "oceanbase", "tidb", "other"]},
            "version": VERSION,
            "port": PORT,
            "instance": {"type": "string", "maxLength": 100, "title": N_("Instance")},
        }, "required": ["engine"]},
    },
    {
        "slug": "middleware", "name": N_("Middleware"), "icon": "bi-diagram-3",
        "attribute_schema": {"type": "object", "additionalProperties": False, "properties": {
            "product": {"type": "string", "maxLength": 60, "title": N_("Product")},
            "version": VERSION,
            "port": PORT,
        }},
    },
    {
        "slug": "application", "name": N_("Application"), "icon": "bi-window-stack",
        "attribute_schema": {"type": "object", "additionalProperties": False, "properties": {
            "version": VERSION,
            "url": {"type": "string", "maxLength": 300, "title": N_("URL")},
            "language": {"type": "string", "maxLength": 40, "title": N_("Language or runtime")},
        }},
    },
    {
        "slug": "service", "name": N_("Service"), "icon": "bi-briefcase",
        "attribute_schema": {"type": "object", "additionalProperties": False, "properties": {
            "service_hours": {"type": "string", "maxLength": 100, "title": N_("Service hours")},
            "url": {"type": "string", "maxLength": 300, "title": N_("URL")},
        }},
    },
]
