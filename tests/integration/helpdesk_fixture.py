"""Session-wide real django-helpdesk for integration tests.

Other modules use it with ``from tests.integration.helpdesk_fixture import helpdesk  # noqa: F401``.
One helpdesk serves the whole session (migrate takes a few seconds): tests keep apart by using
their own conversation keys.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from infra.helpdesk_server import HelpdeskInfo, HelpdeskServer, free_port


@pytest.fixture(scope="session")
def helpdesk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HelpdeskInfo]:
    """A running helpdesk on a free 127.0.0.1 port, its data in a temporary directory."""
    server = HelpdeskServer(tmp_path_factory.mktemp("helpdesk"), free_port())
    with server as info:
        yield info
