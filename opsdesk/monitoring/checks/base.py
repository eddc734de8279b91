"""What every check type shares: the spec it runs with, the result it gives, and the helpers that
turn values, thresholds, counters and exceptions into that result.

Nothing here (or in any check module) imports Django or another opsdesk app: the same modules
run in the central collector and in a collector inside a customer's network.
"""

from __future__ import annotations

import asyncio
import errno
import importlib
import math
import re
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

STATES = ("ok", "warning", "critical", "unknown")
# Worst first when several problems are found in one run (as the models' STATE_SEVERITY).
SEVERITY = {"critical": 4, "unknown": 3, "warning": 2, "ok": 1}
METRIC_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
MESSAGE_MAX = 480  # Check.last_message holds 500 characters


def gettext_noop(s: str) -> str:
    """Marks a label for translation without translating it here (xgettext knows this name)."""
    return s


@dataclass(frozen=True)
class CheckSpec:
    id: int
    type: str  # key in the registry, e.g. "http"
    target: str  # host name / IP, or URL for http, or host for databases
    params: dict  # type-specific options (port, path, expect_status, thresholds...)
    interval: float = 60.0  # seconds
    timeout: float = 10.0  # seconds
    secrets: dict = field(default_factory=dict)  # never logged or put in messages


@dataclass
class Sample:
    name: str  # Prometheus-style metric name [a-zA-Z_:][a-zA-Z0-9_:]*
    labels: dict[str, str]
    value: float  # finite


@dataclass
class CheckResult:
    state: str  # one of STATES
    code: str  # short machine reason ("ok", "timeout", "refused", "threshold", ...)
    message: str  # one-line English technical reason (no secrets)
    samples: list[Sample]
    params: dict = field(default_factory=dict)  # values for translating `code` in the UI


RunFunction = Callable[[CheckSpec, dict], Awaitable[CheckResult]]


@dataclass(frozen=True)
class CheckType:
    name: str
    label: str  # English, marked with gettext_noop
    run: RunFunction  # run(spec, memo): memo is kept by the engine between runs of one check
    params_schema: dict  # JSON Schema draft 2020-12 of spec.params
    default_interval: float
    needs_secrets: tuple[str, ...]  # keys of spec.secrets the check reads


# --- JSON Schema helpers (titles are marked at the call site with gettext_noop) -----------------

def schema(properties: dict[str, dict], required: Iterable[str] = ()) -> dict:
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": properties, "required": list(required), "additionalProperties": False}


def integer(title: str, default: int | None = None, minimum: int | None = None,
            maximum: int | None = None) -> dict:
    return _prop("integer", title, default, minimum=minimum, maximum=maximum)


def number(title: str, default: float | None = None, minimum: float | None = None,
           maximum: float | None = None) -> dict:
    return _prop("number", title, default, minimum=minimum, maximum=maximum)


def string(title: str, default: str | None = None, **extra: Any) -> dict:
    return _prop("string", title, default, **extra)


def boolean(title: str, default: bool | None = None) -> dict:
    return _prop("boolean", title, default)


def array(title: str, items: dict, default: list | None = None, **extra: Any) -> dict:
    return _prop("array", title, default, items=items, **extra)


def _prop(kind: str, title: str, default: Any, **extra: Any) -> dict:
    prop = {"type": kind, "title": title}
    if default is not None:
        prop["default"] = default
    prop.update({k: v for k, v in extra.items() if v is not None})
    return prop


def param(spec: CheckSpec, name: str, check_schema: dict) -> Any:
    """spec.params[name], or the schema's default (params are validated when saved, not here)."""
    if name in spec.params and spec.params[name] is not None:
        return spec.params[name]
    return check_schema["properties"][name].get("default")


def preload(*modules: str) -> None:
    """A check module's prepare(): imports its libraries ahead of the first run (checks.prepare)."""
    for module in modules:
        importlib.import_module(module)


def login(spec: CheckSpec, name: str, check_schema: dict) -> str:
    """The user to log in as: the check's own parameter where set, else the credential's user name
    (secrets["username"]), else the schema's default."""
    return str(spec.params.get(name) or spec.secrets.get("username")
               or check_schema["properties"][name].get("default") or "")


# --- Building a result ----------------------------------------------------------------------

class Outcome:
    """Collects the samples and problems of one run; `result()` picks the worst problem."""

    def __init__(self) -> None:
        self.samples: list[Sample] = []
        self.problems: list[tuple[str, str, str, dict]] = []  # state, code, message, params
        self.notes: list[str] = []

    def sample(self, name: str, value: float | int | None, /, **labels: Any) -> None:
        # Non-finite values have no place in a time series: they are left out rather than stored.
        if value is None:
            return
        value = float(value)
        if not math.isfinite(value):
            return
        if not METRIC_NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        self.samples.append(Sample(name, {k: str(v) for k, v in labels.items()}, value))

    def problem(self, state: str, code: str, message: str, **params: Any) -> None:
        self.problems.append((state, code, message, params))

    def note(self, message: str) -> None:
        """Something worth showing that does not change the state."""
        self.notes.append(message)

    def threshold(self, value: float | None, warning: float | None, critical: float | None, *,
                  what: str, unit: str = "", below: bool = False) -> None:
        """A problem if `value` is past a threshold: above it by default, below it when `below`."""
        if value is None:
            return
        for state, limit in (("critical", critical), ("warning", warning)):
            if limit is None:
                continue
            if (value < limit) if below else (value > limit):
                relation = "below" if below else "above"
                self.problem(state, "threshold", f"{what} {_fmt(value)}{unit} is {relation} the {state} "
                             f"threshold {_fmt(limit)}{unit}", value=round(value, 3), threshold=limit,
                             what=what, unit=unit.strip())
                return

    def result(self, ok_message: str, **params: Any) -> CheckResult:
        if not self.problems:
            message = "; ".join([ok_message, *self.notes])
            return CheckResult("ok", "ok", one_line(message), self.samples, params)
        worst = max(self.problems, key=lambda p: SEVERITY[p[0]])
        state, code, message, problem_params = worst
        others = [p[2] for p in self.problems if p is not worst]
        return CheckResult(state, code, one_line("; ".join([message, *others, *self.notes])), self.samples,
                           {**params, **problem_params})


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.3g}"


