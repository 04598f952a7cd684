"""Fake `kubectl` against one fake SKS cluster, kept in cluster.json.

Cluster calls (get, apply, diff) need a kubeconfig whose server is the endpoint of a
cluster in the fake Exoscale. Local calls (`patch --local`, `create --dry-run=client`,
`config`) run the real kubectl, which also renders `-o jsonpath=` and `-o go-template=`,
so output formats behave exactly as they do for real. `kustomize DIR` is simulated: local
files are read, each remote manifest becomes a small stand-in of the real one.

The cluster behaves like the seed's: custom kinds need their CRD, namespaced objects their
namespace, projectcalico.org/v3 kinds the Tigera API server, a Calico NetworkPolicy its tier.
What controllers make (Established CRDs, nodes, tiers, operator namespaces, TigeraStatus) is
computed at each call from what was applied and when: see fake_cluster.py.
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

import fake_cluster as sim
import fake_hub
from fakestate import Args, ToolExit, env_list, fail, load, now, save

BOOLEANS = {"--server-side", "--force-conflicts", "--all", "--local", "--minify", "--enable-helm", "--raw",
            "--all-namespaces", "--dry-run-server"}
SHORT = {"-n": "--namespace", "-o": "--output", "-f": "--filename", "-k": "--kustomize", "-p": "--patch",
         "-A": "--all-namespaces", "-l": "--selector"}
BUILTIN_GROUPS = {"", "apps", "batch", "rbac.authorization.k8s.io", "storage.k8s.io", "apiextensions.k8s.io",
                  "policy", "networking.k8s.io", "admissionregistration.k8s.io", "scheduling.k8s.io",
                  "apiregistration.k8s.io", "coordination.k8s.io", "certificates.k8s.io"}
CLUSTER_SCOPED = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "StorageClass",
                  "PriorityClass", "APIService", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
                  "LicenseKey", "GlobalNetworkPolicy", "Tier", "Installation", "APIServer", "IntrusionDetection",
                  "LogCollector", "LogStorage", "Manager", "Monitor", "Compliance", "PolicyRecommendation",
                  "TigeraStatus", "ClusterSecretStore", "PodSecurityPolicy", "Node"}
RESOURCES = {"endpoints": ("", "Endpoints"), "ep": ("", "Endpoints"), "namespace": ("", "Namespace"),
             "node": ("", "Node"), "nodes": ("", "Node"), "no": ("", "Node"),
             "endpointslice": ("discovery.k8s.io", "EndpointSlice"),
             "endpointslices": ("discovery.k8s.io", "EndpointSlice"),
             "namespaces": ("", "Namespace"), "ns": ("", "Namespace"), "secret": ("", "Secret"),
             "secrets": ("", "Secret"), "crd": ("apiextensions.k8s.io", "CustomResourceDefinition"),
             "crds": ("apiextensions.k8s.io", "CustomResourceDefinition"),
             "customresourcedefinition": ("apiextensions.k8s.io", "CustomResourceDefinition"),
             "customresourcedefinitions": ("apiextensions.k8s.io", "CustomResourceDefinition"),
             "deployments": ("apps", "Deployment"), "statefulsets": ("apps", "StatefulSet")}
# projectcalico.org/v3, served by the Tigera API server (not CRDs): plural -> kind.
CALICO_V3 = {"licensekeys": "LicenseKey", "tiers": "Tier", "networkpolicies": "NetworkPolicy",
             "globalnetworkpolicies": "GlobalNetworkPolicy"}
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


class _LazyYAML:
    """ruamel.yaml, imported on first use: most calls are polls that never parse YAML."""

    def __getattr__(self, name: str) -> Any:
        from ruamel.yaml import YAML

        parser = YAML(typ="safe", pure=True)
        globals()["yaml"] = parser
        return getattr(parser, name)


yaml: Any = _LazyYAML()


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
                     "scope": "Namespaced" if namespaced else "Cluster"}}


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


TARGET = {"state": "cluster.json"}
"""Which cluster this call reaches (require_kubeconfig): the SKS cluster, or the hub (fake_hub.py)."""


def cluster_state() -> dict[str, Any]:
    if TARGET["state"] == fake_hub.STATE:
        return load(fake_hub.STATE, fake_hub.new_state(namespace, crd, key_of))
    return load("cluster.json", new_cluster_state())


def crds_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    return [obj for obj in state["objects"].values() if obj["kind"] == "CustomResourceDefinition"]


def has(state: dict[str, Any], group: str, kind: str, name: str, ns: str = "") -> bool:
    return f"{group}|{kind}|{ns}|{name}" in state["objects"]


# ---- argv helpers --------------------------------------------------------------------------

def require_kubeconfig(args: Args) -> None:
    path = args.get("--kubeconfig") or os.environ.get("KUBECONFIG", "")
    cluster = sim.cloud_cluster()
    server = ""
    if path and Path(path).is_file():
        # The first cluster's server, read without a YAML parser (a poll is mostly process start-up).
        found = re.search(r"^\s*server:\s*(\S+)\s*$", Path(path).read_text("utf-8"), re.MULTILINE)
        server = found.group(1) if found else ""
    if fake_hub.endpoint() and server == fake_hub.endpoint():
        if os.environ.get("FAKE_HUB_DOWN"):
            host = server.split("//", 1)[-1].rsplit(":", 1)[0]
            fail(f"Unable to connect to the server: dial tcp: lookup {host} on 127.0.0.53:53: no such host")
        TARGET["state"] = fake_hub.STATE
        return
    if not cluster or server != cluster["endpoint"]:
        fail("The connection to the server localhost:8080 was refused - did you specify the right host or port?")


def _inputs(argv: list[str]) -> dict[str, bytes] | None:
    """The files a local kubectl call reads, by path, when argv alone says which (else None).

    Only `patch --local` and `create --dry-run=client` with `--kubeconfig=/dev/null` qualify: they read
    their argv, stdin and the files named by `--filename=PATH` and `--from-file=[KEY=]PATH`, nothing else.
    """
    if "--kubeconfig=/dev/null" not in argv or not (
            (argv[:1] == ["patch"] and "--local" in argv) or (argv[:1] == ["create"] and "--dry-run=client" in argv)):
        return None
    files: dict[str, bytes] = {}
    for word in argv[1:]:
        if word.startswith(("--filename=", "--from-file=")):
            path = word.partition("=")[2]
            if word.startswith("--from-file=") and "=" in path:  # KEY=PATH
                path = path.partition("=")[2]
            if path != "-":
                if not Path(path).is_file():
                    return None
                files[path] = Path(path).read_bytes()
        elif word in ("-f", "--filename", "--from-file", "-k", "--kustomize") or word.startswith(
                ("-f", "-k", "--kustomize", "--from-env-file", "--patch-file")):
            return None
    return files


def real_kubectl(argv: list[str], stdin: bytes) -> tuple[int, bytes, bytes]:
    """Run the real kubectl. A local call whose inputs argv names (see _inputs) is answered from
    FAKE_KUBECTL_CACHE when set: the same calls recur in every run, and each costs a kubectl start."""
    binary = os.environ["FAKE_REAL_KUBECTL"]
    cache = os.environ.get("FAKE_KUBECTL_CACHE")
    files = _inputs(argv) if cache else None
    entry = None
    if cache and files is not None:
        import hashlib
        import marshal

        entry = Path(cache) / hashlib.sha256(marshal.dumps((binary, argv, stdin, files))).hexdigest()
        if entry.exists():
            code, out, err = marshal.loads(entry.read_bytes())
            return int(code), bytes(out), bytes(err)
    done = subprocess.run([binary, *argv], input=stdin, capture_output=True, check=False)
    if entry is not None:
        import marshal

        partial = entry.with_name(f"{entry.name}.{os.getpid()}")
        partial.write_bytes(marshal.dumps((done.returncode, done.stdout, done.stderr)))
        partial.replace(entry)
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
        code, out, err = real_kubectl(["patch", "--kubeconfig=/dev/null", "--local", "--type=merge", "--patch={}",
                                       "--filename=-", f"--output={output}"], json.dumps(wrapped).encode())
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
        objects.extend(doc for doc in documents(text) if doc)
    for directory in args.all("--kustomize"):
        objects.extend(kustomize_build(Path(directory), enable_helm=False))
    if not objects:
        fail("error: no objects passed to apply")
    return objects


def documents(text: str) -> list[Any]:
    """The YAML documents of text; JSON ones (what `kubectl kustomize` prints here) without a YAML parser."""
    try:
        return [json.loads(part) for part in re.split(r"^---[ \t]*$", text, flags=re.MULTILINE) if part.strip()]
    except ValueError:
        return list(yaml.load_all(text))


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
    if name == "install.yaml":
        return engine_stand_in(url)
    return [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name.replace(".", "-"),
                                                                   "namespace": "default"}}]


ENGINE_INSTALL = {
    # argo-cd manifests/install.yaml: namespace-less objects (applied with -n argocd), CRDs, argocd-cm,
    # six Deployments and the application controller's StatefulSet; two of the Deployments stand in.
    "argocd": ("", [("argoproj.io", "Application", "applications", True),
                    ("argoproj.io", "AppProject", "appprojects", True),
                    ("argoproj.io", "ApplicationSet", "applicationsets", True)],
               ["argocd-server", "argocd-repo-server"], ["argocd-application-controller"]),
    # flux2's release install.yaml: the flux-system namespace, the controllers' CRDs and Deployments.
    "flux": ("flux-system", PREINSTALLED["flux"][1],
             ["source-controller", "kustomize-controller", "helm-controller", "notification-controller"], []),
}


def engine_stand_in(url: str) -> list[dict[str, Any]]:
    """A small stand-in of an engine's install manifest (Argo CD's or Flux's, told apart by the URL)."""
    engine = "flux" if "flux" in url else "argocd"
    ns, crds, deployments, statefulsets = ENGINE_INSTALL[engine]
    objects = [namespace(ns)] if ns else []
    objects += [crd(*spec) for spec in crds]
    meta = {"namespace": ns} if ns else {}
    if engine == "argocd":
        objects.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "argocd-cm", **meta}})
    objects += [{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, **meta},
                 "spec": {"replicas": 1}} for name in deployments]
    objects += [{"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name, **meta},
                 "spec": {"replicas": 1}} for name in statefulsets]
    return objects


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
    if spec.get("namespace"):  # kustomize's namespace transformer: every namespaced object
        for obj in objects:
            if obj.get("kind") not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = spec["namespace"]
    return objects


