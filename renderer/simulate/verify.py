"""`render --verify`: which object blocks a stuck delivery, named by file, object and reason.

The first blocking object is, in this order: an object the API server still refuses (the first
refused); an engine object that can never sync (a project rule, a build error, a missing file); a
CR the operator refuses; the root of what the first component that is not Available waits for.
"""

from __future__ import annotations

import re
from typing import Any

from renderer.simulate import content
from renderer.simulate.cluster import Cluster, Key, key_of
from renderer.simulate.outcome import Outcome

_TRANSIENT = re.compile(r"^(the root app never got past|.*: never created|.*: health |.*: dependency '.*' is not "
                        r"ready|.*: health check failed|.*: not Ready$|step .*: timed out waiting for|tigerastatus )")
"""Engine problems that are consequences of another blocker, not a cause."""


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


def _engine_object(problem: str, where: dict[Key, str]) -> tuple[str, str, str] | None:
    """An Argo CD Application or Flux Kustomization named at the start of a problem line."""
    name, _, reason = problem.partition(": ")
    for key, path in where.items():
        if key[1] in ("Application", "Kustomization") and key[3] == name and key[0].endswith(
                ("argoproj.io", "toolkit.fluxcd.io")):
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
        named = _engine_object(problem, where)
        if named is not None:
            return named
        path = problem.partition(":")[0]
        if path in tree or problem.endswith("(a file or key the engine reads)"):
            return path, "-", problem.partition(": ")[2] or problem
    for key, reason in cluster.blockers():
        return where.get(key, ""), describe(key), reason
    first = outcome.problems[0] if outcome.problems else "does not converge"
    return _engine_file(outcome, where), "-", first


def _engine_file(outcome: Outcome, where: dict[Key, str]) -> str:
    for problem in outcome.problems:
        named = _engine_object(problem, where)
        if named is not None:
            return named[0]
    return ""


def read_tree(files: dict[str, bytes]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The tree as text, and (file, why) for each file that is not UTF-8 or does not parse as YAML."""
    tree: dict[str, str] = {}
    broken: list[tuple[str, str]] = []
    for path, data in sorted(files.items()):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            broken.append((path, "not UTF-8"))
            continue
        tree[path] = text
        if path.endswith((".yaml", ".yml")):
            try:
                content.objects_of(tree, path)
            except Exception as exc:  # noqa: BLE001 - any parse failure is the file's
                broken.append((path, f"does not parse as YAML: {str(exc).splitlines()[0]}"))
                del tree[path]
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
