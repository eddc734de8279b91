"""Demo data for a first look, the service desk's part: categories (one with a form of its own),
canned replies, and tickets of the demo customers in every state, opened the ways tickets come
(portal, email, phone, an alert) and answered as an engineer would."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from opsdesk.cmdb.models import ConfigurationItem  # the CMDB demo's items ("acme-db01", with a week of metrics)
from opsdesk.core.demo import CUSTOMERS
from opsdesk.core.models import Contact, Customer, Team, User
from opsdesk.servicedesk import services
from opsdesk.servicedesk.models import Category, Macro

CATEGORIES = [
    ("Hardware fault 硬件故障", "incident", []),
    ("Network 网络", "incident", []),
    ("Account request 账号申请", "request", [
        {"name": "employee", "label": {"en": "Employee name", "zh-hans": "员工姓名"}, "type": "text", "required": True},
        {"name": "start_date", "label": {"en": "Start date", "zh-hans": "入职日期"}, "type": "date", "required": True},
        {"name": "systems", "label": {"en": "Systems to open", "zh-hans": "需要开通的系统"}, "type": "textarea",
         "required": False}]),
    ("Question 咨询", "question", []),
]
MACROS = [
    ("已收到 / Received",
     "您好 {{ requester.name }}，工单 #{{ ticket.number }} 已收到，{{ agent.name }} 正在处理。", ""),
    ("请提供日志 / Logs please", "您好，请把出错时间前后的日志作为附件回复给我们，谢谢。", "waiting_customer"),
]
# (customer code, title, description, category index, impact, urgency, channel, CI name suffix, how far along)
TICKETS = [
    ("ACME", "ERP 登录缓慢，财务月结受影响", "从今天上午 9 点开始，ERP 登录要 30 秒以上。", 0, "high", "high", "email",
     "-db01", "in_progress"),
    ("ACME", "VPN 连接频繁断开", "出差同事反映 VPN 每隔十几分钟掉线一次。", 1, "medium", "medium", "phone", "", "new"),
    ("ACME", "新员工开通邮箱和 ERP 账号", "下周一入职两位同事。", 2, "low", "medium", "portal", "", "waiting_customer"),
    ("BLUESKY", "Printer on floor 3 is jammed", "The big printer near the lifts shows paper jam.", 0, "low", "low",
     "portal", "", "resolved"),
    ("BLUESKY", "门店收银网络不通", "西单门店收银机无法连接总部。", 1, "high", "medium", "phone", "", "closed"),
    ("BLUESKY", "如何申请远程桌面？", "想在家访问公司电脑。", 3, "low", "low", "portal", "", "new"),
]


def _form_data(category: Category, now: dt.datetime) -> dict[str, str]:
    """The answers to the category's portal fields (the account request asks who and from when)."""
    if not any(field.get("name") == "employee" for field in category.form_fields):
        return {}
    return {"employee": "王芳、李强", "start_date": (now + dt.timedelta(days=5)).date().isoformat(),
            "systems": "邮箱、ERP"}


def load_servicedesk() -> str:
    categories = []
    for name, kind, fields in CATEGORIES:
        category, _ = Category.objects.get_or_create(name=name, parent=None,
                                                     defaults={"ticket_type": kind, "form_fields": fields})
        categories.append(category)
    for name, body, status in MACROS:
        Macro.objects.get_or_create(name=name, defaults={"body": body, "set_status": status})
    engineer = User.objects.get(username="engineer")
    made = 0
    now = timezone.now()
    for n, (code, title, text, category, impact, urgency, channel, item, state) in enumerate(TICKETS):
        customer = Customer.objects.get(code=code)
        spec = next(s for s in CUSTOMERS if s["code"] == code)
        requester = Contact.objects.filter(customer=customer).order_by("-is_primary", "pk").first()
        portal_user = User.objects.filter(customer=customer, username=spec["user"][0]).first()
        items = list(ConfigurationItem.objects.filter(customer=customer, name__endswith=item)[:1]) if item else []
        ticket = services.open_ticket(
            actor=portal_user if channel == "portal" else None, customer=customer, title=title, description=text,
            category=categories[category], impact=impact, urgency=urgency, channel=channel, requester=requester,
            configuration_items=items, at=now - dt.timedelta(hours=26 - n * 4),
            form_data=_form_data(categories[category], now))
        if state != "new":
            services.take(ticket, actor=engineer)
            services.reply(ticket, actor=engineer, body="您好，我们已收到，正在排查。")
        if state == "waiting_customer":
            services.change_status(ticket, actor=engineer, status="waiting_customer")
        if state in ("resolved", "closed"):
            services.resolve(ticket, actor=engineer, solution="已处理完毕，请确认。")
        if state == "closed":
            services.close(ticket, actor=portal_user or engineer)
        made += 1
    team = Team.objects.filter(name="Service desk 服务台").first()
    if team is not None:
        team.members.add(engineer)
    return f"{made} tickets, {len(CATEGORIES)} categories, {len(MACROS)} macros"
