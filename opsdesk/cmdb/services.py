"""CMDB operations: the relation graph, import and export (called by views, API and commands)."""

from __future__ import annotations

from collections import deque
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext as _

from opsdesk.cmdb.models import ConfigurationItem, Relation, RelationType
from opsdesk.core.scoping import scope_for
from opsdesk.core.services import create_object, update_object

GRAPH_NODE_LIMIT = 400


def graph(user, *, item: ConfigurationItem | None = None, customer_id: int | None = None,
          depth: int = 2) -> dict:
    """Nodes and links for ECharts: around one item (to `depth` hops) or a whole customer."""
    items = scope_for(user, ConfigurationItem.objects.select_related("kind", "customer"))
    relations = scope_for(user, Relation.objects.all())
    if item is not None:
        seen = {item.pk}
        frontier = deque([item.pk])
        edges: dict[int, Relation] = {}
        for _hop in range(max(1, min(depth, 4))):
            if not frontier or len(seen) >= GRAPH_NODE_LIMIT:
                break
            ids = list(frontier)
            frontier.clear()
            for rel in relations.filter(Q(source_id__in=ids) | Q(target_id__in=ids)):
                edges[rel.pk] = rel
                for end in (rel.source_id, rel.target_id):
                    if end not in seen and len(seen) < GRAPH_NODE_LIMIT:
                        seen.add(end)
                        frontier.append(end)
        nodes = list(items.filter(pk__in=seen))
        links = [r for r in edges.values() if r.source_id in seen and r.target_id in seen]
    else:
        nodes = list(items.filter(customer_id=customer_id)[:GRAPH_NODE_LIMIT])
        ids = {n.pk for n in nodes}
        links = [r for r in relations.filter(customer_id=customer_id, source_id__in=ids, target_id__in=ids)]
    kinds = sorted({n.kind_id: str(n.kind) for n in nodes}.items(), key=lambda kv: kv[1])
    category_index = {kind_id: i for i, (kind_id, _name) in enumerate(kinds)}
    labels = dict(RelationType.choices)
    # Node diameters in pixels: the item the graph is drawn around, the others by criticality.
    sizes = {"critical": 44, "high": 40, "medium": 36, "low": 32}
    # Every text here is what people typed (names) or translated labels: graph.js escapes them
    # before any goes into HTML (the tooltip).
    return {
        "categories": [{"name": name} for _id, name in kinds],
        "nodes": [{"id": str(n.pk), "name": n.name, "category": category_index[n.kind_id],
                   "kind": str(n.kind), "value": n.get_criticality_display(), "status": n.get_status_display(),
                   "symbolSize": 52 if item and n.pk == item.pk else sizes.get(n.criticality, 36),
                   "focus": bool(item and n.pk == item.pk), "url": f"/cmdb/configurationitems/{n.pk}/"}
                  for n in nodes],
        "links": [{"source": str(r.source_id), "target": str(r.target_id), "type": r.type,
                   "label": str(labels[r.type])} for r in links],
        "truncated": len(nodes) >= GRAPH_NODE_LIMIT,
    }


def update_item(item: ConfigurationItem, data: dict[str, Any], *, actor) -> ConfigurationItem:
    """Change a CI. Moving it to another customer is refused while it has relations: they are
    owned by its customer, and left behind they would show its name to the old customer."""
    new_customer = data.get("customer")
    if new_customer is not None and item.customer_id and new_customer.pk != item.customer_id:
        count = Relation.objects.filter(Q(source=item) | Q(target=item)).count()
        if count:
            raise ValidationError({"customer": _(
                "This item has %(count)d relations with items of its customer. Remove them before moving "
                "it to another customer.") % {"count": count}})
    return update_object(item, data, actor=actor)


def relate(source: ConfigurationItem, target: ConfigurationItem, type_: str, note: str = "", *,
           actor=None) -> Relation:
    return create_object(Relation, {"source": source, "target": target, "type": type_, "note": note}, actor=actor)
