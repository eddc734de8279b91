"""Configuration items, their kinds (with an attribute schema) and the relations between them."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from opsdesk.core.models.base import TimestampedModel
from opsdesk.core.models.customers import code_validator


class CIKind(TimestampedModel):
    """A kind of configuration item; `attribute_schema` is a JSON Schema (object) that the
    attributes of every item of this kind must satisfy."""

    slug = models.SlugField(_("key"), max_length=50, unique=True, validators=[code_validator])
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    icon = models.CharField(_("icon"), max_length=40, blank=True, default="bi-box",
                            help_text=_("A Bootstrap Icons class name, such as bi-hdd."))
    attribute_schema = models.JSONField(_("attribute schema"), default=dict, blank=True)
    builtin = models.BooleanField(_("built in"), default=False, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("CI kind")
        verbose_name_plural = _("CI kinds")

    def __str__(self) -> str:
        # Built-in names are English msgids with a translation; names an administrator typed are
        # shown as typed.
        return gettext(self.name) if self.builtin else self.name

    def get_name_display(self) -> str:
        # Lists show a field through get_<field>_display: built-in kind names translated.
        return str(self)

    def clean(self) -> None:
        from opsdesk.cmdb.attributes import schema_problems

        problems = schema_problems(self.attribute_schema)
        if problems:
            raise ValidationError({"attribute_schema": problems})


class CIStatus(models.TextChoices):
    PLANNED = "planned", _("Planned")
    ACTIVE = "active", _("Active")
    MAINTENANCE = "maintenance", _("In maintenance")
    RETIRED = "retired", _("Retired")


class Criticality(models.TextChoices):
    CRITICAL = "critical", _("Critical")
    HIGH = "high", _("High")
    MEDIUM = "medium", _("Medium")
    LOW = "low", _("Low")


class ConfigurationItem(TimestampedModel):
    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="configuration_items",
                                 verbose_name=_("customer"))
    site = models.ForeignKey("core.Site", on_delete=models.SET_NULL, null=True, blank=True,
                             related_name="configuration_items", verbose_name=_("site"))
    kind = models.ForeignKey(CIKind, on_delete=models.PROTECT, related_name="items", verbose_name=_("kind"))
    name = models.CharField(_("name"), max_length=200)
    status = models.CharField(_("status"), max_length=16, choices=CIStatus.choices, default=CIStatus.ACTIVE)
    criticality = models.CharField(_("criticality"), max_length=16, choices=Criticality.choices,
                                   default=Criticality.MEDIUM)
    owner_team = models.ForeignKey("core.Team", on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="configuration_items", verbose_name=_("owner team"))
    attributes = models.JSONField(_("attributes"), default=dict, blank=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["customer", "name"], name="unique_ci_name_per_customer")]
        indexes = [
            # The list filtered by customer and kind, sorted by name (bench/cmdb_list.py).
            models.Index(fields=["customer", "kind", "name"], name="ci_customer_kind_name"),
            models.Index(fields=["kind", "name"], name="ci_kind_name"),
            models.Index(fields=["name"], name="ci_name"),
        ]
        verbose_name = _("configuration item")
        verbose_name_plural = _("configuration items")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from opsdesk.cmdb.attributes import validate_attributes

        errors: dict[str, list] = {}
        if self.site_id and self.customer_id and self.site.customer_id != self.customer_id:
            errors["site"] = [_("The site belongs to another customer.")]
        if self.kind_id:
            problems = validate_attributes(self.kind.attribute_schema, self.attributes or {})
            if problems:
                errors["attributes"] = [f"{key}: {msg}" if key else msg for key, msg in problems]
        if errors:
            raise ValidationError(errors)

    def attribute_rows(self) -> list[tuple[str, object]]:
        from opsdesk.cmdb.attributes import display_rows

        return display_rows(self.kind.attribute_schema or {}, self.attributes or {})


class RelationType(models.TextChoices):
    RUNS_ON = "runs_on", _("runs on")
    DEPENDS_ON = "depends_on", _("depends on")
    CONNECTED_TO = "connected_to", _("connected to")


class Relation(models.Model):
    """source —type→ target, both items of one customer; the customer is kept on the row so
    scoping is one filter."""

    customer = models.ForeignKey("core.Customer", on_delete=models.CASCADE, related_name="ci_relations",
                                 verbose_name=_("customer"), editable=False)
    source = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="relations_out",
                               verbose_name=_("from"))
    type = models.CharField(_("relation"), max_length=16, choices=RelationType.choices)
    target = models.ForeignKey(ConfigurationItem, on_delete=models.CASCADE, related_name="relations_in",
                               verbose_name=_("to"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["source__name", "type", "target__name"]
        constraints = [models.UniqueConstraint(fields=["source", "type", "target"], name="unique_ci_relation")]
        verbose_name = _("relation")
        verbose_name_plural = _("relations")

    def __str__(self) -> str:
        return f"{self.source} {self.get_type_display()} {self.target}"

    def save(self, *args, **kwargs) -> None:
        self.customer_id = self.source.customer_id
        super().save(*args, **kwargs)

    def clean(self) -> None:
        if self.source_id and self.target_id:
            if self.source_id == self.target_id:
                raise ValidationError({"target": _("An item cannot relate to itself.")})
            if self.source.customer_id != self.target.customer_id:
                raise ValidationError({"target": _("Both items must belong to the same customer.")})


class ImportJob(models.Model):
    """A large import, done by a worker: the row is the truth, the queue only a wake-up. A job
    whose worker died is taken again when its lease runs out (docs/architecture.md, "nothing lost")."""

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey("core.User", on_delete=models.CASCADE, related_name="import_jobs",
                                   verbose_name=_("created by"))
    filename = models.CharField(_("file"), max_length=255)
    content = models.BinaryField(editable=False)
    dry_run = models.BooleanField(_("dry run"), default=True)
    # The submitter's language: the worker writes the report's messages in it.
    language = models.CharField(max_length=10, default="en", editable=False)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    attempts = models.PositiveSmallIntegerField(default=0, editable=False)
    report = models.JSONField(null=True, blank=True, editable=False)
    error = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["state", "lease_until"], name="importjob_state_lease")]
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")

    def __str__(self) -> str:
        return f"{self.filename} ({self.get_state_display()})"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.DONE, self.State.FAILED)
