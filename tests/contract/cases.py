"""How the contract suite drives each registered connector: its fake, config and items.

Every name in ``connectors.base.REGISTRY`` needs a case here; the suite fails for a connector
without one, so a new connector cannot skip the contract. Pull connectors (files, pollers) are
driven through their fake API; push connectors (webhooks) through recorded deliveries in the
platform's documented shape, signed here with the case's secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from connectors.ingest.signatures import DISCOURSE, META, Scheme, X, sign
from tests.fakes.base import FakeApi
from tests.fakes.google import GoogleBusinessFake, GooglePlayFake, YouTubeFake
from tests.fakes.reddit import RedditFake
from tests.fakes.reviews import AppStoreFake, TrustpilotFake

RECORDED = Path(__file__).parent / "recorded"

# One webhook delivery: request headers (without the signature) and the raw body.
Delivery = tuple[dict[str, str], bytes]
USER_AGENT = "python:porte-voix-tests:1.0 (by /u/porte_voix_ci)"


def recorded(name: str) -> Any:
    """A page as the platform documents it (tests/contract/recorded/<name>.json)."""
    return json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))


@dataclass
class Case:
    """One connector under contract."""

    name: str
    polls: bool = True
    make_fake: Callable[[], FakeApi] | None = None
    account: Callable[[], str] = lambda: uuid.uuid4().hex[:12]
    config: Callable[[Any, list[str]], dict[str, Any]] = lambda fake, accounts: {}
    secret_fields: tuple[str, ...] = ()
    forge: Callable[[dict[str, Any]], dict[str, Any]] = lambda config: config
    add_item: Callable[[Any, str, int, datetime], None] = lambda fake, account, i, when: None
    load_recorded: Callable[[Any, str], list[Any]] = lambda fake, account: []
    env: dict[str, str] = field(default_factory=dict)
    # push connectors only
    push: bool = False
    sign: Callable[[dict[str, Any], bytes], dict[str, str]] = lambda config, body: {}
    dump: Callable[[Any], bytes] = lambda body: json.dumps(body, ensure_ascii=False).encode()
    items_in: Callable[[Any], int] = lambda body: 1
    redeliver: Callable[[dict[str, str], Any], list[Delivery]] = lambda headers, body: []
    handshake: Callable[[dict[str, Any]], tuple[dict[str, str], str, dict[str, str]]] | None = None

    def deliveries(self) -> list[tuple[Delivery, Any]]:
        """The recorded deliveries (tests/contract/recorded/<name>.json) as sent, with their
        decoded bodies."""
        return [((dict(d["headers"]), self.dump(d["body"])), d["body"])
                for d in recorded(self.name)["deliveries"]]


def _items_at(start: datetime, count: int) -> list[datetime]:
    return [start + timedelta(minutes=i) for i in range(count)]


def _youtube_recorded(fake: YouTubeFake, account: str) -> list[Any]:
    items = recorded("youtube")["items"]
    for item in items:
        item["snippet"]["channelId"] = account
    fake.items = list(items)
    return items


def _gbp_recorded(fake: GoogleBusinessFake, account: str) -> list[Any]:
    items = recorded("google_business")["reviews"]
    for item in items:
        item["name"] = f"{account}/reviews/{item['reviewId']}"
    fake.items = list(items)
    return items


def _play_recorded(fake: GooglePlayFake, account: str) -> list[Any]:
    items = recorded("google_play")["reviews"]
    now = int(datetime.now(UTC).timestamp())
    for offset, item in enumerate(items):  # reviews.list only lists the last 7 days
        for comment in item["comments"]:
            stamp = next(iter(comment.values()))["lastModified"]
            stamp["seconds"] = str(now - 3600 * (offset + 1))
    fake.items = list(items)
    return items


def _set(fake: Any, attribute: str, name: str) -> Callable[[Any, str], list[Any]]:
    def load(fake: Any, account: str) -> list[Any]:
        items = recorded(name)[attribute]
        fake.items = list(items)
        return items
    return load


def _reddit_recorded(fake: RedditFake, account: str) -> list[Any]:
    page = recorded("reddit")
    children = page["data"]["children"]
    for thing in children:
        thing["data"]["subreddit"] = account
    fake.links = [t for t in children if t["kind"] == "t3"]
    fake.comments = [t for t in children if t["kind"] == "t1"]
    return children


def _signer(scheme: Scheme, key_field: str) -> Callable[[dict[str, Any], bytes], dict[str, str]]:
    """The header the platform sends: HMAC-SHA256 of the body under the config's secret."""
    def signed(config: dict[str, Any], body: bytes) -> dict[str, str]:
        return {scheme.header: sign(scheme, str(config[key_field]), body)}
    return signed


META_LISTS = ("changes", "messaging", "standby")


