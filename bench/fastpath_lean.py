"""The no-op fast path with nothing but `os` and the built-in `_sha256` (json, pathlib and hashlib alone
cost about 13 ms of imports): values by content, code and the output tree by size, mtime and inode
(as git's index does), the record one line of text beside the tree.

    python bench/fastpath_lean.py PACKAGE_ROOT CLUSTER_DIR VALUES...    # exit 0: current, 1: render needed
"""

import os
import sys
from _sha256 import sha256  # type: ignore[import-not-found]  # built in: no OpenSSL load


def walk(top: str, found: list[str]) -> list[str]:
    with os.scandir(top) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            if entry.is_dir(follow_symlinks=False):
                walk(entry.path, found)
            else:
                info = entry.stat(follow_symlinks=False)
                found.append(f"{entry.path}:{info.st_size}:{info.st_mtime_ns}:{info.st_ino}")
    return found


def main(package: str, cluster_dir: str, values: list[str]) -> int:
    digest = sha256()
    for path in values:
        with open(path, "rb") as handle:
            digest.update(handle.read())
    code: list[str] = []
    for part in ("renderer", "templates", "schemas"):
        walk(os.path.join(package, part), code)
    digest.update("\n".join([*code, *walk(cluster_dir, [])]).encode())
    record = os.path.join(os.path.dirname(cluster_dir.rstrip("/")), ".bench-fastpath-lean")
    try:
        with open(record) as handle:
            return 0 if handle.read() == digest.hexdigest() else 1
    except FileNotFoundError:
        with open(record, "w") as handle:
            handle.write(digest.hexdigest())
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2], sys.argv[3:]))
