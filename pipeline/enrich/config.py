"""Settings of the enrichment stage: thresholds and per-brand business facts, all defaulted.

The brand table says which product areas exist for each brand (a bank delivers nothing, a
sneaker shop runs no network), so a classifier score can never route a bank message to a
delivery team. Brands not listed may use every area.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.models import ProductArea

MODELS_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL_PATH = MODELS_DIR / "enrich.npz"

_A = ProductArea


def _default_brand_areas() -> dict[str, list[ProductArea]]:
    """The project's demo brands; deployments override this table in their own config.

    Only a telecom runs a network. The bank keeps ``delivery``: it ships cards and cheque books.
    """
    everything_but_network = [area for area in ProductArea if area is not _A.network]
    return {
        "Nuvia Mobile": list(ProductArea),
        "Croque": list(everything_but_network),
        "Banque Azur": list(everything_but_network),
        "Kairo": list(everything_but_network),
    }


class EnrichConfig(BaseSettings):
    """Knobs of the enrichment stage, each an environment variable with a working default.

    The worker, ``porte-voix enrich``, replay and evaluation all build it the same way, so
    one variable changes the stage everywhere it runs.
    """

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_ENRICH_", extra="forbid")

    confidence_floor: float = Field(
        default=0.45, ge=0.0, le=1.0,
        description="A sentiment, intent or area confidence below this asks for a human review "
                    "(needs_review; 0 turns review off).",
    )
    dup_window_hours: float = Field(
        default=72.0, gt=0.0,
        description="A message repeating one older than this is not linked to it (dup_of).")
    dup_threshold: float = Field(
        default=85.0, ge=0.0, le=100.0,
        description="rapidfuzz ratio (0-100) on normalised text above which two texts are dups.",
    )
    dup_min_chars: int = Field(
        default=16, ge=1, description="Shorter normalised texts ('merci !') are never dups."
    )
    dup_max_items_per_brand: int = Field(
        default=20_000, ge=1, description="Bound of the per-brand window kept in memory."
    )
    brand_areas: dict[str, list[ProductArea]] = Field(
        default_factory=_default_brand_areas,
        description="Product areas each brand has, as JSON (brands not listed: every area).")
    tier_micro_followers: int = Field(
        default=10_000, ge=0, description="Followers from which an author is a micro influencer.")
    tier_macro_followers: int = Field(
        default=100_000, ge=0, description="Followers from which an author is a macro influencer.")
    tier_celebrity_followers: int = Field(
        default=1_000_000, ge=0, description="Followers from which an author is a celebrity.")
    max_known_authors: int = Field(
        default=200_000, ge=1, description="Bound of the author memory for author_first_time."
    )
    model_path: Path = Field(
        default=DEFAULT_MODEL_PATH, description="Text models file (written by `make train`).")
    incidents: bool = Field(
        default=True, description="Mark every member of an incident cluster as a crisis signal.")
    incident_similarity: float = Field(
        default=0.2, ge=0.0, le=1.0,
        description="Cosine of IDF-weighted content words above which two messages of a "
                    "brand are about the same thing.")
    incident_strong_similarity: float = Field(
        default=1.01, ge=0.0, le=1.01,
        description="Cosine from which two messages group even when neither is a seed "
                    "(above 1: never).")
    incident_min_size: int = Field(
        default=4, ge=2, description="Messages a group needs before it can be an incident.")
    incident_min_seeds: int = Field(
        default=2, ge=0,
        description="Members that must read as a crisis on their own (crisis head).")
    crisis_threshold: float | None = Field(
        default=0.7, ge=0.0, le=1.0,
        description="Crisis-head probability from which one message alone is a crisis signal "
                    "(empty: the threshold stored with the model). Incident grouping brings "
                    "the recall, so the head alone is trusted only when it is sure.")
    incident_seed_probability: float = Field(
        default=0.4, ge=0.0, le=1.0,
        description="Crisis-head probability from which a message counts as a seed.")
    incident_seed_cues: tuple[str, ...] = Field(
        default=("outage", "safety", "data_leak"),
        description="Cue families that make a negative message a seed, whatever the head says.")
    incident_window_items: int = Field(
        default=400, ge=1, description="Recent messages kept per brand to form groups.")
    incident_window_hours: float = Field(
        default=48.0, gt=0.0, description="Age after which a message leaves its brand window.")
    incident_urgency: bool = Field(
        default=True,
        description="Cluster members take the conventions' urgency: high, except a 'fixed, "
                    "thanks' (low) and a compensation follow-up (medium).")