def _meta_items(body: Any) -> int:
    return sum(len(entry.get(key, [])) for entry in body["entry"] for key in META_LISTS)


def _meta_one_by_one(headers: dict[str, str], body: Any) -> list[Delivery]:
    """Meta re-batching on retry: every item of the body alone in its own delivery, last first."""
    alone = []
    for entry in body["entry"]:
        rest = {k: v for k, v in entry.items() if k not in META_LISTS}
        for key in META_LISTS:
            for item in entry.get(key, []):
                one = {"object": body["object"], "entry": [{**rest, key: [item]}]}
                alone.append((headers, json.dumps(one).encode()))
    return alone[::-1]


def _reserialized(headers: dict[str, str], body: Any) -> list[Delivery]:
    """The same item in other bytes (another key order and layout)."""
    return [(headers, json.dumps(body, indent=2, sort_keys=True).encode())]


def _discourse_edited(headers: dict[str, str], body: Any) -> list[Delivery]:
    """The post again, as ``post_edited`` with a later version: same post, another delivery."""
    post = {**body["post"], "version": 2, "raw": f"{body['post']['raw']} (edit)"}
    return [*_reserialized(headers, body),
            ({**headers, "X-Discourse-Event": "post_edited"},
             json.dumps({"post": post}).encode())]


def _x_crc(config: dict[str, Any]) -> tuple[dict[str, str], str, dict[str, str]]:
    token = "some_random"
    digest = hmac.new(str(config["consumer_secret"]).encode(), token.encode(),
                      hashlib.sha256).digest()
    expected = json.dumps({"response_token": "sha256=" + base64.b64encode(digest).decode()})
    return {"crc_token": token}, expected, {"crc_token": '{"for_user_id":"1"}'}


def _meta_hub(config: dict[str, Any]) -> tuple[dict[str, str], str, dict[str, str]]:
    good = {"hub.mode": "subscribe", "hub.verify_token": str(config["verify_token"]),
            "hub.challenge": "1158201444"}
    return good, "1158201444", {**good, "hub.verify_token": "guess"}


CASES: dict[str, Case] = {
    "backfill": Case("backfill", polls=False),
    "youtube": Case(
        "youtube", make_fake=YouTubeFake,
        account=lambda: f"UC{uuid.uuid4().hex[:22]}",
        config=lambda fake, accounts: {"base_url": f"{fake.url}/youtube/v3",
                                       "api_key": fake.api_key, "accounts": accounts},
        secret_fields=("api_key",),
        forge=lambda config: {**config, "api_key": "AIza-forged"},
        add_item=lambda fake, account, i, when: fake.add_thread(
            f"Ugz{account[-6:]}{i:04d}", account, f"Commentaire {i}: la 5G coupe encore", when),
        load_recorded=_youtube_recorded,
        env={"PORTE_VOIX_POLL_YOUTUBE_API_KEY": "AIza-from-env",
             "PORTE_VOIX_POLL_YOUTUBE_ACCOUNTS": "UCa,UCb"},
    ),
    "google_business": Case(
        "google_business", make_fake=GoogleBusinessFake,
        account=lambda: (f"accounts/{uuid.uuid4().int % 10**12}"
                         f"/locations/{uuid.uuid4().int % 10**12}"),
        config=lambda fake, accounts: {"base_url": f"{fake.url}/v4",
                                       "access_token": fake.access_token, "accounts": accounts},
        secret_fields=("access_token",),
        forge=lambda config: {**config, "access_token": "ya29.forged"},
        add_item=lambda fake, account, i, when: fake.add_review(
            account, f"AbFvOq{i:04d}{account[-4:]}", 1 + i % 5, f"Avis {i}: livraison en retard",
            when),
        load_recorded=_gbp_recorded,
        env={"PORTE_VOIX_POLL_GOOGLE_BUSINESS_ACCESS_TOKEN": "ya29.env",
             "PORTE_VOIX_POLL_GOOGLE_BUSINESS_ACCOUNTS": "accounts/1/locations/2"},
    ),
    "trustpilot": Case(
        "trustpilot", make_fake=TrustpilotFake,
        account=lambda: uuid.uuid4().hex[:24],
        config=lambda fake, accounts: {"base_url": fake.url, "api_key": fake.api_key,
                                       "accounts": accounts},
        secret_fields=("api_key",),
        forge=lambda config: {**config, "api_key": "forged"},
        add_item=lambda fake, account, i, when: fake.add_review(
            account, f"{account[:16]}{i:08x}", 1 + i % 5, f"Titre {i}",
            "Service client injoignable", when),
        load_recorded=_set(None, "reviews", "trustpilot"),
        env={"PORTE_VOIX_POLL_TRUSTPILOT_API_KEY": "k",
             "PORTE_VOIX_POLL_TRUSTPILOT_ACCOUNTS": "u1"},
    ),
    "google_play": Case(
        "google_play", make_fake=GooglePlayFake,
        account=lambda: f"fr.test.app{uuid.uuid4().hex[:8]}",
        config=lambda fake, accounts: {
            "base_url": f"{fake.url}/androidpublisher/v3", "access_token": fake.access_token,
            "accounts": accounts},
        secret_fields=("access_token",),
        forge=lambda config: {**config, "access_token": "ya29.forged"},
        add_item=lambda fake, account, i, when: fake.add_review(
            f"gp:AOqpTO{account[-8:]}{i:04d}", 1 + i % 5, f"L'appli plante {i}", when),
        load_recorded=_play_recorded,
        env={"PORTE_VOIX_POLL_GOOGLE_PLAY_ACCESS_TOKEN": "t",
             "PORTE_VOIX_POLL_GOOGLE_PLAY_ACCOUNTS": "fr.app"},
    ),
    "app_store": Case(
        "app_store", make_fake=AppStoreFake,
        account=lambda: str(1_600_000_000 + uuid.uuid4().int % 10**8),
        config=lambda fake, accounts: {
            "base_url": fake.url, "issuer_id": fake.issuer_id, "key_id": fake.key_id,
            "private_key": fake.private_pem, "accounts": accounts},
        secret_fields=("private_key",),
        forge=lambda config: {**config, "private_key": AppStoreFake().private_pem},
        add_item=lambda fake, account, i, when: fake.add_review(
            f"00000028-{account[-4:]}-{i:04d}-729e-fbd500000000", 1 + i % 5, f"Titre {i}",
            "Impossible de me connecter", when),
        load_recorded=_set(None, "data", "app_store"),
        env={"PORTE_VOIX_POLL_APP_STORE_TOKEN": "a.b.c", "PORTE_VOIX_POLL_APP_STORE_ACCOUNTS": "1"},
    ),
    "reddit": Case(
        "reddit", make_fake=RedditFake,
        account=lambda: f"sub{uuid.uuid4().hex[:10]}",
        config=lambda fake, accounts: {
            "base_url": fake.url, "access_token": fake.access_token, "user_agent": USER_AGENT,
            "accounts": accounts, "listings": ["new"]},
        secret_fields=("access_token",),
        forge=lambda config: {**config, "access_token": "forged"},
        add_item=lambda fake, account, i, when: fake.add_link(
            account, f"{account[-4:]}{i:03d}", f"Panne {i}", "Plus de réseau depuis ce matin",
            when),
        load_recorded=_reddit_recorded,
        env={"PORTE_VOIX_POLL_REDDIT_ACCESS_TOKEN": "t", "PORTE_VOIX_POLL_REDDIT_ACCOUNTS": "s",
             "PORTE_VOIX_POLL_REDDIT_USER_AGENT": USER_AGENT},
    ),
    "meta_webhook": Case(
        "meta_webhook", polls=False, push=True,
        config=lambda fake, accounts: {"app_secret": "meta-app-secret-4f1c",
                                       "verify_token": "verify-token-9a7e"},
        secret_fields=("app_secret", "verify_token"),
        sign=_signer(META, "app_secret"),
        dump=lambda body: json.dumps(body).encode(),  # Meta sends ASCII-escaped JSON
        items_in=_meta_items,
        redeliver=_meta_one_by_one,
        handshake=_meta_hub,
        env={"PORTE_VOIX_INGEST_META_APP_SECRET": "env-meta-secret",
             "PORTE_VOIX_INGEST_META_VERIFY_TOKEN": "env-token"},
    ),
    "x_account_activity": Case(
        "x_account_activity", polls=False, push=True,
        config=lambda fake, accounts: {"consumer_secret": "DDD"},
        secret_fields=("consumer_secret",),
        sign=_signer(X, "consumer_secret"),
        redeliver=_reserialized,
        handshake=_x_crc,
        env={"PORTE_VOIX_INGEST_X_CONSUMER_SECRET": "env-x-secret"},
    ),
    "discourse_webhook": Case(
        "discourse_webhook", polls=False, push=True,
        config=lambda fake, accounts: {"secret": "my_lovely_secret_for_web_hook"},
        secret_fields=("secret",),
        sign=_signer(DISCOURSE, "secret"),
        redeliver=_discourse_edited,
        env={"PORTE_VOIX_INGEST_DISCOURSE_SECRET": "env-discourse-secret"},
    ),
}


def times(count: int, start: datetime | None = None) -> list[datetime]:
    """``count`` distinct item times, oldest first, ending an hour ago."""
    start = start or datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1, minutes=count)
    return _items_at(start, count)
