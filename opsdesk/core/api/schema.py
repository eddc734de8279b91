"""The OpenAPI schema tells the truth about errors: every status the API can answer for an
operation is documented with the body it carries (schemathesis checks both in the test run).

- 400: a validation error (field → messages) or a malformed request ({"detail": …}),
- 401: no or a bad token, 403: not allowed (or a read-only token), 404: not found or not yours,
- 405/406/415: wrong method, Accept or Content-Type, 409: conflicts with an existing record,
- 503: the database is busy (retry after the Retry-After header), 507: the data disk is full.

The schema served to a signed-in person lists only the operations they may use (schema_view.py).
"""

from __future__ import annotations

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.plumbing import ResolvedComponent

DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
# Field name (or non_field_errors) → messages, or nested objects for nested fields; some answers
# carry {"detail": …} instead.
VALIDATION = {"type": "object", "additionalProperties": {
    "anyOf": [{"type": "array", "items": {}}, {"type": "string"}, {"type": "object"}]}}

DESCRIPTIONS = {
    "400": "Invalid input: the body names each field and what is wrong with it.",
    "401": "No credentials, or a token that is unknown, expired or revoked.",
    "403": "Not allowed for this person (or the token is read-only).",
    "404": "Not found, or not within the customers this person may reach.",
    "405": "This method is not allowed here.",
    "406": "The Accept header asks for a format the API does not give.",
    "409": "Conflicts with an existing record.",
    "415": "The Content-Type is not JSON, form data or multipart.",
    "503": "The database is busy; retry after the Retry-After header's seconds.",
    "507": "The data disk is full.",
}


class AutoSchema(SpectacularAutoSchema):
    def _component(self, name: str, schema: dict) -> dict:
        component = ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, schema=schema, object=name)
        self.registry.register_on_missing(component)
        return component.ref

    def _error_codes(self) -> list[str]:
        codes = ["400", "401", "403", "404", "405", "406", "503", "507"]
        if self.method in ("POST", "PUT", "PATCH"):
            codes += ["409", "415"]
        elif self.method == "DELETE":
            codes.append("409")
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        detail = self._component("ErrorDetail", DETAIL)
        validation = self._component("ValidationError", VALIDATION)
        for code in self._error_codes():
            if code in responses:
                continue  # the view documents its own (the import's report, for one)
            schema = {"anyOf": [validation, detail]} if code in ("400", "409") else detail
            responses[code] = {"description": DESCRIPTIONS[code],
                               "content": {"application/json": {"schema": schema}}}
        return responses

