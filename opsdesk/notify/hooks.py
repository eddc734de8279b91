"""Notify in /healthz, /metrics and the setup steps."""
