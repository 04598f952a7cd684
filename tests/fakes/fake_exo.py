"""Fake `exo` (Exoscale CLI v1.x): the commands the bootstrap uses, with their `-O json` shapes.

Shapes follow exoscale/cli: `compute sks list` streams `[{id, name, zone, audit_enabled}]`;
`compute sks show` is `sksShowOutput` whose `nodepools` carry only `id` and `name`;
`compute security-group show` is `securityGroupShowOutput` with rules
`{id, description, protocol, network?, security_group: "SG:<name>"?, start_port?, end_port?}`.
exo waits for each operation to finish; a `sks create` interrupted by Ctrl-C (FAKE_INTERRUPT)
leaves the cluster `creating` for a few ticks, during which `sks kubeconfig` fails. A nodepool's
nodes join a few ticks after it is added (fake_cluster.py).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any

from fakestate import Args, cluster_ca, fail, interrupted, load, now, save

BOOLEANS = {"--no-cni", "--ipv6", "--auto-upgrade", "--enable-kube-proxy", "--exoscale-csi", "--no-exoscale-ccm",
            "--no-metrics-server", "--storage-lvm", "--enable-karpenter-addon", "--quiet", "--exec-credential"}
SHORT = {"-O": "--output-format", "-z": "--zone", "-g": "--group", "-t": "--ttl", "-n": "--name", "-Q": "--quiet",
         "-x": "--exec-credential"}
GLOBAL = {"--output-format", "--quiet", "--output-template"}
PROTOCOLS = {"ah", "esp", "gre", "icmp", "icmpv6", "ipip", "tcp", "udp"}
ZONES = {"ch-gva-2", "ch-dk-2", "de-fra-1", "de-muc-1", "at-vie-1", "at-vie-2", "bg-sof-1", "hr-zag-1"}
CREATED = "2024-09-09 14:21:07 +0000 UTC"


def _id(*parts: str) -> str:
    """A stable UUID-shaped id per name."""
    digest = hashlib.sha256("/".join(parts).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def cloud() -> dict[str, Any]:
    return load("cloud.json", {"security_groups": [], "anti_affinity_groups": [], "clusters": []})


def _output(args: Args, data: Any, table: str) -> str:
    if args.get("--output-format") == "json":
        return json.dumps(data, separators=(",", ":")) + "\n"
    return table + "\n"


def _find(items: list[dict[str, Any]], name: str, what: str) -> dict[str, Any]:
    for item in items:
        if name in (item["name"], item["id"]):
            return item
    fail(f'Error: unable to find {what} "{name}": resource not found')


def _cluster(state: dict[str, Any], name: str, zone: str) -> dict[str, Any]:
    for cluster in state["clusters"]:
        if name in (cluster["name"], cluster["id"]) and cluster["zone"] == zone:
            return cluster
    fail(f'Error: "{name}" not found in ListSKSClustersResponse: resource not found')


def _zone(args: Args) -> str:
    zone = args.get("--zone")
    if zone not in ZONES:
        fail(f"Error: invalid zone {zone!r}" if zone else "Error: no zone specified")
    return zone


def _nargs(args: Args, count: int, usage: str) -> list[str]:
    if len(args.positionals) != count:
        fail(f"Error: invalid arguments\nUsage: {usage}")
    return args.positionals


# ---- security groups -----------------------------------------------------------------------

def sg_show_output(group: dict[str, Any], state: dict[str, Any]) -> dict[str, Any]:
    rules = []
    for rule in group["rules"]:
        out: dict[str, Any] = {"id": rule["id"], "description": rule["description"]}
        if "network" in rule:
            out["network"] = rule["network"]
        out["protocol"] = rule["protocol"]
        if "security_group" in rule:
            out["security_group"] = "SG:" + rule["security_group"]
        if "start_port" in rule:
            out["start_port"], out["end_port"] = rule["start_port"], rule["end_port"]
        rules.append(out)
    return {"id": group["id"], "name": group["name"], "description": group["description"],
            "external_sources": [], "ingress_rules": rules, "egress_rules": [], "instances": None}


def security_group(args: Args, verb: list[str]) -> str:
    state = cloud()
    groups: list[dict[str, Any]] = state["security_groups"]
    if verb == ["list"]:
        args.only(GLOBAL | {"--visibility"})
        rows = [{"id": g["id"], "name": g["name"], "visibility": "private"} for g in groups]
        return _output(args, rows, "\n".join(g["name"] for g in groups))
    if verb == ["create"]:
        args.only(GLOBAL | {"--description"})
        (name,) = _nargs(args, 1, "exo compute security-group create NAME")
        if any(g["name"] == name for g in groups):
            fail(f'Error: API error 409: a Security Group named "{name}" already exists')
        group = {"id": _id("sg", name), "name": name, "description": args.get("--description"), "rules": []}
        groups.append(group)
        save("cloud.json", state)
        return _output(args, sg_show_output(group, state), f"Security Group {name} created")
    if verb == ["show"]:
        args.only(GLOBAL)
        (name,) = _nargs(args, 1, "exo compute security-group show NAME|ID")
        return _output(args, sg_show_output(_find(groups, name, "Security Group"), state), f"Security Group {name}")
    if verb == ["rule", "add"]:
        args.only(GLOBAL | {"--description", "--flow", "--icmp-code", "--icmp-type", "--port", "--protocol",
                            "--network", "--security-group", "--public-security-group"})
        (name,) = _nargs(args, 1, "exo compute security-group rule add SECURITY-GROUP-ID|NAME")
        group = _find(groups, name, "Security Group")
        protocol = args.get("--protocol", "tcp").lower()
        if protocol not in PROTOCOLS:
            fail(f'Error: unsupported network protocol "{protocol}"')
        if args.get("--flow", "ingress") not in ("ingress", "egress"):
            fail("Error: invalid flow direction")
        targets = [flag for flag in ("--network", "--security-group", "--public-security-group") if args.has(flag)]
        if len(targets) != 1:
            fail("Error: either a target network address or Security Group name/ID must be specified")
        port = args.get("--port")
        if protocol in ("tcp", "udp") and not port:
            fail("Error: a port must be specifed for tcp or udp protocol")
        rule: dict[str, Any] = {"id": _id("rule", name, str(len(group["rules"]))),
                                "description": args.get("--description"), "protocol": protocol,
                                "flow": args.get("--flow", "ingress")}
        if args.has("--network"):
            network = args.get("--network")
            if not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}/\d{1,2}", network):
                fail(f'Error: invalid value for network "{network}"')
            rule["network"] = network
        else:
            rule["security_group"] = _find(groups, args.get("--security-group"), "Security Group")["name"]
        if port:
            start, _, end = port.partition("-")
            rule["start_port"], rule["end_port"] = int(start), int(end or start)
        group["rules"].append(rule)
        save("cloud.json", state)
        return _output(args, sg_show_output(group, state), f"Rule added to {name}")
    fail(f"Error: unknown command {' '.join(verb)!r} for \"exo compute security-group\"")


def anti_affinity_group(args: Args, verb: list[str]) -> str:
    state = cloud()
    groups: list[dict[str, Any]] = state["anti_affinity_groups"]
    if verb == ["list"]:
        args.only(GLOBAL)
        return _output(args, [{"id": g["id"], "name": g["name"]} for g in groups], "")
    if verb == ["create"]:
        args.only(GLOBAL | {"--description"})
        (name,) = _nargs(args, 1, "exo compute anti-affinity-group create NAME")
        groups.append({"id": _id("aag", name), "name": name})
        save("cloud.json", state)
        return _output(args, groups[-1], f"Anti-Affinity Group {name} created")
    fail(f"Error: unknown command {' '.join(verb)!r}")


# ---- SKS -----------------------------------------------------------------------------------

def sks_show_output(cluster: dict[str, Any]) -> dict[str, Any]:
    pools = [{"id": pool["id"], "name": pool["name"], "description": "", "public_ip_assignment": "",
              "creation_date": "", "instance_pool_id": "", "instance_prefix": "", "instance_type": "",
              "template": "", "disk_size": 0, "ipv6_enabled": False, "anti_affinity_groups": None,
              "security_groups": None, "private_networks": None, "version": "", "size": 0, "state": "",
              "taints": None, "labels": None, "addons": None, "image_gc_min_age": "",
              "image_gc_low_threshold": 0, "image_gc_high_threshold": 0} for pool in cluster["nodepools"]]
    return {"id": cluster["id"], "name": cluster["name"], "description": cluster["description"],
            "creation_date": CREATED, "auto_upgrade": False, "enable_kube_proxy": True, "zone": cluster["zone"],
            "endpoint": cluster["endpoint"], "version": cluster["version"], "service_level": cluster["level"],
            "cni": cluster["cni"], "addons": ["exoscale-cloud-controller", "metrics-server"],
            "audit_enabled": False, "audit_endpoint": "", "audit_initial_backoff": "", "feature_gates": None,
            "state": "running" if now() >= cluster.get("running_at", 0) else "creating", "labels": None,
            "nodepools": pools, "karpenter_feature_gates": None}


def new_cluster(name: str, zone: str, version: str, level: str, cni: str, description: str = "") -> dict[str, Any]:
    cluster_id = _id("sks", zone, name)
    return {"id": cluster_id, "name": name, "zone": zone, "version": version, "level": level, "cni": cni,
            "description": description, "endpoint": f"https://{cluster_id}.sks-{zone}.exo.io:443", "nodepools": []}


def kubeconfig(cluster: dict[str, Any], user: str, groups: list[str], ttl: str) -> str:
    """A kubeconfig the real kubectl loads (for its local calls); a token stands in for the
    client certificate SKS issues, so no key material lives in the tests."""
    token = base64.b64encode(f"fake credential {user} {','.join(groups)} {ttl}".encode()).decode()
    name = cluster["name"]
    return (f"apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n"
            f"    certificate-authority-data: {cluster_ca(cluster)}\n    server: {cluster['endpoint']}\n"
            f"users:\n- name: {user}@{name}\n  user:\n    token: {token}\n"
            f"contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {user}@{name}\n"
            f"current-context: {name}\n")


def _taint(text: str) -> tuple[str, dict[str, str]]:
    key, _, rest = text.partition("=")
    value, _, effect = rest.partition(":")
    if text.count("=") != 1 or rest.count(":") != 1 or not key or not value or not effect:
        fail(f'Error: invalid taint value "{text}": expected format KEY=VALUE:EFFECT')
    return key, {"value": value, "effect": effect}


def nodepool_add(args: Args, state: dict[str, Any]) -> str:
    args.only(GLOBAL | {"--zone", "--size", "--instance-type", "--disk-size", "--security-group",
                        "--anti-affinity-group", "--label", "--taint", "--description", "--instance-prefix",
                        "--private-network", "--deploy-target", "--ipv6", "--storage-lvm", "--public-ip-assignment",
                        "--image-gc-low-threshold", "--image-gc-high-threshold", "--image-gc-min-age"})
    cluster_name, name = _nargs(args, 2, "exo compute sks nodepool add CLUSTER-NAME|ID NODEPOOL-NAME")
    cluster = _cluster(state, cluster_name, _zone(args))
    if any(pool["name"] == name for pool in cluster["nodepools"]):
        fail(f'Error: API error 409: Nodepool "{name}" already exists')
    groups = [_find(state["security_groups"], group, "Security Group")["name"]
              for group in args.all("--security-group")]
    affinity = [_find(state["anti_affinity_groups"], group, "Anti-Affinity Group")["name"]
                for group in args.all("--anti-affinity-group")]
    labels = {}
    for label in args.all("--label"):
        key, sep, value = label.partition("=")
        if not sep or "=" in value:
            fail(f"Error: label: invalid format {label!r}")
        labels[key] = value
    pool = {"id": _id("nodepool", cluster["id"], name), "name": name, "size": int(args.get("--size", "2")),
            "instance_type": args.get("--instance-type", "standard.medium"),
            "disk_size": int(args.get("--disk-size", "50")), "security_groups": groups,
            "anti_affinity_groups": affinity, "labels": labels,
            "taints": dict(_taint(taint) for taint in args.all("--taint")), "added": now()}
    cluster["nodepools"].append(pool)
    save("cloud.json", state)
    return _output(args, pool, f"Nodepool {name} added to {cluster['name']}")


def sks(args: Args, verb: list[str]) -> str:
    state = cloud()
    clusters: list[dict[str, Any]] = state["clusters"]
    if verb == ["list"]:
        args.only(GLOBAL | {"--zone"})
        zone = args.get("--zone")
        rows = [{"id": c["id"], "name": c["name"], "zone": c["zone"], "audit_enabled": False}
                for c in clusters if not zone or c["zone"] == zone]
        return _output(args, rows, "\n".join(row["name"] for row in rows))
    if verb == ["create"]:
        args.only(GLOBAL | {"--zone", "--no-cni", "--cni", "--nodepool-size", "--kubernetes-version",
                            "--service-level", "--description", "--label", "--auto-upgrade", "--no-exoscale-ccm",
                            "--no-metrics-server", "--exoscale-csi"})
        (name,) = _nargs(args, 1, "exo compute sks create NAME")
        zone = _zone(args)
        if any(c["name"] == name and c["zone"] == zone for c in clusters):
            fail(f'Error: fake exo: an SKS cluster named "{name}" already exists in {zone}')
        level = args.get("--service-level", "pro")
        if level not in ("starter", "pro"):
            fail(f"Error: invalid service level {level!r}")
        if args.get("--nodepool-size", "0") != "0":
            fail("Error: fake exo: the bootstrap must not create a default nodepool")
        cni = "" if args.has("--no-cni") else args.get("--cni", "calico")
        cluster = new_cluster(name, zone, args.get("--kubernetes-version", "1.31.1"), level, cni,
                              args.get("--description"))
        # exo waits for the operation unless interrupted: then the cluster is still being created.
        cluster["running_at"] = now() + (3 if interrupted("exo", ["compute", "sks", "create"]) else 0)
        clusters.append(cluster)
        save("cloud.json", state)
        return _output(args, sks_show_output(cluster), f"SKS cluster {name} created")
    if verb == ["show"]:
        args.only(GLOBAL | {"--zone"})
        (name,) = _nargs(args, 1, "exo compute sks show NAME|ID")
        return _output(args, sks_show_output(_cluster(state, name, _zone(args))), f"SKS cluster {name}")
    if verb == ["kubeconfig"]:
        args.only(GLOBAL | {"--zone", "--group", "--ttl", "--name", "--exec-credential"})
        name, user = _nargs(args, 2, "exo compute sks kubeconfig CLUSTER-NAME|ID USER")
        cluster = _cluster(state, name, _zone(args))
        if now() < cluster.get("running_at", 0):
            fail(f"Error: SKS cluster {name} is not running (state: creating)")
        return kubeconfig(cluster, user, args.all("--group") or ["system:masters"], args.get("--ttl"))
    if verb == ["nodepool", "add"]:
        return nodepool_add(args, state)
    fail(f"Error: unknown command {' '.join(verb)!r} for \"exo compute sks\"")


def main(argv: list[str]) -> str:
    words = [word for word in argv if not word.startswith("-")]
    commands = {("compute", "security-group"): security_group, ("compute", "anti-affinity-group"): anti_affinity_group,
                ("compute", "sks"): sks}
    for (group, noun), handler in commands.items():
        if words[:2] == [group, noun]:
            rest = argv[argv.index(noun) + 1:]
            depth = 2 if rest[:1] in (["rule"], ["nodepool"]) else 1
            verb, remainder = rest[:depth], rest[depth:]
            return handler(Args(remainder, BOOLEANS, SHORT), verb)
    fail(f"Error: unknown command {' '.join(words[:2])!r} for \"exo\"")
