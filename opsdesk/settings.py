"""Django settings for opsdesk, read from the environment (see docs/configuration.md).

Every variable goes through opsdesk.env, which stops start-up with a message naming the variable
when its value is bad. Defaults run at once on one machine: SQLite (WAL) and Celery's filesystem
transport under the data directory, no other server.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.utils.translation import gettext_lazy as _

from opsdesk import env
from opsdesk.core.lean_imports import import_drf_without_unused_extras

BASE_DIR = Path(__file__).resolve().parent

DATA_DIR = env.env_path("OPSDESK_DATA_DIR", "./var")
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """OPSDESK_SECRET_KEY, or a key generated once and kept in the data directory."""
    given = env.env_secret("OPSDESK_SECRET_KEY")
    if given:
        if len(given) < 32:
            raise env.ConfigError("OPSDESK_SECRET_KEY", "must be at least 32 characters long")
        return given
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env.env_bool("OPSDESK_DEBUG", False)
LISTEN_HOST, LISTEN_PORT = env.env_listen("OPSDESK_LISTEN", "127.0.0.1:8000")
# How people reach this opsdesk: the links in notifications (acknowledge, the alert's page).
BASE_URL = (env.env_str("OPSDESK_BASE_URL", "") or f"http://{LISTEN_HOST}:{LISTEN_PORT}").rstrip("/")
ALLOWED_HOSTS = env.env_list("OPSDESK_ALLOWED_HOSTS", "*")
CSRF_TRUSTED_ORIGINS = env.env_list("OPSDESK_CSRF_TRUSTED_ORIGINS")
# Behind a TLS-terminating proxy, trust its X-Forwarded-Proto so cookies can be marked secure.
if env.env_bool("OPSDESK_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "auditlog",
    "opsdesk.core",
    "opsdesk.cmdb",
    "opsdesk.notify",
    "opsdesk.monitoring",
    "opsdesk.servicedesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "opsdesk.core.middleware.UserPreferencesMiddleware",
    "opsdesk.core.middleware.AuditActorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "opsdesk.core.middleware.StaffTwoFactorMiddleware",
    # A locked database or a full disk is a clear 503/507 page, not "Internal error".
    "opsdesk.core.middleware.DatabaseTroubleMiddleware",
    # Last, so that a lockout answers before any view runs.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "opsdesk.urls"
WSGI_APPLICATION = "opsdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.tz",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "opsdesk.core.context_processors.navigation",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------
DATABASES = {"default": env.env_database("DATABASE_URL", DATA_DIR / "opsdesk.sqlite3")}
SQLITE_TIMEOUT_SECONDS = env.env_int("OPSDESK_SQLITE_TIMEOUT_SECONDS", 5, minimum=1, maximum=300)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web, worker and scheduler read while one of them writes; IMMEDIATE makes a
    # writing transaction take its lock at BEGIN instead of failing with "database is locked"
    # half-way through. `timeout` is how long a writer waits for the lock (SQLite's busy
    # timeout) before Django raises OperationalError, which the web answers with 503 and
    # Retry-After (opsdesk.core.views.errors): short, so a person waiting behind a long import
    # hears "busy, try again" in seconds instead of a hung page. Django itself turns on
    # foreign keys; no busy_timeout PRAGMA here, as it would override `timeout`.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": SQLITE_TIMEOUT_SECONDS,
    })
else:
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Connections are kept for reuse, on SQLite too (opening one, with its PRAGMAs, was a twelfth of
# a push's CPU). Assigned, not defaulted: dj-database-url always sets CONN_MAX_AGE (to 0), which
# made every request open a new PostgreSQL connection (half the server's CPU under ingest).
DATABASES["default"]["CONN_MAX_AGE"] = env.env_int("OPSDESK_DB_CONN_MAX_AGE", 60, minimum=0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The queue of pushed metric batches in a SQLite file of its own, beside the database: SQLite
    # has one writer a file, and every push waited while the filer wrote a pass's chunks (the
    # ingest rate was the sum of the two). The filer's place in the queue is kept in the main
    # database with the chunks (opsdesk.monitoring.filing); PostgreSQL keeps the queue in its one
    # database. Not migrated in tests: its one table is made from the model there.
    _main_db = Path(DATABASES["default"]["NAME"])
    DATABASES["ingest_queue"] = {
        **DATABASES["default"],
        "NAME": _main_db.with_name(f"{_main_db.stem}-ingest-queue.sqlite3"),
        "OPTIONS": dict(DATABASES["default"]["OPTIONS"]),
        "TEST": {"MIGRATE": False},
    }
DATABASE_ROUTERS = ["opsdesk.monitoring.routers.IngestQueueRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- accounts and login ----------------------------------------------------------------------
AUTH_USER_MODEL = "core.User"
AUTHENTICATION_BACKENDS = [
    # Axes first: it refuses a locked-out login before the password is even checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AXES_FAILURE_LIMIT = env.env_int("OPSDESK_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = env.env_int("OPSDESK_LOGIN_LOCKOUT_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "core/locked_out.html"
AXES_VERBOSE = False
# Staff must pass a TOTP second factor once they have enrolled; with this on, they must enrol.
OPSDESK_REQUIRE_2FA_FOR_STAFF = env.env_bool("OPSDESK_REQUIRE_2FA_FOR_STAFF", False)
# Engineers see only the customers their teams serve, unless a small team turns this on.
OPSDESK_ENGINEERS_SEE_ALL_CUSTOMERS = env.env_bool("OPSDESK_ENGINEERS_SEE_ALL_CUSTOMERS", False)
OTP_TOTP_ISSUER = "opsdesk"

# Monitoring's metric store: empty keeps samples in the database (the SQL back end); a URL of a
# Prometheus-compatible store (VictoriaMetrics: http://host:8428) writes there with remote write
# and reads with PromQL.
OPSDESK_METRICS_URL = env.env_secret("OPSDESK_METRICS_URL")
OPSDESK_METRICS_RAW_DAYS = env.env_int("OPSDESK_METRICS_RAW_DAYS", 7, minimum=1, maximum=3650)
OPSDESK_METRICS_ROLLUP_DAYS = env.env_int("OPSDESK_METRICS_ROLLUP_DAYS", 365, minimum=1, maximum=36500)
# The 5-minute rollups may be kept shorter than the hourly ones (they are 12 times as many rows);
# charts of older ranges then use the hourly rollups. Never longer than those.
OPSDESK_METRICS_ROLLUP_5M_DAYS = min(env.env_int("OPSDESK_METRICS_ROLLUP_5M_DAYS", OPSDESK_METRICS_ROLLUP_DAYS,
                                                 minimum=1, maximum=36500), OPSDESK_METRICS_ROLLUP_DAYS)
SESSION_COOKIE_AGE = env.env_int("OPSDESK_SESSION_HOURS", 12, minimum=1) * 3600
SESSION_COOKIE_HTTPONLY = True

# --- languages and time ----------------------------------------------------------------------
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
USE_TZ = True
TIME_ZONE = "UTC"  # storage; people see OPSDESK_TIME_ZONE or their own
OPSDESK_TIME_ZONE = env.env_timezone("OPSDESK_TIME_ZONE", "Asia/Shanghai")

# --- static files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # WhiteNoise warns on every start without it
STATICFILES_DIRS = [BASE_DIR / "static"]
# Served by WhiteNoise straight from the package, so `opsdesk up` needs no collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # JSON that refuses absurd nesting with a 400 (Python's parser would raise RecursionError);
    # forms and uploads as DRF has them.
    "DEFAULT_PARSER_CLASSES": [
        "opsdesk.core.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "opsdesk.core.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["opsdesk.core.api.permissions.ActionPermission"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "opsdesk.core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "opsdesk.core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "opsdesk.core.api.exceptions.exception_handler",
    "DEFAULT_VERSIONING_CLASS": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "opsdesk API",
    "DESCRIPTION": "Customers, configuration items and everything an IT service team runs.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {},
}

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = env.env_broker("CELERY_BROKER_URL") or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's transport, writing each message whole (opsdesk/core/broker.py says why).
    CELERY_BROKER_TRANSPORT = "opsdesk.core.broker:Transport"
    QUEUE_DIR = DATA_DIR / "queue"
    for sub in ("messages", "processed", "control"):
        (QUEUE_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(QUEUE_DIR / "messages"),
        "data_folder_out": str(QUEUE_DIR / "messages"),
        "processed_folder": str(QUEUE_DIR / "processed"),
        # kombu's default is ./control in whatever directory the process started in.
        "control_folder": str(QUEUE_DIR / "control"),
        "store_processed": False,
        # Measured: 0.05 s polling delivers a task in ~26 ms (docs/architecture.md).
        "polling_interval": 0.05,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.env_bool("OPSDESK_TASKS_EAGER", False)
WORKER_HEARTBEAT_SECONDS = env.env_int("OPSDESK_WORKER_HEARTBEAT_SECONDS", 30, minimum=5)
# Here rather than in opsdesk/celery.py so the interval goes through the strict parser above.
CELERY_BEAT_SCHEDULE = {
    "worker-heartbeat": {"task": "opsdesk.core.tasks.heartbeat", "schedule": float(WORKER_HEARTBEAT_SECONDS)},
    # Jobs whose worker died, or whose wake-up was lost, are sent again (docs/architecture.md, "nothing lost").
    "sweep-import-jobs": {"task": "opsdesk.cmdb.tasks.sweep_import_jobs", "schedule": 60.0},
    # A push wakes the filer at once; this only catches what a lost wake-up left behind.
    "file-ingest-batches": {"task": "opsdesk.monitoring.tasks.file_batches", "schedule": 10.0},
    "metric-housekeeping": {"task": "opsdesk.monitoring.tasks.housekeeping", "schedule": 60.0},
    "sweep-discovery-runs": {"task": "opsdesk.monitoring.tasks.sweep_discovery", "schedule": 60.0},
    # Pages whose next escalation step is due move on (the row's next_at is the truth).
    "notify-escalations": {"task": "opsdesk.notify.tasks_oncall.advance_escalations", "schedule": 15.0},
    # Schedules seeded from an iCalendar feed (Grafana OnCall, PagerDuty) follow it.
    "notify-ical-feeds": {"task": "opsdesk.notify.tasks_oncall.refresh_ical_feeds", "schedule": 3600.0},
    # Notifications whose wake-up was lost, whose retry or rate-limit wait is over, or whose sender died.
    "notify-sweep": {"task": "opsdesk.notify.tasks.sweep_notifications", "schedule": 10.0},
    # Chat answers (acknowledgements, the desk's replies) whose wake-up was lost, retry is due or sender died.
    "servicedesk-chat-sweep": {"task": "opsdesk.servicedesk.chat.tasks.sweep_chat_outbox", "schedule": 10.0},
    # Rules are evaluated as data is filed; this pass is for what arrives NOT: "no data" rules,
    # heartbeats, pending alerts whose "for" ran out, silences ending.
    "alerting-pass": {"task": "opsdesk.monitoring.tasks.alerting_pass", "schedule": 15.0},
    # SLA clocks crossing a warning threshold or their due date (the clock's next_check_at is the truth).
    "servicedesk-sla-sweep": {"task": "opsdesk.servicedesk.sla.tasks.sweep_sla", "schedule": 30.0},
}

# --- processes -------------------------------------------------------------------------------
# Read here, like every setting, so a bad value stops any command (even `opsdesk web --help`)
# with the configuration-error message instead of a traceback from argparse or granian.
WEB_WORKERS = env.env_int("OPSDESK_WEB_WORKERS", 1, minimum=1, maximum=64)
# Threads per web worker: one more than the CPUs, up to 8. A request waiting on the database holds
# one, so a few more than the CPUs; but Python runs one thread at a time, and under agents' pushes
# every thread more is more handing over of the lock: on 2 CPUs 3 threads took 7-8 % more samples
# a second than 5 did, for 10 % less CPU a push (docs/performance.md, round thirteen).
WEB_THREADS = env.env_int("OPSDESK_WEB_THREADS", min(8, (os.cpu_count() or 1) + 1), minimum=1, maximum=256)
# Every request on standard output: off by default (agents push hundreds a second; an access log
# of those is noise, and cost about a fifth of a push's handling under gunicorn).
WEB_ACCESS_LOG = env.env_bool("OPSDESK_WEB_ACCESS_LOG", False)
WORKER_POOL = env.env_choice("OPSDESK_WORKER_POOL", "prefork", env.WORKER_POOLS)
WORKER_CONCURRENCY = env.env_int("OPSDESK_WORKER_CONCURRENCY", 2, minimum=1, maximum=256)

# --- data disk -------------------------------------------------------------------------------
# /healthz reports an error when the data directory's disk has less free space than this: with
# the disk full every write fails, so the alarm must come before that.
DATA_DISK_MIN_FREE_BYTES = env.env_int("OPSDESK_DATA_DISK_MIN_FREE_MB", 100, minimum=0) * 1024 * 1024

# --- credentials -----------------------------------------------------------------------------
# Fernet keys for credentials at rest, newest first; without them, a key kept in the data directory.
OPSDESK_CREDENTIAL_KEYS = env.env_list("OPSDESK_CREDENTIAL_KEYS")
OPSDESK_CREDENTIAL_KEY_FILE = DATA_DIR / "credential_keys"

# --- service desk ------------------------------------------------------------------------------
# Attachments are kept under the data directory, never served without a scope check.
MEDIA_ROOT = DATA_DIR / "attachments"
OPSDESK_ATTACHMENT_MAX_BYTES = env.env_int("OPSDESK_ATTACHMENT_MAX_MB", 20, minimum=1, maximum=1024) * 1024 * 1024
OPSDESK_ATTACHMENT_MAX_FILES = 10
# Types a mail client or browser would run: refused, whatever their size.
OPSDESK_ATTACHMENT_FORBIDDEN_EXTENSIONS = frozenset({
    "exe", "com", "bat", "cmd", "scr", "pif", "msi", "msp", "dll", "cpl", "js", "jse", "vbs", "vbe", "wsf", "wsh",
    "ps1", "psm1", "hta", "jar", "lnk", "reg", "app", "apk"})

# --- audit -----------------------------------------------------------------------------------
AUDITLOG_INCLUDE_ALL_MODELS = False
AUDITLOG_STORE_JSON_CHANGES = True
AUDITLOG_DISABLE_REMOTE_ADDR = False

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"
X_FRAME_OPTIONS = "SAMEORIGIN"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.env_choice(
        "OPSDESK_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR"))},
    # httpx logs every request's URL at INFO, and a DingTalk URL carries the robot's token and
    # signature (secrets are never logged).
    "loggers": {"axes": {"level": "WARNING"}, "httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}

# --- service desk: email (opsdesk/servicedesk/mail) --------------------------------------------
# Mailboxes whose server offers IMAP IDLE are watched by the worker and fetched as mail arrives;
# off, they are fetched by the beat every minute only.
OPSDESK_MAIL_IDLE = env.env_bool("OPSDESK_MAIL_IDLE", True)
CELERY_BEAT_SCHEDULE.update({
    # Every enabled mailbox (IDLE, where offered, fetches sooner); the Message-ID keeps it once.
    "servicedesk-mail-fetch": {"task": "opsdesk.servicedesk.mail.tasks.fetch_all", "schedule": 60.0},
    # Replies and notices whose wake-up was lost, whose retry is due or whose sender died.
    "servicedesk-mail-sweep": {"task": "opsdesk.servicedesk.mail.tasks.sweep_outgoing", "schedule": 30.0},
})

# --- memory: DRF without the optional extras opsdesk does not use (opsdesk/core/lean_imports.py) ---
import_drf_without_unused_extras(DATABASES["default"]["ENGINE"])
