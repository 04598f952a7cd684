"""Run the `render` CLI with optimisation experiments patched in at runtime; renderer/ is never edited.

    python bench/patches.py VARIANT[,VARIANT...] -- RENDER ARGS...

Each variant is a prototype of one proposal in the README's Performance section, so its gain can
be measured as a whole process before anyone changes the renderer. `baseline` patches nothing;
`phases` records the time spent in each pipeline stage (inclusive, nested) and writes it as JSON
to $SKS_BENCH_PHASES. Patches go through module attributes, which is how the pipeline calls them.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STARTED = time.perf_counter()


def _no_fsync() -> None:
    """Upper bound of any fsync strategy: no fsync at all (not a proposal on its own)."""
    os.fsync = lambda fd: None


def _syncfs_per_tree() -> None:
    """One syncfs(2) per assembled tree instead of one fsync per file and directory.

    The ordering guarantee stays: every byte of the staging tree is durable before the swap;
    the rename itself is still made durable by the fsync of out/ that follows it.
    """
    import ctypes

    from renderer import write

    libc = ctypes.CDLL(None, use_errno=True)
    real_fsync, assemble = os.fsync, write._assemble

    def batched(staging: Path, *args: Any) -> None:
        os.fsync = lambda fd: None
        try:
            assemble(staging, *args)
        finally:
            os.fsync = real_fsync
        fd = os.open(staging, os.O_RDONLY)
        try:
            if libc.syncfs(fd) != 0:
                raise OSError(ctypes.get_errno(), "syncfs failed", str(staging))
        finally:
            os.close(fd)

    write._assemble = batched  # type: ignore[assignment]


def _pyyaml_parseback() -> None:
    """Parse rendered output back with PyYAML's libyaml CSafeLoader (already installed: kubernetes-validate
    needs it), rejecting duplicate keys like the current ruamel pure-Python safe loader does."""
    import yaml  # type: ignore[import-untyped]

    from renderer import yamlio

    class Loader(yaml.CSafeLoader):  # type: ignore[misc]
        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            seen = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if key in seen:
                    raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}",
                                                            key_node.start_mark)
                seen.add(key)
            return super().construct_mapping(node, deep)

    yamlio.load_all_plain = lambda text: list(yaml.load_all(text, Loader=Loader))


def _ruamel_reuse() -> None:
    """One ruamel safe loader for the whole process instead of a new YAML() per rendered file."""
    from ruamel.yaml import YAML

    from renderer import yamlio

    loader = YAML(typ="safe", pure=True)
    loader.allow_duplicate_keys = False
    yamlio.load_all_plain = lambda text: list(loader.load_all(text))


def _ruamel_clib_parseback() -> None:
    """ruamel's own C parser (the optional ruamel.yaml.clib package) for the parse-back: YAML 1.2 as now,
    duplicate keys still rejected by ruamel's constructor; one loader per process."""
    from ruamel.yaml import YAML

    from renderer import yamlio

    loader = YAML(typ="safe", pure=False)
    loader.allow_duplicate_keys = False
    if "CParser" not in getattr(loader.Parser, "__name__", ""):
        raise SystemExit("ruamel-clib-parseback: ruamel.yaml.clib is not importable (see experiments.py)")
    yamlio.load_all_plain = lambda text: list(loader.load_all(text))


def _dump_reuse() -> None:
    """One configured ruamel dumper for the whole process instead of a new YAML() per dump."""
    from renderer import yamlio

    yamlio._dumper = functools.cache(yamlio._dumper)


def _memo_validation() -> None:
    """Validate each distinct object once per process: fleets repeat most objects byte for byte."""
    from renderer import crdcheck, kubecheck

    def memo(function: Callable[[dict[str, Any], str], list[str]]) -> Callable[[dict[str, Any], str], list[str]]:
        seen: dict[tuple[str, str], list[str]] = {}

        def wrapper(obj: dict[str, Any], version: str) -> list[str]:
            key = (json.dumps(obj, sort_keys=True, separators=(",", ":")), version)
            if key not in seen:
                seen[key] = function(obj, version)
            return list(seen[key])

        return wrapper

    kubecheck.problems = memo(kubecheck.problems)  # type: ignore[assignment]
    crdcheck.custom_object_problems = memo(crdcheck.custom_object_problems)  # type: ignore[assignment]


