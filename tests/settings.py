"""Settings for the test suite: opsdesk's own, with a throw-away data directory, a fast
password hasher and tasks run eagerly (tests that need a real worker start one)."""

import os
import tempfile

os.environ.setdefault("OPSDESK_DATA_DIR", tempfile.mkdtemp(prefix="opsdesk-test-"))

from opsdesk.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
