"""Lower bound of a no-op render with an input-digest fast path, measured as a whole process.

Proposal: record a digest of everything a render depends on (values files and --set, the
renderer's code, templates and schemas) beside the tree; when it matches and every owned file
still has its recorded hash, `render` and `render --check` can answer before importing Jinja,
jsonschema or ruamel. This script does exactly that work (stdlib only) and nothing else:

    python bench/fastpath.py [--stat-code] PACKAGE_ROOT OUT_DIR VALUES...

The first run records the digest in OUT_DIR/.bench-fastpath.json; later runs compare. Exit 0
when the tree is current, 1 when a render would be needed.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

CLUSTER_MANIFEST = ".sks-gitops-owned.json"


def input_digest(package_root: Path, values: list[Path], stat_code: bool) -> str:
    """Values by content; the renderer's code, templates and schemas by content, or with `stat_code` by
    size and mtime (what a build-time digest of an installed package would cost: nearly nothing)."""
    digest = hashlib.sha256()
    for path in values:
        digest.update(path.read_bytes())
    code = [*sorted((package_root / "renderer").rglob("*.py")), *sorted((package_root / "templates").rglob("*.j2")),
            *sorted((package_root / "schemas").rglob("*.json"))]
    for path in code:
        if stat_code:
            info = path.stat()
            digest.update(f"{path}:{info.st_size}:{info.st_mtime_ns}".encode())
        else:
            digest.update(str(path).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def tree_intact(cluster_dir: Path) -> bool:
    owned = json.loads((cluster_dir / CLUSTER_MANIFEST).read_text("utf-8"))["files"]
    return all(hashlib.sha256((cluster_dir / path).read_bytes()).hexdigest() == digest
               for path, digest in owned.items())


def main(argv: list[str]) -> int:
    stat_code = argv[0] == "--stat-code"
    argv = argv[1:] if stat_code else argv
    package_root, out_dir, values = Path(argv[0]), Path(argv[1]), [Path(v) for v in argv[2:]]
    record = out_dir / f".bench-fastpath{'-stat' if stat_code else ''}.json"
    current = input_digest(package_root, values, stat_code)
    if not record.is_file():
        clusters = sorted(p.name for p in out_dir.iterdir() if (p / CLUSTER_MANIFEST).is_file())
        record.write_text(json.dumps({"inputs": current, "clusters": clusters}), "utf-8")
        return 1
    stored = json.loads(record.read_text("utf-8"))
    if stored["inputs"] != current:
        return 1
    return 0 if all(tree_intact(out_dir / name) for name in stored["clusters"]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
