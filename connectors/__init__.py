"""Inbound sources and outbound sinks behind small base classes and one registry."""
