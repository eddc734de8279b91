from django.db import models


class Heartbeat(models.Model):
    """Last sign of life of a background process (worker, scheduler), read by /healthz."""

    name = models.CharField(max_length=64, unique=True)
    at = models.DateTimeField()
    detail = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return f"{self.name} @ {self.at.isoformat()}"
