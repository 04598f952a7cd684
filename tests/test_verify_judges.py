"""The judges `render --verify` relies on, one rule at a time: Felix's tier evaluation (simulate/felix.py),
the operator's field reads and validation (simulate/operator.py) and the declared opaque content
(simulate/opaque.py). Each rule names its upstream file in the module it tests."""

from __future__ import annotations

from typing import Any

import pytest

from renderer.simulate import felix, opaque, operator

TIER = "allow-tigera"
PORT = 30925


def bypass(order: float | None = 0, action: str = "Allow", tier: str = TIER, name: str = "allow-tigera.bypass",
           **destination: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"tier": tier, "selector": "all()", "namespaceSelector": "all()", "types": ["Egress"],
                            "egress": [{"action": action, "protocol": "TCP",
                                        "destination": destination or {"ports": [PORT]}}]}
    if order is not None:
        spec["order"] = order
    return {"kind": "GlobalNetworkPolicy", "metadata": {"name": name}, "spec": spec}


def allowed(*policies: dict[str, Any], namespace: str = "tigera-eck-operator", address: str = "") -> bool:
    return felix.egress(namespace, list(policies), TIER, PORT, address)[0]


def test_without_a_bypass_the_operator_tier_drops_at_its_end() -> None:
    ok, why = felix.egress("tigera-eck-operator", [], TIER, PORT, "")
    assert not ok and "end of tier allow-tigera" in why
    assert felix.egress("tigera-eck-operator", [], TIER, 6443, "")[0]  # an API port the operator opens


@pytest.mark.parametrize("order", [0, 1, 10, 1000, None])
def test_the_order_of_a_bypass_does_not_matter_when_nothing_before_it_decides(order: float | None) -> None:
    assert allowed(bypass(order))


def test_a_deny_or_pass_before_the_bypass_decides_first() -> None:
    assert not allowed(bypass(5, action="Deny", name="allow-tigera.deny"), bypass(10))
    assert allowed(bypass(10, action="Deny", name="allow-tigera.deny"), bypass(5))
    # Pass leaves the tier; no later tier selects the pods, so the profile allows.
    assert allowed(bypass(5, action="Pass", name="allow-tigera.pass"))
    # Pass to a later tier whose policies select the pods but match nothing: dropped there.
    later = bypass(1, tier="platform", name="platform.other", ports=[443])
    ok, why = felix.egress("tigera-eck-operator", [bypass(5, action="Pass", name="allow-tigera.pass"), later], TIER,
                           PORT, "")
    assert not ok and "end of tier platform" in why


def test_a_bypass_in_a_later_tier_is_never_reached() -> None:
    ok, why = felix.egress("tigera-eck-operator", [bypass(0, tier="default", name="bypass")], TIER, PORT, "")
    assert not ok and "end of tier allow-tigera" in why


def test_selection_ports_nets_and_services() -> None:
    selector = bypass()
    selector["spec"]["namespaceSelector"] = "projectcalico.org/name in {'calico-system'}"
    assert allowed(selector, namespace="calico-system") and not allowed(selector)
    assert not allowed(bypass(ports=[PORT + 1]))
    assert allowed(bypass(ports=[PORT], nets=["194.182.185.29/32"]), address="194.182.185.29")
    assert not allowed(bypass(ports=[PORT], nets=["194.182.185.30/32"]), address="194.182.185.29")
    assert allowed(bypass(services={"name": "kubernetes", "namespace": "default"}))
    assert not allowed(bypass(services={"name": "other", "namespace": "default"}))
    ingress = bypass()
    ingress["spec"]["types"] = ["Ingress"]
    assert not allowed(ingress)


def test_namespaces_outside_the_port_restricted_ones_are_not_judged_by_operator_policies() -> None:
    assert felix.operator_policies("tigera-manager", TIER) == []
    assert allowed(namespace="tigera-manager")


def installation(**network: Any) -> dict[str, Any]:
    pool = {"cidr": "192.168.0.0/16", "encapsulation": network.pop("encapsulation", "VXLAN")}
    return {"spec": {"calicoNetwork": {"ipPools": [pool], **network}}}


@pytest.mark.parametrize(("network", "refused"), [
    ({"bgp": "Disabled", "encapsulation": "IPIP"}, "IPIP encapsulation requires that BGP is enabled"),
    ({"bgp": "Disabled", "encapsulation": "IPIPCrossSubnet"}, "IPIP encapsulation requires that BGP is enabled"),
    ({"bgp": "Disabled", "encapsulation": "None"}, "Unencapsulated IP pools require that BGP is enabled"),
    ({"bgp": "Disabled", "encapsulation": "VXLAN"}, ""),
    ({"bgp": "Enabled", "encapsulation": "IPIP"}, ""),
    ({"encapsulation": "IPIP"}, ""),  # BGP defaults to Enabled for Calico CNI
])
def test_the_operator_validates_pools_against_bgp(network: dict[str, Any], refused: str) -> None:
    assert operator.invalid_installation(installation(**network)) == refused


def test_an_ipv6_pool_never_takes_ipip() -> None:
    obj = {"spec": {"calicoNetwork": {"bgp": "Enabled", "ipPools": [{"cidr": "fd00::/48", "encapsulation": "IPIP"}]}}}
    assert "IPv6" in operator.invalid_installation(obj)


def test_the_operator_reads_names_by_field() -> None:
    objects = {("operator.tigera.io", "Installation", "", "default"): {"spec": {"imagePullSecrets": [
                   {"name": "a"}, {"name": "b"}]}},
               ("operator.tigera.io", "LogStorage", "", "tigera-secure"): {"spec": {}}}
    renamed, refused = operator.reading(objects)
    assert dict(renamed) == {"pull-secret": ("secret:tigera-operator/a", "secret:tigera-operator/b"),
                             "storageclass:tigera-elasticsearch": ("storageclass:tigera-elasticsearch",)}
    assert refused == frozenset()


def test_opaque_content_is_declared_for_every_reference_the_trees_use() -> None:
    for reference in ("https://downloads.tigera.io/ee/v3.19.2/manifests/tigera-operator.yaml",
                      "https://downloads.tigera.io/ee/v3.19.2/manifests/tigera-prometheus-operator.yaml",
                      "../../../values/vendor/tigera-operator-69b1bca50044", "chart:longhorn",
                      "../../../secrets/sops-demo/license.enc.yaml"):
        assert opaque.declared(reference).source
    assert opaque.declared("../vendor/tigera-prometheus-operator-0123abcd").name == "tigera-prometheus-operator.yaml"
    placed = opaque.objects("chart:longhorn", "storage")
    assert {obj["metadata"].get("namespace") for obj in placed} == {None, "storage"}
    with pytest.raises(opaque.Unknown):
        opaque.declared("https://example.com/other.yaml")
