"""`render --verify`: which object blocks a stuck delivery, named by file, object and reason.

The first blocking object is, in this order: an object the API server still refuses (the first
refused); an engine object that can never sync (a project rule, a build error, a missing file); a
CR the operator refuses; the root of what the first component that is not Available waits for.
"""

from __future__ import annotations

import re

from renderer.model import facts
from renderer.simulate import content, operator
from renderer.simulate.cluster import Cluster, Key, key_of
from renderer.simulate.outcome import Outcome

_TRANSIENT = re.compile(r"^(the root app never got past|.*: never created|.*: health |.*: dependency '.*' is not "
                        r"ready|.*: health check failed|.*: not Ready$|step .*: timed out waiting for|tigerastatus )")
"""Engine problems that are consequences of another blocker, not a cause."""

_IN_FILE = re.compile(r" \(file ([^)]+)\)$")
"""A build error names the file at fault (content.py)."""


def index(tree: dict[str, str]) -> dict[Key, str]:
    """Object -> the file that holds it (the first one, for an object defined twice)."""
    found: dict[Key, str] = {}
    for path in sorted(tree):
        if not path.endswith((".yaml", ".yml")):
            continue
        try:
            objects = content.objects_of(tree, path)
        except Exception:  # noqa: BLE001 - a file that does not parse holds nothing we can name
            continue
        for obj in objects:
            found.setdefault(key_of(obj), path)
    return found


def describe(key: Key) -> str:
    _, kind, namespace, name = key
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


def _engine_object(problem: str, where: dict[Key, str], delivery: str) -> tuple[str, str, str] | None:
    """The Argo CD Application or Flux Kustomization named at the start of a problem line of `delivery`."""
    name, _, reason = problem.partition(": ")
    wanted = ("kustomize.toolkit.fluxcd.io", "Kustomization") if delivery.split(" ")[-1] == "flux" or \
        delivery.startswith("flux") else ("argoproj.io", "Application")
    for key, path in where.items():
        if key[:2] == wanted and key[3] == name:
            return path, describe(key), reason
    return None


def first_blocking(outcome: Outcome, cluster: Cluster, tree: dict[str, str]) -> tuple[str, str, str]:
    where = {**index(tree), **cluster.files}
    for key, reason in cluster.refusals.items():
        file = where.get(key) or _engine_file(outcome, where)
        return file, describe(key), reason
    for problem in outcome.problems:
        if _TRANSIENT.match(problem):
            continue
        in_file = _IN_FILE.search(problem)
        if in_file:
            return in_file[1], "-", _IN_FILE.sub("", problem.split(": ", 1)[-1])
        named = _engine_object(problem, where, outcome.delivery)
        if named is not None:
            return named
        path = problem.partition(":")[0]
        if path in tree or problem.endswith("(a file or key the engine reads)"):
            return path, "-", problem.partition(": ")[2] or problem
    for key, reason in blockers(cluster):
        return where.get(key, ""), describe(key), reason
    for problem in outcome.problems:  # nothing in the cluster waits: the engine's own reading (a health rule)
        named = _engine_object(problem, where, outcome.delivery)
        if named is not None:
            return named
    first = outcome.problems[0] if outcome.problems else "does not converge"
    return _engine_file(outcome, where), "-", first


def _engine_file(outcome: Outcome, where: dict[Key, str]) -> str:
    for problem in outcome.problems:
        named = _engine_object(problem, where, outcome.delivery)
        if named is not None:
            return named[0]
    return ""


def read_tree(files: dict[str, bytes]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The tree as text, and (file, why) for each file that is not UTF-8 (left out: an engine cannot read
    it either). A file that does not parse stays: the build that reads it fails, naming it."""
    tree: dict[str, str] = {}
    broken: list[tuple[str, str]] = []
    for path, data in sorted(files.items()):
        try:
            tree[path] = data.decode("utf-8")
        except UnicodeDecodeError:
            broken.append((path, "not UTF-8"))
    return tree, broken


def line_of(text: str, obj: str) -> int:
    """The line of `kind: Kind` of the document holding `obj` ("Kind [namespace/]name"), else 0."""
    kind, _, rest = obj.partition(" ")
    name = rest.rpartition("/")[2]
    docs: list[list[tuple[int, str]]] = [[]]
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("---"):
            docs.append([])
        else:
            docs[-1].append((number, line))
    for doc in docs:
        kind_line = next((number for number, line in doc if line.strip() == f"kind: {kind}"), 0)
        if kind_line and any(re.fullmatch(rf"\s+name: [\"']?{re.escape(name)}[\"']?", line) for _, line in doc):
            return kind_line
    return 0


def blockers(cluster: Cluster) -> list[tuple[Key, str]]:
    """What keeps the cluster from converging, first cause first: objects the API server refuses,
    a CR the operator refuses, then for each component not Available the root of what it waits for."""
    found: list[tuple[Key, str]] = list(cluster.refusals.items())
    refused = operator.refusal(cluster.objects)
    if refused is not None:
        found.append(refused)
    by_name = {component.name: component for component in cluster.tigera.components_for(cluster.kinds())}
    for component in by_name.values():
        if not cluster.holds(f"component:{component.name}"):
            found += _root(cluster, component, by_name, set())
    return list(dict.fromkeys(found))


def _root(cluster: Cluster, component: facts.Component, by_name: dict[str, facts.Component],
          seen: set[str]) -> list[tuple[Key, str]]:
    seen.add(component.name)
    cr = next((key for key in cluster.objects if key[:2] == ("operator.tigera.io", component.kind)), None)
    for need in cluster.needs(component):
        if cluster.holds(need):
            continue
        other = by_name.get(need.removeprefix("component:")) if need.startswith("component:") else None
        if other is not None and other.name not in seen:
            return _root(cluster, other, by_name, seen)
        named = operator.blocker(cluster.objects, need)
        if named is not None:
            return [named]
        if need.startswith("api-egress:"):
            namespace = need.partition(":")[2]
            policy = next((key for key in cluster.objects if key[0] == "projectcalico.org"
                           and key[1] in ("GlobalNetworkPolicy", "NetworkPolicy")), cr)
            if policy is not None:
                return [(policy, f"pods in {namespace} cannot reach the API server endpoint "
                                 f":{cluster.site.endpoint_port} ({cluster.egress.get(namespace, 'denied')}), "
                                 f"so tigerastatus {component.name} waits")]
        if cr is not None:
            return [(cr, f"tigerastatus {component.name}: {component.waiting({need})}: {need}")]
    return []
