"""The organisation default config, from the org's `.github` repository.

GitHub's own convention for organisation-wide defaults is a repository named
`.github`; the installation may not include it, so a 404 (or 403) simply means
"no organisation default". Read at the default branch and cached per owner for
an hour, so a busy organisation pays one request per hour, not one per check
run (a pull-request push must cost two requests in all, docs/architecture.md);
a push to the `.github` repository's default branch forgets it at once.
"""

from __future__ import annotations

import logging
from typing import Final

import gidgethub
from cachetools import TTLCache

from bot.core.config import CONFIG_PATH, MAX_CONFIG_BYTES, Config, parse_config
from bot.github.client import BlobTooLarge, GitHubClient

logger = logging.getLogger(__name__)

ORG_CONFIG_TTL_S: Final = 3600.0
ORG_REPO: Final = ".github"
_MISSING: Final = frozenset({403, 404})


class OrgConfigs:
    """Fetch and cache each owner's default config."""

    def __init__(self, ttl_s: float = ORG_CONFIG_TTL_S, maxsize: int = 1024) -> None:
        self._cache: TTLCache[str, tuple[Config | None, tuple[str, ...]]] = TTLCache(
            maxsize=maxsize, ttl=ttl_s
        )

    def forget(self, owner: str) -> None:
        """Drop the owner's cached default (its `.github` repository changed)."""
        self._cache.pop(owner.lower(), None)

    async def get(
        self, gh: GitHubClient, owner: str
    ) -> tuple[Config | None, tuple[str, ...]]:
        """Return the owner's default config (None if it has none) and its errors."""
        key = owner.lower()
        if key in self._cache:
            return self._cache[key]
        try:
            data = await gh.get_raw(
                "/repos/{owner}/{repo}/contents/{path}",
                {"owner": owner, "repo": ORG_REPO, "path": CONFIG_PATH},
                max_bytes=MAX_CONFIG_BYTES,
            )
        except BlobTooLarge:
            too_large = f"larger than {MAX_CONFIG_BYTES} bytes; ignored"
            refused: tuple[Config | None, tuple[str, ...]] = (
                None,
                (f"{owner}/{ORG_REPO}/{CONFIG_PATH}: {too_large}",),
            )
            self._cache[key] = refused
            return refused
        except gidgethub.HTTPException as err:
            if err.status_code not in _MISSING:
                # Not cached: a transient failure should not hide the default for
                # the whole TTL. The repository's own config still applies.
                logger.warning(
                    "org config unavailable",
                    extra={"owner": owner, "status": int(err.status_code)},
                )
                return None, ()
            found: tuple[Config | None, tuple[str, ...]] = (None, ())
        else:
            config, errors = parse_config(data)
            found = (
                config,
                tuple(f"{owner}/{ORG_REPO}/{CONFIG_PATH}: {e}" for e in errors),
            )
        self._cache[key] = found
        return found
