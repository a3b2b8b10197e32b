"""Outbound CRM / helpdesk sinks; importing this package registers them all."""

import connectors.sinks.freshdesk as freshdesk  # noqa: F401 (registers the sink)
import connectors.sinks.hubspot as hubspot  # noqa: F401 (registers the sink)
import connectors.sinks.jira as jira  # noqa: F401 (registers the feedback sink)
import connectors.sinks.salesforce as salesforce  # noqa: F401 (registers the sink)
import connectors.sinks.webhook as webhook  # noqa: F401 (registers the sink)
import connectors.sinks.zammad as zammad  # noqa: F401 (registers the sink)
import connectors.sinks.zendesk as zendesk  # noqa: F401 (registers the sink)
from connectors.sinks import helpdesk
from connectors.sinks.registry import SINKS, make_sink, register_sink, sink_class

__all__ = ["SINKS", "helpdesk", "make_sink", "register_sink", "sink_class"]
