"""Near-duplicates: first of the chain, same brand, inside the time window only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipeline.enrich.dedup import NearDuplicateIndex

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
TEXT = "Ma commande est arrivée froide et il manquait les boissons, je veux être remboursé"


def make_index(hours: float = 72) -> NearDuplicateIndex:
    return NearDuplicateIndex(timedelta(hours=hours), threshold=85, min_chars=16,
                              max_items_per_brand=1000)


def test_small_edit_by_another_author_within_window_points_at_the_first() -> None:
    index = make_index()
    assert index.check_and_add("Croque", "a", TEXT, T0) is None
    edited = ("@Croque ma commande est arrivée froide, il manquait les boissons, "
              "je veux etre rembourse !")
    assert index.check_and_add("Croque", "b", edited, T0 + timedelta(hours=2)) == "a"
    assert index.check_and_add("Croque", "c", TEXT + " !!", T0 + timedelta(hours=3)) == "a"


def test_same_text_outside_the_window_is_not_a_duplicate() -> None:
    index = make_index(hours=72)
    index.check_and_add("Croque", "a", TEXT, T0)
    assert index.check_and_add("Croque", "b", TEXT, T0 + timedelta(hours=73)) is None


def test_same_text_for_another_brand_is_not_a_duplicate() -> None:
    index = make_index()
    index.check_and_add("Croque", "a", TEXT, T0)
    assert index.check_and_add("Kairo", "b", TEXT, T0 + timedelta(minutes=1)) is None


def test_different_messages_are_not_duplicates() -> None:
    index = make_index()
    index.check_and_add("Croque", "a", TEXT, T0)
    other = "Ma commande est arrivée à l'heure et tout était parfait, merci au livreur"
    assert index.check_and_add("Croque", "b", other, T0 + timedelta(minutes=5)) is None


def test_very_short_texts_are_never_duplicates() -> None:
    index = make_index()
    index.check_and_add("Croque", "a", "merci !", T0)
    assert index.check_and_add("Croque", "b", "merci", T0 + timedelta(minutes=1)) is None


def test_replaying_the_same_event_gives_the_same_answer() -> None:
    index = make_index()
    index.check_and_add("Croque", "a", TEXT, T0)
    first = index.check_and_add("Croque", "b", TEXT, T0 + timedelta(minutes=1))
    again = index.check_and_add("Croque", "b", TEXT, T0 + timedelta(minutes=1))
    assert first == again == "a"
    assert index.check_and_add("Croque", "a", TEXT, T0) is None


def test_window_is_bounded_in_items() -> None:
    index = NearDuplicateIndex(timedelta(hours=72), threshold=85, min_chars=16,
                               max_items_per_brand=3)
    index.check_and_add("Croque", "a", TEXT, T0)
    for i in range(3):
        index.check_and_add("Croque", f"x{i}", f"message numéro {i} sans aucun rapport {i * 7}",
                            T0 + timedelta(minutes=i))
    assert index.check_and_add("Croque", "b", TEXT, T0 + timedelta(minutes=10)) is None


def test_verbatim_reposts_all_point_at_the_first_even_once_it_left_the_window() -> None:
    index = NearDuplicateIndex(timedelta(hours=72), threshold=85, min_chars=16,
                               max_items_per_brand=3)
    assert index.check_and_add("Croque", "a", TEXT, T0) is None
    answers = [index.check_and_add("Croque", f"r{n}", TEXT, T0 + timedelta(minutes=n))
               for n in range(1, 6)]  # the window holds 3 items: "a" is evicted on the way
    assert answers == ["a"] * 5
    later = index.check_and_add("Croque", "late", TEXT, T0 + timedelta(hours=80))
    assert later is None  # every copy is older than the window: a new chain starts
