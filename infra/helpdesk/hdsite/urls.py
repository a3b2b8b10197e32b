"""Helpdesk at the root (so its REST API is /api/), Django admin at /admin/, static files.

Static files are served by Django itself (from the app directories, or from STATIC_ROOT once
`manage.py collectstatic` ran): waitress has no static handler and the helpdesk is local only.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.staticfiles.views import serve as serve_from_finders
from django.http import HttpRequest, HttpResponse
from django.urls import include, path, re_path
from django.views.static import serve as serve_from_root


def static(request: HttpRequest, path: str) -> HttpResponse:
    """Serve collected files when present, else find them in the installed apps."""
    root = settings.STATIC_ROOT
    if root is not None and (root / path).is_file():
        return serve_from_root(request, path, document_root=root)
    return serve_from_finders(request, path, insecure=True)


urlpatterns = [
    path("admin/", admin.site.urls),
    re_path(r"^static/(?P<path>.*)$", static),
    path("", include("helpdesk.urls", namespace="helpdesk")),
]
