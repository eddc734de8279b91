"""What the CI detail page shows beyond the generic one."""

from __future__ import annotations

from opsdesk.cmdb.models import ConfigurationItem
from opsdesk.core.scoping import scope_for


def ci_detail_context(request, obj: ConfigurationItem) -> dict:
    relations = scope_for(request.user, obj.relations_out.select_related("target", "target__kind"))
    incoming = scope_for(request.user, obj.relations_in.select_related("source", "source__kind"))
    return {"relations_out": relations, "relations_in": incoming}
