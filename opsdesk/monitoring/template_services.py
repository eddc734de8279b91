"""Checks made and changed by people, monitoring templates, and applying a template to items.

`create_check` / `update_check` are the generic create and update of a check: the customer comes
from the item, the parameters are validated against the check type's JSON Schema (messages name
the parameter), and a credential or collector must be the item's customer's. `apply_template`
creates a template's checks for one item, `apply_template_to_kind` for every item of the
template's kind that the person may change; applying again updates the checks it made (found by
name, in any language) instead of adding more.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.utils import translation
from django.utils.translation import gettext as _

from opsdesk.cmdb.attributes import property_title, validator_for
from opsdesk.cmdb.models import ConfigurationItem, Relation, RelationType
from opsdesk.core import registry
from opsdesk.core.actions import domain_action, permission_denied
from opsdesk.core.models import Credential, Customer, User
from opsdesk.core.permissions import can
from opsdesk.core.scoping import object_in_scope, scope_for
from opsdesk.core.services import check_references, writable_data
from opsdesk.monitoring.models import AgentKind, Check, Template

MIN_INTERVAL = 5
MAX_TIMEOUT = 300
CHECK_KEYS = {"name", "type", "target", "params", "interval", "timeout", "param_attributes"}
PLACEHOLDER = re.compile(r"\{([a-z0-9_]+(?:\|[a-z0-9_]+)*)\}")


# --- check types ---------------------------------------------------------------------------------

def check_types() -> dict[str, Any]:
    """name -> CheckType of every check module (opsdesk.monitoring.checks)."""
    from opsdesk.monitoring.checks import CHECK_TYPES

    return CHECK_TYPES


def _check_type(name: Any):
    return check_types().get(name) if isinstance(name, str) else None


def _unknown_type(name: Any) -> str:
    return _("Unknown check type %(type)s; the known ones are: %(types)s.") % {
        "type": name, "types": ", ".join(sorted(check_types()))}


def params_problems(type_name: str, params: Any) -> list[str]:
    """What is wrong with a check's parameters, each message naming the parameter."""
    return [message for _key, message in params_errors(type_name, params)]


def params_errors(type_name: str, params: Any) -> list[tuple[str, str]]:
    """(parameter, message naming it) for what is wrong with a check's parameters; the parameter is
    "" where the message is about them all (the check form shows each under its field)."""
    from opsdesk.cmdb.attributes import _message

    check_type = _check_type(type_name)
    if check_type is None:
        return []  # the type's own error says it
    if not isinstance(params, dict):
        return [("", _("The parameters must be a JSON object."))]
    schema = check_type.params_schema
    problems = []
    for error in sorted(validator_for(schema).iter_errors(params),
                        key=lambda e: [str(p) for p in e.absolute_path]):
        if error.validator == "additionalProperties":
            extra = ", ".join(sorted(set(error.instance) - set(error.schema.get("properties", {}))))
            problems.append(("", _("%(field)s is not a parameter of this check type (%(type)s).")
                             % {"field": extra, "type": type_name}))
            continue
        key, message = _message(error, schema)
        problems.append((key.split(".")[0], message))
    return problems


def _credential_problem(type_name: str, credential: Credential | None) -> str:
    if credential is None:
        return ""
    snmp_credential = credential.kind.startswith("snmp_")
    if type_name == "snmp" and not snmp_credential:
        return _("An SNMP check needs an SNMP community or SNMPv3 credential.")
    if type_name != "snmp" and snmp_credential:
        return _("An SNMP credential cannot be used by a %(type)s check.") % {"type": type_name}
    return ""


# --- checks made by people -----------------------------------------------------------------------

def _may_write(actor: User | None, check: Check, action: str) -> bool:
    """Checks belong to their item: whoever may change the item may add and change its checks
    (and the check's own registry entry, where there is one, must allow it too)."""
    if actor is None:
        return True
    if not can(actor, "change", check.configuration_item):
        return False
    return registry.find(Check) is None or can(actor, action, check)


