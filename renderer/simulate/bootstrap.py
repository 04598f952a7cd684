"""The bootstrap script, played step by step as the script on disk orders them: its STEPS table (each
step's name and the facts it waits for, as bootstrap.sh runs them) and what each stage step applies.

It runs once, without retries: a step that finds what it needs missing when its wait times out
stops the script (exit 1). Default timeouts are the script's (--wait-timeout, --apiserver-timeout).
A hand-edited script whose table swaps two steps or drops a wait is played as it stands.
"""

from __future__ import annotations

import re

from renderer.model import Model
from renderer.model import hub as hub_model
from renderer.render.bootstrap import WAITS
from renderer.simulate import content as content_
from renderer.simulate.cluster import NODES_JOIN_SECONDS, ApplyError, Cluster
from renderer.simulate.outcome import Outcome

WAIT_TIMEOUT = 300
APISERVER_TIMEOUT = 1800
POLL = 15


def _wait(cluster: Cluster, fact: str) -> bool:
    if fact == "crds:external-secrets.io":
        return cluster.holds(fact)  # require_crd: checked, never waited for
    timeout = WAITS.get(fact.split(":", 1)[0], ("", "WAIT_TIMEOUT", ""))[1]  # the script's own wait table
    limit = cluster.now + (APISERVER_TIMEOUT if timeout == "APISERVER_TIMEOUT" else WAIT_TIMEOUT)
    while not cluster.holds(fact):
        if cluster.now >= limit:
            return False
        cluster.advance(min(cluster.now + POLL, limit))
    return True


HUB_STEPS = hub_model.STEP_FACTS
"""Hub mode's steps (renderer/render/bootstrap.py plan): no stage of the tree; each provides a fact on the hub
side: the cluster is registered with the hub's Argo CD, and the hub tree (its ApplicationSet) is applied."""

_STEPS = re.compile(r"^readonly STEPS=\(\n(?P<rows>(?:  '[^'\n]*'\n)*)\)$", re.MULTILINE)


def steps_on_disk(script: str) -> list[tuple[str, tuple[str, ...]]] | None:
    """(step name, facts it waits for) in the order bootstrap.sh's STEPS table runs them; None without one."""
    found = _STEPS.search(script)
    if found is None:
        return None
    steps = []
    for row in found["rows"].splitlines():
        name, _function, _description, facts = [*row.strip().strip("'").split("|"), "", "", ""][:4]
        steps.append((name, tuple(facts.split())))
    return steps


def run(model: Model, tree: dict[str, str], cluster: Cluster) -> Outcome:
    """Apply what the bootstrap applies, in its script's order with its script's waits; the Outcome says
    whether those steps all succeeded."""
    steps = steps_on_disk(tree.get("bootstrap.sh", ""))
    if steps is None:
        return Outcome("bootstrap", False, cluster.now,
                       ["bootstrap.sh: no STEPS table (the script runs nothing it does not list) (file bootstrap.sh)"],
                       cluster.log)
    by_name = {name: placed.stage for placed in model.bootstrap
               for name in (placed.stage.directory, placed.stage.slug)}
    for name, waits in steps:
        stage = by_name.get(name)
        if stage is None:
            if name in HUB_STEPS:
                cluster.grant(HUB_STEPS[name])
            continue  # preflight, cluster, kubeconfig, endpoint, health, handover: no stage of the tree
        unknown = [fact for fact in waits if fact.split(":", 1)[0] not in WAITS]
        if unknown:
            return Outcome("bootstrap", False, cluster.now,
                           [f"step {name}: bootstrap.sh has no wait for {', '.join(unknown)} (file bootstrap.sh)"],
                           cluster.log)
        for fact in waits:
            if not _wait(cluster, fact):
                return Outcome("bootstrap", False, cluster.now,
                               [f"step {stage.directory}: timed out waiting for {fact}"], cluster.log)
        try:
            if stage.role == "nodepool":
                cluster.grant("nodes", NODES_JOIN_SECONDS)
            elif stage.delivery == "bootstrap" and stage.role == "pull-secret":
                for namespace in ("tigera-operator", "tigera-prometheus"):  # bootstrap.sh: one Secret in each
                    cluster.apply({"apiVersion": "v1", "kind": "Secret",
                                   "metadata": {"name": "tigera-pull-secret", "namespace": namespace}})
                cluster.grant("pull-secret:tigera-prometheus")
            elif stage.delivery == "bootstrap" and stage.role == "license":
                cluster.apply({"apiVersion": "projectcalico.org/v3", "kind": "LicenseKey",
                               "metadata": {"name": "default"}})
            else:
                built = content_.build(tree, stage.directory, stage)
                built.opaque = built.opaque or bool(stage.helm_chart)
                content_.apply(cluster, built)
        except ApplyError as exc:
            return Outcome("bootstrap", False, cluster.now, [f"step {stage.directory}: {exc}"], cluster.log)
    return Outcome("bootstrap", True, cluster.now, [], cluster.log)
