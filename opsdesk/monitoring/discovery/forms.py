"""The forms of discovery's pages: they collect values; discovery.services validates and writes."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from opsdesk.core.generic.forms import ScopedModelForm
from opsdesk.monitoring.discovery.services import SNMP_KINDS
from opsdesk.monitoring.models import DiscoveryRun


class DiscoveryRunForm(ScopedModelForm):
    class Meta:
        model = DiscoveryRun
        fields = ["customer", "network", "ports", "credential"]
        help_texts = {
            "network": _("An address range such as 10.0.0.0/24 (at most 1024 addresses), or one address."),
            "ports": _("TCP ports to try, separated by commas; 161 (or \"N/udp\") asks SNMP agents, with the "
                       "credential below."),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only SNMP credentials make sense here (the service refuses others, and another customer's).
        self.fields["credential"].queryset = self.fields["credential"].queryset.filter(kind__in=SNMP_KINDS)
        self.fields["credential"].help_text = _("Optional: an SNMP community or SNMPv3 credential of the customer; "
                                                "without it no SNMP agent is asked.")


class AcceptForm(forms.Form):
    """The parameters of "accept" on a discovered device."""

    apply_template = forms.BooleanField(
        label=_("Apply the kind's template"), required=False,
        help_text=_("Create the checks of the built-in template for this kind of item (for a database, its "
                    "engine's; for a Windows host, the Windows template)."))
