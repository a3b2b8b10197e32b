"""Normalize stage: every platform's documented payload shape into SocialEvents, and rejections."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from pipeline.errors import BadInput, Fatal
from pipeline.normalize import NORMALIZERS, detect_source, normalize, parse_payload
from pipeline.normalize.brands import BrandDirectory
from schemas.models import Action, Kind, Platform, RawEnvelope, SocialEvent

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "infra" / "demo"

PAGE = "111000111"
IG = "178410000222"
X_BRAND = "4400001"
CHANNEL = "UCtestBrandChannel000001"
LOCATION = "accounts/123/locations/456"
UNIT = "5f00000000000000000000aa"
PACKAGE = "com.example.brand"
APP = "1500000001"

BRANDS = BrandDirectory.model_validate(
    {
        "brands": [
            {
                "name": "Testo",
                "accounts": {
                    "facebook": [PAGE],
                    "instagram": [IG],
                    "x": [X_BRAND],
                    "youtube": [CHANNEL],
                    "google_reviews": [LOCATION],
                    "trustpilot": [UNIT],
                    "google_play": [PACKAGE],
                    "app_store": [APP],
                    "reddit": ["TestoHQ"],
                    "forum": ["https://forum.testo.example/"],
                },
                "handles": {"x": ["TestoHelp"], "forum": ["testo_staff"],
                            "reddit": ["Testo_Official"]},
            },
            {"name": "Autre", "accounts": {"facebook": ["999"]}},
        ]
    }
)


def envelope(source: str, payload: object, **kwargs: Any) -> RawEnvelope:
    raw = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
    return RawEnvelope.wrap(source, raw, **kwargs)


def run(source: str, payload: object, **kwargs: Any) -> list[SocialEvent]:
    return normalize(envelope(source, payload, **kwargs), BRANDS)


# ----------------------------------------------------------------------------- Meta


def feed_change(comment_id: str, message: str, *, parent: str | None = None,
                verb: str = "add", sender: str = "700001") -> dict[str, Any]:
    post_id = f"{PAGE}_555"
    return {
        "field": "feed",
        "value": {
            "from": {"id": sender, "name": "Marie Curie"},
            "post": {"id": post_id, "status_type": "added_photos", "is_published": True},
            "message": message,
            "post_id": post_id,
            "comment_id": comment_id,
            "created_time": 1763200000,
            "item": "comment",
            "parent_id": parent or post_id,
            "verb": verb,
        },
    }


def page_body(*changes: dict[str, Any], page: str = PAGE) -> dict[str, Any]:
    return {"object": "page", "entry": [{"id": page, "time": 1763200005, "changes": list(changes)}]}


def test_facebook_top_level_comment_is_its_own_conversation() -> None:
    [event] = run("meta_webhook", page_body(feed_change("555_1", "Plus de réseau ?")))
    assert event.event_id == "facebook:555_1"
    assert event.platform is Platform.facebook and event.kind is Kind.comment
    assert event.conversation_id == "555_1" and event.parent_id == f"{PAGE}_555"
    assert event.brand == "Testo" and event.brand_account_id == PAGE
    assert event.author.name == "Marie Curie" and not event.author.is_brand
    assert event.created_at == datetime.fromtimestamp(1763200000, tz=UTC)
    assert event.text == "Plus de réseau ?" and event.source == "meta_webhook"


def test_facebook_reply_shares_the_top_level_comment_conversation_and_page_reply_is_brand() -> None:
    events = run("meta_webhook", page_body(
        feed_change("555_1", "Panne ?"),
        feed_change("555_2", "On regarde !", parent="555_1", sender=PAGE),
        feed_change("555_3", "Pareil ici", parent="555_1"),
    ))
    assert [e.conversation_id for e in events] == ["555_1", "555_1", "555_1"]
    assert [e.kind for e in events] == [Kind.comment, Kind.reply, Kind.reply]
    assert [e.author.is_brand for e in events] == [False, True, False]
    assert events[1].parent_id == "555_1"
    assert len({e.conversation_key for e in events}) == 1


def test_facebook_edit_and_removal_keep_the_event_id() -> None:
    added = run("meta_webhook", page_body(feed_change("555_9", "v1")))[0]
    edited = run("meta_webhook", page_body(feed_change("555_9", "v2", verb="edited")))[0]
    removed = run("meta_webhook", page_body(feed_change("555_9", "", verb="remove")))[0]
    assert added.event_id == edited.event_id == removed.event_id
    assert (added.action, edited.action, removed.action) == (
        Action.created, Action.edited, Action.deleted)
    assert edited.text == "v2"


def test_batched_meta_body_gives_one_event_per_item_with_each_entry_brand() -> None:
    body = {"object": "page", "entry": [
        {"id": PAGE, "time": 1763200005,
         "changes": [feed_change("555_1", "a"), feed_change("555_2", "b")]},
        {"id": "999", "time": 1763200005, "changes": [
            {"field": "feed", "value": {**feed_change("777_1", "c")["value"],
                                        "post_id": "999_777", "parent_id": "999_777"}}]},
    ]}
    events = run("meta_webhook", body)
    assert [(e.platform_item_id, e.brand) for e in events] == [
        ("555_1", "Testo"), ("555_2", "Testo"), ("777_1", "Autre")]


def test_meta_items_without_community_text_give_no_event() -> None:
    reaction = {"field": "feed", "value": {"item": "reaction", "verb": "add", "post_id": "1_2",
                                           "reaction_type": "like", "from": {"id": "7"}}}
    read = {"sender": {"id": "7"}, "recipient": {"id": PAGE}, "timestamp": 1763200000000,
            "read": {"watermark": 1763200000000}}
    body = {"object": "page", "entry": [{"id": PAGE, "time": 1763200000000,
                                         "changes": [reaction], "messaging": [read]}]}
    assert run("meta_webhook", body) == []


def messaging(sender: str, recipient: str, mid: str, text: str, echo: bool = False
              ) -> dict[str, Any]:
    message: dict[str, Any] = {"mid": mid, "text": text}
    if echo:
        message["is_echo"] = True
    return {"sender": {"id": sender}, "recipient": {"id": recipient},
            "timestamp": 1763200000123, "message": message}


def test_messenger_thread_is_page_and_user_and_echo_is_brand() -> None:
    body = {"object": "page", "entry": [{"id": PAGE, "time": 1763200000999, "messaging": [
        messaging("8001", PAGE, "m_1", "Bonjour, commande jamais reçue"),
        messaging(PAGE, "8001", "m_2", "Bonjour, votre numéro de commande ?", echo=True),
    ], "standby": [messaging("8001", PAGE, "m_3", "#CRQ-1234-5678")]}]}
    events = run("meta_webhook", body)
    assert [e.event_id for e in events] == ["facebook:m_1", "facebook:m_2", "facebook:m_3"]
    assert {e.conversation_id for e in events} == {f"{PAGE}:8001"}
    assert all(e.kind is Kind.dm for e in events)
    assert [e.author.is_brand for e in events] == [False, True, False]
    assert events[0].created_at == datetime.fromtimestamp(1763200000.123, tz=UTC)


def test_instagram_comment_reply_and_dm() -> None:
    def comment(cid: str, user: str, name: str, parent: str | None = None) -> dict[str, Any]:
        value: dict[str, Any] = {"from": {"id": user, "username": name},
                                 "media": {"id": "18001", "media_product_type": "FEED"},
                                 "id": cid, "text": f"texte {cid}"}
        if parent:
            value["parent_id"] = parent
        return {"field": "comments", "value": value}

    body = {"object": "instagram", "entry": [{"id": IG, "time": 1763200000, "changes": [
        comment("1790001", "5801", "jade.vrn"),
        comment("1790002", IG, "testo.official", parent="1790001"),
    ], "messaging": [messaging(IG, "5802", "aWdf1", "Réassort le 28", echo=True)]}]}
    top, reply, dm = run("meta_webhook", body)
    assert top.platform is Platform.instagram and top.kind is Kind.comment
    assert top.author.handle == "jade.vrn" and top.conversation_id == "1790001"
    assert reply.kind is Kind.reply and reply.conversation_id == "1790001"
    assert reply.author.is_brand
    assert dm.kind is Kind.dm and dm.conversation_id == f"{IG}:5802" and dm.author.is_brand
    assert top.created_at == datetime.fromtimestamp(1763200000, tz=UTC)


# -------------------------------------------------------------------------------- X


def tweet(tid: str, user_id: str, screen: str, text: str,
          reply_to: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"created_at": "Sat Nov 14 20:41:00 +0000 2026", "id": int(tid), "id_str": tid,
            "text": text, "in_reply_to_status_id_str": reply_to,
            "user": {"id": int(user_id), "id_str": user_id, "screen_name": screen,
                     "name": screen.title(), "followers_count": 1200, "verified": False},
            **extra}


def test_tweet_mention_with_extended_text_and_author_profile() -> None:
    long_text = "@Testo " + "panne " * 40
    payload = {"for_user_id": X_BRAND, "tweet_create_events": [tweet(
        "1001", "77", "julie", long_text[:140], truncated=True,
        extended_tweet={"full_text": long_text})]}
    [event] = run("x_account_activity", payload)
    assert event.event_id == "x:1001" and event.kind is Kind.mention
    assert event.text == long_text and event.conversation_id == "1001"
    assert event.author.handle == "julie" and event.author.followers == 1200
    assert event.created_at == datetime(2026, 11, 14, 20, 41, tzinfo=UTC)
    assert event.url == "https://x.com/julie/status/1001"


def test_self_reply_in_the_same_payload_shares_the_conversation() -> None:
    payload = {"for_user_id": X_BRAND, "tweet_create_events": [
        tweet("2001", "77", "ben", "@Testo sole came off"),
        tweet("2002", "77", "ben", "receipt attached", reply_to="2001"),
        tweet("2003", "78", "other", "@Testo replying to an old tweet", reply_to="1999"),
    ]}
    first, second, third = run("x_account_activity", payload)
    assert second.kind is Kind.reply and second.parent_id == "2001"
    assert first.conversation_id == second.conversation_id == "2001"
    assert third.conversation_id == "2003" and third.parent_id == "1999"


def test_brand_tweets_are_flagged_and_retweets_skipped() -> None:
    payload = {"for_user_id": X_BRAND, "tweet_create_events": [
        tweet("3001", X_BRAND, "Testo", "Incident en cours"),
        tweet("3002", "4400002", "TestoHelp", "@julie on regarde", reply_to="1"),
        tweet("3003", "79", "fan", "RT @Testo: Incident en cours", retweeted_status={"id": 3001}),
    ]}
    events = run("x_account_activity", payload)
    assert [e.platform_item_id for e in events] == ["3001", "3002"]
    assert all(e.author.is_brand for e in events)


def test_x_direct_messages_share_the_brand_user_conversation() -> None:
    def dm(dm_id: str, sender: str, recipient: str, text: str) -> dict[str, Any]:
        return {"type": "message_create", "id": dm_id, "created_timestamp": "1763200000000",
                "message_create": {"target": {"recipient_id": recipient}, "sender_id": sender,
                                   "message_data": {"text": text}}}

    payload = {"for_user_id": X_BRAND, "direct_message_events": [
        dm("d1", "77", X_BRAND, "IBAN FR76 3000 6000 0112 3456 7890 189"),
        dm("d2", X_BRAND, "77", "Merci, remboursement lancé")],
        "users": {"77": {"id": "77", "name": "Julie", "screen_name": "julie",
                         "followers_count": 640},
                  X_BRAND: {"id": X_BRAND, "name": "Testo", "screen_name": "Testo"}}}
    user, brand = run("x_account_activity", payload)
    assert user.kind is Kind.dm and user.conversation_id == f"{X_BRAND}:77"
    assert brand.conversation_id == user.conversation_id
    assert user.author.handle == "julie" and user.author.followers == 640
    assert not user.author.is_brand and brand.author.is_brand
    assert user.created_at == datetime.fromtimestamp(1763200000, tz=UTC)


# ------------------------------------------------------------------------ Discourse


def discourse_post(number: int, username: str = "alex", **extra: Any) -> dict[str, Any]:
    return {"post": {"id": 480 + number, "topic_id": 61, "username": username, "name": "Alex",
                     "created_at": "2026-11-18T09:00:00.000Z", "post_number": number,
                     "raw": f"message {number}", "cooked": f"<p>message {number}</p>",
                     "topic_slug": "portabilite", "topic_title": "Portabilité bloquée",
                     "reply_to_post_number": None if number == 1 else 1, "staff": False,
                     "deleted_at": None, "user_id": 12, **extra}}


def test_discourse_posts_share_the_topic_conversation_qualified_by_host() -> None:
    headers = {"X-Discourse-Instance": "https://forum.testo.example", "X-Discourse-Event":
               "post_created"}
    first = run("discourse_webhook", discourse_post(1), headers=headers)[0]
    reply = run("discourse_webhook", discourse_post(2, "testo_staff"), headers=headers)[0]
    assert first.platform is Platform.forum and first.kind is Kind.comment
    assert first.text == "Portabilité bloquée\nmessage 1"
    assert first.event_id == "forum:forum.testo.example:481"
    assert first.conversation_id == reply.conversation_id == "forum.testo.example:61"
    assert reply.kind is Kind.reply and reply.author.is_brand and not first.author.is_brand
    assert first.url == "https://forum.testo.example/t/portabilite/61/1"


def test_discourse_edit_header_cooked_only_ping_and_topic() -> None:
    post = discourse_post(2)
    del post["post"]["raw"]
    post["post"]["cooked"] = "<p>Bonjour&nbsp;!</p><p>Ligne <b>deux</b></p>"
    [event] = run("discourse_webhook", post, account="forum.testo.example",
                  headers={"x-discourse-event": "post_edited"})
    assert event.action is Action.edited and event.text == "Bonjour !\nLigne deux"
    assert run("discourse_webhook", {"ping": "OK"}) == []
    assert run("discourse_webhook", {"topic": {"id": 61, "title": "t"}},
               account="forum.testo.example") == []


# -------------------------------------------------------------------------- YouTube


def yt_comment(cid: str, author: str, channel: str, text: str, published: str,
               updated: str | None = None) -> dict[str, Any]:
    return {"kind": "youtube#comment", "id": cid, "snippet": {
        "channelId": CHANNEL, "videoId": "vid1", "textDisplay": text, "textOriginal": text,
        "authorDisplayName": author, "authorChannelId": {"value": channel},
        "publishedAt": published, "updatedAt": updated or published}}


def test_youtube_thread_gives_top_comment_and_replies_in_the_thread_conversation() -> None:
    thread = {"kind": "youtube#commentThread", "id": "Ugz1", "snippet": {
        "channelId": CHANNEL, "videoId": "vid1",
        "topLevelComment": yt_comment("Ugz1", "@nico", "UCviewer1", "semelle décollée",
                                      "2026-11-17T18:00:00Z", "2026-11-17T18:05:00Z")},
        "replies": {"comments": [
            yt_comment("Ugz1.a", "@Testo", CHANNEL, "écrivez-nous", "2026-11-18T08:30:00Z")]}}
    top, reply = run("youtube", thread)
    assert top.event_id == "youtube:Ugz1" and top.kind is Kind.comment
    assert top.action is Action.edited and not top.author.is_brand
    assert reply.kind is Kind.reply and reply.parent_id == "Ugz1" and reply.author.is_brand
    assert {top.conversation_id, reply.conversation_id} == {"Ugz1"}
    assert top.brand == "Testo" and top.url == "https://www.youtube.com/watch?v=vid1&lc=Ugz1"


# -------------------------------------------------------------------------- reviews


def gbp_review(stars: str = "TWO", **extra: Any) -> dict[str, Any]:
    return {"name": f"{LOCATION}/reviews/R1", "reviewId": "R1",
            "reviewer": {"displayName": "Hélène", "isAnonymous": False}, "starRating": stars,
            "comment": "Attente trop longue", "createTime": "2026-11-18T10:00:00.123456789Z",
            "updateTime": "2026-11-18T10:00:00.123456789Z", **extra}


def test_google_business_review_rating_and_owner_reply() -> None:
    review, reply = run("google_business", gbp_review(
        reviewReply={"comment": "Merci Hélène", "updateTime": "2026-11-18T12:00:00Z"}))
    assert review.event_id == "google_reviews:R1" and review.rating == 2
    assert review.kind is Kind.review and review.conversation_id == "R1"
    assert review.brand_account_id == LOCATION and review.author.name == "Hélène"
    assert reply.kind is Kind.reply and reply.author.is_brand and reply.conversation_id == "R1"
    assert reply.event_id == "google_reviews:R1:reply"
    edited = run("google_business", gbp_review("FOUR", updateTime="2026-11-20T10:00:00Z"))[0]
    assert edited.event_id == review.event_id and edited.action is Action.edited
    assert edited.rating == 4


def tp_review(**extra: Any) -> dict[str, Any]:
    return {"id": "tp1", "stars": 2, "title": "Remboursement en attente",
            "text": "Toujours rien", "consumer": {"id": "c1", "displayName": "Marion",
                                                  "numberOfReviews": 12},
            "createdAt": "2026-11-15T14:00:00.000Z", "updatedAt": None, "language": "fr",
            "businessUnit": {"id": UNIT}, **extra}


def test_trustpilot_review_edited_later_is_the_same_event() -> None:
    [first] = run("trustpilot", tp_review())
    second, reply = run("trustpilot", tp_review(
        stars=4, text="Remboursée ce matin", updatedAt="2026-11-17T09:30:00.000Z",
        companyReply={"text": "Merci Marion", "createdAt": "2026-11-17T10:00:00.000Z"}))
    assert first.text == "Remboursement en attente\nToujours rien" and first.rating == 2
    assert first.action is Action.created and second.action is Action.edited
    assert first.event_id == second.event_id == "trustpilot:tp1" and second.rating == 4
    assert reply.author.is_brand and reply.conversation_id == "tp1"
    assert first.author.name == "Marion" and first.brand == "Testo"


def test_google_play_review_needs_the_package_from_the_envelope() -> None:
    review = {"reviewId": "gp:1", "authorName": "Romain", "comments": [
        {"userComment": {"text": "\tÉcran blanc au paiement", "starRating": 1,
                         "lastModified": {"seconds": "1763155200", "nanos": 1000},
                         "reviewerLanguage": "fr_FR", "appVersionName": "7.3.0"}},
        {"developerComment": {"text": "Corrigé en 7.3.1",
                              "lastModified": {"seconds": "1763241600"}}}]}
    user, dev = run("google_play", review, account=PACKAGE)
    assert user.event_id == "google_play:gp:1" and user.rating == 1
    assert user.text == "Écran blanc au paiement" and user.brand_account_id == PACKAGE
    assert user.created_at == datetime.fromtimestamp(1763155200, tz=UTC)
    assert dev.author.is_brand and dev.kind is Kind.reply
    with pytest.raises(BadInput, match="google_play: no account id"):
        run("google_play", review)


def test_app_store_review_bare_and_as_document() -> None:
    resource = {"type": "customerReviews", "id": "as1", "attributes": {
        "rating": 1, "title": "Crashes at checkout", "body": "Charged twice",
        "reviewerNickname": "hungry", "createdDate": "2026-11-14T13:26:00-08:00",
        "territory": "FRA"}}
    [bare] = run("app_store", resource, account=APP)
    [doc] = run("app_store", {"data": resource}, account=APP)
    same = {"raw_id", "received_at"}
    assert bare.model_dump(exclude=same) == doc.model_dump(exclude=same)
    assert bare.text == "Crashes at checkout\nCharged twice" and bare.rating == 1
    assert bare.created_at == datetime(2026, 11, 14, 21, 26, tzinfo=UTC)
    assert bare.author.handle == "hungry" and bare.conversation_id == "as1"


# --------------------------------------------------------------------------- Reddit


def reddit_thing(kind: str, rid: str, **data: Any) -> dict[str, Any]:
    return {"kind": kind, "data": {"id": rid, "name": f"{kind}_{rid}", "author": "runner",
                                   "created_utc": 1763300000.0, "subreddit": "TestoHQ",
                                   "edited": False, **data}}


def test_reddit_link_comment_and_reply_share_the_link_conversation() -> None:
    [link] = run("reddit", reddit_thing("t3", "abc", title="Sizing?", selftext="43 or 44?",
                                        permalink="/r/TestoHQ/comments/abc/sizing/"))
    [comment] = run("reddit", reddit_thing("t1", "c1", body="go up", link_id="t3_abc",
                                           parent_id="t3_abc"))
    [reply] = run("reddit", reddit_thing("t1", "c2", body="thanks", link_id="t3_abc",
                                         parent_id="t1_c1", edited=1763300500.0))
    assert link.kind is Kind.mention and link.text == "Sizing?\n43 or 44?"
    assert link.url == "https://www.reddit.com/r/TestoHQ/comments/abc/sizing/"
    assert comment.kind is Kind.comment and reply.kind is Kind.reply
    assert {link.conversation_id, comment.conversation_id, reply.conversation_id} == {"t3_abc"}
    assert reply.action is Action.edited and reply.event_id == "reddit:t1_c2"


def test_reddit_deleted_comment_and_brand_author() -> None:
    [gone] = run("reddit", reddit_thing("t1", "c3", body="[deleted]", author="[deleted]",
                                        link_id="t3_abc", parent_id="t3_abc"))
    assert gone.action is Action.deleted and gone.text == ""
    [own] = run("reddit", reddit_thing("t1", "c4", body="Hi!", author="Testo_Official",
                                       link_id="t3_abc", parent_id="t3_abc"))
    assert own.author.is_brand


# ----------------------------------------------------------------------------- flat


def test_flat_record_in_the_dev_set_format_normalizes() -> None:
    record = {"id": "d0001", "platform": "facebook", "kind": "comment", "brand": "Croque",
              "text": "Le chauffeur m'a livré la commande de quelqu'un d'autre", "rating": None,
              "lang": "fr", "sentiment": "negative", "intent": "complaint", "pii": [],
              "dup_of": None, "expected_routes": ["crm_ticket"]}
    brands = BrandDirectory.load(DEMO / "brands.yaml")
    env = envelope("jsonl", record)
    [event] = normalize(env, brands)
    assert event.event_id == "facebook:d0001" and event.conversation_id == "d0001"
    assert event.brand == "Croque" and event.text == record["text"]
    assert event.kind is Kind.comment and event.rating is None
    assert event.created_at == env.received_at


def test_flat_record_with_author_and_time() -> None:
    [event] = run("jsonl", {"id": "h1", "platform": "x", "kind": "mention", "brand": "testo",
                            "text": "hi", "rating": None, "author": "@julie",
                            "created_at": "2026-11-18T10:00:00"})
    assert event.brand == "Testo" and event.author.handle == "@julie"
    assert event.created_at == datetime(2026, 11, 18, 10, tzinfo=UTC)
    with pytest.raises(BadInput, match="jsonl: brand 'Nobody'"):
        run("jsonl", {"id": "h2", "platform": "x", "kind": "mention", "brand": "Nobody",
                      "text": "hi"})


# ----------------------------------------------------------------- idempotency, errors


def test_same_item_delivered_twice_gives_the_same_event_id() -> None:
    body = page_body(feed_change("555_1", "Panne ?"))
    first = normalize(envelope("meta_webhook", body), BRANDS)[0]
    retry = normalize(envelope("meta_webhook", body,
                               received_at=datetime.now(UTC) + timedelta(minutes=5)), BRANDS)[0]
    assert first.event_id == retry.event_id
    assert first.raw_id == retry.raw_id
    assert first.received_at != retry.received_at


MALFORMED: list[tuple[str, object, dict[str, Any], str]] = [
    ("meta_webhook", '{"object": "page", "entry": [{"id": "1', {}, "not valid JSON"),
    ("meta_webhook", {"object": "page"}, {}, "meta_webhook: entry: Field required"),
    ("meta_webhook", {"object": "whatsapp_business_account", "entry": []}, {}, "object"),
    ("meta_webhook", page_body({"field": "feed", "value": {"item": "comment", "verb": "add",
                                                           "post_id": "1_2"}}),
     {}, "entry.0.changes.0.value.comment_id"),
    ("meta_webhook", page_body(feed_change("1_2", "x"), page="424242"), {}, "'424242'"),
    ("meta_webhook", {"object": "page", "entry": [{"id": PAGE, "messaging": [
        {"sender": {"id": "1"}, "recipient": {"id": PAGE}, "message": {"mid": "m"}}]}]},
     {}, "entry.0.messaging.0.timestamp"),
    ("x_account_activity", {"for_user_id": X_BRAND, "tweet_create_events": [
        {"text": "no id", "created_at": "Sat Nov 14 20:41:00 +0000 2026",
         "user": {"id_str": "1"}}]}, {}, "tweet_create_events.0.id_str"),
    ("x_account_activity", {"for_user_id": X_BRAND, "tweet_create_events": [
        tweet("1", "2", "a", "b") | {"created_at": "yesterday"}]}, {}, "created_at"),
    ("x_account_activity", {"tweet_create_events": []}, {}, "for_user_id"),
    ("discourse_webhook", {"post": {"id": 1, "username": "a", "created_at": "2026-11-18",
                                    "post_number": 1}}, {"account": "forum.testo.example"},
     "post.topic_id"),
    ("discourse_webhook", discourse_post(1), {}, "no forum host"),
    ("discourse_webhook", {"something": 1}, {}, "none of post, topic, ping"),
    ("youtube", {"id": "t", "snippet": {"channelId": CHANNEL}}, {}, "snippet.topLevelComment"),
    ("google_business", gbp_review("SIX"), {}, "starRating"),
    ("google_business", gbp_review(name="locations/1"), {}, "name"),
    ("trustpilot", tp_review(stars=0), {}, "stars"),
    ("trustpilot", tp_review(createdAt="hier"), {}, "createdAt"),
    ("google_play", {"reviewId": "r", "comments": [{"developerComment": {
        "text": "x", "lastModified": {"seconds": "1"}}}]}, {"account": PACKAGE}, "userComment"),
    ("app_store", {"type": "apps", "id": "1", "attributes": {}}, {"account": APP}, "type"),
    ("app_store", {"type": "customerReviews", "id": "1", "attributes": {
        "rating": 7, "createdDate": "2026-11-18T00:00:00Z"}}, {"account": APP},
     "attributes.rating"),
    ("reddit", reddit_thing("t1", "c", link_id="t3_a", parent_id="t3_a"), {}, "data.body"),
    ("reddit", {"kind": "t5", "data": {}}, {}, "kind"),
    ("jsonl", {"id": "1", "platform": "myspace", "kind": "comment", "brand": "Testo",
               "text": "x"}, {}, "platform"),
    ("jsonl", [1, 2, 3], {}, "must be a JSON object"),
]


@pytest.mark.parametrize(("source", "payload", "kwargs", "reason"), MALFORMED)
def test_malformed_payload_is_bad_input_naming_the_problem(
    source: str, payload: object, kwargs: dict[str, Any], reason: str
) -> None:
    with pytest.raises(BadInput) as caught:
        run(source, payload, **kwargs)
    assert source in str(caught.value) and reason in str(caught.value)


@pytest.mark.parametrize("source", sorted(NORMALIZERS))
@pytest.mark.parametrize("payload", [
    "null", "[]", '"text"', "42", "{}", '{"entry": 5, "object": "page"}',
    '{"for_user_id": [], "tweet_create_events": "x"}', '{"post": [], "data": 3, "kind": "t1"}',
    '{"id": {}, "snippet": [], "comments": {}, "attributes": 1, "type": "customerReviews"}',
])
def test_wrong_types_never_escape_as_key_or_type_errors(source: str, payload: str) -> None:
    with pytest.raises(BadInput):
        run(source, payload, account=PACKAGE)


def test_unknown_source_is_bad_input() -> None:
    with pytest.raises(BadInput, match="unknown source 'tiktok'"):
        run("tiktok", {"id": 1})


def test_parse_payload_reasons() -> None:
    with pytest.raises(BadInput, match="not valid UTF-8"):
        parse_payload(b"\xff\xfe{}")
    with pytest.raises(BadInput, match=r"not valid JSON.*line 1 column"):
        parse_payload(b'{"a": ')
    with pytest.raises(BadInput, match="empty"):
        parse_payload(b"  ")
    assert parse_payload('{"é": 1}'.encode()) == {"é": 1}


# ------------------------------------------------------------------- brand directory


def test_brand_directory_lookups_and_default(tmp_path: Path) -> None:
    assert BRANDS.brand_for("forum", "FORUM.testo.example") == "Testo"
    assert BRANDS.brand_for("reddit", "r/testohq") == "Testo"
    assert BRANDS.brand_for("x", "nope") is None
    assert BRANDS.is_brand_author("x", "Testo", handle="@testohelp")
    assert not BRANDS.is_brand_author("x", "Autre", handle="TestoHelp")
    with pytest.raises(BadInput, match="x account 'nope' is not in the brand directory"):
        BRANDS.require("x", "nope", "x_account_activity")
    path = tmp_path / "b.yaml"
    path.write_text("default_brand: Solo\nbrands:\n  - name: Solo\n", encoding="utf-8")
    assert BrandDirectory.load(path).brand_for("facebook", "123") == "Solo"


def test_brand_directory_rejects_an_account_owned_twice(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(
        "brands:\n  - name: A\n    accounts: {x: ['1']}\n  - name: B\n    accounts: {x: ['1']}\n",
        encoding="utf-8",
    )
    with pytest.raises(Fatal, match="belongs to both 'A' and 'B'"):
        BrandDirectory.load(path)
    with pytest.raises(Fatal, match="cannot read"):
        BrandDirectory.load(tmp_path / "missing.yaml")


# ---------------------------------------------------------------------- detect_source


@pytest.mark.parametrize(("payload", "expected"), [
    (page_body(feed_change("1_2", "x")), "meta_webhook"),
    ({"object": "instagram", "entry": []}, "meta_webhook"),
    ({"for_user_id": "1", "direct_message_events": []}, "x_account_activity"),
    (discourse_post(1), "discourse_webhook"),
    ({"ping": "OK"}, "discourse_webhook"),
    ({"kind": "youtube#commentThread", "id": "t", "snippet": {}}, "youtube"),
    (gbp_review(), "google_business"),
    (tp_review(), "trustpilot"),
    ({"reviewId": "r", "authorName": "a", "comments": []}, "google_play"),
    ({"type": "customerReviews", "id": "1", "attributes": {}}, "app_store"),
    ({"data": {"type": "customerReviews", "id": "1"}}, "app_store"),
    (reddit_thing("t3", "a"), "reddit"),
    ({"id": "d1", "platform": "x", "kind": "mention", "brand": "B", "text": "t"}, "jsonl"),
    ({"hello": "world"}, None),
    ([1, 2], None),
])
def test_detect_source_recognises_each_shape(payload: object, expected: str | None) -> None:
    assert detect_source(payload) == expected


# ------------------------------------------------------------------------ demo files


def demo_lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (DEMO / name).read_text(encoding="utf-8").splitlines()
            if line.strip()]


def demo_envelope(line: dict[str, Any]) -> RawEnvelope:
    payload = line["payload"]
    raw = (payload.encode() if isinstance(payload, str)
           else json.dumps(payload, ensure_ascii=False).encode())
    return RawEnvelope.wrap(line["source"], raw, account=line["account"])


def test_every_demo_line_normalizes_and_detects_its_source() -> None:
    brands = BrandDirectory.load(DEMO / "brands.yaml")
    lines = demo_lines("demo_traffic.jsonl")
    assert len(lines) >= 90
    events: list[SocialEvent] = []
    for line in lines:
        assert detect_source(line["payload"]) == line["source"]
        produced = normalize(demo_envelope(line), brands)
        assert produced, line
        events.extend(produced)
    assert {e.brand for e in events} == set(brands.names)
    assert any(e.author.is_brand for e in events)
    times = [e.created_at for e in events]
    assert min(times) >= datetime(2026, 11, 14, tzinfo=UTC)
    assert max(times) < datetime(2026, 11, 21, tzinfo=UTC)
    per_conversation: dict[str, int] = {}
    for e in events:
        per_conversation[e.conversation_key] = per_conversation.get(e.conversation_key, 0) + 1
    assert sum(1 for n in per_conversation.values() if n >= 3) >= 3


def test_every_malformed_demo_line_is_rejected() -> None:
    brands = BrandDirectory.load(DEMO / "brands.yaml")
    lines = demo_lines("malformed.jsonl")
    assert len(lines) >= 6
    for line in lines:
        with pytest.raises(BadInput):
            normalize(demo_envelope(line), brands)
