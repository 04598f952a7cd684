"""Destructive edits held for review: what the Tigera operator carries out by deleting and recreating.

A change is measured against the tree committed in out/<cluster>/ (renderer/load/committed.py, what
`render --check` compares with), on the rendered objects, not on the values: a renderer upgrade that
renames the pool is held too. Each is refused (exit 2, located at the values key that drives it) until
the values carry an acknowledgement naming it exactly, so the reviewer sees it in the values diff:

    acknowledge:
      - {change: ipPoolCIDR, from: 192.168.0.0/16, to: 10.244.0.0/16}

An acknowledgement covers one change (its kind, from and to), never a later one. One that names a state the
tree no longer renders is stale and refused, so an approval never lingers for something else; one whose
change is already committed is spent, and listed in the PR markdown for removal after the merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from renderer.errors import Problem, ValuesError
from renderer.load import LocatedValues
from renderer.load.committed import Committed, find
from renderer.yamlio import dotted

Objects = dict[str, tuple[dict[str, Any], ...]]

CONSEQUENCES = {
    "ipPoolCIDR": (
        "the operator keys its IP pools by CIDR and deletes a pool whose CIDR left the Installation, and the "
        "Calico API server refuses a CIDR change in place ('IPPool CIDR cannot be modified'), so the pool is "
        "deleted and created again; running pods keep addresses of the deleted pool until they restart, and "
        "under the same pool name the ippools TigeraStatus stays Degraded until the old pool is deleted by hand",
        "tigera/operator v1.34.5 and v1.42.4 pkg/controller/ippool/pool_controller.go: Reconcile (toDelete); "
        "libcalico-go lib/clientv3/ippool.go: validateAndSetDefaults"),
    "ipPoolName": (
        "the operator keys its IP pools by CIDR, so it creates the new pool beside the old one with the same "
        "CIDR, which the Calico API server refuses as overlapping; the ippools TigeraStatus stays Degraded until "
        "the old pool is deleted by hand and created again under the new name",
        "tigera/operator v1.34.5 and v1.42.4 pkg/controller/ippool/pool_controller.go: Reconcile (ourPools by "
        "CIDR); libcalico-go lib/clientv3/ippool.go: 'CIDR overlaps with IPPool'"),
    "logStorageDeleted": (
        "the operator holds LogStorage tigera-secure (finalizer tigera.io/eck-cleanup) until the Elasticsearch "
        "and Kibana it created are deleted: every stored flow, DNS and audit log goes with them",
        "tigera/operator v1.34.5 and v1.42.4 pkg/controller/logstorage/elastic/elastic_controller.go: "
        "handleLogStorageFinalizer"),
}
"""Change kind -> (what the operator does, where it was read). The kinds are the schema's enum."""

KINDS = tuple(CONSEQUENCES)
DELETED = "deleted"


@dataclass(frozen=True)
class Change:
    """One destructive edit: its kind, the object, from and to (as an acknowledgement names them)."""

    change: str
    object: str
    old: str
    new: str
    key: tuple[str, ...]
    """The values key that drives it, where the refusal is located."""

    @property
    def consequence(self) -> str:
        return CONSEQUENCES[self.change][0]

    @property
    def source(self) -> str:
        return CONSEQUENCES[self.change][1]

    def entry(self) -> str:
        """The acknowledgement to add, in YAML flow syntax."""
        return f"{{change: {self.change}, from: {self.old!r}, to: {self.new!r}}}".replace("'", '"')


@dataclass(frozen=True)
class Review:
    """What a reviewer approves in this change: acknowledged destructive edits, and spent acknowledgements."""

    acknowledged: tuple[Change, ...] = ()
    spent: tuple[str, ...] = ()
    """`change from -> to` of acknowledgements whose change is already committed (remove after the merge)."""


def _pools(objects: Objects) -> list[dict[str, Any]]:
    installation = find(objects, "Installation", "default")
    network = ((installation or {}).get("spec") or {}).get("calicoNetwork") or {}
    return [pool for pool in network.get("ipPools") or [] if isinstance(pool, dict)]