def _validate_check(check: Check) -> None:
    errors: dict[str, list[str]] = {}
    if _check_type(check.type) is None:
        errors["type"] = [_unknown_type(check.type)]
    else:
        problems = params_problems(check.type, check.params)
        if problems:
            errors["params"] = problems
    if check.credential_id and check.credential.customer_id != check.customer_id:
        errors["credential"] = [_("The credential belongs to another customer.")]
    elif problem := _credential_problem(check.type, check.credential if check.credential_id else None):
        errors["credential"] = [problem]
    if check.collector_id and (check.collector.customer_id != check.customer_id
                               or check.collector.kind != AgentKind.COLLECTOR):
        errors["collector"] = [_("Choose a collector of the item's customer.")]
    if check.interval is not None and check.interval < MIN_INTERVAL:
        errors["interval"] = [_("The interval must be at least %(seconds)d seconds.") % {"seconds": MIN_INTERVAL}]
    if check.timeout is not None and not 1 <= check.timeout <= MAX_TIMEOUT:
        errors["timeout"] = [_("The timeout must be between 1 and %(seconds)d seconds.") % {"seconds": MAX_TIMEOUT}]
    elif check.timeout and check.interval and check.timeout > check.interval:
        errors["timeout"] = [_("The timeout cannot be longer than the interval.")]
    if errors:
        raise ValidationError(errors)


# The fields of a template's check that applying the template writes, besides its parameters.
FROM_TEMPLATE = ("type", "target", "interval", "timeout")


def edited_fields(check: Check, before: dict[str, Any]) -> list[str]:
    """`check.edited` after a person's change from `before` (the check's FROM_TEMPLATE values and
    params as they were): what differs joins what was edited before, per parameter for params."""
    if check.template_id is None:
        return []
    edited = set(check.edited or ())
    edited.update(name for name in FROM_TEMPLATE if getattr(check, name) != before[name])
    old, new = before["params"] or {}, check.params if isinstance(check.params, dict) else {}
    # A value as the check runs with it: the form leaves out a parameter at its type's default.
    check_type = _check_type(check.type)
    defaults = {key: prop.get("default") for key, prop in check_type.params_schema["properties"].items()} \
        if check_type is not None else {}
    edited.update(f"params.{key}" for key in old.keys() | new.keys()
                  if old.get(key, defaults.get(key)) != new.get(key, defaults.get(key)))
    return sorted(edited)


def _write_check(check: Check, data: dict[str, Any], *, actor: User | None, action: str) -> Check:
    plain, _m2m = writable_data(Check, data)
    before = {name: getattr(check, name) for name in (*FROM_TEMPLATE, "params")}
    for name, value in plain.items():
        setattr(check, name, value)
    check.edited = edited_fields(check, before)
    if check.configuration_item_id is None:
        raise ValidationError({"configuration_item": [_("This field is required.")]})
    # The customer is the item's: a check never points at another customer's item.
    check.customer_id = check.configuration_item.customer_id
    if not _may_write(actor, check, action):
        raise permission_denied()
    check_references(actor, plain)
    _validate_check(check)
    check.full_clean()
    with domain_action(actor, action, check, check=False):
        check.save()
    return check


def create_check(data: dict[str, Any], *, actor: User | None) -> Check:
    return _write_check(Check(), data, actor=actor, action="add")


def update_check(check: Check, data: dict[str, Any], *, actor: User | None) -> Check:
    # Allowed to change it as it is, and (below) as it will be: moving a check to an item of a
    # customer the person does not serve is refused.
    if not _may_write(actor, check, "change"):
        raise permission_denied()
    return _write_check(check, data, actor=actor, action="change")


# --- templates -----------------------------------------------------------------------------------

