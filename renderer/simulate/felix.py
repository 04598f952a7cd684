"""Whether pods of a namespace may reach the SKS API server's real endpoint, judged as Felix does.

Felix evaluates the tiers in order; within a tier, the policies that select the endpoint sorted by
`order` (none = last), then name (projectcalico/calico v3.28.2 felix/calc/policy_sorter.go:
PolicyNameLessThan); the first rule that matches decides: Allow accepts, Deny drops, Pass leaves the
tier. A tier whose policies select the endpoint but none of whose rules matched drops the packet
("Drop if no policies passed packet", felix/rules/endpoints.go); after the last tier the namespace's
profile allows. The order of a policy therefore matters only against a matching Deny or Pass before it.

The operator's policies in its tier are declared from its source (tigera/operator v1.34.5): in each
namespace of facts.BYPASS_NAMESPACES, one at HighPrecedenceOrder allowing only the API ports
(pkg/render/common/networkpolicy/networkpolicy.go: KubeAPIServerEntityRule) and the rule-less
`allow-tigera.default-deny` without order (AllowTigeraDefaultDeny); the tier's order is 100
(pkg/render/tiers/tiers.go: defaultTierOrder).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from renderer.model import facts

OPERATOR_TIER_ORDER = 100.0

_NAME_IN = re.compile(r"^projectcalico\.org/name in \{(?P<names>'[a-z0-9.-]+'(?:, '[a-z0-9.-]+')*)\}$")
_NAME_IS = re.compile(r"^projectcalico\.org/name == '(?P<name>[a-z0-9.-]+)'$")


def selected_namespaces(selector: str) -> set[str] | None:
    """Namespaces a Calico namespaceSelector of the forms this tool renders selects; None for all."""
    if selector.strip() in ("", "all()"):
        return None
    match = _NAME_IN.match(selector.strip())
    if match:
        return {name.strip("'") for name in match["names"].split(", ")}
    match = _NAME_IS.match(selector.strip())
    return {match["name"]} if match else set()


def operator_policies(namespace: str, tier: str) -> list[dict[str, Any]]:
    """The operator's own policies in its tier that select every pod of `namespace` (declared above)."""
    if namespace not in facts.BYPASS_NAMESPACES:
        return []
    allow_api = {"action": "Allow", "protocol": "TCP", "destination": {"ports": list(facts.API_PORTS)}}
    return [
        {"kind": "NetworkPolicy", "metadata": {"name": f"{tier}.{namespace}-access", "namespace": namespace},
         "spec": {"tier": tier, "order": facts.OPERATOR_POLICY_ORDER, "selector": "all()",
                  "types": ["Ingress", "Egress"], "egress": [allow_api]}},
        {"kind": "NetworkPolicy", "metadata": {"name": f"{tier}.default-deny", "namespace": namespace},
         "spec": {"tier": tier, "selector": "all()", "types": ["Ingress", "Egress"]}},
    ]


def _selects(policy: dict[str, Any], namespace: str) -> bool:
    spec = policy.get("spec") or {}
    types = spec.get("types") or (["Ingress", "Egress"] if spec.get("egress") else ["Ingress"])
    if "Egress" not in types or str(spec.get("selector", "all()")).strip() not in ("", "all()"):
        return False  # a narrower selector may leave some of the namespace's pods out: not "every pod"
    if policy.get("kind") == "NetworkPolicy":
        return str((policy.get("metadata") or {}).get("namespace", "")) == namespace
    selected = selected_namespaces(str(spec.get("namespaceSelector", "all()")))
    return selected is None or namespace in selected


def _matches(rule: dict[str, Any], port: int, address: str) -> bool:
    if rule.get("protocol") not in ("TCP", None) or rule.get("notProtocol") or rule.get("source"):
        return False
    destination = rule.get("destination") or {}
    if destination.get("services") is not None:
        return bool(destination["services"] == {"name": "kubernetes", "namespace": "default"})
    if set(destination) - {"ports", "nets"}:
        return False  # selectors match pods, not the API server's external endpoint
    ports = destination.get("ports")
    if ports is not None and port not in [int(item) for item in ports if str(item).isdigit()]:
        return False
    nets = destination.get("nets")
    return not nets or not address or f"{address}/32" in nets


def _order(policy: dict[str, Any]) -> tuple[bool, float, str]:
    order = (policy.get("spec") or {}).get("order")
    return (order is None, float(order) if order is not None else 0.0, str(policy["metadata"].get("name", "")))


def egress(namespace: str, policies: Iterable[dict[str, Any]], operator_tier: str, port: int, address: str,
           tier_orders: dict[str, float] | None = None) -> tuple[bool, str]:
    """(allowed, why) for TCP from pods of `namespace` to the endpoint `address`:`port`."""
    every = [*operator_policies(namespace, operator_tier), *policies]
    orders = {operator_tier: OPERATOR_TIER_ORDER, **(tier_orders or {})}
    tiers = sorted({str((p.get("spec") or {}).get("tier") or "default") for p in every},
                   key=lambda tier: (tier == "default" or tier not in orders, orders.get(tier, 0.0), tier))
    for tier in tiers:
        applying = sorted((p for p in every if str((p.get("spec") or {}).get("tier") or "default") == tier
                           and _selects(p, namespace)), key=_order)
        if not applying:
            continue
        verdict = ""
        for policy in applying:
            for rule in (policy.get("spec") or {}).get("egress") or []:
                if _matches(rule, port, address) and rule.get("action") in ("Allow", "Deny", "Pass"):
                    verdict = str(rule["action"])
                    break
            if verdict:
                name = policy["metadata"].get("name", "")
                if verdict == "Allow":
                    return True, f"allowed by {name} in tier {tier}"
                if verdict == "Deny":
                    return False, f"denied by {name} in tier {tier}"
                break  # Pass: on to the next tier
        if not verdict:
            names = ", ".join(str(p["metadata"].get("name", "")) for p in applying)
            return False, f"dropped at the end of tier {tier} (no rule of {names} matches TCP :{port})"
    return True, "allowed by the namespace's profile"
