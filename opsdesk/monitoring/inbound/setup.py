"""What a person pastes into the sender: the integration's URL (on OPSDESK_BASE_URL), an
Alertmanager receiver, the Zabbix media type's script and parameters, a cron line."""

from __future__ import annotations

from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from opsdesk.monitoring.models import InboundIntegration, IntegrationKind

PLACEHOLDER = "<TOKEN>"


def _api(name: str, **kwargs: str) -> str:
    return settings.BASE_URL + reverse(name, kwargs=kwargs or None)


def instructions(integration: InboundIntegration, raw: str | None = None) -> dict[str, str]:
    token = raw or PLACEHOLDER
    kind = integration.kind
    if kind == IntegrationKind.HEARTBEAT:
        # Reversed with a stand-in: reverse() would percent-encode the placeholder's brackets.
        url = _api("monitoring-heartbeat", token="TOKEN").replace("/TOKEN/", f"/{token}/")
        ping = "curl -fsS -m 10 --retry 5 -o /dev/null"
        return {
            "url": url,
            "curl": f"{ping} {url}",
            # Start, the job, then a good ping or a failure: the job's own exit status decides.
            "cron": f"0 2 * * * {ping} {url}start/ ; /usr/local/bin/backup.sh && {ping} {url} || {ping} {url}fail/",
        }
    url = _api(f"monitoring-inbound-{kind}")
    result = {"url": url}
    if kind == IntegrationKind.ALERTMANAGER:
        result["yaml"] = (
            "receivers:\n"
            "  - name: opsdesk\n"
            "    webhook_configs:\n"
            f"      - url: {url}\n"
            "        send_resolved: true\n"
            "        http_config:\n"
            "          authorization:\n"
            "            type: Bearer\n"
            f"            credentials: {token}\n")
        body = ('{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"Test",'
                '"severity":"warning","instance":"web1"},"annotations":{"summary":"A test alert"},'
                '"fingerprint":"test-1"}]}')
    elif kind == IntegrationKind.ZABBIX:
        result["script"] = render_to_string("monitoring/inbound_zabbix_media_type.js")
        result["parameters"] = f"url = {url}\ntoken = {token}"
        body = ('{"event_id":"1","event_value":"1","event_severity":"High","trigger_name":"A test problem",'
                '"host":"web1"}')
    else:
        body = '{"title": "A test alert"}'
    result["curl"] = (f"curl -fsS -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' "
                      f"-d '{body}' {url}")
    return result