def template_problems(checks: Any) -> list[str]:
    """What is wrong with a template's list of checks, each message naming the check."""
    if not isinstance(checks, list):
        return [_("The checks must be a JSON list of objects.")]
    problems: list[str] = []
    names: set[str] = set()
    for position, spec in enumerate(checks, start=1):
        if not isinstance(spec, dict):
            problems.append(_("Check %(number)d must be a JSON object.") % {"number": position})
            continue
        label = spec.get("name") if isinstance(spec.get("name"), str) and spec.get("name") else str(position)

        def say(message: str, label: str = label) -> None:
            problems.append(_("Check %(name)s: %(problem)s") % {"name": label, "problem": message})

        unknown = sorted(set(spec) - CHECK_KEYS)
        if unknown:
            say(_("unknown keys %(keys)s (known: %(known)s).") % {"keys": ", ".join(map(str, unknown)),
                                                                  "known": ", ".join(sorted(CHECK_KEYS))})
        name = spec.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            say(_("a name (at most 200 characters) is required."))
        elif name in names:
            say(_("the name is used twice."))
        else:
            names.add(name)
        if _check_type(spec.get("type")) is None:
            say(_unknown_type(spec.get("type")))
        else:
            for problem in params_problems(spec["type"], spec.get("params", {})):
                say(problem)
        target = spec.get("target", "")
        if not isinstance(target, str) or len(target) > 500:
            say(_("the target must be text of at most 500 characters."))
        for key, low, high in (("interval", MIN_INTERVAL, 86400), ("timeout", 1, MAX_TIMEOUT)):
            value = spec.get(key)
            whole = isinstance(value, int) and not isinstance(value, bool)
            if value is not None and not (whole and low <= value <= high):
                say(_("%(key)s must be a whole number of seconds from %(low)d to %(high)d.")
                    % {"key": key, "low": low, "high": high})
        mapping = spec.get("param_attributes", {})
        if not isinstance(mapping, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in mapping.items()):
            say(_("param_attributes must map parameter names to attribute names."))
    return problems


def _validate_template(template: Template) -> None:
    problems = template_problems(template.checks)
    if problems:
        raise ValidationError({"checks": problems})


def _write_template(template: Template, data: dict[str, Any], *, actor: User | None, action: str) -> Template:
    if actor is not None and not can(actor, action, template if template.pk else Template):
        raise permission_denied()
    plain, _m2m = writable_data(Template, data)
    for name, value in plain.items():
        setattr(template, name, value)
    check_references(actor, plain)
    template.full_clean()
    _validate_template(template)
    with domain_action(actor, action, template, check=False):
        template.save()
    return template


def create_template(data: dict[str, Any], *, actor: User | None) -> Template:
    return _write_template(Template(), data, actor=actor, action="add")


def update_template(template: Template, data: dict[str, Any], *, actor: User | None) -> Template:
    return _write_template(template, data, actor=actor, action="change")


def save_template_check(template: Template, position: int | None, spec: dict[str, Any], *,
                        actor: User | None) -> Template:
    """Put one check into the template's list: a new one at the end (`position` None), or in
    place of the one at `position` (0-based), keeping what the form does not show of it (its
    param_attributes). Checked and audited as any change of the template."""
    checks = list(template.checks if isinstance(template.checks, list) else [])
    if position is None:
        checks.append(spec)
    else:
        if not 0 <= position < len(checks):
            raise ValidationError({"checks": [_("The template has no such check.")]})
        old = checks[position] if isinstance(checks[position], dict) else {}
        kept = {key: old[key] for key in ("param_attributes",) if key in old and old.get("type") == spec.get("type")}
        checks[position] = {**spec, **kept}
    return update_template(template, {"checks": checks}, actor=actor)


def remove_template_check(template: Template, position: int, *, actor: User | None) -> Template:
    """Take the check at `position` out of the template (the checks it made on items stay)."""
    checks = list(template.checks if isinstance(template.checks, list) else [])
    if not 0 <= position < len(checks):
        raise ValidationError({"checks": [_("The template has no such check.")]})
    del checks[position]
    return update_template(template, {"checks": checks}, actor=actor)


