"""Typed, frozen records of the values: one dataclass per section of schemas/values.schema.json.

`Values.from_data()` builds them once (model.build) from data that validate/ has already checked and
model.derive_defaults has completed; nothing here validates again. A required key that is missing or a key
that is not a field is a model bug and fails as a TypeError from the dataclass constructor.

Attribute names are the values keys, camelCase as written in the values file (`v.tigera.podCIDR`,
`values.gitops.engineInstalled`): templates, error messages, README's values reference and the values
files all spell a setting the same way, and `as_data()` needs no name mapping.

A key the schema leaves optional and that has no default (apiServer.endpointIP, the external-secrets and
sops references, gitops.fluxSecretName) is None when the values do not set it; the schema never allows
null, so None always means "absent" and templates test `is not none`. Lists are tuples, maps (nodepool
labels) a read-only FrozenMap, so a record is immutable all the way down.

`as_data()` gives the plain form back (dicts and lists, absent optionals left out): equal to the dict the
records were built from, for a template or a caller that needs a subtree as data.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar, Self

from renderer.model.meanings import BypassMode, CredentialProvider, EngineChoice, LicenseProvider, PullProvider


class FrozenMap(Mapping[str, str]):
    """A read-only str -> str mapping (nodepool labels); Jinja's dictsort and `in` work on it as on a dict."""

    def __init__(self, items: Mapping[str, str]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return f"FrozenMap({self._items!r})"


class Record:
    """Base of the records: builds a frozen dataclass from its section of the values, and back."""

    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Self:
        hints = _hints(cls)
        return cls(**{key: _record(hints.get(key), value) for key, value in data.items()})

    def as_data(self) -> dict[str, Any]:
        return {field.name: _plain(value) for field in dataclasses.fields(self)
                if (value := getattr(self, field.name)) is not None}


_HINTS: dict[type[Record], dict[str, Any]] = {}


def _hints(cls: type[Record]) -> dict[str, Any]:
    """The field types of a record (the annotations are strings until resolved), resolved once."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _record(hint: Any, value: Any) -> Any:
    """One value in its field's type: a section as its record, a list as a tuple, a map as a FrozenMap."""
    origin = typing.get_origin(hint)
    if origin is types.UnionType:  # `Hub | None`: an optional section, present here
        (hint,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
        origin = typing.get_origin(hint)
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_data(value)
    if origin is tuple:
        item = typing.get_args(hint)[0]
        return tuple(_record(item, entry) for entry in value)
    if origin is FrozenMap or hint is FrozenMap:
        return FrozenMap(value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.as_data()
    if isinstance(value, tuple):
        return [_plain(entry) for entry in value]
    if isinstance(value, FrozenMap):
        return dict(value)
    return value


@dataclasses.dataclass(frozen=True)
class Cluster(Record):
    name: str
    zone: str
    kubernetesVersion: str
    serviceLevel: str
    description: str


@dataclasses.dataclass(frozen=True)
class ApiServer(Record):
    endpointPort: int
    endpointIP: str | None = None


@dataclasses.dataclass(frozen=True)
class Kubeconfig(Record):
    user: str
    group: str
    ttlSeconds: int


@dataclasses.dataclass(frozen=True)
class Taint(Record):
    key: str
    value: str
    effect: str


@dataclasses.dataclass(frozen=True)
class Nodepool(Record):
    name: str
    """Defaults to <cluster.name>-worker (model.derive_defaults)."""
    size: int
    instanceType: str
    diskSize: int
    securityGroups: tuple[str, ...]
    """Defaults to (<cluster.name>,) (model.derive_defaults)."""
    antiAffinityGroups: tuple[str, ...]
    labels: FrozenMap
    taints: tuple[Taint, ...]


@dataclasses.dataclass(frozen=True)
class Longhorn(Record):
    chartVersion: str
    chartRepository: str
    namespace: str
    replicas: int


@dataclasses.dataclass(frozen=True)
class StorageClass(Record):
    numberOfReplicas: int
    """Defaults to longhorn.replicas (model.derive_defaults)."""
    staleReplicaTimeout: int
    fsType: str
    dataLocality: str
    volumeBindingMode: str
    reclaimPolicy: str
    allowVolumeExpansion: bool


@dataclasses.dataclass(frozen=True)
class CustomResources(Record):
    intrusionDetection: bool
    logCollector: bool
    logStorage: bool
    manager: bool
    monitor: bool
    compliance: bool
    policyRecommendation: bool


@dataclasses.dataclass(frozen=True)
class Tigera(Record):
    version: str
    manifestsBaseURL: str
    encapsulation: str
    podCIDR: str
    logStorageNodes: int
    customResources: CustomResources


@dataclasses.dataclass(frozen=True)
class PullSecret(Record):
    provider: PullProvider
    storeKind: str
    refreshInterval: str
    storeName: str | None = None
    remoteKey: str | None = None
    remoteProperty: str | None = None


@dataclasses.dataclass(frozen=True)
class License(Record):
    provider: LicenseProvider
    sopsSecretName: str
    encryptedFile: str | None = None


@dataclasses.dataclass(frozen=True)
class GitCredentials(Record):
    provider: CredentialProvider
    username: str


@dataclasses.dataclass(frozen=True)
class Secrets(Record):
    pullSecret: PullSecret
    license: License
    gitCredentials: GitCredentials


@dataclasses.dataclass(frozen=True)
class Bypass(Record):
    mode: BypassMode
    namespaces: tuple[str, ...]
    policyName: str
    tier: str
    """Defaults to the operator's tier of tigera.version (model.derive_defaults)."""


@dataclasses.dataclass(frozen=True)
class Automated(Record):
    prune: bool
    selfHeal: bool


@dataclasses.dataclass(frozen=True)
class Hub(Record):
    name: str
    namespace: str
    clusterName: str
    """Defaults to cluster.name (model.derive_defaults)."""


@dataclasses.dataclass(frozen=True)
class Gitops(Record):
    engine: EngineChoice
    repoURL: str
    revision: str
    path: str
    """Defaults to out/<cluster.name> (model.derive_defaults)."""
    automated: Automated
    engineInstalled: bool
    argocdVersion: str
    argocdManifestsBaseURL: str
    fluxVersion: str
    fluxManifestsBaseURL: str
    argocdNamespace: str
    fluxNamespace: str
    interval: str
    timeout: str
    fluxSecretName: str | None = None
    hub: Hub | None = None
    """Hub mode (one Argo CD on a hub delivers the cluster); None: the cluster runs its own engine."""


@dataclasses.dataclass(frozen=True)
class Values(Record):
    """One cluster's values, every default filled in: what templates read as `v`."""

    cluster: Cluster
    apiServer: ApiServer
    kubeconfig: Kubeconfig
    nodepool: Nodepool
    longhorn: Longhorn
    storageClass: StorageClass
    tigera: Tigera
    secrets: Secrets
    bypass: Bypass
    gitops: Gitops
    acknowledge: tuple[FrozenMap, ...] = ()
    """Destructive changes a reviewer accepted, as written ({change, from, to[, reason]}: `from` is a Python
    keyword, so entries stay maps); renderer/validate/destructive.py reads them."""
