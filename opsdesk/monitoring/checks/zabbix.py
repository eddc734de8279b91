"""zabbix: passive items of a Zabbix agent (or agent 2) with zabbix-utils' AsyncGetter.

Params: port, `items` (item keys, e.g. agent.ping, system.cpu.load[all,avg1], vfs.fs.size[/,pused]).
The agent's Server= must allow the collector's address.

Samples: zabbix_item{key} for each numeric answer. Text answers and ZBX_NOTSUPPORTED are named in
the message and do not fail the check; only when no item gave an answer is it "unknown".
Thresholds: `warning` / `critical` on the answer of `threshold_item` (default: the first item),
above, or below with `below`.
"""

from __future__ import annotations

import asyncio

from .base import (
    CheckResult,
    CheckSpec,
    CheckType,
    Outcome,
    array,
    boolean,
    failure,
    gettext_noop,
    integer,
    number,
    param,
    preload,
    result,
    schema,
    string,
)

SCHEMA = schema({
    "port": integer(gettext_noop("Port"), 10050, 1, 65535),
    "items": array(gettext_noop("Item keys"), {"type": "string", "minLength": 1}, ["agent.ping"], minItems=1),
    "threshold_item": string(gettext_noop("Item the thresholds apply to (empty: the first)"), ""),
    "warning": number(gettext_noop("Warning threshold")),
    "critical": number(gettext_noop("Critical threshold")),
    "below": boolean(gettext_noop("Alert below the threshold (instead of above)"), False),
})

PARALLEL = 4  # requests at once to one agent: it serves passive checks with few processes (StartAgents=3)


async def run(spec: CheckSpec, memo: dict) -> CheckResult:
    from zabbix_utils import AsyncGetter

    port = param(spec, "port", SCHEMA)
    keys = list(dict.fromkeys(param(spec, "items", SCHEMA)))
    getter = AsyncGetter(host=spec.target, port=port, timeout=spec.timeout)
    gate = asyncio.Semaphore(PARALLEL)

    async def get(key: str):
        async with gate:
            return await getter.get(key)

    where = f"zabbix agent {spec.target}:{port}"
    try:
        # The getter bounds the connect by its timeout but not the read: bound the whole here.
        answers = await asyncio.wait_for(asyncio.gather(*(get(key) for key in keys), return_exceptions=True),
                                         spec.timeout)
    except TimeoutError as exc:
        return failure(exc, timeout=spec.timeout, what=where)
    for answer in answers:
        if isinstance(answer, (asyncio.IncompleteReadError, ConnectionResetError)):
            return result("critical", "access_denied", f"{where} closed the connection without answering: does "
                          "its Server= setting allow the collector's address?")
        if isinstance(answer, BaseException):
            return failure(answer, timeout=spec.timeout, what=where)

    outcome = Outcome()
    values: dict[str, float] = {}
    unsupported, texts = [], []
    for key, answer in zip(keys, answers, strict=True):
        if answer.error is not None or answer.value is None:
            unsupported.append(f"{key} ({answer.error or 'not supported'})")
            continue
        try:
            values[key] = float(answer.value)
        except ValueError:
            texts.append(f"{key} = {answer.value[:60]!r}")
            continue
        outcome.sample("zabbix_item", values[key], key=key)
    if not values and not texts:
        return result("unknown", "zabbix_not_supported", f"{where} supports none of the items: "
                      + "; ".join(unsupported), samples=outcome.samples)
    threshold_key = param(spec, "threshold_item", SCHEMA) or keys[0]
    outcome.threshold(values.get(threshold_key), param(spec, "warning", SCHEMA), param(spec, "critical", SCHEMA),
                      what=threshold_key, below=param(spec, "below", SCHEMA))
    if unsupported:
        outcome.note("not supported: " + "; ".join(unsupported))
    shown = [f"{k} = {v:g}" for k, v in values.items()][:5] + texts[:3]
    return outcome.result(f"{len(values) + len(texts)}/{len(keys)} items: " + ", ".join(shown),
                          answered=len(values) + len(texts), items=len(keys))


def prepare() -> None:
    preload("zabbix_utils")


CHECK = CheckType(name="zabbix", label=gettext_noop("Zabbix agent items"), run=run, params_schema=SCHEMA,
                  default_interval=60.0, needs_secrets=())
