"""Pydantic models for every Porte-Voix topic and the one topic declaration."""

from schemas.models import *  # noqa: F403
from schemas.models import __all__ as _models_all  # type: ignore[attr-defined]
from schemas.topics import TOPICS, TopicSpec, feedback_topic, topic

__all__ = [*_models_all, "TOPICS", "TopicSpec", "feedback_topic", "topic"]