def one_line(message: str) -> str:
    message = " ".join(str(message).split())
    return message if len(message) <= MESSAGE_MAX else message[:MESSAGE_MAX - 1] + "…"


def result(state: str, code: str, message: str, samples: list[Sample] | None = None, **params: Any) -> CheckResult:
    return CheckResult(state, code, one_line(message), samples or [], params)


# --- Counters -------------------------------------------------------------------------------

def counter_rate(memo: dict, key: Any, value: float, now: float, *, bits: int | None = None) -> float | None:
    """Per-second rate of a counter since the previous run, or None.

    None on the first sample, when no time passed, or when the counter went down. Going down is
    a reset (a restart, a cleared interface) unless `bits` is given and the previous value was in
    the top quarter of the counter's range with the new one in the bottom quarter: that is a wrap,
    and the delta goes through 2**bits. Anything else would be a huge or negative rate."""
    counters = memo.setdefault("counters", {})
    previous = counters.get(key)
    counters[key] = (now, value)
    if previous is None:
        return None
    then, old = previous
    elapsed = now - then
    if elapsed <= 0:
        return None
    delta = value - old
    if delta < 0:
        if bits is None:
            return None
        top = 2 ** bits
        if not (old >= top * 3 / 4 and value < top / 4):
            return None
        delta = value + top - old
    return delta / elapsed


def forget_counters(memo: dict, keep: Iterable[Any]) -> None:
    """Drop remembered counters not seen in this run (an interface or database that went away)."""
    counters = memo.get("counters")
    if counters:
        keep = set(keep)
        for key in [k for k in counters if k not in keep]:
            del counters[key]


# --- Failures -------------------------------------------------------------------------------

_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def failure(exc: BaseException, *, timeout: float | None = None, what: str = "") -> CheckResult:
    """The result for an exception raised while checking: the state and code follow its kind,
    found along its chain of causes (httpx and database drivers wrap the socket's error)."""
    prefix = f"{what}: " if what else ""
    for cause in _chain(exc):
        # asyncio's and socket's are TimeoutError; httpx and pysnmp name theirs ...Timeout, ...TimedOut.
        if isinstance(cause, TimeoutError) or re.search(r"time(d)?out", type(cause).__name__, re.I):
            within = f" within {timeout:g} s" if timeout else ""
            return result("critical", "timeout", f"{prefix}no answer{within}", timeout=timeout)
        if isinstance(cause, ConnectionRefusedError):
            return result("critical", "refused", f"{prefix}connection refused")
        if isinstance(cause, socket.gaierror):
            return result("critical", "resolve_error", f"{prefix}cannot resolve the host name: {cause.strerror}")
        if isinstance(cause, ssl.SSLError):
            return result("critical", "tls_error", f"{prefix}TLS error: {_describe(cause)}")
        if isinstance(cause, ConnectionResetError):
            return result("critical", "reset", f"{prefix}connection reset by the peer")
        if isinstance(cause, OSError) and cause.errno in _UNREACHABLE:
            return result("critical", "unreachable", f"{prefix}host unreachable ({cause.strerror})")
    if isinstance(exc, OSError):
        return result("critical", "error", f"{prefix}{_describe(exc)}")
    return result("unknown", "error", f"{prefix}{_describe(exc)}", error=type(exc).__name__)


def _chain(exc: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def redact(result_: CheckResult, secrets: dict) -> CheckResult:
    """Takes every secret value out of the message and params (a driver may echo a password back)."""
    values = [str(v) for v in secrets.values() if v is not None and len(str(v)) >= 3]
    if not values:
        return result_
    values.sort(key=len, reverse=True)

    def clean(text: str) -> str:
        for value in values:
            text = text.replace(value, "***")
        return text

    result_.message = clean(result_.message)
    result_.params = {k: clean(v) if isinstance(v, str) else v for k, v in result_.params.items()}
    return result_


async def execute(check_type: CheckType, spec: CheckSpec, memo: dict) -> CheckResult:
    """Runs a check so that nothing escapes: an exception becomes an "unknown" result, a result of
    the wrong shape too, and no secret is left in the message."""
    try:
        outcome = await check_type.run(spec, memo)
        if not isinstance(outcome, CheckResult) or outcome.state not in STATES:
            outcome = result("unknown", "error", f"check type {spec.type!r} gave an invalid result: {outcome!r}")
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the guard of last resort: a module's bug must not stop the collector
        outcome = failure(exc, timeout=spec.timeout, what=f"{spec.type} check failed")
    return redact(outcome, spec.secrets)
