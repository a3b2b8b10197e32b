"""Settings of the local helpdesk, all read from the environment.

One data directory holds everything that changes (the sqlite database and collected static
files), so a test can start a throw-away helpdesk in a temporary directory and `make run` can keep
its tickets between runs.

Environment:
    PORTE_VOIX_HELPDESK_DATA_DIR       data directory (default: infra/helpdesk/var)
    PORTE_VOIX_HELPDESK_ALLOWED_HOSTS  comma-separated host names (default: 127.0.0.1,localhost)
    PORTE_VOIX_HELPDESK_SECRET_KEY     Django secret key (default: a fixed local-development key)
    PORTE_VOIX_HELPDESK_DEBUG          "1" for Django debug pages (default: off)
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("PORTE_VOIX_HELPDESK_DATA_DIR", BASE_DIR / "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# The default key only protects sessions of a helpdesk bound to 127.0.0.1; set the variable for
# anything reachable by others.
SECRET_KEY = os.environ.get(
    "PORTE_VOIX_HELPDESK_SECRET_KEY", "porte-voix-local-dev-only-3c1f0b2e9d8a4f6b"
)
DEBUG = os.environ.get("PORTE_VOIX_HELPDESK_DEBUG", "") == "1"
_HOSTS = os.environ.get("PORTE_VOIX_HELPDESK_ALLOWED_HOSTS", "127.0.0.1,localhost")
ALLOWED_HOSTS = [host.strip() for host in _HOSTS.split(",") if host.strip()]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "helpdesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hdsite.urls"
WSGI_APPLICATION = "hdsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": DATA_DIR / "helpdesk.sqlite3",
        # Waitress serves from several threads: wait for a writer instead of failing at once.
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Agents read French and English; the browser's language picks the UI translation.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français")]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"

SITE_ID = 1
LOGIN_URL = "helpdesk:login"
LOGIN_REDIRECT_URL = "helpdesk:dashboard"

# Mail never leaves the machine: notifications are printed on the server's stdout.
EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@localhost"

REST_FRAMEWORK = {
    # Token first: basic auth hashes the password on every request (~0.5 s each).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
}

# pinax-teams is not installed: with teams on, migrate fails.
HELPDESK_TEAMS_MODE_ENABLED = False
# Tickets come from the pipeline, not from an anonymous web form.
HELPDESK_SUBMIT_A_TICKET_PUBLIC = False
HELPDESK_REDIRECT_TO_LOGIN_BY_DEFAULT = True
HELPDESK_KB_ENABLED = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
}
