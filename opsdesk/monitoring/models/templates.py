"""Monitoring templates: a bundle of checks (with default thresholds) for one kind of item."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Template(models.Model):
    """Applying a template to an item (or to every item of its kind) creates its checks."""

    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    name = models.CharField(_("name"), max_length=200)
    kind = models.ForeignKey("cmdb.CIKind", on_delete=models.PROTECT, related_name="+", verbose_name=_("kind"))
    description = models.TextField(_("description"), blank=True)
    builtin = models.BooleanField(_("built in"), default=False, editable=False)
    # [{"name", "type", "target": "<attribute or url template>", "params", "interval", "timeout"}]
    checks = models.JSONField(_("checks"), default=list, blank=True)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("template")
        verbose_name_plural = _("templates")

    def __str__(self) -> str:
        # Built-in names are English msgids with a translation (as built-in CI kinds' are).
        return gettext(self.name) if self.builtin else self.name

    def get_name_display(self) -> str:
        # Lists show a field through get_<field>_display: built-in template names translated.
        return str(self)
