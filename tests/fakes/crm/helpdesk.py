"""The local django-helpdesk is real, so its "fake" is the real thing started in a tmp dir."""

from __future__ import annotations

import tempfile
from pathlib import Path

from connectors.sinks.base import TicketSink
from connectors.sinks.helpdesk import HelpdeskSink
from infra.helpdesk_server import HelpdeskInfo, HelpdeskServer
from infra.processes import free_port
from tests.fakes.crm import FakeTicket, register_fake


class RealHelpdesk:
    name = "helpdesk"
    supports_fault_injection = False

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="pv-helpdesk-")
        self.server = HelpdeskServer(Path(self._tmp.name) / "hd", free_port())
        self.info: HelpdeskInfo | None = None

    def start(self) -> None:
        self.info = self.server.start()

    def stop(self) -> None:
        self.server.stop()
        self._tmp.cleanup()

    def sink(self) -> TicketSink:
        assert self.info is not None
        return HelpdeskSink.from_info(self.info)

    def sink_with_bad_credentials(self) -> TicketSink:
        from pydantic import SecretStr

        assert self.info is not None
        return HelpdeskSink(self.info.base_url, SecretStr("not-a-token"), queues=self.info.queues)

    def tickets(self) -> list[FakeTicket]:
        sink = self.sink()
        assert isinstance(sink, HelpdeskSink)
        out = []
        for ticket in sink.list_tickets():
            messages = [f.get("comment") or "" for f in sink.followups(int(ticket["id"]))]
            out.append(FakeTicket(ticket.get("custom_external_id") or "", messages))
        return out

    def fail_next(self, count: int, status: int, headers: dict[str, str] | None = None,
                  body: str = "") -> None:
        raise NotImplementedError("the real helpdesk cannot be told to fail")


register_fake("helpdesk")(RealHelpdesk)