def delete_template(template: Template, *, actor: User | None) -> None:
    if template.builtin:
        raise ValidationError(_("A built-in template cannot be deleted; edit it instead."))
    with domain_action(actor, "delete", template):
        template.delete()


# --- applying a template -------------------------------------------------------------------------

class Resolver:
    """Reads the attributes a template's targets name: the item's own, or else those of the
    items it runs on (a database has no address of its own; its server has)."""

    def __init__(self, item: ConfigurationItem) -> None:
        self.item = item
        self._hosts: list[ConfigurationItem] | None = None

    def hosts(self) -> list[ConfigurationItem]:
        if self._hosts is None:
            self._hosts = [r.target for r in Relation.objects.filter(source=self.item, type=RelationType.RUNS_ON)
                           .select_related("target").order_by("target__name")]
        return self._hosts

    def value(self, keys: list[str]) -> str | None:
        for holder in (self.item, *self.hosts()):
            for key in keys:
                value = (holder.attributes or {}).get(key)
                if value not in (None, ""):
                    return str(value)
        return None

    def fill(self, template_text: str, *, template: Template) -> str:
        def replace(match: re.Match) -> str:
            keys = match.group(1).split("|")
            value = self.value(keys)
            if value is None:
                raise ValidationError({"item": [missing_attribute_message(self.item, keys, template)]})
            if "://" in template_text and _is_ipv6(value):
                return f"[{value}]"
            return value

        return PLACEHOLDER.sub(replace, template_text)


def _is_ipv6(value: str) -> bool:
    try:
        return isinstance(ipaddress.ip_address(value), ipaddress.IPv6Address)
    except ValueError:
        return False


def _attribute_title(item: ConfigurationItem, key: str) -> str:
    props = (item.kind.attribute_schema or {}).get("properties", {})
    if key in props:
        return property_title(key, props[key])
    from opsdesk.cmdb.builtin_kinds import BUILTIN_KINDS

    for spec in BUILTIN_KINDS:
        prop = spec["attribute_schema"]["properties"].get(key)
        if prop:
            return property_title(key, prop)
    return key


def missing_attribute_message(item: ConfigurationItem, keys: list[str], template: Template) -> str:
    titles = " / ".join(f"{_attribute_title(item, k)} ({k})" for k in keys)
    return _("%(item)s has no %(attribute)s, and neither has an item it runs on: fill it in before applying "
             "the template %(template)s.") % {"item": item, "attribute": titles, "template": template_label(template)}


def template_label(template: Template) -> str:
    return _(template.name) if template.builtin else template.name


def _names_in_every_language(name: str) -> set[str]:
    names = {name}
    for code, _label in settings.LANGUAGES:
        with translation.override(code):
            names.add(translation.gettext(name))
    return names


@dataclass
class Planned:
    """One check of the template as it will be written for one item."""

    spec: dict
    name: str
    names: set[str]
    target: str
    params: dict


@dataclass
class Applied:
    items: list[ConfigurationItem] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    kept: int = 0  # checks made into another type here, left as they are
    skipped: list[tuple[ConfigurationItem, str]] = field(default_factory=list)


