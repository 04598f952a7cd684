"""Health rules as the engines read them: Argo CD Lua (argocd-cm) and Flux CEL (healthCheckExprs).

Both come from facts.HEALTH, so Argo CD, Flux and the simulator agree on when an operator object
is done. The operator's Degraded condition mostly says "waiting for ..." (every wait before
ReadyToMonitor is written as Degraded: tigera/operator v1.34.5 pkg/controller/status/status.go), so
it is shown but never read as final: Argo CD would fail the whole app-of-apps sync on a Degraded
wave (gitops-engine pkg/sync/sync_context.go) and Flux would stop waiting (FailFast).
"""

from __future__ import annotations

from renderer.model import facts, series
from renderer.model.meanings import Done
from renderer.model.stages import Stage

READY_WHEN_BY_DONE: dict[Done, str] = {"healthy": "Healthy", "crds": "CRDsEstablished", "applied": "Synced"}

APPLICATION_LUA = """\
-- Argo CD >= 1.8 has no health check for Application: without one, sync waves order nothing.
-- sks-gitops.io/ready-when says what a stage's wave waits for: Healthy (every object healthy),
-- CRDsEstablished (synced and its CRDs Established) or Synced (applied).
local mode = "Healthy"
local annotations = obj.metadata ~= nil and obj.metadata.annotations or nil
if annotations ~= nil and annotations["sks-gitops.io/ready-when"] ~= nil then
  mode = annotations["sks-gitops.io/ready-when"]
end
if obj.status == nil then
  return {status = "Progressing", message = "waiting for the application controller"}
end
if mode == "Healthy" then
  if obj.status.health ~= nil and obj.status.health.status ~= nil then
    return {status = obj.status.health.status, message = obj.status.health.message or ""}
  end
  return {status = "Progressing", message = "waiting for the first health assessment"}
end
if obj.status.sync == nil or obj.status.sync.status ~= "Synced" then
  return {status = "Progressing", message = "waiting for the sync"}
end
-- Each resource's health is in status.resources only where the controller persists it (the
-- default before Argo CD 3.0); with status.resourceHealthSource "appTree" it is not, and Synced
-- (every CRD applied) is all there is: a CRD not yet Established fails the next wave's apply,
-- which the next wave retries without limit.
if mode == "CRDsEstablished" and obj.status.resourceHealthSource ~= "appTree" and obj.status.resources ~= nil then
  for _, resource in ipairs(obj.status.resources) do
    local assessed = resource.health ~= nil and resource.health.status ~= nil
    if resource.kind == "CustomResourceDefinition" and assessed and resource.health.status ~= "Healthy" then
      return {status = "Progressing", message = "waiting for CustomResourceDefinition " .. (resource.name or "")}
    end
  end
end
return {status = "Healthy", message = "ready: " .. mode}
"""
"""Reads only what every supported Argo CD writes into the Application (renderer/simulate/engines.py):
status.sync and status.health always; status.resources[].health only with resource health persisted
(argo-cd v3.5.1 controller/health.go: setApplicationHealth; docs/operator-manual/upgrading/2.14-3.0.md,
"Health status in the Application CR")."""

CRD_LUA = """\
-- Argo CD 2.14 has no health check for CustomResourceDefinition (3.0 added one), so a CRD would
-- carry no health at all: Established True is Healthy, anything else still Progressing.
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Established" and condition.status == "True" then
      return {status = "Healthy", message = "Established"}
    end
  end
end
return {status = "Progressing", message = "waiting for the CustomResourceDefinition to be Established"}
"""
"""argo-cd v2.14.21 has no CRD health (gitops-engine pkg/health/health.go: GetHealthCheckFunc, and no
resource_customizations/apiextensions.k8s.io); v3.0.0 adds
resource_customizations/apiextensions.k8s.io/CustomResourceDefinition/health.lua. An argocd-cm entry
takes precedence over the built-in one (util/lua/lua.go: GetHealthScript)."""


_CONDITIONS_LUA = """\
-- Ready mirrors the {component} TigeraStatus's Available (status.UpdateStatusCondition).
local health = {{status = "Progressing", message = "waiting for the Tigera operator"}}
if obj.status ~= nil and obj.status.conditions ~= nil then
  for _, condition in ipairs(obj.status.conditions) do
    if condition.type == "Ready" and condition.status == "True" then
      return {{status = "Healthy", message = condition.message or ""}}
    end
    if condition.type == "Degraded" and condition.status == "True" then
      health.message = "Degraded: " .. (condition.reason or "") .. ": " .. (condition.message or "")
    end
  end
end
return health
"""

_STATE_LUA = """\
-- {kind} has no conditions, only status.state, set to Ready after a successful reconcile.
if obj.status ~= nil and obj.status.state == "Ready" then
  return {{status = "Healthy", message = "state Ready"}}
end
return {{status = "Progressing", message = "waiting for the Tigera operator (status.state Ready)"}}
"""


def operator_lua(kind: str) -> str:
    rule = facts.HEALTH[kind]
    if rule.conditions:
        names = dict.fromkeys(c.name for row in series.SERIES.values() for c in row.mirrored_into(kind))
        component = ", ".join(names) or kind  # the same names in every series
        return _CONDITIONS_LUA.format(component=component)
    return _STATE_LUA.format(kind=kind)


def operator_cel(kind: str) -> dict[str, str]:
    """Flux healthCheckExprs entry (fields of fluxcd/pkg apis/kustomize CustomHealthCheck)."""
    rule = facts.HEALTH[kind]
    if rule.conditions:
        current = "has(status.conditions) && status.conditions.exists(e, e.type == 'Ready' && e.status == 'True')"
    else:
        current = "has(status.state) && status.state == 'Ready'"
    return {"apiVersion": "operator.tigera.io/v1", "kind": kind, "current": current}


def ready_when(stage: Stage) -> str:
    return READY_WHEN_BY_DONE[stage.done]
