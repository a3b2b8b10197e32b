"""Community analytics: KPIs, crisis detection and product feedback, pure over the topics.

The shells (the worker task in :mod:`pipeline.analytics.agents`, the dashboard) only read
topics into :class:`~pipeline.analytics.state.AnalyticsState` and call these functions.
"""
