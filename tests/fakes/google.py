"""Fakes of the Google APIs: YouTube Data v3 commentThreads, Business Profile reviews, Google
Play reviews. Opaque page tokens, ``nextPageToken`` omitted on the last page, Google's error
shape ``{"error": {"code", "message", "errors": [{"reason"}]}}``."""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.fakes.base import Answer, FakeApi, Request, bearer, size


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


class _GoogleFake(FakeApi):
    token_param = "pageToken"

    def __init__(self, access_token: str = "ya29.fake-access-token") -> None:
        super().__init__()
        self.access_token = access_token
        self.items: list[dict[str, Any]] = []  # newest first

    def authorized(self, request: Request) -> bool:
        return bearer(request) == self.access_token

    def page(self, request: Request, page_size: int) -> tuple[list[dict[str, Any]], str | None]:
        token = request.query.get(self.token_param)
        start = self.redeem(token) if token else 0
        items = self.visible()
        chunk = items[start:start + page_size]
        more = start + page_size < len(items)
        return chunk, self.issue(start + page_size) if more else None

    def visible(self) -> list[dict[str, Any]]:
        return self.items


class YouTubeFake(_GoogleFake):
    """``GET /youtube/v3/commentThreads``: part, exactly one filter, maxResults 1-100."""

    def __init__(self, api_key: str = "AIza-fake-key", access_token: str = "ya29.fake") -> None:
        super().__init__(access_token)
        self.api_key = api_key
        self.quota_exceeded = False

    def authorized(self, request: Request) -> bool:
        return request.query.get("key") == self.api_key or super().authorized(request)

    def handle(self, request: Request) -> Answer:
        if request.path != "/youtube/v3/commentThreads":
            return Answer(404, {"error": {"code": 404, "message": "Not Found"}})
        if self.quota_exceeded:
            return Answer(403, {"error": {"code": 403, "message": "quota", "errors": [
                {"domain": "youtube.quota", "reason": "quotaExceeded"}]}})
        parts = set(request.query.get("part", "").split(","))
        if not parts or not parts <= {"id", "snippet", "replies"} or "snippet" not in parts:
            raise ValueError("part")
        filters = [f for f in ("allThreadsRelatedToChannelId", "videoId", "id", "channelId")
                   if f in request.query]
        if len(filters) != 1:
            raise ValueError("exactly one filter")
        if request.query.get("order", "time") not in ("time", "relevance"):
            raise ValueError("order")
        page_size = size(request, "maxResults", 20, 100)
        items, next_token = self.page(request, page_size)
        if "videoId" in request.query:
            items = [i for i in items if i["snippet"].get("videoId") == request.query["videoId"]]
        body: dict[str, Any] = {
            "kind": "youtube#commentThreadListResponse", "etag": "fake-etag",
            "pageInfo": {"totalResults": len(self.items), "resultsPerPage": page_size},
            "items": items}
        if next_token:
            body["nextPageToken"] = next_token
        return Answer(200, body)

    def add_thread(self, thread_id: str, channel: str, text: str, when: datetime,
                   video: str = "vid0001", replies: Sequence[tuple[str, str, datetime]] = ()
                   ) -> dict[str, Any]:
        """A commentThread resource as documented (snippet + replies), put on top."""
        def comment(cid: str, body: str, at: datetime, parent: str | None = None
                    ) -> dict[str, Any]:
            snippet: dict[str, Any] = {
                "channelId": channel, "videoId": video, "textDisplay": body,
                "textOriginal": body, "authorDisplayName": f"@viewer{cid[-3:]}",
                "authorChannelId": {"value": f"UCviewer{cid[-3:]}"}, "canRate": True,
                "viewerRating": "none", "likeCount": 0,
                "publishedAt": _rfc3339(at), "updatedAt": _rfc3339(at)}
            if parent:
                snippet["parentId"] = parent
            return {"kind": "youtube#comment", "etag": f"e{cid}", "id": cid, "snippet": snippet}

        thread: dict[str, Any] = {
            "kind": "youtube#commentThread", "etag": f"t{thread_id}", "id": thread_id,
            "snippet": {"channelId": channel, "videoId": video,
                        "topLevelComment": comment(thread_id, text, when),
                        "canReply": True, "totalReplyCount": len(replies), "isPublic": True}}
        if replies:
            thread["replies"] = {"comments": [comment(rid, body, at, thread_id)
                                              for rid, body, at in replies]}
        self.items.insert(0, thread)
        return thread


