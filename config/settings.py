"""memlab settings: one module, driven by environment variables (see README "Configuration").

Embedded defaults (a fresh machine, `make run`): SQLite under var/ and a private Redis on a unix socket there
(config/embedded.py).
Production (`docker-compose.yml`): DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis).
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from config.env import env_bool, env_list, env_str, secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("MEMLAB_VAR_DIR", str(BASE_DIR / "var")))
CONTENT_DIR = Path(env_str("MEMLAB_CONTENT_DIR", str(BASE_DIR / "content")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = secret_key(debug=DEBUG, var_dir=VAR_DIR)
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "apps.accounts",
    "apps.course",
    "apps.quiz",
    "apps.lab",
    "apps.grades",
    "apps.content",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- database -------------------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'memlab.sqlite3'}"), conn_max_age=60
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # a fresh clone has no var/ yet; SQLite cannot create folders
    # The web server and the worker write to one file: wait for the lock instead of failing, take the write
    # lock at BEGIN (no upgrade deadlocks), and let readers proceed during writes (WAL).
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file (not :memory:) so that a Celery worker started by a test sees the test database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-memlab.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "course:home"
LOGOUT_REDIRECT_URL = "accounts:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# Serve from static/ directly when nothing was collected (local runs, tests); production collects in the image.
WHITENOISE_USE_FINDERS = not STATIC_ROOT.exists()
WHITENOISE_AUTOREFRESH = DEBUG

# Uploads and form bodies are bounded; a submission itself is capped at 64 KiB by the form (GRADING.md §1).
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024

# --- security (production values when DEBUG is off; `manage.py check --deploy`) -------------------------
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads no cookie: the token travels in hx-headers on <body>.
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", True)
    # Production is HTTPS (behind a proxy that sets X-Forwarded-Proto): redirect plain HTTP and send HSTS. A
    # local Compose run on http://localhost turns both off (docker-compose.yml), as `check --deploy` then says.
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = int(env_str("DJANGO_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    # a deployment on a domain of its own; set both to 0 if other hosts under the domain still speak plain HTTP
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

from config.celery_settings import *  # noqa: E402,F403  (integration block, kept in its own module)
from config.celery_settings import env_seconds  # noqa: E402

# --- faults and recovery (apps.lab.services.runs_sweep; README "Faults and recovery") ---------------------
# A claimed run older than this lost its worker and is requeued; it must exceed a grading's hard time limit.
MEMLAB_RUN_LEASE_S = env_seconds("MEMLAB_RUN_LEASE_S", 5 * 60)
# A queued run nobody claimed for this long lost its message (a broker restart): it is sent again.
MEMLAB_QUEUE_LEASE_S = env_seconds("MEMLAB_QUEUE_LEASE_S", 10 * 60)
# Claims of one run before the sweeper gives up with an internal_error (never blamed on the student).
MEMLAB_MAX_ATTEMPTS = int(env_str("MEMLAB_MAX_ATTEMPTS", "3"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"run": {"()": "config.logs.RunFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s%(run)s %(message)s"},
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env_str("MEMLAB_LOG_FORMAT", "plain"),
            "filters": ["run"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("MEMLAB_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
