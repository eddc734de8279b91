"""Metric series and their samples in the SQL back end: raw samples packed in chunks per series
(as Prometheus and VictoriaMetrics store them), and min/avg/max rollups per 5 minutes and per hour."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.utils.translation import gettext_lazy as _


class Series(models.Model):
    """One metric series of a configuration item: a name and its labels. The index of what exists
    is kept here in both tiers (the pages list and search it); the samples live in the store."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="+",
                                 verbose_name=_("customer"))
    configuration_item = models.ForeignKey("cmdb.ConfigurationItem", on_delete=models.CASCADE,
                                           related_name="series", verbose_name=_("configuration item"))
    name = models.CharField(_("metric"), max_length=200)
    labels = models.JSONField(_("labels"), default=dict)
    # sha1 of name and sorted labels: the series' identity within its item.
    key = models.CharField(max_length=40)
    monitor_check = models.ForeignKey("monitoring.Check", on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="series", verbose_name=_("check"))
    last_ts = models.FloatField(_("last sample"), null=True, blank=True)
    last_value = models.FloatField(_("last value"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["configuration_item", "name", "key"]
        constraints = [models.UniqueConstraint(fields=["configuration_item", "key"], name="unique_series_key")]
        indexes = [models.Index(fields=["name", "customer"], name="series_name_customer")]
        verbose_name = _("series")
        verbose_name_plural = _("series")

    def __str__(self) -> str:
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{inner}}}" if inner else self.name

    def last_time(self) -> dt.datetime | None:
        """The last sample's time as a datetime (last_ts is Unix seconds): the lists' column."""
        return None if self.last_ts is None else dt.datetime.fromtimestamp(self.last_ts, tz=dt.UTC)

    last_time.short_description = _("last time")
    last_time.admin_order_field = "last_ts"

    # Lists and the detail page show a field through get_<field>_display (the API and exports
    # keep the raw values).
    def get_labels_display(self) -> str:
        from opsdesk.monitoring.units import format_labels

        return format_labels(self.labels)

    def get_last_value_display(self) -> str:
        """The last value in the unit the metric's name says: 61.2 %, 3.0 MiB/s, 12 ms."""
        from opsdesk.monitoring.units import format_metric

        return format_metric(self.last_value, self.name)

    def get_last_ts_display(self) -> dt.datetime | None:
        return self.last_time()


class Chunk(models.Model):
    """Raw samples of one series between start and end: timestamps and values packed as two arrays
    of doubles (see store.chunks). Filing writes one chunk per series per pass; compaction merges
    a series' chunks of one block (2 hours) into one."""

    # No constraint in the database: its check cost PostgreSQL a look-up and a row lock of the
    # series (with its WAL record) for every chunk, about half of what a chunk's insert costs
    # (docs/performance.md, round nine). Deleting a series through Django still deletes its chunks;
    # a chunk filed for a series deleted meanwhile is read by no one and expires with the others.
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="+", db_index=False,
                               db_constraint=False)
    start = models.FloatField()
    end = models.FloatField()
    count = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        indexes = [models.Index(fields=["series", "end"], name="chunk_series_end"),
                   models.Index(fields=["end"], name="chunk_end")]


class Rollup(models.Model):
    """Min, max, sum and count of one series over one bucket of `step` seconds (300 or 3600)."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="+", db_index=False,
                               db_constraint=False)  # as Chunk.series: written in thousands a pass
    step = models.PositiveIntegerField()
    ts = models.BigIntegerField()
    min = models.FloatField()
    max = models.FloatField()
    sum = models.FloatField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["series", "step", "ts"], name="unique_rollup_bucket")]
        indexes = [models.Index(fields=["step", "ts"], name="rollup_step_ts")]


class StoreCursor(models.Model):
    """How far a background step got (e.g. the last chunk id rolled up), so it resumes there."""

    name = models.CharField(max_length=50, primary_key=True)
    value = models.BigIntegerField(default=0)
