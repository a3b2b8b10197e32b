"""The community dashboard: an aiohttp app over the analytics state rebuilt from the topics."""
