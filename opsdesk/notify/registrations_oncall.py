"""Notify on-call in the registry: schedules, rotations, overrides, escalation policies, pages."""
