"""opsdesk: monitoring, on-call, service desk and operations for IT service teams."""

__version__ = "0.1.0"
