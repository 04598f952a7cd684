"""The bootstrap script, played step by step: its waits (from the rollout model) and what it applies.

It runs once, without retries: a step that finds what it needs missing when its wait times out
stops the script (exit 1). Default timeouts are the script's (--wait-timeout, --apiserver-timeout).
"""

from __future__ import annotations

from renderer.model import Model
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


def run(model: Model, tree: dict[str, str], cluster: Cluster) -> Outcome:
    """Apply what the bootstrap applies; the Outcome says whether those steps all succeeded."""
    for placed in model.bootstrap:
        stage = placed.stage
        for fact in stage.needs:
            if not _wait(cluster, fact):
                return Outcome("bootstrap", False, cluster.now,
                               [f"step {stage.directory}: timed out waiting for {fact}"], cluster.log)
        try:
            if stage.slug == "nodepool":
                cluster.grant("nodes", NODES_JOIN_SECONDS)
            elif stage.delivery == "bootstrap" and stage.slug == "pull-secrets":
                for namespace in ("tigera-operator", "tigera-prometheus"):  # bootstrap.sh: one Secret in each
                    cluster.apply({"apiVersion": "v1", "kind": "Secret",
                                   "metadata": {"name": "tigera-pull-secret", "namespace": namespace}})
                cluster.grant("pull-secret:tigera-prometheus")
            elif stage.delivery == "bootstrap" and stage.slug == "license":
                cluster.apply({"apiVersion": "projectcalico.org/v3", "kind": "LicenseKey",
                               "metadata": {"name": "default"}})
            else:
                built = content_.build(tree, stage.directory, stage)
                built.opaque = built.opaque or bool(stage.helm_chart)
                content_.apply(cluster, built)
        except ApplyError as exc:
            return Outcome("bootstrap", False, cluster.now, [f"step {stage.directory}: {exc}"], cluster.log)
    return Outcome("bootstrap", True, cluster.now, [], cluster.log)
