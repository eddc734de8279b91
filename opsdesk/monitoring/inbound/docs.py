"""The payloads the inbound endpoints take, for the OpenAPI schema only: each source's parser
checks the body itself (and names the field of the sender's payload when it refuses one)."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers


class AlertmanagerAlert(serializers.Serializer):
    # Alertmanager's own (camelCase) names.
    status = serializers.ChoiceField(choices=["firing", "resolved"])
    labels = serializers.DictField(child=serializers.CharField(), help_text=_(
        "`severity` sets the severity; `instance`, `host` or `hostname` names the configuration item."))
    annotations = serializers.DictField(child=serializers.CharField(), required=False, help_text=_(
        "`summary` is the title, `description` the description."))
    startsAt = serializers.DateTimeField(required=False)
    endsAt = serializers.DateTimeField(required=False)
    generatorURL = serializers.CharField(required=False, allow_blank=True)
    fingerprint = serializers.CharField(required=False, help_text=_("The same fingerprint is the same alert."))


class AlertmanagerPayload(serializers.Serializer):
    version = serializers.CharField(required=False)
    status = serializers.ChoiceField(choices=["firing", "resolved"], required=False)
    receiver = serializers.CharField(required=False)
    groupLabels = serializers.DictField(child=serializers.CharField(), required=False)
    commonLabels = serializers.DictField(child=serializers.CharField(), required=False)
    commonAnnotations = serializers.DictField(child=serializers.CharField(), required=False)
    externalURL = serializers.CharField(required=False)
    alerts = AlertmanagerAlert(many=True)


class ZabbixPayload(serializers.Serializer):
    event_id = serializers.CharField(help_text=_("{EVENT.ID}: the problem's event (also in its recovery)."))
    event_value = serializers.ChoiceField(choices=["0", "1"], help_text=_("{EVENT.VALUE}: 1 problem, 0 recovery."))
    event_severity = serializers.CharField(required=False, help_text=_(
        "{EVENT.SEVERITY}: Disaster, High, Average, Warning, Information or Not classified."))
    event_nseverity = serializers.CharField(required=False, help_text=_("{EVENT.NSEVERITY}: 0 to 5."))
    event_name = serializers.CharField(required=False)
    event_date = serializers.CharField(required=False, help_text=_("{EVENT.DATE}, e.g. 2026.03.01"))
    event_time = serializers.CharField(required=False, help_text=_("{EVENT.TIME}, e.g. 14:05:09"))
    event_timezone = serializers.CharField(required=False, help_text=_(
        "The Zabbix server's time zone (default: OPSDESK_TIME_ZONE)."))
    event_tags = serializers.CharField(required=False, help_text=_("{EVENT.TAGSJSON}"))
    event_update_status = serializers.CharField(required=False, help_text=_(
        "{EVENT.UPDATE.STATUS}: 1 for an update (acknowledgement, comment), which is ignored."))
    event_opdata = serializers.CharField(required=False)
    event_url = serializers.CharField(required=False)
    recovery_date = serializers.CharField(required=False, help_text=_("{EVENT.RECOVERY.DATE}"))
    recovery_time = serializers.CharField(required=False, help_text=_("{EVENT.RECOVERY.TIME}"))
    trigger_id = serializers.CharField(required=False)
    trigger_name = serializers.CharField(help_text=_("{TRIGGER.NAME}: the title."))
    trigger_description = serializers.CharField(required=False)
    host = serializers.CharField(required=False, help_text=_("{HOST.HOST}: names the configuration item."))
    host_name = serializers.CharField(required=False, help_text=_("{HOST.NAME}"))
    host_ip = serializers.CharField(required=False, help_text=_("{HOST.IP}"))

