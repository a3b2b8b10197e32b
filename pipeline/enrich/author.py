"""Who wrote it: influence tier from the platform's numbers, and whether we saw them before.

A celebrity's complaint spreads faster than a regular customer's, and a first-time author
has no history with support; both help prioritise. Platforms that give no follower count
leave the tier unknown rather than guessing.
"""

from __future__ import annotations

from collections import OrderedDict

from schemas.models import Author, AuthorTier


def author_tier(author: Author, micro: int, macro: int, celebrity: int) -> AuthorTier:
    """Tier from followers; a verified badge alone means at least macro reach."""
    followers = author.followers
    if followers is None:
        return AuthorTier.macro if author.verified else AuthorTier.unknown
    if followers >= celebrity:
        tier = AuthorTier.celebrity
    elif followers >= macro:
        tier = AuthorTier.macro
    elif followers >= micro:
        tier = AuthorTier.micro
    else:
        tier = AuthorTier.regular
    if author.verified and tier in (AuthorTier.regular, AuthorTier.micro):
        tier = AuthorTier.macro
    return tier


class AuthorMemory:
    """Bounded memory (LRU) of authors seen per brand, for ``author_first_time``."""

    def __init__(self, max_authors: int) -> None:
        self._max = max_authors
        self._seen: OrderedDict[tuple[str, str], None] = OrderedDict()

    def first_time(self, brand: str, author: Author, platform: str) -> bool | None:
        """None when the platform gives no author id: we cannot tell."""
        ident = author.id or author.handle
        if not ident:
            return None
        key = (brand, f"{platform}:{ident}")
        if key in self._seen:
            self._seen.move_to_end(key)
            return False
        self._seen[key] = None
        if len(self._seen) > self._max:
            self._seen.popitem(last=False)
        return True
