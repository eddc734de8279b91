"""The Apprise channel, through Apprise's own plugins, against the local receiver (conftest.vendor):
the exact body each service's plugin posts."""

from __future__ import annotations

import urllib.parse

from opsdesk.notify import channels
from opsdesk.notify.channels import Message

NOW = 1718000000.0
APPRISE = channels.get("apprise")


def alert(i: int = 1, severity: str = "critical") -> Message:
    return Message(title=f"交换机 sw-{i:02d} 端口 down", text="Gi0/1 **down**", severity=severity,
                   url=f"https://ops.example.com/alerts/{i}/ack", url_label="确认")


def address(vendor, scheme: str, path: str) -> str:
    return f"{scheme}://{vendor.base_url.removeprefix('http://')}/{path}"


def test_a_json_url_receives_the_title_and_the_markdown_body(vendor, client):
    result = APPRISE.send({"url": address(vendor, "json", "hooks/opsdesk")}, [alert()], client=client, now=NOW)
    assert (result.ok, result.delivered) == (True, 1)
    [request] = vendor.requests
    assert request.path == "/hooks/opsdesk" and request.headers["content-type"] == "application/json"
    assert request.json() == {
        "version": "1.0", "title": "🔴 交换机 sw-01 端口 down", "attachments": [], "type": "failure",
        "message": "**🔴 交换机 sw-01 端口 down**\n\nGi0/1 **down**\n\n[确认](https://ops.example.com/alerts/1/ack)"}


def test_a_digest_is_one_post_whose_type_follows_the_worst_severity(vendor, client):
    messages = [alert(1, "info"), alert(2, "minor")]
    assert APPRISE.send({"url": address(vendor, "json", "h")}, messages, client=client, now=NOW).delivered == 2
    body = vendor.requests[0].json()
    assert (body["title"], body["type"]) == ("🟡 2 notifications", "warning")
    assert body["message"].count("\n\n---\n\n") == 1 and "sw-02" in body["message"]


def test_a_mattermost_url_posts_mattermosts_own_payload_under_opsdesks_name(vendor, client):
    result = APPRISE.send({"url": address(vendor, "mmost", "abcdef123456")}, [alert(severity="major")],
                          client=client, now=NOW)
    assert result.ok
    [request] = vendor.requests
    assert request.path == "/hooks/abcdef123456"
    assert request.json() == {
        "username": "opsdesk",
        "text": "🟠 交换机 sw-01 端口 down\r\n**🟠 交换机 sw-01 端口 down**\n\nGi0/1 **down**\n\n"
                "[确认](https://ops.example.com/alerts/1/ack)"}


def test_a_form_url_posts_the_same_fields_form_encoded(vendor, client):
    assert APPRISE.send({"url": address(vendor, "form", "f")}, [alert()], client=client, now=NOW).ok
    [request] = vendor.requests
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = dict(urllib.parse.parse_qsl(request.body.decode()))
    assert form["title"] == "🔴 交换机 sw-01 端口 down" and form["type"] == "failure"
    assert form["message"].startswith("**🔴 交换机 sw-01 端口 down**\n\nGi0/1 **down**")


def test_a_500_is_a_failure_with_the_status_and_no_token(vendor, client):
    vendor.reply(500, {"error": "boom"})
    url = address(vendor, "mmost", "secret-token-42")
    result = APPRISE.send({"url": url}, [alert()], client=client, now=NOW)
    assert (result.ok, result.status) == (False, 500)
    assert "error=500" in result.detail and "secret-token-42" not in result.detail
    assert len(vendor.requests) == 1


def test_an_address_apprise_does_not_know_is_a_failure_without_a_request(vendor, client):
    result = APPRISE.send({"url": "nosuchservice://token-abcdef"}, [alert()], client=client, now=NOW)
    assert (result.ok, result.status) == (False, 0) and "token-abcdef" not in result.detail
    assert vendor.requests == []
    assert APPRISE.secrets == ("url",)