# ---- commands ------------------------------------------------------------------------------

def namespaces_of(state: dict[str, Any]) -> set[str]:
    return {key.split("|")[3] for key in state["objects"] if key.startswith("|Namespace||")} | (
        sim.operator_namespaces(state))


def resolve(state: dict[str, Any], resource: str) -> tuple[str, str]:
    base = resource.lower()
    if base in RESOURCES:
        return RESOURCES[base]
    plural, _, group = base.partition(".")
    if plural in CALICO_V3 and group in ("", "projectcalico.org") and sim.apiserver_ready(state):
        return "projectcalico.org", CALICO_V3[plural]
    for obj in crds_of(state):
        names, crd_group = obj["spec"]["names"], obj["spec"]["group"]
        if base in (names["plural"], names["singular"], f"{names['plural']}.{crd_group}", names["kind"].lower()):
            return crd_group, names["kind"]
    fail(f'error: the server doesn\'t have a resource type "{resource}"')


def with_status(state: dict[str, Any], key: str, obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] in ("Deployment", "StatefulSet", "Application", "GitRepository"):
        return sim.with_workload_status(state, obj)
    if obj["kind"] == "Secret":
        return sim.with_token(state, obj)
    if obj["kind"] != "CustomResourceDefinition":
        return obj
    status = "True" if sim.established(state, key) else "False"
    return {**obj, "status": {"conditions": [{"type": "NamesAccepted", "status": "True"},
                                             {"type": "Established", "status": status}]}}


