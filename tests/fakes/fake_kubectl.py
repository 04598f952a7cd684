"""Fake `kubectl` against one fake SKS cluster, kept in cluster.json.

Cluster calls (get, apply, diff, wait) need a kubeconfig whose server is the endpoint of a
cluster in the fake Exoscale. Local calls (`patch --local`, `create --dry-run=client`,
`config`) run the real kubectl, which also renders `-o jsonpath=` and `-o go-template=`,
so output formats behave exactly as they do for real. `kustomize DIR` is simulated: local
files are read, each remote manifest becomes a small stand-in of the real one.

The cluster behaves like the seed's: custom kinds need their CRD, namespaced objects their
namespace, projectcalico.org/v3 kinds the Tigera API server (which needs nodes), and every
tigerastatus is computed from what was applied (license, bypass policy for the real
endpoint port, pull secrets, nodes).
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from fakestate import DEFAULT_ENDPOINT, Args, ToolExit, env_list, fail, load, save
from ruamel.yaml import YAML

BOOLEANS = {"--server-side", "--force-conflicts", "--all", "--local", "--minify", "--enable-helm", "--raw",
            "--all-namespaces", "--dry-run-server"}
SHORT = {"-n": "--namespace", "-o": "--output", "-f": "--filename", "-k": "--kustomize", "-p": "--patch",
         "-A": "--all-namespaces"}
BUILTIN_GROUPS = {"", "apps", "batch", "rbac.authorization.k8s.io", "storage.k8s.io", "apiextensions.k8s.io",
                  "policy", "networking.k8s.io", "admissionregistration.k8s.io", "scheduling.k8s.io",
                  "apiregistration.k8s.io", "coordination.k8s.io", "certificates.k8s.io"}
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "StorageClass",
                  "PriorityClass", "APIService", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                  "LicenseKey", "GlobalNetworkPolicy", "Tier", "Installation", "APIServer", "IntrusionDetection",
                  "LogCollector", "LogStorage", "Manager", "Monitor", "Compliance", "PolicyRecommendation",
                  "TigeraStatus", "ClusterSecretStore", "PodSecurityPolicy"}
RESOURCES = {"endpoints": ("", "Endpoints"), "ep": ("", "Endpoints"), "namespace": ("", "Namespace"),
             "namespaces": ("", "Namespace"), "ns": ("", "Namespace"), "secret": ("", "Secret"),
             "secrets": ("", "Secret"), "crd": ("apiextensions.k8s.io", "CustomResourceDefinition"),
             "crds": ("apiextensions.k8s.io", "CustomResourceDefinition"),
             "customresourcedefinition": ("apiextensions.k8s.io", "CustomResourceDefinition"),
             "customresourcedefinitions": ("apiextensions.k8s.io", "CustomResourceDefinition")}
OPERATOR_KINDS = {"Installation": "installations", "APIServer": "apiservers", "TigeraStatus": "tigerastatuses",
                  "IntrusionDetection": "intrusiondetections", "LogCollector": "logcollectors",
                  "LogStorage": "logstorages", "Manager": "managers", "Monitor": "monitors",
                  "Compliance": "compliances", "PolicyRecommendation": "policyrecommendations"}
PREINSTALLED = {
    "argocd": ("argocd", [("argoproj.io", "Application", "applications", True),
                          ("argoproj.io", "AppProject", "appprojects", True)]),
    "flux": ("flux-system", [("source.toolkit.fluxcd.io", "GitRepository", "gitrepositories", True),
                             ("source.toolkit.fluxcd.io", "HelmRepository", "helmrepositories", True),
                             ("helm.toolkit.fluxcd.io", "HelmRelease", "helmreleases", True),
                             ("kustomize.toolkit.fluxcd.io", "Kustomization", "kustomizations", True)]),
    "external-secrets": ("external-secrets", [
        ("external-secrets.io", "ExternalSecret", "externalsecrets", True),
        ("external-secrets.io", "ClusterSecretStore", "clustersecretstores", False)]),
}
yaml = YAML(typ="safe", pure=True)


# ---- objects -------------------------------------------------------------------------------

def group_of(obj: dict[str, Any]) -> str:
    api = str(obj.get("apiVersion", ""))
    return api.rpartition("/")[0] if "/" in api else ""


def key_of(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    namespace = "" if obj.get("kind") in CLUSTER_SCOPED else meta.get("namespace") or "default"
    return f"{group_of(obj)}|{obj.get('kind')}|{namespace}|{meta.get('name')}"


def crd(group: str, kind: str, plural: str, namespaced: bool) -> dict[str, Any]:
    return {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": f"{plural}.{group}"},
            "spec": {"group": group, "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
                     "scope": "Namespaced" if namespaced else "Cluster"},
            "status": {"conditions": [{"type": "Established", "status": "True"}]}}


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def new_cluster_state() -> dict[str, Any]:
    objects = [namespace(name) for name in ("default", "kube-system", "kube-public", "kube-node-lease")]
    for tool in sorted(env_list("FAKE_PREINSTALLED")):
        ns, crds = PREINSTALLED[tool]
        objects.append(namespace(ns))
        objects.extend(crd(*spec) for spec in crds)
        if tool == "argocd":
            objects.append({"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"name": "argocd-cm", "namespace": "argocd"}, "data": {}})
    return {"objects": {key_of(obj): obj for obj in objects}, "releases": []}


def cluster_state() -> dict[str, Any]:
    return load("cluster.json", new_cluster_state())


def crds_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [obj for obj in state["objects"].values() if obj["kind"] == "CustomResourceDefinition"]


def has(state: dict[str, Any], group: str, kind: str, name: str, ns: str = "") -> bool:
    return f"{group}|{kind}|{ns}|{name}" in state["objects"]


# ---- the simulated Calico Enterprise -------------------------------------------------------

def cloud_cluster() -> dict[str, Any] | None:
    clusters = load("cloud.json", {"clusters": []})["clusters"]
    return clusters[0] if clusters else None


def endpoint() -> tuple[str, str]:
    ip, _, port = os.environ.get("FAKE_API_ENDPOINT", DEFAULT_ENDPOINT).partition(":")
    return ip, port


def bypass_open(state: dict[str, Any]) -> bool:
    _, port = endpoint()
    for obj in state["objects"].values():
        if group_of(obj) != "projectcalico.org" or obj["kind"] != "NetworkPolicy":
            continue
        if (obj["metadata"].get("namespace")) != "tigera-eck-operator":
            continue
        for rule in obj.get("spec", {}).get("egress", []):
            destination = rule.get("destination", {})
            if port in [str(p) for p in destination.get("ports", [])]:
                return True
            if destination.get("services", {}).get("name") == "kubernetes":
                return True
    return False


def components(state: dict[str, Any]) -> list[tuple[str, str]]:
    """(tigerastatus name, why it is not Available or "") for each component the CRs ask for."""
    op = "operator.tigera.io"
    if not has(state, op, "Installation", "default"):
        return []
    cluster = cloud_cluster()
    nodes = bool(cluster and any(pool["size"] > 0 for pool in cluster["nodepools"]))
    pulled = has(state, "", "Secret", "tigera-pull-secret", "tigera-operator")
    base = "" if nodes and pulled else ("no nodes to schedule on" if not nodes else "ImagePullBackOff: no pull secret")
    licensed = has(state, "projectcalico.org", "LicenseKey", "default")
    gated = base or ("" if licensed else "waiting for a valid LicenseKey")
    reachable = gated or ("" if bypass_open(state) else "dial tcp 10.96.0.1:443: i/o timeout")
    wanted = [("calico", base), ("ippools", base)]
    if has(state, op, "APIServer", "default"):
        wanted += [("apiserver", base), ("tiers", base)]
    per_kind = {"IntrusionDetection": [("intrusion-detection", reachable)],
                "LogCollector": [("log-collector", gated)],
                "LogStorage": [("log-storage", base), ("log-storage-secrets", base),
                               ("log-storage-access", reachable), ("log-storage-elastic", reachable),
                               ("log-storage-esmetrics", reachable), ("log-storage-kubecontrollers", reachable),
                               ("log-storage-dashboards", reachable)],
                "Manager": [("manager", reachable)],
                "Monitor": [("monitor", base or ("" if has(state, "", "Secret", "tigera-pull-secret",
                                                             "tigera-prometheus") else "ImagePullBackOff"))],
                "Compliance": [("compliance", gated)],
                "PolicyRecommendation": [("policy-recommendation", gated)]}
    for kind, entries in per_kind.items():
        if has(state, op, kind, "tigera-secure"):
            wanted += entries
    forced = env_list("FAKE_TIGERASTATUS_DEGRADED")
    return sorted((name, "Elasticsearch cluster health is red" if name in forced else why)
                  for name, why in wanted)


def operator_namespaces(state: dict[str, Any]) -> set[str]:
    """Namespaces the running Tigera operator creates for the custom resources applied."""
    cluster = cloud_cluster()
    nodes = bool(cluster and any(pool["size"] > 0 for pool in cluster["nodepools"]))
    if not nodes or not has(state, "operator.tigera.io", "Installation", "default"):
        return set()
    names = {"calico-system"}
    if has(state, "operator.tigera.io", "LogStorage", "tigera-secure"):
        names |= {"tigera-eck-operator", "tigera-elasticsearch", "tigera-kibana"}
    return names


def namespaces_of(state: dict[str, Any]) -> set[str]:
    return {key.split("|")[3] for key in state["objects"] if key.startswith("|Namespace||")} | operator_namespaces(
        state)


def tigerastatus(name: str, why: str) -> dict[str, Any]:
    ok = not why
    conditions = [
        {"type": "Available", "status": str(ok), "reason": "AllObjectsAvailable" if ok else "ResourceNotReady",
         "message": "All objects are available" if ok else why},
        {"type": "Progressing", "status": "False" if ok else "True", "reason": "" if ok else "ResourceNotReady",
         "message": "" if ok else why},
        {"type": "Degraded", "status": "False" if ok else "True", "reason": "" if ok else "ResourceNotReady",
         "message": "" if ok else why}]
    return {"apiVersion": "operator.tigera.io/v1", "kind": "TigeraStatus", "metadata": {"name": name},
            "status": {"conditions": conditions}}


def apiserver_ready(state: dict[str, Any]) -> bool:
    return ("apiserver", "") in components(state)


# ---- argv helpers --------------------------------------------------------------------------

def require_kubeconfig(args: Args) -> None:
    path = args.get("--kubeconfig") or os.environ.get("KUBECONFIG", "")
    cluster = cloud_cluster()
    server = ""
    if path and Path(path).is_file():
        config = yaml.load(Path(path).read_text("utf-8")) or {}
        server = ((config.get("clusters") or [{}])[0].get("cluster") or {}).get("server", "")
    if not cluster or server != cluster["endpoint"]:
        fail("The connection to the server localhost:8080 was refused - did you specify the right host or port?")


def real_kubectl(argv: list[str], stdin: bytes) -> tuple[int, bytes, bytes]:
    done = subprocess.run([os.environ["FAKE_REAL_KUBECTL"], *argv], input=stdin, capture_output=True, check=False)
    return done.returncode, done.stdout, done.stderr


def render(obj: dict[str, Any], output: str) -> str:
    """An object the way `kubectl get -o OUTPUT` prints it."""
    if output == "json":
        return json.dumps(obj, indent=4) + "\n"
    if output == "name":
        kind, group = obj["kind"].lower(), group_of(obj)
        return f"{kind}.{group}/{obj['metadata']['name']}\n" if group else f"{kind}/{obj['metadata']['name']}\n"
    if output.startswith(("jsonpath=", "go-template=")):
        wrapped = dict(obj)
        if "items" in wrapped:  # kubectl reads any object with items as a list: nest it
            wrapped = {"apiVersion": "sks-gitops.invalid/v1", "kind": "Rendered", "metadata": {"name": "list"},
                       "data": obj}
            output = re.sub(r"(?<![\w\]])\.items\b", ".data.items", output)
        code, out, err = real_kubectl(["patch", "--local", "--type=merge", "--patch={}", "--filename=-",
                                       f"--output={output}"], json.dumps(wrapped).encode())
        if code:
            fail(err.decode().strip(), code)
        return out.decode()
    return f"NAME\n{obj.get('metadata', {}).get('name', '')}\n"


def load_objects(args: Args, stdin: bytes) -> list[dict[str, Any]]:
    texts: list[str] = []
    for source in args.all("--filename"):
        texts.append(stdin.decode() if source == "-" else Path(source).read_text("utf-8"))
    objects: list[dict[str, Any]] = []
    for text in texts:
        objects.extend(doc for doc in yaml.load_all(text) if doc)
    for directory in args.all("--kustomize"):
        objects.extend(kustomize_build(Path(directory), enable_helm=False))
    if not objects:
        fail("error: no objects passed to apply")
    return objects


# ---- kustomize -----------------------------------------------------------------------------

def remote_stand_in(url: str) -> list[dict[str, Any]]:
    name = url.rsplit("/", 1)[-1]
    if name == "tigera-operator.yaml":
        objects = [namespace("tigera-operator")]
        objects += [crd("operator.tigera.io", kind, plural, False) for kind, plural in OPERATOR_KINDS.items()]
        objects.append({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": "tigera-operator", "namespace": "tigera-operator"}})
        return objects
    if name == "tigera-prometheus-operator.yaml":
        return [namespace("tigera-prometheus"), crd("monitoring.coreos.com", "Prometheus", "prometheuses", True),
                {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                 "metadata": {"name": "tigera-pull-secret", "namespace": "tigera-prometheus"},
                 "data": {".dockerconfigjson": "e30="}},
                {"apiVersion": "apps/v1", "kind": "Deployment",
                 "metadata": {"name": "calico-prometheus-operator", "namespace": "tigera-prometheus"}}]
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name.replace(".", "-"),
                                                                   "namespace": "default"}}]


def _deleted_by(patch: dict[str, Any], obj: dict[str, Any]) -> bool:
    body = yaml.load(patch.get("patch", "")) or {}
    target = patch.get("target", {})
    meta = obj.get("metadata", {})
    return (body.get("$patch") == "delete" and obj.get("kind") == target.get("kind")
            and meta.get("name") == target.get("name")
            and meta.get("namespace", "") == target.get("namespace", meta.get("namespace", "")))


def kustomize_build(directory: Path, enable_helm: bool) -> list[dict[str, Any]]:
    path = next((directory / name for name in ("kustomization.yaml", "kustomization.yml", "Kustomization")
                 if (directory / name).is_file()), None)
    if path is None:
        fail(f"Error: unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' "
             f"in directory '{directory}'")
    spec = yaml.load(path.read_text("utf-8")) or {}
    objects: list[dict[str, Any]] = []
    for resource in spec.get("resources", []):
        if resource.startswith(("https://", "http://")):
            objects.extend(remote_stand_in(resource))
        elif (directory / resource).is_dir():
            objects.extend(kustomize_build(directory / resource, enable_helm))
        else:
            objects.extend(doc for doc in yaml.load_all((directory / resource).read_text("utf-8")) if doc)
    if spec.get("helmCharts") and not enable_helm:
        fail("Error: trouble configuring builtin HelmChartInflationGenerator with config: must specify --enable-helm")
    for patch in spec.get("patches", []):
        objects = [obj for obj in objects if not _deleted_by(patch, obj)]
    return objects


# ---- commands ------------------------------------------------------------------------------

def resolve(state: dict[str, Any], resource: str) -> tuple[str, str]:
    base = resource.lower()
    if base in RESOURCES:
        return RESOURCES[base]
    for obj in crds_of(state):
        names, group = obj["spec"]["names"], obj["spec"]["group"]
        if base in (names["plural"], names["singular"], f"{names['plural']}.{group}", names["kind"].lower()):
            return group, names["kind"]
    fail(f'error: the server doesn\'t have a resource type "{resource}"')


def get(args: Args) -> str:
    args.only({"--namespace", "--output", "--kubeconfig"})
    state = cluster_state()
    resource, *names = args.positionals
    group, kind = resolve(state, resource)
    ns = "" if kind in CLUSTER_SCOPED else args.get("--namespace", "default")
    if kind == "Namespace":
        items = {name: namespace(name) for name in namespaces_of(state)}
    elif kind == "TigeraStatus":
        items = {name: tigerastatus(name, why) for name, why in components(state)}
    elif kind == "Endpoints":
        ip, port = endpoint()
        items = {"kubernetes": {"apiVersion": "v1", "kind": "Endpoints",
                                "metadata": {"name": "kubernetes", "namespace": "default"},
                                "subsets": [{"addresses": [{"ip": ip}],
                                             "ports": [{"name": "https", "port": int(port), "protocol": "TCP"}]}]}}
        items = items if ns == "default" else {}
    else:
        prefix = f"{group}|{kind}|{ns}|"
        items = {key[len(prefix):]: obj for key, obj in state["objects"].items() if key.startswith(prefix)}
    output = args.get("--output")
    if not names:
        return render({"apiVersion": "v1", "kind": "List", "items": list(items.values())}, output)
    if names[0] not in items:
        plural = resource if "." in resource else f"{resource}.{group}" if group else resource
        fail(f'Error from server (NotFound): {plural} "{names[0]}" not found')
    return render(items[names[0]], output)


def admit(state: dict[str, Any], obj: dict[str, Any], namespaces: set[str]) -> None:
    group, kind, name = group_of(obj), obj.get("kind"), (obj.get("metadata") or {}).get("name")
    if not kind or not name:
        fail("error: error validating data: apiVersion, kind and metadata.name are required")
    if group == "projectcalico.org":
        if not apiserver_ready(state):
            fail(f'error: resource mapping not found for name: "{name}": no matches for kind "{kind}" in version '
                 f'"{obj["apiVersion"]}"\nensure CRDs are installed first')
    elif group not in BUILTIN_GROUPS and not any(
            c["spec"]["group"] == group and c["spec"]["names"]["kind"] == kind for c in crds_of(state)):
        fail(f'error: resource mapping not found for name: "{name}": no matches for kind "{kind}" in version '
             f'"{obj["apiVersion"]}"\nensure CRDs are installed first')
    ns = (obj.get("metadata") or {}).get("namespace")
    if kind not in CLUSTER_SCOPED and ns and ns not in namespaces:
        fail(f'Error from server (NotFound): namespaces "{ns}" not found')
    old = state["objects"].get(key_of(obj))
    if kind == "Secret" and old and old.get("type") != obj.get("type"):
        fail(f'The Secret "{name}" is invalid: type: Invalid value: "{obj.get("type")}": field is immutable')


def normalized(obj: dict[str, Any]) -> dict[str, Any]:
    clean = copy.deepcopy(obj)
    meta = clean.setdefault("metadata", {})
    meta.pop("creationTimestamp", None)
    if clean.get("kind") not in CLUSTER_SCOPED:
        meta.setdefault("namespace", "default")
    return clean


def apply(args: Args, stdin: bytes) -> str:
    args.only({"--server-side", "--force-conflicts", "--field-manager", "--filename", "--kustomize", "--kubeconfig"})
    if not args.has("--server-side"):
        fail("fake kubectl: the bootstrap must apply server-side")
    state = cluster_state()
    objects = load_objects(args, stdin)
    namespaces = namespaces_of(state)
    lines = []
    for obj in objects:
        admit(state, obj, namespaces)
        clean = normalized(obj)
        state["objects"][key_of(clean)] = clean
        if clean["kind"] == "Namespace":
            namespaces.add(clean["metadata"]["name"])
        if clean["kind"] == "ExternalSecret":
            target = clean["spec"]["target"]["name"]
            state["objects"][f"|Secret|{clean['metadata']['namespace']}|{target}"] = {
                "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                "metadata": {"name": target, "namespace": clean["metadata"]["namespace"]},
                "data": {".dockerconfigjson": "e30="}}
        lines.append(render(clean, "name").strip() + " serverside-applied")
        save("cluster.json", state)
    return "\n".join(lines) + "\n"


def diff(args: Args, stdin: bytes) -> str:
    args.only({"--server-side", "--force-conflicts", "--field-manager", "--filename", "--kustomize", "--kubeconfig"})
    state = cluster_state()
    changed = [key_of(obj) for obj in load_objects(args, stdin)
               if state["objects"].get(key_of(normalized(obj))) != normalized(obj)]
    if changed:
        raise ToolExit(1, "".join(f"diff -u -N /tmp/LIVE/{key} /tmp/MERGED/{key}\n" for key in changed))
    return ""


def wait(args: Args) -> str:
    args.only({"--for", "--all", "--timeout", "--kubeconfig"})
    if args.positionals not in (["crd"], ["crds"]) or args.get("--for") != "condition=Established":
        fail("fake kubectl: only `wait --for=condition=Established crd --all` is simulated", 64)
    names = sorted(obj["metadata"]["name"] for obj in crds_of(cluster_state()))
    if not names:
        fail("error: no matching resources found")
    return "".join(f"customresourcedefinition.apiextensions.k8s.io/{name} condition met\n" for name in names)


def kustomize(args: Args) -> str:
    args.only({"--enable-helm", "--helm-command", "--load-restrictor"})
    (directory,) = args.positionals
    return "".join("---\n" + json.dumps(obj, indent=1) + "\n"
                   for obj in kustomize_build(Path(directory), args.has("--enable-helm")))


LOCAL = ("patch", "create", "config")


def is_local(argv: list[str]) -> bool:
    verb = next((word for word in argv if not word.startswith("-")), "")
    return verb == "config" or (verb == "patch" and "--local" in argv) or (
        verb == "create" and "--dry-run=client" in argv)


def main(argv: list[str], stdin: bytes) -> str:
    if is_local(argv):
        code, out, err = real_kubectl(argv, stdin)
        sys.stdout.buffer.write(out)
        sys.stderr.buffer.write(err)
        raise ToolExit(code)
    args = Args(argv, BOOLEANS, SHORT)
    verb, args.positionals = (args.positionals or [""])[0], args.positionals[1:]
    if verb == "kustomize":
        return kustomize(args)
    commands = {"get": lambda: get(args), "apply": lambda: apply(args, stdin), "diff": lambda: diff(args, stdin),
                "wait": lambda: wait(args)}
    if verb not in commands:
        fail(f"fake kubectl: unsupported command {' '.join(argv)!r}", 64)
    require_kubeconfig(args)
    return commands[verb]()
