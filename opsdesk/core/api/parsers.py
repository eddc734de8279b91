"""The API's JSON parser: DRF's, refusing bodies nested deeper than any opsdesk object needs.

Python's json module raises RecursionError at about 1000 levels, which would be a 500 on every
write endpoint, and even less deeply nested data can exhaust the stack later on (when a JSON
attribute is serialised for the database). A depth limit turns both into a 400 that says why.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deeper than any form of opsdesk's data (CI attributes are a few levels at most).
MAX_DEPTH = 64


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether lists/objects in `value` nest more than `limit` deep; iterative, so it cannot
    itself run out of stack."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class JSONParser(parsers.JSONParser):
    max_depth = MAX_DEPTH

    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        too_deep = _("JSON parse error - nested more than %(limit)d levels deep.") % {"limit": self.max_depth}
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(too_deep) from None
        if isinstance(data, dict | list) and nesting_exceeds(data, self.max_depth):
            raise ParseError(too_deep)
        return data
