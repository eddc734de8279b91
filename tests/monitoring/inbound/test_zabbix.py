"""Zabbix: the media type's real script (templates/monitoring/inbound_zabbix_media_type.js) runs
in Node.js with a stand-in for Zabbix's HttpRequest that records the request it makes; that
exact request is then sent to opsdesk. Zabbix itself cannot run here; its script can."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from django.template.loader import render_to_string

from opsdesk.monitoring.models import Alert, AlertState
from tests.factories import ConfigurationItemFactory

pytestmark = pytest.mark.django_db

# Zabbix's webhook runtime (Duktape) gives the script `value` (the parameters as JSON),
# HttpRequest and Zabbix.log; the script's body is a function body.
SHIM = """
var recorded = {headers: []};
function HttpRequest() {}
HttpRequest.prototype.addHeader = function (h) { recorded.headers.push(h); };
HttpRequest.prototype.setProxy = function (p) { recorded.proxy = p; };
HttpRequest.prototype.post = function (url, body) { recorded.url = url; recorded.body = body; return 'ok'; };
HttpRequest.prototype.getStatus = function () { return 200; };
var Zabbix = {log: function () {}};
var result = (function (value) { %s })(process.argv[1]);
process.stdout.write(JSON.stringify({result: result, request: recorded}));
"""

# What Zabbix 6/7 puts in the media type's parameters for a problem (macros resolved).
PROBLEM = {
    "event_id": "40811", "event_value": "1", "event_severity": "High", "event_nseverity": "4",
    "event_name": "MySQL: Service is down", "event_update_status": "0", "event_date": "2026.03.01",
    "event_time": "14:05:09", "recovery_date": "{EVENT.RECOVERY.DATE}", "recovery_time": "{EVENT.RECOVERY.TIME}",
    "event_tags": '[{"tag":"component","value":"database"},{"tag":"scope","value":"availability"}]',
    "event_opdata": "", "trigger_id": "23456", "trigger_name": "MySQL: Service is down",
    "trigger_description": "MySQL is not answering.", "host": "db-2", "host_name": "db-2 (Beijing)",
    "host_ip": "10.0.0.12", "event_timezone": "Asia/Shanghai",
}


def run_script(parameters: dict) -> dict:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node (Node.js) is not installed: it runs the Zabbix media type's script")
    script = render_to_string("monitoring/inbound_zabbix_media_type.js")
    out = subprocess.run([node, "-e", SHIM % script, json.dumps(parameters)], capture_output=True, text=True,
                         timeout=30, check=True)
    return json.loads(out.stdout)


def send_as_zabbix(client, url: str, token: str, event: dict):
    ran = run_script({"url": url, "token": token, **event})
    assert ran["result"] == "OK"
    request = ran["request"]
    headers = dict(h.split(": ", 1) for h in request["headers"])
    assert request["url"] == url
    return client.post(url, data=request["body"], content_type=headers["Content-Type"],
                       HTTP_AUTHORIZATION=headers["Authorization"])


def test_a_problem_fires_and_its_recovery_resolves_it(customer_a, sender_for):
    item = ConfigurationItemFactory(customer=customer_a, name="db-2")
    sender = sender_for(customer_a, "zabbix")
    url = "/api/monitoring/inbound/zabbix/"
    response = send_as_zabbix(sender.client, url, sender.token, PROBLEM)
    assert response.status_code == 200, response.content
    alert = Alert.objects.get()
    assert (alert.source, alert.severity, alert.configuration_item, alert.state) == \
        ("zabbix", "major", item, AlertState.FIRING)
    assert alert.title == "db-2 (Beijing): MySQL: Service is down"
    assert alert.labels == {"component": "database", "scope": "availability", "host": "db-2",
                            "trigger_id": "23456", "event_id": "40811"}
    # 14:05:09 in Beijing is 06:05:09 UTC.
    assert alert.started_at.isoformat() == "2026-03-01T06:05:09+00:00"
    assert alert.description == "MySQL is not answering."

    # Zabbix repeats a problem's message (escalation steps): still one alert.
    send_as_zabbix(sender.client, url, sender.token, PROBLEM)
    # An acknowledgement in Zabbix is an update: nothing changes.
    update = send_as_zabbix(sender.client, url, sender.token, {**PROBLEM, "event_update_status": "1"})
    assert update.json()["ignored"] == 1
    assert Alert.objects.count() == 1

    # The recovery message: {EVENT.ID} is still the problem's id, {EVENT.VALUE} 0.
    recovery = {**PROBLEM, "event_value": "0", "recovery_date": "2026.03.01", "recovery_time": "14:20:00"}
    assert send_as_zabbix(sender.client, url, sender.token, recovery).json()["resolved"] == 1
    alert.refresh_from_db()
    assert alert.state == AlertState.RESOLVED
    assert alert.resolved_at.isoformat() == "2026-03-01T06:20:00+00:00"


@pytest.mark.parametrize(("level", "ours"), [("Disaster", "critical"), ("High", "major"), ("Average", "minor"),
                                             ("Warning", "minor"), ("Information", "info"),
                                             ("Not classified", "critical")])
def test_zabbix_levels_map_to_ours(customer_a, sender_for, level, ours):
    sender = sender_for(customer_a, "zabbix", severity="critical")
    response = send_as_zabbix(sender.client, "/api/monitoring/inbound/zabbix/", sender.token,
                              {**PROBLEM, "event_severity": level, "event_nseverity": "{EVENT.NSEVERITY}"})
    assert response.status_code == 200
    assert Alert.objects.get().severity == ours


def test_the_script_refuses_to_run_without_its_url_and_token():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node (Node.js) is not installed: it runs the Zabbix media type's script")
    script = render_to_string("monitoring/inbound_zabbix_media_type.js")
    out = subprocess.run([node, "-e", SHIM % script, json.dumps(PROBLEM)], capture_output=True, text=True, timeout=30)
    assert out.returncode != 0
    assert "needs the parameters url and token" in out.stderr


@pytest.mark.parametrize(("change", "field"), [({"event_value": "2"}, "event_value"),
                                               ({"event_id": "{EVENT.ID}"}, "event_id"),
                                               ({"event_date": "01/03/2026"}, "event_date"),
                                               ({"event_tags": "[broken"}, "event_tags")])
def test_a_malformed_zabbix_message_is_400_naming_the_field(customer_a, sender_for, change, field):
    response = sender_for(customer_a, "zabbix").post({**PROBLEM, **change})
    assert response.status_code == 400
    assert field in response.json()
    assert not Alert.objects.exists()
