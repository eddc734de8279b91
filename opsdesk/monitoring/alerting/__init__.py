"""Alerting: rules evaluated where data arrives (filing), the alert lifecycle, and what holds a
notification back (upstream faults from CMDB relations, silences, maintenance windows, flapping).

rules.py      the enabled rules, compiled and indexed by metric, reloaded when they change
evaluate.py   a filing pass's samples and check results against the rules; the periodic pass
lifecycle.py  fire, re-fire, resolve, acknowledge; de-duplication by fingerprint; notifying
holds.py      suppression, silences, maintenance windows, flapping
messages.py   the notification texts (sandboxed Jinja2, zh-Hans and en) and the signed links
"""
