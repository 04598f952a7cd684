"""Validate stage: values against schemas/values.schema.json, then cross-field checks.

Every schema problem is reported at once, located where the offending key was set.
Cross-field findings are warnings unless --strict turns them into errors.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import re
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import jsonschema
from jsonschema import Draft202012Validator

from renderer import hints, resources, versions
from renderer.errors import Problem, ValuesError
from renderer.leaks import redact
from renderer.load import LocatedValues
from renderer.model import series
from renderer.model.stages import CORE_TIGERA_KINDS, OPTIONAL_TIGERA_KINDS
from renderer.validate import hub, refusals
from renderer.validate.describe import describe
from renderer.yamlio import Path as KeyPath
from renderer.yamlio import dotted


def is_loopback(url: str) -> bool:
    """True for a URL whose host is this machine (test servers), by address, not by prefix."""
    try:
        host = urlsplit(url).hostname or ""
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@cache
def values_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(resources.schema_path("values.schema.json").read_text("utf-8"))
    return schema


def _ecma_pattern(validator: Any, pattern: str, instance: Any, schema: dict[str, Any]) -> Any:
    """`pattern` with ECMA-262 semantics: `$` ends the input (Python's `$` also matches before a final newline)."""
    if not isinstance(instance, str):
        return
    python_pattern = re.sub(r"(?<!\\)\$$", r"\\Z", pattern)
    if not re.search(python_pattern, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")


_Validator = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
    Draft202012Validator, {"pattern": _ecma_pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool)))
"""A YAML 30925.0 is a float: JSON Schema would call it an integer, a template would not."""


