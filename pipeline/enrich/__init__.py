"""Enrichment stage: language, sentiment, intent, product area, urgency, PII, duplicates."""

from pipeline.enrich.config import EnrichConfig
from pipeline.enrich.enricher import MODEL_VERSION, Enricher

__all__ = ["MODEL_VERSION", "EnrichConfig", "Enricher"]
