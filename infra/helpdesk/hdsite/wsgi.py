"""WSGI entry point for waitress: `waitress-serve hdsite.wsgi:application`."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hdsite.settings")

application = get_wsgi_application()