def endpoint_slices(ns: str, selector: str) -> dict[str, dict[str, Any]]:
    """The kubernetes Service's EndpointSlice, as the EndpointSlice controller writes it."""
    ip, port = sim.endpoint()
    if ns != "default" or selector not in ("", "kubernetes.io/service-name=kubernetes"):
        return {}
    return {"kubernetes": {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                           "metadata": {"name": "kubernetes", "namespace": "default",
                                        "labels": {"kubernetes.io/service-name": "kubernetes"}},
                           "endpoints": [{"addresses": [ip], "conditions": {"ready": True}}],
                           "ports": [{"name": "https", "port": int(port), "protocol": "TCP"}]}}


def listing(state: dict[str, Any], group: str, kind: str, ns: str, selector: str) -> dict[str, dict[str, Any]]:
    if kind == "Namespace":
        return {name: namespace(name) for name in namespaces_of(state)}
    if kind == "TigeraStatus":
        return sim.tigerastatuses(state)
    if kind == "Node":
        return sim.nodes(state)
    if kind == "Tier":
        return {name: {"apiVersion": "projectcalico.org/v3", "kind": "Tier", "metadata": {"name": name}}
                for name in sim.tiers(state)}
    if kind == "EndpointSlice":
        return endpoint_slices(ns, selector)
    if kind == "Endpoints":
        ip, port = sim.endpoint()
        return {"kubernetes": {"apiVersion": "v1", "kind": "Endpoints",
                               "metadata": {"name": "kubernetes", "namespace": "default"},
                               "subsets": [{"addresses": [{"ip": ip}],
                                            "ports": [{"name": "https", "port": int(port), "protocol": "TCP"}]}]}
                } if ns == "default" else {}
    prefix = f"{group}|{kind}|{ns}|"
    if TARGET["state"] == fake_hub.STATE and kind == "Application":
        return {key.split("|", 1)[1]: app for key, app in fake_hub.generated(state).items()
                if key.startswith(f"{ns}|")}
    return {key[len(prefix):]: with_status(state, key, obj) for key, obj in state["objects"].items()
            if key.startswith(prefix)}


