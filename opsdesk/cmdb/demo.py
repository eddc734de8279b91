"""Demo data, the CMDB's part: a small but realistic estate for each demo customer."""

from __future__ import annotations

from opsdesk.cmdb import services as cmdb_services
from opsdesk.cmdb.models import CIKind, ConfigurationItem
from opsdesk.core import services
from opsdesk.core.demo import CUSTOMERS
from opsdesk.core.models import Customer, Site, Team


def _systems(code: str) -> list[dict]:
    """A small but realistic estate: servers, network, databases, middleware, apps, a service."""
    p = code.lower()
    items = [
        {"name": f"{p}-core-sw01", "kind": "network_device", "criticality": "critical",
         "attributes": {"ip_address": "10.0.0.1", "vendor": "Huawei", "model": "CE6881", "role": "core"}},
        {"name": f"{p}-fw01", "kind": "network_device", "criticality": "critical",
         "attributes": {"ip_address": "10.0.0.254", "vendor": "Hillstone", "model": "SG-6000", "role": "firewall"}},
        {"name": f"{p}-access-sw01", "kind": "network_device", "criticality": "medium",
         "attributes": {"ip_address": "10.0.1.1", "vendor": "H3C", "model": "S5130", "role": "access"}},
    ]
    for i in range(1, 9):
        items.append({"name": f"{p}-app{i:02d}", "kind": "server", "criticality": "high" if i <= 4 else "medium",
                      "attributes": {"hostname": f"{p}-app{i:02d}", "ip_address": f"10.0.10.{i}",
                                     "os": "Kylin V10" if i % 2 else "Ubuntu 24.04", "cpu_cores": 8,
                                     "memory_gb": 32, "virtual": True}})
    for i in range(1, 4):
        items.append({"name": f"{p}-db{i:02d}", "kind": "server", "criticality": "critical",
                      "attributes": {"hostname": f"{p}-db{i:02d}", "ip_address": f"10.0.20.{i}",
                                     "os": "openEuler 22.03", "cpu_cores": 32, "memory_gb": 256, "virtual": False}})
    items += [
        {"name": f"{p}-mysql-erp", "kind": "database", "criticality": "critical",
         "attributes": {"engine": "mysql", "version": "8.0.40", "port": 3306}},
        {"name": f"{p}-pg-crm", "kind": "database", "criticality": "high",
         "attributes": {"engine": "postgresql", "version": "16.4", "port": 5432}},
        {"name": f"{p}-redis-cache", "kind": "database", "criticality": "medium",
         "attributes": {"engine": "redis", "version": "7.2", "port": 6379}},
        {"name": f"{p}-nginx", "kind": "middleware", "criticality": "high",
         "attributes": {"product": "nginx", "version": "1.26", "port": 443}},
        {"name": f"{p}-tomcat", "kind": "middleware", "criticality": "high",
         "attributes": {"product": "Tomcat", "version": "10.1", "port": 8080}},
        {"name": f"{p}-kafka", "kind": "middleware", "criticality": "medium",
         "attributes": {"product": "Kafka", "version": "3.7", "port": 9092}},
        {"name": f"{p}-erp", "kind": "application", "criticality": "critical",
         "attributes": {"version": "5.2", "url": f"https://erp.{p}.example"}},
        {"name": f"{p}-crm", "kind": "application", "criticality": "high",
         "attributes": {"version": "2.8", "url": f"https://crm.{p}.example"}},
        {"name": f"{p}-portal", "kind": "application", "criticality": "medium",
         "attributes": {"version": "1.4", "url": f"https://www.{p}.example"}},
        {"name": f"{p}-online-ordering", "kind": "service", "criticality": "critical",
         "attributes": {"service_hours": "7x24"}},
    ]
    return items


def _relations(code: str) -> list[tuple[str, str, str]]:
    p = code.lower()
    return [
        (f"{p}-online-ordering", "depends_on", f"{p}-erp"),
        (f"{p}-online-ordering", "depends_on", f"{p}-portal"),
        (f"{p}-erp", "runs_on", f"{p}-app01"), (f"{p}-erp", "runs_on", f"{p}-app02"),
        (f"{p}-erp", "depends_on", f"{p}-mysql-erp"), (f"{p}-erp", "depends_on", f"{p}-redis-cache"),
        (f"{p}-crm", "runs_on", f"{p}-app03"), (f"{p}-crm", "depends_on", f"{p}-pg-crm"),
        (f"{p}-portal", "runs_on", f"{p}-app04"), (f"{p}-portal", "depends_on", f"{p}-nginx"),
        (f"{p}-nginx", "runs_on", f"{p}-app05"), (f"{p}-tomcat", "runs_on", f"{p}-app06"),
        (f"{p}-kafka", "runs_on", f"{p}-app07"),
        (f"{p}-mysql-erp", "runs_on", f"{p}-db01"), (f"{p}-pg-crm", "runs_on", f"{p}-db02"),
        (f"{p}-redis-cache", "runs_on", f"{p}-db03"),
        *[(f"{p}-app{i:02d}", "connected_to", f"{p}-access-sw01") for i in range(1, 9)],
        *[(f"{p}-db{i:02d}", "connected_to", f"{p}-core-sw01") for i in range(1, 4)],
        (f"{p}-access-sw01", "connected_to", f"{p}-core-sw01"), (f"{p}-core-sw01", "connected_to", f"{p}-fw01"),
    ]


def load_items() -> str:
    kinds = {k.slug: k for k in CIKind.objects.all()}
    ops = Team.objects.filter(name="Operations 运维组").first()
    count = 0
    for spec in CUSTOMERS:
        customer = Customer.objects.get(code=spec["code"])
        sites = list(Site.objects.filter(customer=customer).order_by("pk"))
        by_name = {}
        for i, item in enumerate(_systems(spec["code"])):
            by_name[item["name"]] = services.create(ConfigurationItem, {
                "customer": customer, "site": sites[i % len(sites)], "kind": kinds[item["kind"]],
                "name": item["name"], "criticality": item["criticality"], "owner_team": ops,
                "attributes": item["attributes"]}, actor=None)
            count += 1
        for source, type_, target in _relations(spec["code"]):
            cmdb_services.relate(by_name[source], by_name[target], type_)
    return f"{count} configuration items with relations"