def _jinja_bytecode_cache() -> None:
    """Jinja's FileSystemBytecodeCache: compiled templates survive between processes, like .pyc files."""
    import jinja2

    from renderer import render

    directory = Path(os.environ.get("SKS_BENCH_JINJA_CACHE", "/tmp/sks-bench-jinja-cache"))
    directory.mkdir(parents=True, exist_ok=True)
    build = render.environment

    @functools.cache
    def environment() -> jinja2.Environment:
        env = build()
        env.bytecode_cache = jinja2.FileSystemBytecodeCache(str(directory))
        return env

    render.environment = environment


def _k8s_versions_without_import() -> None:
    """List kubernetes-validate's schema directories without importing it (and PyYAML with it)."""
    import importlib.util
    import re

    from renderer import kubecheck, resources

    spec = importlib.util.find_spec("kubernetes_validate")
    assert spec is not None and spec.submodule_search_locations
    root = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"

    @functools.cache
    def kubernetes_versions() -> list[str]:
        found = {m[1] for p in root.iterdir() if (m := re.fullmatch(r"v(\d+\.\d+)\.\d+-local-strict", p.name))}
        return sorted(found, key=lambda v: tuple(int(x) for x in v.split(".")))

    resources.kubernetes_versions = kubernetes_versions
    kubecheck._schema_dir = functools.cache(lambda minor: root / f"v{minor}.0-local-strict")


PATCHES: dict[str, Callable[[], None]] = {
    "baseline": lambda: None,
    "no-fsync": _no_fsync,
    "syncfs-per-tree": _syncfs_per_tree,
    "pyyaml-parseback": _pyyaml_parseback,
    "ruamel-reuse": _ruamel_reuse,
    "ruamel-clib-parseback": _ruamel_clib_parseback,
    "dump-reuse": _dump_reuse,
    "memo-validation": _memo_validation,
    "jinja-bytecode-cache": _jinja_bytecode_cache,
    "k8s-versions-lazy": _k8s_versions_without_import,
}

PHASES = (
    ("renderer.cli", "execute"), ("renderer.loader", "load"), ("renderer.overrides", "apply"),
    ("renderer.validate", "validate"), ("renderer.model", "build"), ("renderer.render", "render"),
    ("renderer.render", "render_template"), ("renderer.yamlio", "dump"), ("renderer.check", "check"),
    ("renderer.yamlio", "load_all_plain"), ("renderer.kubecheck", "problems"), ("renderer.kubecheck", "validator"),
    ("renderer.crdcheck", "custom_object_problems"), ("renderer.crdcheck", "_validator"),
    ("renderer.leaks", "scan_text"), ("renderer.leaks", "scan_object"), ("renderer.write", "write"),
    ("renderer.write", "compare"), ("os", "fsync"),
)


def _phases(imported_at: float) -> None:
    """Wrap each phase function with a perf_counter timer (a few µs per call)."""
    import importlib

    totals: dict[str, list[float]] = {}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        entry = totals.setdefault(name, [0.0, 0])
        depth = [0]

        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            depth[0] += 1
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                depth[0] -= 1
                if depth[0] == 0:
                    entry[0] += time.perf_counter() - start
                entry[1] += 1

        return wrapper

    for module_name, attr in PHASES:
        module = importlib.import_module(module_name)
        setattr(module, attr, timed(f"{module_name.removeprefix('renderer.')}.{attr}", getattr(module, attr)))

    def dump() -> None:
        record = {"imports_s": imported_at - STARTED, "process_s": time.perf_counter() - STARTED,
                  "phases": {name: {"s": s, "calls": calls} for name, (s, calls) in totals.items()}}
        Path(os.environ["SKS_BENCH_PHASES"]).write_text(json.dumps(record, indent=2), "utf-8")

    atexit.register(dump)


def main() -> None:
    names, _, args = _split(sys.argv[1:])
    import renderer.cli

    imported_at = time.perf_counter()
    for name in names:
        if name == "phases":
            _phases(imported_at)
        else:
            PATCHES[name]()
    renderer.cli.main(args, prog_name="render")


def _split(argv: list[str]) -> tuple[list[str], str, list[str]]:
    if "--" not in argv or argv.index("--") != 1:
        raise SystemExit("usage: patches.py VARIANT[,VARIANT...] -- RENDER ARGS...")
    unknown = [n for n in argv[0].split(",") if n not in PATCHES and n != "phases"]
    if unknown:
        raise SystemExit(f"unknown variant(s) {unknown}; known: phases, {', '.join(PATCHES)}")
    return argv[0].split(","), "--", argv[2:]


if __name__ == "__main__":
    main()