@cache
def _validator() -> Any:
    return _Validator(values_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


def _problem(values: LocatedValues, path: KeyPath, message: str, level: str = "error", hint: str = "",
             at_key: bool = False) -> Problem:
    """Located at the value set for `path` (a wrong value), or at its key (`at_key`: a wrong or missing key)."""
    file, line, column = values.origin(path) if at_key else values.value_origin(path)
    return Problem(file, line, column, dotted(path), message, level, hint)


_KEY_KINDS = {"additionalProperties", "required", "propertyNames"}


def schema_problems(values: LocatedValues) -> list[Problem]:
    problems = []
    for error in _validator().iter_errors(values.data):
        at_key = error.validator in _KEY_KINDS or "propertyNames" in error.relative_schema_path
        hint = hints.schema_hint(str(error.validator), error.validator_value, error.instance, error.schema)
        for path, message in describe(error):
            problems.append(_problem(values, path, message, hint=hint, at_key=at_key))
    return sorted(set(problems))


def resolve_ref(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """A schema node with its local `$ref` followed (sibling keywords such as description win)."""
    while "$ref" in node:
        target: Any = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = {**target, **{key: value for key, value in node.items() if key != "$ref"}}
    return node


def apply_defaults(data: Any, node: dict[str, Any] | None = None) -> Any:
    """Fill schema defaults (recursively, objects default to {}) into a copy of valid data."""
    schema = values_schema()
    node = resolve_ref(schema, node if node is not None else schema)
    if isinstance(data, list) and isinstance(node.get("items"), dict):
        return [apply_defaults(item, node["items"]) for item in data]
    if not isinstance(data, dict) or "properties" not in node:
        return data
    result = dict(data)
    for key, sub in node["properties"].items():
        if key not in result and "default" in sub:
            result[key] = copy.deepcopy(sub["default"])
        if key in result:
            result[key] = apply_defaults(result[key], sub)
    return result


def semantic_problems(values: LocatedValues, data: dict[str, Any]) -> list[Problem]:
    """Rules that a JSON Schema cannot say well: provider requirements, loopback-only http, versions."""
    problems = []
    pull = data["secrets"]["pullSecret"]
    if pull["provider"] == "external-secrets":
        for key in ("storeName", "remoteKey"):
            if key not in pull:
                problems.append(_problem(values, ("secrets", "pullSecret", key),
                                         "required when secrets.pullSecret.provider is external-secrets", at_key=True))
    license_ = data["secrets"]["license"]
    if license_["provider"] == "sops" and "encryptedFile" not in license_:
        problems.append(_problem(values, ("secrets", "license", "encryptedFile"),
                                 "required when secrets.license.provider is sops", at_key=True))
    for path in (("tigera", "manifestsBaseURL"), ("longhorn", "chartRepository"),
                 ("gitops", "argocdManifestsBaseURL"), ("gitops", "fluxManifestsBaseURL")):
        url = data[path[0]][path[1]]
        if url.startswith("http://") and not is_loopback(url):
            problems.append(_problem(values, path, f"{redact.why_hidden(url) or repr(url)} uses plain http; use https "
                                     "(http is for loopback test servers only)"))
    version = data["cluster"]["kubernetesVersion"]
    supported = resources.kubernetes_versions()
    if versions.minor(version) not in supported:
        problems.append(_problem(values, ("cluster", "kubernetesVersion"),
                                 f"Kubernetes {version} cannot be validated offline; supported minor versions: "
                                 f"{supported[0]} to {supported[-1]}"))
    version = data["tigera"]["version"]
    if versions.minor(version) not in series.SERIES:
        return [*problems, _problem(values, ("tigera", "version"),
                                    f"Calico Enterprise {version} is not supported; supported releases: "
                                    f"{series.supported()}",
                                    hint="a series is supported once renderer/model/series.py has its row and "
                                         "`make schemas` its CRD schemas")]
    if versions.minor(version) not in resources.tigera_series():
        problems.append(_problem(values, ("tigera", "version"),
                                 f"no CRD schemas for Calico Enterprise v{versions.minor(version)}; available: "
                                 + ", ".join(f"v{item}" for item in resources.tigera_series()),
                                 hint="run `make schemas` (devtools/crdschemas.py derives one set per series row)"))
    return problems + rollout_problems(values, data)


def rollout_problems(values: LocatedValues, data: dict[str, Any]) -> list[Problem]:
    """Values combinations the rollout model says can never converge, located at the keys to change."""
    problems = []
    if data["gitops"]["engine"] in ("argocd", "both") and data["secrets"]["license"]["provider"] == "sops":
        problems.append(_problem(
            values, ("secrets", "license", "provider"),
            "sops cannot deliver the license with Argo CD: Argo CD has no SOPS support and its kustomize build "
            "refuses files outside the stage directory (argo-cd v3.5.1, default LoadRestrictionsRootOnly)",
            hint="use secrets.license.provider: bootstrap with Argo CD, or gitops.engine: flux"))
    problems += engine_problems(values, data) + hub.problems(values, data)
    tigera = series.row(data["tigera"]["version"])
    operator_tier = tigera.tier
    tier = data["bypass"].get("tier", operator_tier)
    if tier != operator_tier:
        problems.append(_problem(
            values, ("bypass", "tier"),
            f"the operator's policies live in tier {operator_tier} in Calico Enterprise {data['tigera']['version']}; "
            f"a bypass in tier {tier} never sees the traffic they deny",
            hint=f"remove bypass.tier (it defaults to {operator_tier})"))
    keys = {kind: key for key, kind in OPTIONAL_TIGERA_KINDS.items()}
    switched_on = data["tigera"]["customResources"]
    enabled = {*CORE_TIGERA_KINDS, *(kind for key, kind in OPTIONAL_TIGERA_KINDS.items() if switched_on[key])}
    for kind, needed, source in tigera.missing_kinds(enabled):
        problems.append(_problem(
            values, ("tigera", "customResources", keys[kind]),
            f"{kind} can never become Available without {needed} ({source})",
            hint=f"set tigera.customResources.{keys[needed]}: true, or switch {keys[kind]} off"))
    missing = {namespace: component for namespace, component in tigera.api_egress_needed(enabled).items()
               if namespace not in data["bypass"]["namespaces"]}
    for namespace, component in sorted(missing.items()):
        problems.append(_problem(
            values, ("bypass", "namespaces"),
            f"must include {namespace}: {component} runs there and its {operator_tier} policy opens the API server "
            f"on {', '.join(map(str, tigera.api_ports))} only, not on apiServer.endpointPort "
            f"(tigera/operator {tigera.operator})",
            hint=f"add {namespace} to bypass.namespaces (the default list has it)"))
    return problems


def engine_problems(values: LocatedValues, data: dict[str, Any]) -> list[Problem]:
    """What the engine stage (gitops.engineInstalled: false) and the bootstrap's repository credential cannot do."""
    problems = []
    gitops = data["gitops"]
    engines = ("argocd", "flux") if gitops["engine"] == "both" else (gitops["engine"],)
    # The install manifests bind their ClusterRoles to ServiceAccounts of a fixed namespace
    # (argo-cd v3.5.1 manifests/install.yaml: subjects namespace argocd; flux2 v2.9.4
    # manifests/install/kustomization.yaml: namespace flux-system).
    fixed = {"argocd": ("argocdNamespace", "argocd"), "flux": ("fluxNamespace", "flux-system")}
    for engine in engines if not gitops["engineInstalled"] and "hub" not in gitops else ():  # hub: none installed
        key, namespace = fixed[engine]
        if gitops[key] != namespace:
            problems.append(_problem(
                values, ("gitops", key),
                f"the {engine} install manifest runs in namespace {namespace} only (its ClusterRoleBindings name "
                f"ServiceAccounts there)", hint=f"remove gitops.{key}, or install the engine yourself and set "
                "gitops.engineInstalled: true"))
    return problems


def cross_field_warnings(values: LocatedValues, data: dict[str, Any]) -> list[Problem]:
    warnings = []
    size = data["nodepool"]["size"]
    replicas = data["longhorn"]["replicas"]
    if replicas > size:
        warnings.append(_problem(values, ("longhorn", "replicas"),
                                 f"{replicas} replicas on {size} nodes: Longhorn keeps replicas on distinct nodes, "
                                 "so volumes run degraded", "warning"))
    sc_replicas = data["storageClass"].get("numberOfReplicas", replicas)
    if sc_replicas > size and "numberOfReplicas" in data["storageClass"]:
        warnings.append(_problem(values, ("storageClass", "numberOfReplicas"),
                                 f"{sc_replicas} replicas on {size} nodes: log-storage volumes run degraded",
                                 "warning"))
    if data["longhorn"]["namespace"] != "longhorn-system":
        warnings.append(_problem(values, ("longhorn", "namespace"),
                                 f"{data['longhorn']['namespace']!r}: the Longhorn chart supports only longhorn-system",
                                 "warning"))
    return warnings


def _semantic_despite(values: LocatedValues, schema_found: list[Problem]) -> list[Problem]:
    """Semantic problems of a file that also fails the schema, minus any touching a key the schema flagged."""
    try:
        found = semantic_problems(values, apply_defaults(values.data))
    except (KeyError, TypeError, AttributeError, ValueError, IndexError):
        return []
    flagged = [problem.key_path for problem in schema_found]
    return [problem for problem in found
            if not any(problem.key_path.startswith(key) or key.startswith(problem.key_path) for key in flagged)]


def validate(values: LocatedValues, strict: bool = False) -> tuple[dict[str, Any], list[Problem]]:
    """Return values with defaults and the warnings; raise ValuesError with every problem."""
    secrets = refusals.secret_problems(values)
    refused = refusals.text_problems(values) + (secrets or refusals.source_problems(values))
    keys = {problem.key_path for problem in refused if problem.message.startswith("value ")}  # no second error
    problems = refused + [problem for problem in schema_problems(values) if problem.key_path not in keys]
    if problems:
        raise ValuesError(problems + _semantic_despite(values, problems))
    data = apply_defaults(values.data)
    problems = semantic_problems(values, data)
    warnings = cross_field_warnings(values, data)
    if strict:
        problems += [Problem(w.file, w.line, w.column, w.key_path, w.message, "error", w.hint) for w in warnings]
        warnings = []
    if problems:
        raise ValuesError(problems)
    return data, warnings
