"""Outbound CRM / helpdesk sinks; importing this package registers them all."""

from connectors.sinks import helpdesk
from connectors.sinks.registry import SINKS, make_sink, register_sink, sink_class

__all__ = ["SINKS", "helpdesk", "make_sink", "register_sink", "sink_class"]
