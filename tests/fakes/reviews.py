"""Fakes of Trustpilot (page numbers, apikey) and App Store Connect (JSON:API, ES256 JWT)."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.base import Answer, FakeApi, Request, bearer, size


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class TrustpilotFake(FakeApi):
    """``GET /v1/business-units/{id}/reviews``: apikey, page >= 1, perPage 1-100."""

    def __init__(self, api_key: str = "tp-fake-key") -> None:
        super().__init__()
        self.api_key = api_key
        self.items: list[dict[str, Any]] = []

    def authorized(self, request: Request) -> bool:
        return self.api_key in (request.query.get("apikey"), request.headers.get("apikey"))

    def handle(self, request: Request) -> Answer:
        match = re.match(r"^/v1/business-units/(\w+)/reviews$", request.path)
        if not match:
            return Answer(404, {"message": "Not found"})
        if request.query.get("orderBy", "createdat.desc") not in (
                "createdat.asc", "createdat.desc", "stars.asc", "stars.desc"):
            raise ValueError("orderBy")
        per_page = size(request, "perPage", 20, 100)
        page = int(request.query.get("page", "1"))
        if page < 1:
            raise ValueError("page")
        chunk = self.items[(page - 1) * per_page: page * per_page]
        base = f"{self.url}{request.path}?perPage={per_page}"
        links = [{"href": f"{base}&page={page}", "method": "GET", "rel": "self"}]
        if page * per_page < len(self.items):
            links.append({"href": f"{base}&page={page + 1}", "method": "GET",
                          "rel": "next-page"})
        return Answer(200, {"links": links, "reviews": chunk})

    def add_review(self, unit: str, review_id: str, stars: int, title: str, text: str,
                   when: datetime) -> dict[str, Any]:
        review = {
            "links": [{"href": f"https://api.trustpilot.com/v1/reviews/{review_id}",
                       "method": "GET", "rel": "reviews"}],
            "id": review_id,
            "consumer": {"id": f"c{review_id}", "displayName": "Léa M.", "numberOfReviews": 3},
            "businessUnit": {"id": unit},
            "stars": stars, "title": title, "text": text, "language": "fr",
            "createdAt": _iso(when), "updatedAt": None, "isVerified": True,
            "status": "active"}
        self.items.insert(0, review)
        return review


class AppStoreFake(FakeApi):
    """``GET /v1/apps/{id}/customerReviews``: a valid ES256 JWT for the key, limit 1-200,
    ``links.next`` carrying an opaque cursor."""

    def __init__(self, issuer_id: str = "69a6de70-0000-47e3-e053-5b8c7c11a4d1",
                 key_id: str = "2X9R4HXF34") -> None:
        super().__init__()
        self.issuer_id = issuer_id
        self.key_id = key_id
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.items: list[dict[str, Any]] = []

    @property
    def private_pem(self) -> str:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()).decode()

    def authorized(self, request: Request) -> bool:
        token = bearer(request)
        if not token:
            return False
        try:
            header = jwt.get_unverified_header(token)
            claims = jwt.decode(token, self.private_key.public_key(), algorithms=["ES256"],
                                audience="appstoreconnect-v1", issuer=self.issuer_id)
        except jwt.PyJWTError:
            return False
        # Apple refuses tokens that live longer than 20 minutes.
        return header.get("kid") == self.key_id and claims["exp"] - time.time() <= 20 * 60

    def unauthorized(self) -> Answer:
        return Answer(401, {"errors": [{"status": "401", "code": "NOT_AUTHORIZED",
                                        "title": "Authentication credentials are missing or "
                                                 "invalid."}]})

    def handle(self, request: Request) -> Answer:
        match = re.match(r"^/v1/apps/(\d+)/customerReviews$", request.path)
        if not match:
            return Answer(404, {"errors": [{"status": "404", "code": "NOT_FOUND"}]})
        if request.query.get("sort", "-createdDate") not in (
                "createdDate", "-createdDate", "rating", "-rating"):
            raise ValueError("sort")
        limit = size(request, "limit", 50, 200)
        cursor = request.query.get("cursor")
        start = self.redeem(cursor) if cursor else 0
        chunk = self.items[start:start + limit]
        base = f"{self.url}{request.path}"
        links = {"self": f"{base}?limit={limit}"}
        if start + limit < len(self.items):
            token = self.issue(start + limit)
            links["next"] = f"{base}?cursor={token}&limit={limit}&sort=-createdDate"
        return Answer(200, {"data": chunk, "links": links,
                            "meta": {"paging": {"total": len(self.items), "limit": limit}}})

    def add_review(self, review_id: str, rating: int, title: str, body: str,
                   when: datetime) -> dict[str, Any]:
        review = {
            "type": "customerReviews", "id": review_id,
            "attributes": {"rating": rating, "title": title, "body": body,
                           "reviewerNickname": "pomme75",
                           "createdDate": when.astimezone(UTC).isoformat(),
                           "territory": "FRA"},
            "relationships": {"response": {"links": {
                "self": f"https://api.appstoreconnect.apple.com/v1/customerReviews/"
                        f"{review_id}/relationships/response"}}},
            "links": {"self": f"https://api.appstoreconnect.apple.com/v1/customerReviews/"
                              f"{review_id}"}}
        self.items.insert(0, review)
        return review
