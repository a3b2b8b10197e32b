"""Which brand a platform account belongs to, and which authors speak for the brand.

Payloads name the account they were delivered for (a Facebook page id, an X user id, a YouTube
channel, a Google Business location, a Trustpilot business unit, an app package, a subreddit, a
Discourse host) but never the brand; the directory maps one to the other. It also lists each
brand's own handles so that the brand's replies and echoes are recognised and never become
tickets.

Matching is case-insensitive (handles, subreddits and hosts are case-insensitive on every
platform, numeric ids are unaffected) and forum hosts are compared without scheme or slash.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from pipeline.errors import BadInput, Fatal
from schemas.models import Platform

__all__ = ["Brand", "BrandDirectory", "account_key"]


def account_key(platform: Platform | str, value: str) -> str:
    """Canonical form of an account id or handle for comparisons."""
    key = value.strip().lower()
    if Platform(platform) is Platform.forum:
        key = key.removeprefix("https://").removeprefix("http://").rstrip("/")
    if Platform(platform) is Platform.reddit:
        key = key.removeprefix("/").removeprefix("r/")
    return key.removeprefix("@")


class Brand(BaseModel):
    """One brand: its accounts per platform and the handles it answers with."""

    # Numeric ids left unquoted in YAML are still ids.
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)

    name: str = Field(min_length=1)
    accounts: dict[Platform, list[str]] = Field(
        default_factory=dict, description="Account ids the brand owns, per platform."
    )
    handles: dict[Platform, list[str]] = Field(
        default_factory=dict,
        description="Other identities of the brand's staff/support accounts (ids or handles).",
    )


class BrandDirectory(BaseModel):
    """Brands by account; ``default_brand`` catches accounts not listed (single-brand setups)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    brands: list[Brand] = Field(min_length=1)
    default_brand: str | None = None

    _by_account: dict[tuple[Platform, str], str] = PrivateAttr(default_factory=dict)
    _own: dict[tuple[Platform, str], set[str]] = PrivateAttr(default_factory=dict)
    _names: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _index(self) -> BrandDirectory:
        for brand in self.brands:
            if brand.name.lower() in self._names:
                raise ValueError(f"brand {brand.name!r} is listed twice")
            self._names[brand.name.lower()] = brand.name
            for platform, ids in brand.accounts.items():
                for account in ids:
                    key = (platform, account_key(platform, account))
                    other = self._by_account.get(key)
                    if other is not None and other != brand.name:
                        raise ValueError(
                            f"{platform.value} account {account!r} belongs to both "
                            f"{other!r} and {brand.name!r}"
                        )
                    self._by_account[key] = brand.name
                    self._own.setdefault(key, set()).add(brand.name)
            for platform, handles in brand.handles.items():
                for handle in handles:
                    self._own.setdefault((platform, account_key(platform, handle)), set()).add(
                        brand.name
                    )
        if self.default_brand is not None and self.default_brand.lower() not in self._names:
            raise ValueError(f"default_brand {self.default_brand!r} is not one of the brands")
        return self

    @classmethod
    def load(cls, path: str | Path) -> BrandDirectory:
        """Read the YAML directory; a broken file is a configuration error (Fatal)."""
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise Fatal(f"brand directory {path}: cannot read: {exc}") from None
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "<file>"
            raise Fatal(f"brand directory {path}: {where}: {first['msg']}") from None

    def brand_for(self, platform: Platform | str, account_id: str | None) -> str | None:
        """Brand owning this account, else the default brand, else None."""
        if account_id:
            platform = Platform(platform)
            found = self._by_account.get((platform, account_key(platform, account_id)))
            if found is not None:
                return found
        return self.default_brand

    def require(self, platform: Platform | str, account_id: str | None, source: str) -> str:
        """Like ``brand_for`` but an unknown account is bad input that names the account."""
        brand = self.brand_for(platform, account_id)
        if brand is None:
            if not account_id:
                raise BadInput(f"{source}: no account id to find the {Platform(platform).value} "
                               "brand from (envelope account is empty)")
            raise BadInput(
                f"{source}: {Platform(platform).value} account {account_id!r} is not in the "
                "brand directory and there is no default brand"
            )
        return brand

    def knows(self, platform: Platform | str, account_id: str) -> bool:
        """The account is listed (the default brand does not count)."""
        platform = Platform(platform)
        return (platform, account_key(platform, account_id)) in self._by_account

    def resolve(
        self, platform: Platform | str, candidates: list[str | None], source: str
    ) -> tuple[str, str]:
        """Brand and account from the first listed candidate (payload ids before the envelope's).

        Falls back to the default brand for the first candidate; BadInput when none applies.
        """
        present = [c for c in candidates if c]
        for account in present:
            if self.knows(platform, account):
                return self.require(platform, account, source), account
        first = present[0] if present else None
        return self.require(platform, first, source), first or ""

    def canonical_name(self, name: str, source: str) -> str:
        """A brand named in a record (flat files) must exist; its spelling is normalised."""
        found = self._names.get(name.strip().lower())
        if found is None:
            if self.default_brand is not None:
                return self.default_brand
            raise BadInput(f"{source}: brand {name!r} is not in the brand directory")
        return found

    def is_brand_author(
        self,
        platform: Platform | str,
        brand: str,
        *,
        author_id: str | None = None,
        handle: str | None = None,
    ) -> bool:
        """True when the author id or handle is one of this brand's own accounts."""
        platform = Platform(platform)
        for value in (author_id, handle):
            if value and brand in self._own.get((platform, account_key(platform, value)), ()):
                return True
        return False

    @property
    def names(self) -> list[str]:
        return [brand.name for brand in self.brands]
