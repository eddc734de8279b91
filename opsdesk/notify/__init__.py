"""Notifications: channels (one module each, known by name through a registry), the per-webhook
rate limiter and digester, and later on-call schedules, escalation policies and the delivery log.

`opsdesk.notify.channels` is plain Python + httpx (no Django): the app's models and tasks come later
and call it; nothing here imports a concrete channel except the registry in `channels/__init__.py`.
"""
