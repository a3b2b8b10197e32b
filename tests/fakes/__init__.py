"""Local fake HTTP servers of the polled platforms, enforcing their documented request rules."""
