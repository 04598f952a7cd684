"""Where the renderer's code and shipped data live, found with os alone.

The no-op cache keys its answers by these files (renderer/cache/inputs.py) and the pipeline reads
them (renderer/resources.py), so both ask here and can never look in two places. Stdlib only: the
cache's fast path runs this before anything heavy is imported.
"""

import os
import sys

PACKAGE = os.path.dirname(os.path.realpath(__file__))
"""The renderer package's directory (its code, and in a wheel templates/ and schemas/ too)."""


def data_dir(name: str) -> str:
    """templates/ or schemas/: inside the installed package, else beside it in a checkout."""
    inside = os.path.join(PACKAGE, name)
    return inside if os.path.isdir(inside) else os.path.join(os.path.dirname(PACKAGE), name)


def kubernetes_schema_root() -> str | None:
    """kubernetes-validate's schema folders, found as the import system finds the package (first on sys.path),
    without importing it (its import pulls in PyYAML) or importlib.util."""
    for entry in sys.path:
        package = os.path.join(entry or os.getcwd(), "kubernetes_validate")
        if os.path.isfile(os.path.join(package, "__init__.py")):
            return os.path.join(package, "kubernetes-json-schema")
    return None
