"""The no-op fast path: answer an unchanged `render` or `render --check` before importing anything heavy.

Stdlib only (os, sys and the built-in sha256; even json costs more than the whole answer).
"""

from __future__ import annotations

import os

CACHE_ENV = "SKS_GITOPS_CACHE_DIR"
NO_CACHE_ENV = "SKS_GITOPS_NO_CACHE"


def cache_dir() -> str | None:
    """The per-user cache (never inside the repository); None when caching is switched off."""
    if os.environ.get(NO_CACHE_ENV):
        return None
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return chosen
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "sks-gitops")
