"""Pinned remote manifests: a lock file of URL, size and sha256 for every manifest a tree references.

`render --lock` downloads each remote manifest and records it; every render then requires
a lock entry for each remote URL (offline), and `render --verify-remote` downloads again
and compares, so changed, missing or truncated upstream content is caught before a sync.
Downloads are bounded (timeout, size) and HTTPS-only, except for loopback test servers.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer.errors import Problem, RemoteError
from renderer.model import Model
from renderer.validate import is_loopback

LOCK_NAME = "remote-manifests.lock.json"
TIMEOUT_SECONDS = 30.0
MAX_BYTES = 20_000_000


@dataclass(frozen=True)
class Entry:
    sha256: str
    size: int


def lock_path(values_file: Path) -> Path:
    """The lock lives beside the values files, so a fleet shares one."""
    return values_file.parent / LOCK_NAME


def remote_urls(model: Model) -> list[str]:
    return sorted({url for stage in model.git_stages for url in stage.remote})


def read_lock(path: Path) -> dict[str, Entry]:
    if not path.is_file():
        return {}
    try:
        raw: Any = json.loads(path.read_text("utf-8"))
        return {url: Entry(str(item["sha256"]), int(item["size"])) for url, item in raw["manifests"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RemoteError(Problem(str(path), 0, 0, "", f"unreadable lock file: {exc}")) from None


def write_lock(path: Path, entries: dict[str, Entry], vendor: bool = False) -> None:
    body: dict[str, Any] = {"generator": "sks-gitops", "manifests": {
        url: {"sha256": entry.sha256, "size": entry.size} for url, entry in sorted(entries.items())}}
    if vendor:
        body["vendor"] = True  # renderer/remote/vendor.py: the stages name the vendored copies
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n", "utf-8")
    temporary.replace(path)


def _opener() -> Any:
    """An opener that refuses redirects to plain http (imported here: only --lock/--verify-remote download)."""
    import urllib.error
    import urllib.request

    class HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
            if not newurl.startswith("https://") and not (newurl.startswith("http://") and is_loopback(newurl)):
                raise urllib.error.URLError(f"redirect to non-HTTPS {newurl}")
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return urllib.request.build_opener(HttpsOnlyRedirects())


def fetch(url: str) -> bytes:
    """Download one manifest with a timeout and a size limit; RemoteError on any failure."""
    import urllib.error

    if not url.startswith("https://") and not (url.startswith("http://") and is_loopback(url)):
        raise RemoteError(Problem(url, 0, 0, "", "refusing to download over plain http"))
    opener = _opener()
    try:
        with opener.open(url, timeout=TIMEOUT_SECONDS) as response:
            data: bytes = response.read(MAX_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise RemoteError(Problem(url, 0, 0, "", f"download failed: HTTP {exc.code}")) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RemoteError(Problem(url, 0, 0, "", f"download failed: {reason}")) from None
    except Exception as exc:  # noqa: BLE001 - http.client raises IncompleteRead and friends for truncation
        raise RemoteError(Problem(url, 0, 0, "", f"download failed: {type(exc).__name__}")) from None
    if len(data) > MAX_BYTES:
        raise RemoteError(Problem(url, 0, 0, "", f"larger than {MAX_BYTES} bytes; refusing"))
    return data


def entry_for(data: bytes) -> Entry:
    return Entry(hashlib.sha256(data).hexdigest(), len(data))


def require_entries(urls: list[str], lock: dict[str, Entry], where: Path) -> None:
    """Offline check: every remote manifest of the tree is pinned."""
    missing = [url for url in urls if url not in lock]
    if missing:
        raise RemoteError([Problem(str(where), 0, 0, "", f"{url}: no lock entry; run `render --lock` and review "
                                   "the new hash") for url in missing])


def verify(urls: list[str], lock: dict[str, Entry], where: Path) -> None:
    """Online check: what upstream serves now is what the lock pinned."""
    require_entries(urls, lock, where)
    problems = []
    for url in urls:
        try:
            current = entry_for(fetch(url))
        except RemoteError as exc:
            problems.extend(exc.problems)
            continue
        pinned = lock[url]
        if current != pinned:
            problems.append(Problem(str(where), 0, 0, "",
                                    f"{url}: content changed: locked sha256 {pinned.sha256} ({pinned.size} bytes), "
                                    f"served sha256 {current.sha256} ({current.size} bytes)"))
    if problems:
        raise RemoteError(problems)


def lock(urls: list[str], existing: dict[str, Entry]) -> dict[str, Entry]:
    entries = dict(existing)
    for url in urls:
        entries[url] = entry_for(fetch(url))
    return entries
