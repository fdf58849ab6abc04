"""Settings for the test suite: the real settings, with a fixed throwaway key and an in-memory broker.

Integration tests that need a real broker (a private or the machine's Redis) point the Celery app at it explicitly.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-not-a-secret-" + "x" * 40)

from config.settings import *  # noqa: E402,F403

# Not through the environment: Celery lets an exported CELERY_BROKER_URL override its configuration, and the
# integration tests must be able to point the app at another broker.
CELERY_BROKER_URL = "memory://"
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests

# The test client and the live server speak plain HTTP (production redirects to HTTPS and sends HSTS).
SECURE_SSL_REDIRECT = False
SECURE_HSTS_SECONDS = 0
