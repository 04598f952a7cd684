"""Fake `helm` v3: `list`, `get values` and `upgrade --install` against the fake cluster.

A release lands in cluster.json; installing the longhorn chart also creates Longhorn's CRDs,
as the real chart does, so a later wait for Established CRDs sees them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import fake_kubectl
from fakestate import Args, fail, save

BOOLEANS = {"--install", "--all", "--create-namespace", "--wait", "--atomic", "--deployed"}
SHORT = {"-n": "--namespace", "-o": "--output", "-a": "--all", "-i": "--install", "-f": "--values"}
UPDATED = "2024-09-09 14:30:00.000000000 +0000 UTC"
LONGHORN_CRDS = [("longhorn.io", "Volume", "volumes"), ("longhorn.io", "Engine", "engines"),
                 ("longhorn.io", "Replica", "replicas"), ("longhorn.io", "Setting", "settings")]


def list_releases(args: Args) -> str:
    args.only({"--namespace", "--all", "--filter", "--output", "--deployed"})
    state = fake_kubectl.cluster_state()
    namespace, pattern = args.get("--namespace", "default"), args.get("--filter")
    rows = [release for release in state["releases"] if release["namespace"] == namespace
            and (not pattern or re.search(pattern, release["name"]))
            and (args.has("--all") or release["status"] == "deployed")]
    if args.get("--output") == "json":
        return json.dumps(rows, separators=(",", ":")) + "\n"
    return "NAME\tNAMESPACE\tREVISION\tSTATUS\tCHART\n" + "".join(
        f"{r['name']}\t{r['namespace']}\t{r['revision']}\t{r['status']}\t{r['chart']}\n" for r in rows)


def upgrade(args: Args) -> str:
    args.only({"--install", "--repo", "--version", "--namespace", "--values", "--create-namespace", "--wait",
               "--timeout", "--atomic"})
    release, chart = args.positionals
    state = fake_kubectl.cluster_state()
    namespace = args.get("--namespace", "default")
    existing = [r for r in state["releases"] if r["name"] == release and r["namespace"] == namespace]
    if not existing and not args.has("--install"):
        fail(f'Error: UPGRADE FAILED: "{release}" has no deployed releases')
    if f"|Namespace||{namespace}" not in state["objects"] and not args.has("--create-namespace"):
        fail(f'Error: create: failed to create: namespaces "{namespace}" not found')
    if not args.get("--repo") or not args.get("--version"):
        fail(f"Error: fake helm: {chart} must come from --repo at a pinned --version")
    values: dict[str, Any] = {}
    for path in args.all("--values"):
        loaded = fake_kubectl.yaml.load(Path(path).read_text("utf-8"))
        if not isinstance(loaded, dict):
            fail(f"Error: failed to parse {path}: not a map")
        values.update(loaded)
    revision = existing[0]["revision"] + 1 if existing else 1
    state["releases"] = [r for r in state["releases"] if r not in existing] + [
        {"name": release, "namespace": namespace, "revision": revision, "updated": UPDATED,
         "status": "deployed", "chart": f"{chart}-{args.get('--version')}",
         "app_version": "v" + args.get("--version"), "values": values}]
    if chart == "longhorn":
        for spec in LONGHORN_CRDS:
            fake_kubectl.store(state, fake_kubectl.crd(*spec, namespaced=True))
    save("cluster.json", state)
    verb = "has been upgraded" if existing else "does not exist. Installing it now"
    return (f'Release "{release}" {verb}.\nNAME: {release}\nNAMESPACE: {namespace}\nSTATUS: deployed\n'
            f"REVISION: {revision}\n")


def get_values(args: Args) -> str:
    """The user-supplied values; `--output json` as helm v3.18.0 pkg/cli/output/output.go EncodeJSON
    writes them (Go's encoding/json: sorted keys, compact, <>& escaped, a newline)."""
    args.only({"--namespace", "--output", "--all", "--revision"})
    if args.positionals[:1] != ["values"] or len(args.positionals) != 2:
        fail("Error: fake helm: only `get values RELEASE` is simulated")
    release, namespace = args.positionals[1], args.get("--namespace", "default")
    state = fake_kubectl.cluster_state()
    found = [r for r in state["releases"] if r["name"] == release and r["namespace"] == namespace]
    if not found:
        fail("Error: release: not found")
    values = found[0]["values"]
    if args.get("--output") != "json":
        return "USER-SUPPLIED VALUES:\n" + json.dumps(values) + "\n"
    text = json.dumps(values or None, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


def main(argv: list[str]) -> str:
    args = Args(argv, BOOLEANS, SHORT)
    verb, args.positionals = (args.positionals or [""])[0], args.positionals[1:]
    commands = {"list": list_releases, "ls": list_releases, "upgrade": upgrade, "get": get_values}
    if verb not in commands:
        fail(f"Error: fake helm: unsupported command {' '.join(argv)!r}")
    fake_kubectl.require_kubeconfig(args)
    return commands[verb](args)
