"""On SQLite a Django process of opsdesk starts without psycopg, requests and Python-Markdown, which
DRF would import for nothing (opsdesk/core/lean_imports.py); they still load when asked for."""

from __future__ import annotations

import json
import os
import subprocess
import sys

PROBE = """
import json, os, sys
import django
django.setup()
import opsdesk.core.services, opsdesk.monitoring.services  # what every process loads
from rest_framework.compat import postgres_fields, requests as drf_requests
before = {name: name in sys.modules for name in ("psycopg", "requests", "markdown")}
import markdown, requests
print(json.dumps({"before": before, "drf": [postgres_fields is None, drf_requests is None],
                  "later": markdown.markdown("*x*")}))
"""


def test_a_sqlite_process_starts_without_drfs_unused_extras(tmp_path):
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(DJANGO_SETTINGS_MODULE="opsdesk.settings", OPSDESK_DATA_DIR=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["before"] == {"psycopg": False, "requests": False, "markdown": False}
    assert answer["drf"] == [True, True]
    assert answer["later"] == "<p><em>x</em></p>"
