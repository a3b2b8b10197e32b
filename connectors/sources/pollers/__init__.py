"""Polled sources: importing this package registers every poller in ``connectors.base``."""

from connectors.sources.pollers.base import Poller, PollerConfig, PollError, Stream
from connectors.sources.pollers.cli import poll_command
from connectors.sources.pollers.google import (
    GoogleBusinessPoller,
    GooglePlayPoller,
    YouTubePoller,
)
from connectors.sources.pollers.reddit import RedditPoller
from connectors.sources.pollers.reviews import AppStorePoller, TrustpilotPoller
from connectors.sources.pollers.runner import PollReport, PollRunner

__all__ = [
    "AppStorePoller",
    "GoogleBusinessPoller",
    "GooglePlayPoller",
    "PollError",
    "PollReport",
    "PollRunner",
    "Poller",
    "PollerConfig",
    "RedditPoller",
    "Stream",
    "TrustpilotPoller",
    "YouTubePoller",
    "poll_command",
]