def get(args: Args, stdin: bytes) -> str:
    args.only({"--namespace", "--output", "--kubeconfig", "--selector", "--filename"})
    state = cluster_state()
    output = args.get("--output")
    if args.has("--filename"):
        found = []
        for obj in load_objects(args, stdin):
            group, kind, ns, name = key_of(normalized(obj)).split("|")
            if name not in listing(state, group, kind, ns, ""):
                fail(f'Error from server (NotFound): {kind.lower()} "{name}" not found')
            found.append(render(obj, "name"))
        return "".join(found)
    resource, *names = args.positionals
    group, kind = resolve(state, resource)
    ns = "" if kind in CLUSTER_SCOPED else args.get("--namespace", "default")
    items = listing(state, group, kind, ns, args.get("--selector"))
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
        if not sim.apiserver_ready(state):
            fail(f'error: resource mapping not found for name: "{name}": no matches for kind "{kind}" in version '
                 f'"{obj["apiVersion"]}"\nensure CRDs are installed first')
        tier = (obj.get("spec") or {}).get("tier", "default")
        if kind in ("NetworkPolicy", "GlobalNetworkPolicy") and tier not in sim.tiers(state):
            fail(f'Error from server (NotFound): error when creating "STDIN": tiers.projectcalico.org "{tier}" '
                 "not found")
    elif group not in BUILTIN_GROUPS and not any(
            c["spec"]["group"] == group and c["spec"]["names"]["kind"] == kind
            and sim.established(state, key_of(c)) for c in crds_of(state)):
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


def store(state: dict[str, Any], obj: dict[str, Any]) -> None:
    key = key_of(obj)
    if key not in state["objects"]:
        state.setdefault("born", {})[key] = now()
    state["objects"][key] = obj


def apply(args: Args, stdin: bytes) -> str:
    args.only({"--server-side", "--force-conflicts", "--field-manager", "--filename", "--kustomize", "--kubeconfig"})
    if not args.has("--server-side"):
        fail("fake kubectl: the bootstrap must apply server-side")
    state = cluster_state()
    objects = load_objects(args, stdin)
    namespaces = namespaces_of(state)
    lines = []
    try:
        for obj in objects:
            admit(state, obj, namespaces)
            clean = normalized(obj)
            store(state, clean)
            if clean["kind"] == "Namespace":
                namespaces.add(clean["metadata"]["name"])
            if clean["kind"] == "ExternalSecret":
                target = clean["spec"]["target"]["name"]
                store(state, {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                              "metadata": {"name": target, "namespace": clean["metadata"]["namespace"]},
                              "data": {".dockerconfigjson": "e30="}})
            lines.append(render(clean, "name").strip() + " serverside-applied")
    finally:  # the objects before one the cluster refuses stay applied, as they do for real
        if lines:
            save(TARGET["state"], state)
    return "\n".join(lines) + "\n"


def diff(args: Args, stdin: bytes) -> str:
    args.only({"--server-side", "--force-conflicts", "--field-manager", "--filename", "--kustomize", "--kubeconfig"})
    state = cluster_state()
    changed = [key_of(obj) for obj in load_objects(args, stdin)
               if state["objects"].get(key_of(normalized(obj))) != normalized(obj)]
    if changed:
        raise ToolExit(1, "".join(f"diff -u -N /tmp/LIVE/{key} /tmp/MERGED/{key}\n" for key in changed))
    return ""


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
    commands = {"get": lambda: get(args, stdin), "apply": lambda: apply(args, stdin), "diff": lambda: diff(args, stdin)}
    if verb not in commands:
        fail(f"fake kubectl: unsupported command {' '.join(argv)!r}", 64)
    require_kubeconfig(args)
    return commands[verb]()
