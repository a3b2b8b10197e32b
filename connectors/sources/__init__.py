"""Inbound connectors; importing this package registers them all (backfill and the pollers)."""

from connectors.sources import backfill, pollers

__all__ = ["backfill", "pollers"]