def changes(committed: Committed, new: Objects) -> list[Change]:
    """The destructive edits from the committed tree to the new one (none when nothing is committed)."""
    if not committed.exists:
        return []
    found = []
    old_pools, new_pools = _pools(committed.objects), _pools(new)
    new_cidrs = {str(pool.get("cidr")) for pool in new_pools}
    old_by_cidr = {str(pool.get("cidr")): str(pool.get("name")) for pool in old_pools}
    for pool in old_pools:
        name, cidr = str(pool.get("name")), str(pool.get("cidr"))
        if cidr not in new_cidrs:
            same_name = [str(other.get("cidr")) for other in new_pools if str(other.get("name")) == name]
            replacement = [str(other.get("cidr")) for other in new_pools if str(other.get("cidr")) not in old_by_cidr]
            target = (same_name or replacement or [DELETED])[0]
            found.append(Change("ipPoolCIDR", f"IPPool {name}", cidr, target, ("tigera", "podCIDR")))
    for pool in new_pools:
        name, cidr = str(pool.get("name")), str(pool.get("cidr"))
        if cidr in old_by_cidr and old_by_cidr[cidr] != name:
            found.append(Change("ipPoolName", f"IPPool {old_by_cidr[cidr]} ({cidr})", old_by_cidr[cidr], name,
                                ("tigera",)))
    if committed.find("LogStorage", "tigera-secure") and not find(new, "LogStorage", "tigera-secure"):
        found.append(Change("logStorageDeleted", "LogStorage tigera-secure", "tigera-secure", DELETED,
                            ("tigera", "customResources", "logStorage")))
    return found


def _spent(entry: dict[str, Any], new: Objects) -> bool:
    """Whether the tree now renders the state an acknowledgement names as `to` (so it is done, not stale)."""
    kind, target = entry.get("change"), str(entry.get("to"))
    if kind == "ipPoolCIDR":
        return any(str(pool.get("cidr")) == target for pool in _pools(new)) or (
            target == DELETED and not _pools(new))
    if kind == "ipPoolName":
        return any(str(pool.get("name")) == target for pool in _pools(new))
    return target == DELETED and find(new, "LogStorage", "tigera-secure") is None


def review(values: LocatedValues, data: dict[str, Any], committed: Committed, new: Objects) -> Review:
    """The Review, or a ValuesError naming every unacknowledged destructive edit and every stale acknowledgement."""
    entries = [entry for entry in data.get("acknowledge") or [] if isinstance(entry, dict)]
    used: set[int] = set()
    problems: list[Problem] = []
    acknowledged = []
    for change in changes(committed, new):
        match = next((index for index, entry in enumerate(entries)
                      if (entry.get("change"), str(entry.get("from")), str(entry.get("to"))) ==
                      (change.change, change.old, change.new)), None)
        if match is not None:
            used.add(match)
            acknowledged.append(change)
            continue
        file, line, column = values.origin(change.key)
        problems.append(Problem(
            file, line, column, dotted(change.key),
            f"{change.object}: {change.change} {change.old} (in out/) -> {change.new} is destructive: "
            f"{change.consequence} ({change.source})",
            hint=f"to go ahead, a reviewer must see it: add `acknowledge: [{change.entry()}]` to the values "
                 "(README: Destructive changes)"))
    spent = []
    for index, entry in enumerate(entries):
        if index in used:
            continue
        said = f"{entry.get('change')} {entry.get('from')} -> {entry.get('to')}"
        if _spent(entry, new):
            spent.append(said)
            continue
        file, line, column = values.origin(("acknowledge", index))
        problems.append(Problem(
            file, line, column, f"acknowledge[{index}]",
            f"acknowledges {said}, but the values no longer render {entry.get('to')}: a stale approval",
            hint="remove it, or name the change this edit makes (render prints it)"))
    if problems:
        raise ValuesError(problems)
    return Review(tuple(acknowledged), tuple(spent))