def _plan(template: Template, item: ConfigurationItem, credential: Credential | None,
          snmp_version: str | None = None) -> list[Planned]:
    """The checks for `item`, or ValidationError naming what the item lacks."""
    if item.kind_id != template.kind_id:
        raise ValidationError({"item": [_("%(item)s is of the kind %(kind)s; the template %(template)s is for %(for)s.")
                                        % {"item": item, "kind": item.kind, "template": template_label(template),
                                           "for": template.kind}]})
    if credential is not None and credential.customer_id != item.customer_id:
        raise ValidationError({"credential": [_("The credential belongs to another customer than %(item)s.")
                                              % {"item": item}]})
    resolver = Resolver(item)
    plans = []
    for spec in template.checks:
        params = dict(spec.get("params") or {})
        for param, attribute in (spec.get("param_attributes") or {}).items():
            value = (item.attributes or {}).get(attribute)
            if value not in (None, ""):
                params[param] = value
        if spec["type"] == "snmp" and credential is not None and credential.kind == "snmp_v3":
            params["version"] = "3"
        elif spec["type"] == "snmp" and snmp_version in ("1", "2c"):
            params["version"] = snmp_version
        problems = params_problems(spec["type"], params)
        if problems:
            raise ValidationError({"item": [_("Check %(name)s: %(problem)s") % {"name": spec["name"],
                                                                               "problem": p} for p in problems]})
        # A built-in check's name is a msgid: written in the person's language, found in any.
        name, names = (_(spec["name"]), _names_in_every_language(spec["name"])) if template.builtin \
            else (spec["name"], {spec["name"]})
        plans.append(Planned(spec=spec, name=name, names=names,
                             target=resolver.fill(spec.get("target", ""), template=template), params=params))
    return plans


def _write_plans(template: Template, item: ConfigurationItem, plans: list[Planned], credential: Credential | None,
                 *, actor: User | None, applied: Applied) -> None:
    existing = {c.name: c for c in Check.objects.filter(configuration_item=item,
                                                        name__in=set().union(*(p.names for p in plans)))}
    for plan in plans:
        check = next((existing[n] for n in plan.names if n in existing), None)
        action = "change" if check is not None else "add"
        if check is None:
            check = Check(configuration_item=item, customer_id=item.customer_id, name=plan.name)
        elif "type" in (check.edited or ()):
            # Made into another kind of check here: none of the template's values fit it.
            applied.kept += 1
            continue
        _take_plan(check, plan, template)
        uses_secrets = bool(_check_type(check.type).needs_secrets) or check.type == "snmp"
        if credential is not None and uses_secrets and not _credential_problem(check.type, credential):
            check.credential = credential
        if not _may_write(actor, check, action):
            raise permission_denied()
        _validate_check(check)
        check.full_clean()
        with domain_action(actor, action, check, check=False):
            check.save()
        if action == "add":
            applied.created += 1
        else:
            applied.updated += 1
    applied.items.append(item)


def _take_plan(check: Check, plan: Planned, template: Template) -> None:
    """The template's values into the check, but what a person edited on it (`check.edited`)."""
    edited = set(check.edited or ())
    values = {"type": plan.spec["type"], "target": plan.target,
              "interval": plan.spec.get("interval") or int(_check_type(plan.spec["type"]).default_interval),
              "timeout": plan.spec.get("timeout") or check.timeout or 10}
    for name, value in values.items():
        if name not in edited:
            setattr(check, name, value)
    params = dict(plan.params)
    mine = check.params if isinstance(check.params, dict) else {}
    for key in (name.removeprefix("params.") for name in edited if name.startswith("params.")):
        if key in mine:
            params[key] = mine[key]
        else:  # removed here: stays removed
            params.pop(key, None)
    check.params, check.template = params, template


def reset_check_to_template(check: Check, *, actor: User | None) -> Check:
    """Undo what was edited on a template's check: the template's values again, as applying it
    would write them for the check's item, and nothing remembered as edited."""
    template = check.template
    if template is None:
        raise ValidationError({"template": [_("This check was not made by a template.")]})
    if not _may_write(actor, check, "change"):
        raise permission_denied()
    plans = _plan(template, check.configuration_item, check.credential if check.credential_id else None)
    plan = next((p for p in plans if check.name in p.names), None)
    if plan is None:
        raise ValidationError({"template": [_("The template %(template)s no longer has a check named %(name)s.")
                                            % {"template": template_label(template), "name": check.name}]})
    with domain_action(actor, "reset_to_template", check, check=False):
        check.edited = []
        _take_plan(check, plan, template)
        _validate_check(check)
        check.full_clean()
        check.save()
    return check


