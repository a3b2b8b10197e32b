"""Inbound connectors; importing this package registers them all."""

from connectors.sources import backfill

__all__ = ["backfill"]
