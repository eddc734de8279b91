"""What makes an alert rule impossible, each error naming its field."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

if TYPE_CHECKING:
    from opsdesk.monitoring.models.alerts import AlertRule

MAX_FOR = 7 * 24 * 3600  # a condition that must hold longer than a week is not an alert
MAX_ABSENCE = 30 * 24 * 3600
MIN_ABSENCE = 60
RATE_WINDOW = (60, 24 * 3600)


def validate_rule(rule: AlertRule) -> dict[str, list[str]]:
    from opsdesk.monitoring.models import CheckState, RuleKind, Series

    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if rule.configuration_item_id:
        if rule.customer_id and rule.configuration_item.customer_id != rule.customer_id:
            add("configuration_item", _("The item belongs to another customer."))
        rule.customer_id = rule.configuration_item.customer_id
    if not isinstance(rule.labels, dict) or not all(isinstance(v, str) for v in rule.labels.values()):
        add("labels", _("Give the labels as an object of names and text values, e.g. {\"mount\": \"/\"}."))
    if rule.for_seconds is not None and rule.for_seconds > MAX_FOR:
        add("for_seconds", _("At most %(max)d seconds (a week).") % {"max": MAX_FOR})
    if rule.kind == RuleKind.CHECK_STATE:
        states = rule.check_states if isinstance(rule.check_states, list) else None
        valid = {state.value for state in CheckState} - {CheckState.OK, CheckState.PENDING}
        if not states or not set(states) <= valid:
            add("check_states", _("Choose one or more of: %(states)s.") % {"states": ", ".join(sorted(valid))})
        return errors
    if not rule.metric:
        add("metric", _("This rule type needs a metric."))
    elif not Series.objects.filter(name=rule.metric).exists():
        add("metric", _("No series has the metric “%(metric)s”: check its name on the latest data page.")
            % {"metric": rule.metric})
    if rule.kind == RuleKind.ABSENCE:
        if not MIN_ABSENCE <= (rule.absence_seconds or 0) <= MAX_ABSENCE:
            add("absence_seconds", _("Between %(min)d seconds and %(max)d seconds (30 days).")
                % {"min": MIN_ABSENCE, "max": MAX_ABSENCE})
        return errors
    if rule.threshold is None:
        add("threshold", _("This rule type needs a threshold."))
    if rule.kind == RuleKind.RATE and not RATE_WINDOW[0] <= (rule.rate_window_seconds or 0) <= RATE_WINDOW[1]:
        add("rate_window_seconds", _("Between %(min)d and %(max)d seconds.") % {"min": RATE_WINDOW[0],
                                                                                 "max": RATE_WINDOW[1]})
    if rule.recovery_threshold is not None and rule.threshold is not None:
        if rule.operator in ("==", "!="):
            add("recovery_threshold", _("An equality rule has no separate recovery threshold."))
        elif rule.operator in (">", ">=") and rule.recovery_threshold > rule.threshold:
            add("recovery_threshold", _("For a rule that fires above the threshold, recovery must be at or below "
                                        "it (here: at most %(threshold)s).") % {"threshold": rule.threshold})
        elif rule.operator in ("<", "<=") and rule.recovery_threshold < rule.threshold:
            add("recovery_threshold", _("For a rule that fires below the threshold, recovery must be at or above "
                                        "it (here: at least %(threshold)s).") % {"threshold": rule.threshold})
    return errors
