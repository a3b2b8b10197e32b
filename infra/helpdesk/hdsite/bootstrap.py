"""Prepare a helpdesk data directory for the pipeline; safe to run on every start.

Reads a JSON request on stdin (so the password appears neither in argv nor in the environment),
migrates the database when migrations are pending, makes sure the Site domain, the queues, the
``external_id`` custom field (the conversation key of the ticket sinks), the agent superuser and
its API token exist, then prints one JSON line: ``{"token": ..., "queues": {slug: id}}``.

    echo '{"site_domain": "127.0.0.1:8080", "queues": ["support"], "username": "agent",
           "password": "..."}' | DJANGO_SETTINGS_MODULE=hdsite.settings python -m hdsite.bootstrap
"""

from __future__ import annotations

import io
import json
import os
import sys
from typing import Any

EXTERNAL_ID_FIELD = "external_id"


def _migrate() -> None:
    """Apply pending migrations only: a second start skips the 63 helpdesk migrations."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        call_command("migrate", interactive=False, verbosity=0, stdout=io.StringIO())


def _queue_title(slug: str) -> str:
    """A readable title whose slug is the queue's slug: sinks map titles back to slugs."""
    from django.utils.text import slugify

    title = slug.replace("-", " ").replace("_", " ").capitalize()
    return title if slugify(title) == slug else slug


def bootstrap(request: dict[str, Any]) -> dict[str, Any]:
    """Create or update everything the sinks rely on; returns the token and queue ids."""
    from django.contrib.auth import get_user_model
    from django.contrib.sites.models import Site
    from django.db import transaction
    from helpdesk.models import CustomField, Queue
    from rest_framework.authtoken.models import Token

    _migrate()
    with transaction.atomic():
        Site.objects.update_or_create(
            pk=1, defaults={"domain": request["site_domain"], "name": "Porte-Voix helpdesk"}
        )
        queues: dict[str, int] = {}
        for slug in request["queues"]:
            queue, _ = Queue.objects.get_or_create(
                slug=slug, defaults={"title": _queue_title(slug), "allow_public_submission": False}
            )
            queues[slug] = queue.pk
        CustomField.objects.get_or_create(
            name=EXTERNAL_ID_FIELD,
            defaults={
                "label": "External conversation id",
                "help_text": "Conversation key set by Porte-Voix (platform:conversation).",
                "data_type": "varchar",
                "max_length": 255,
                "required": False,
                "staff_only": True,
            },
        )
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=request["username"],
            defaults={"email": f"{request['username']}@localhost", "is_staff": True,
                      "is_superuser": True},
        )
        changed = created or not (user.is_staff and user.is_superuser and user.is_active)
        user.is_staff = user.is_superuser = user.is_active = True
        # Hashing costs ~0.3 s: only when the password is new or was changed.
        if created or not user.check_password(request["password"]):
            user.set_password(request["password"])
            changed = True
        if changed:
            user.save()
        token, _ = Token.objects.get_or_create(user=user)
    return {"token": token.key, "queues": queues}


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hdsite.settings")
    import django

    django.setup()
    result = bootstrap(json.loads(sys.stdin.read()))
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