_LOCATION = re.compile(r"^/v4/(accounts/[^/]+/locations/[^/]+)/reviews$")
_STARS = {1: "ONE", 2: "TWO", 3: "THREE", 4: "FOUR", 5: "FIVE"}


class GoogleBusinessFake(_GoogleFake):
    """``GET /v4/accounts/*/locations/*/reviews``: pageSize up to 50, orderBy enum."""

    def handle(self, request: Request) -> Answer:
        match = _LOCATION.match(request.path)
        if not match:
            return Answer(404, {"error": {"code": 404, "message": "Not Found"}})
        if request.query.get("orderBy", "updateTime desc") not in (
                "updateTime desc", "rating", "rating desc"):
            raise ValueError("orderBy")
        page_size = size(request, "pageSize", 50, 50)
        items, next_token = self.page(request, page_size)
        body: dict[str, Any] = {"reviews": items, "averageRating": 4.2,
                                "totalReviewCount": len(self.items)}
        if not items:
            body.pop("reviews")  # Google omits empty repeated fields
        if next_token:
            body["nextPageToken"] = next_token
        return Answer(200, body)

    def add_review(self, location: str, review_id: str, stars: int, text: str,
                   created: datetime, updated: datetime | None = None) -> dict[str, Any]:
        review = {"reviewId": review_id,
                  "reviewer": {"displayName": "Camille R.", "isAnonymous": False},
                  "starRating": _STARS[stars], "comment": text,
                  "createTime": _rfc3339(created), "updateTime": _rfc3339(updated or created),
                  "name": f"{location}/reviews/{review_id}"}
        self.items = [r for r in self.items if r["reviewId"] != review_id]
        self.items.insert(0, review)  # updateTime desc: an edit moves to the top
        return review


class GooglePlayFake(_GoogleFake):
    """``GET .../applications/{package}/reviews``: token paging, last 7 days only."""

    token_param = "token"

    def handle(self, request: Request) -> Answer:
        if not re.match(r"^/androidpublisher/v3/applications/[\w.]+/reviews$", request.path):
            return Answer(404, {"error": {"code": 404, "message": "Not Found"}})
        page_size = size(request, "maxResults", 100, 100)
        items, next_token = self.page(request, page_size)
        body: dict[str, Any] = {"reviews": items, "pageInfo": {
            "totalResults": len(self.visible()), "resultPerPage": page_size}}
        if next_token:
            body["tokenPagination"] = {"nextPageToken": next_token}
        return Answer(200, body)

    def visible(self) -> list[dict[str, Any]]:
        week_ago = time.time() - timedelta(days=7).total_seconds()
        return [r for r in self.items
                if int(r["comments"][0]["userComment"]["lastModified"]["seconds"]) >= week_ago]

    def add_review(self, review_id: str, stars: int, text: str, when: datetime,
                   reply: tuple[str, datetime] | None = None) -> dict[str, Any]:
        stamp = {"seconds": str(int(when.timestamp())), "nanos": 0}
        comments: list[dict[str, Any]] = [{"userComment": {
            "text": f"\t{text}", "lastModified": stamp, "starRating": stars,
            "reviewerLanguage": "fr", "device": "a71", "androidOsVersion": 33,
            "appVersionCode": 4021, "appVersionName": "4.2.1"}}]
        if reply:
            comments.append({"developerComment": {"text": reply[0], "lastModified": {
                "seconds": str(int(reply[1].timestamp())), "nanos": 0}}})
        review = {"reviewId": review_id, "authorName": "Jean D.", "comments": comments}
        self.items = [r for r in self.items if r["reviewId"] != review_id]
        self.items.insert(0, review)
        return review
