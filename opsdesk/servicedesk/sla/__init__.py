"""The SLA engine: business calendars and the clocks of each ticket (first response,
resolution, update) counted on them."""
