"""Notify in the registry (channels, contact methods, notifications, on-call)."""
