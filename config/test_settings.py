"""Settings for the test suite: the real settings, with a fixed throwaway key and an in-memory broker.

Integration tests that need a real broker (filesystem, Redis) point the Celery app at it explicitly.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-a-secret-" + "x" * 40)
os.environ.setdefault("CELERY_BROKER_URL", "memory://")

from config.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests
