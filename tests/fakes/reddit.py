"""Fake of Reddit's OAuth listings: ``/r/{sub}/new`` and ``/r/{sub}/comments``.

Like Reddit: bearer token required (401), generic User-Agents throttled (429), ``limit``
clamped to 100, ``after`` must be a fullname from the listing (an unknown one yields an empty
listing, as on Reddit), and every answer carries X-Ratelimit-Used/Remaining/Reset.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from tests.fakes.base import Answer, FakeApi, Request, bearer


class RedditFake(FakeApi):
    def __init__(self, access_token: str = "reddit-fake-token", budget: int = 600) -> None:
        super().__init__()
        self.access_token = access_token
        self.links: list[dict[str, Any]] = []
        self.comments: list[dict[str, Any]] = []
        self.remaining = float(budget)
        self.reset_seconds = 1

    def authorized(self, request: Request) -> bool:
        return bearer(request) == self.access_token

    def handle(self, request: Request) -> Answer:
        agent = request.headers.get("user-agent", "")
        if agent.startswith(("python-requests", "Python-urllib")) or "/u/" not in agent:
            return Answer(429, {"message": "Too Many Requests", "error": 429})
        match = re.match(r"^/r/(\w+)/(new|comments)$", request.path)
        if not match:
            return Answer(404, {"message": "Not Found", "error": 404})
        listing = self.links if match.group(2) == "new" else self.comments
        listing = [t for t in listing if t["data"]["subreddit"].lower() == match.group(1).lower()]
        limit = min(max(int(request.query.get("limit", "25")), 1), 100)
        start = 0
        after = request.query.get("after")
        if after:
            names = [t["data"]["name"] for t in listing]
            start = names.index(after) + 1 if after in names else len(listing)
        chunk = listing[start:start + limit]
        more = start + limit < len(listing)
        self.remaining = max(self.remaining - 1, 0)
        headers = {"X-Ratelimit-Used": "1", "X-Ratelimit-Remaining": f"{self.remaining:.1f}",
                   "X-Ratelimit-Reset": str(self.reset_seconds)}
        return Answer(200, {"kind": "Listing", "data": {
            "after": chunk[-1]["data"]["name"] if more and chunk else None,
            "dist": len(chunk), "modhash": None, "geo_filter": "", "before": None,
            "children": chunk}}, headers)

    def add_link(self, sub: str, base36: str, title: str, text: str, when: datetime
                 ) -> dict[str, Any]:
        thing = {"kind": "t3", "data": {
            "id": base36, "name": f"t3_{base36}", "subreddit": sub, "title": title,
            "selftext": text, "author": "u_client42", "created_utc": when.timestamp(),
            "permalink": f"/r/{sub}/comments/{base36}/post/", "edited": False,
            "num_comments": 0, "score": 1}}
        self.links.insert(0, thing)
        return thing

    def add_comment(self, sub: str, base36: str, link: str, body: str, when: datetime,
                    parent: str | None = None) -> dict[str, Any]:
        thing = {"kind": "t1", "data": {
            "id": base36, "name": f"t1_{base36}", "subreddit": sub, "body": body,
            "author": "u_client43", "created_utc": when.timestamp(), "link_id": link,
            "parent_id": parent or link, "edited": False,
            "permalink": f"/r/{sub}/comments/{link[3:]}/post/{base36}/"}}
        self.comments.insert(0, thing)
        return thing