def _audit(act, applied: Applied) -> None:
    act.audit(act.obj, {"items": ["", str(len(applied.items))], "checks_created": ["", str(applied.created)],
                        "checks_updated": ["", str(applied.updated)]})


def apply_template(template: Template, item: ConfigurationItem, *, actor: User | None,
                   credential: Credential | None = None, snmp_version: str | None = None) -> Applied:
    """Create (or bring up to date) the template's checks on one item. `snmp_version`: the one its
    SNMP agent answers in (a discovered device's), for the template's SNMP checks."""
    if actor is not None and not (can(actor, "apply_template", template) and can(actor, "change", item)):
        raise permission_denied()
    _validate_template(template)
    plans = _plan(template, item, credential, snmp_version)
    applied = Applied()
    with domain_action(actor, "apply_template", template, check=False) as act:
        _write_plans(template, item, plans, credential, actor=actor, applied=applied)
        _audit(act, applied)
    return applied


def items_to_apply(template: Template, customer: Customer | None, *, actor: User | None):
    items = ConfigurationItem.objects.filter(kind_id=template.kind_id).select_related("kind", "customer")
    if customer is not None:
        items = items.filter(customer=customer)
    if actor is not None:
        items = scope_for(actor, items, "change")
    return items.order_by("customer_id", "name")


def apply_template_to_kind(template: Template, customer: Customer | None, *, actor: User | None,
                           credential: Credential | None = None) -> Applied:
    """The template's checks on every item of its kind (of one customer, or of all) that the person
    may change. An item that lacks an attribute a target needs is left out and named in the
    result; if every item lacks it, nothing is written and the error says why."""
    if actor is not None and not can(actor, "apply_template", template):
        raise permission_denied()
    if customer is not None and actor is not None and not object_in_scope(actor, customer, write=True):
        raise permission_denied()
    if credential is not None and (customer is None or credential.customer_id != customer.pk):
        raise ValidationError({"credential": [_("Choose the customer whose credential this is.")]})
    _validate_template(template)
    applied = Applied()
    planned: list[tuple[ConfigurationItem, list[Planned]]] = []
    for item in items_to_apply(template, customer, actor=actor):
        try:
            planned.append((item, _plan(template, item, credential)))
        except ValidationError as exc:
            applied.skipped.append((item, " ".join(exc.messages)))
    if applied.skipped and not planned:
        raise ValidationError({"item": [message for _item, message in applied.skipped[:5]]})
    with domain_action(actor, "apply_template", template, check=False) as act:
        for item, plans in planned:
            _write_plans(template, item, plans, credential, actor=actor, applied=applied)
        _audit(act, applied)
    return applied


# --- the "apply template" action (page and API) --------------------------------------------------

def _chosen(model: type[Model], pk: Any, actor: User | None, field_name: str, action: str = "view") -> Any:
    if pk in (None, ""):
        return None
    qs = model._default_manager.filter(pk=pk)
    found = (scope_for(actor, qs, action) if actor is not None else qs).first()
    if found is None:
        raise ValidationError({field_name: [_("Select a valid choice. That choice is not one of the available "
                                              "choices.")]})
    return found


def run_apply_action(template: Template, *, actor: User | None, scope: str = "item", item: Any = None,
                     customer: Any = None, credential: Any = None) -> Applied:
    """The registry action: to one item (`item`), or to every item of the kind (of `customer`)."""
    chosen_credential = _chosen(Credential, credential, actor, "credential")
    if scope == "kind":
        return apply_template_to_kind(template, _chosen(Customer, customer, actor, "customer"), actor=actor,
                                      credential=chosen_credential)
    if item in (None, ""):
        raise ValidationError({"item": [_("Choose the configuration item, or apply to every item of the kind.")]})
    chosen_item = _chosen(ConfigurationItem, item, actor, "item", "change")
    return apply_template(template, chosen_item, actor=actor, credential=chosen_credential)

