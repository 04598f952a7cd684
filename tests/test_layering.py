"""Layered values, `--set` overrides and fleets, checked on the rendered files, not only exit codes.

`render base.yaml prod.yaml`: mappings merge deeply, lists replace, `null` removes a key (its
default comes back), and an error points at the file and line where the offending key was set
after layering. `--set KEY.PATH=VALUE` is typed by the schema. Fleet convention: `base.yaml` and
files starting with `_` are layers under every other file; every other file is one cluster.

Each test writes its values files into tmp_path and runs the CLI in-process from there, so the
paths in messages are the short relative names written below.
"""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

from renderer import load, validate
from renderer.load import overrides
from tests.support.cli import Run, run_cli, shows

BASE = """\
cluster:
  zone: ch-gva-2
  kubernetesVersion: "1.31.1"
apiServer:
  endpointPort: 30925
nodepool:
  size: 3
  instanceType: standard.large
longhorn:
  replicas: 1
tigera:
  customResources:
    manager: false
    compliance: false
bypass:
  policyName: base-bypass
  namespaces: [tigera-eck-operator, calico-system, tigera-system]
gitops:
  repoURL: https://git.example.com/platform/sks-gitops.git
"""

PROD = """\
cluster:
  name: prod
longhorn:
  replicas: null
tigera:
  customResources:
    compliance: true
bypass:
  policyName: null
  namespaces: [calico-system, tigera-eck-operator]
"""

STAGING = """\
cluster:
  name: staging
"""


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(name: str, text: str) -> str:
    Path(name).write_text(dedent(text))
    return name


def render_ok(*args: str) -> Run:
    result = run_cli(*args)
    assert result.exit_code == 0, shows(result)
    return result


def text(path: str) -> str:
    return Path(path).read_text("utf-8")


def policies(cluster: str, out: str = "out") -> str:
    return text(f"{out}/{cluster}/08-bypass-policies/globalnetworkpolicy.yaml")


def errors(result: Run) -> list[str]:
    return result.stderr.splitlines()


# --- layering -------------------------------------------------------------------------------------

def test_mappings_merge_deeply(workdir: Path) -> None:
    render_ok(write("base.yaml", BASE), write("prod.yaml", PROD))
    resources = sorted(path.name for path in Path("out/prod/09-tigera-enterprise-resources").iterdir())
    assert "compliance.yaml" in resources, "prod's compliance: true did not merge over base"
    assert "manager.yaml" not in resources, "base's manager: false was lost when prod merged its sibling"
    assert "intrusiondetection.yaml" in resources, "a default under a merged mapping was lost"
    installation = text("out/prod/06-tigera-custom-resources/installation.yaml")
    assert "192.168.0.0/16" in installation


def test_lists_replace(workdir: Path) -> None:
    render_ok(write("base.yaml", BASE), write("prod.yaml", PROD))
    rendered = policies("prod")
    assert "'calico-system'" in rendered and "'tigera-eck-operator'" in rendered
    assert "'tigera-system'" not in rendered


def test_null_removes_a_key_and_the_default_comes_back(workdir: Path) -> None:
    render_ok(write("base.yaml", BASE), write("prod.yaml", PROD))
    longhorn = text("out/prod/01-longhorn/kustomization.yaml")
    assert "defaultReplicaCount: 3" in longhorn, "longhorn.replicas: null should bring back the default 3"
    assert "name: allow-tigera.apiserver-endpoint-bypass" in policies("prod"), \
        "bypass.policyName: null should bring back the default"
    assert "base-bypass" not in policies("prod")


def test_base_layers_apply_under_the_cluster_file_whatever_the_order(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    render_ok("base.yaml", "prod.yaml", "--out", "first")
    render_ok("prod.yaml", "base.yaml", "--out", "second")
    first = {p.relative_to("first").as_posix(): p.read_bytes() for p in Path("first").rglob("*") if p.is_file()}
    second = {p.relative_to("second").as_posix(): p.read_bytes() for p in Path("second").rglob("*") if p.is_file()}
    assert first == second


def test_null_removes_a_bad_value_from_the_base(workdir: Path) -> None:
    write("base.yaml", BASE.replace("policyName: base-bypass", "policyName: Not_A_Name"))
    render_ok("base.yaml", write("prod.yaml", PROD))


def test_error_in_the_base_points_at_the_base(workdir: Path) -> None:
    write("base.yaml", BASE.replace("size: 3", "size: 0"))
    result = run_cli("base.yaml", write("prod.yaml", PROD))
    assert result.exit_code == 2, shows(result)
    assert errors(result) == ["base.yaml:7:9: error: nodepool.size: 0 is less than the minimum of 1"]


def test_error_in_an_override_points_at_the_override(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD + "nodepool:\n  size: 0\n")
    result = run_cli("base.yaml", "prod.yaml")
    assert result.exit_code == 2, shows(result)
    assert errors(result) == ["prod.yaml:12:9: error: nodepool.size: 0 is less than the minimum of 1"]


def test_errors_in_both_layers_are_reported_at_once(workdir: Path) -> None:
    write("base.yaml", BASE.replace("zone: ch-gva-2", "zone: mars-1"))
    write("prod.yaml", PROD.replace("  namespaces: [calico-system, tigera-eck-operator]",
                                    "  namespaces: [calico-system, Bad_NS]")
          + "nodepool:\n  sise: 4\n")
    result = run_cli("base.yaml", "prod.yaml")
    assert result.exit_code == 2, shows(result)
    assert errors(result) == [
        'base.yaml:2:9: error: cluster.zone: "mars-1" is not one of: ch-gva-2, ch-dk-2, de-fra-1, de-muc-1, '
        "at-vie-1, at-vie-2, bg-sof-1, hr-zag-1",
        'prod.yaml:10:31: error: bypass.namespaces[1]: "Bad_NS" is not valid: expected a DNS-1123 label: '
        "lower-case letters, digits and '-', at most 63 characters, starting and ending with a letter or digit.",
        "prod.yaml:12:3: error: nodepool.sise: unknown key (did you mean 'size'?); expected one of: "
        "antiAffinityGroups, diskSize, instanceType, labels, name, securityGroups, size, taints",
    ]


def test_a_missing_key_in_a_merged_mapping_points_where_the_mapping_started(workdir: Path) -> None:
    write("base.yaml", BASE.replace("gitops:\n  repoURL: https://git.example.com/platform/sks-gitops.git\n",
                                    "gitops:\n  engine: flux\n"))
    write("prod.yaml", PROD + "gitops:\n  revision: release\n")
    result = run_cli("base.yaml", "prod.yaml")
    assert result.exit_code == 2, shows(result)
    assert errors(result) == ["base.yaml:18:1: error: gitops.repoURL: required key is missing"]


def test_a_replaced_list_is_located_in_the_file_that_replaced_it(workdir: Path) -> None:
    write("base.yaml", BASE.replace("[tigera-eck-operator, calico-system, tigera-system]", "[Bad_In_Base]"))
    write("prod.yaml", PROD.replace("[calico-system, tigera-eck-operator]", "[calico-system, Bad_In_Prod]"))
    result = run_cli("base.yaml", "prod.yaml")
    assert result.exit_code == 2, shows(result)
    assert [line.split(": error: ")[0] for line in errors(result)] == ["prod.yaml:10:31"]
    assert "Bad_In_Prod" in result.stderr and "Bad_In_Base" not in result.stderr


# --- --set ----------------------------------------------------------------------------------------

def _layered(*sets: str) -> dict[str, Any]:
    values = load.load([Path("base.yaml"), Path("prod.yaml")])
    return overrides.apply(values, list(sets), validate.values_schema()).data


def test_set_values_are_typed_by_the_schema(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    data = _layered("nodepool.size=3", "tigera.version=v3.19.2", "cluster.kubernetesVersion=1.31.1",
                    "bypass.namespaces=[a,b]", "gitops.automated.prune=false",
                    "tigera.customResources={monitor: false}")
    assert data["nodepool"] == {"size": 3, "instanceType": "standard.large"}
    assert type(data["nodepool"]["size"]) is int
    assert data["tigera"]["version"] == "v3.19.2"
    assert data["cluster"]["kubernetesVersion"] == "1.31.1"
    assert data["bypass"]["namespaces"] == ["a", "b"]
    assert data["gitops"]["automated"] == {"prune": False}
    assert data["tigera"]["customResources"] == {"manager": False, "compliance": True, "monitor": False}


def test_set_reaches_the_rendered_files(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    render_ok("base.yaml", "prod.yaml", "--set", "nodepool.size=3", "--set", "longhorn.replicas=2",
              "--set", "apiServer.endpointPort=31000",
              "--set", "bypass.namespaces=[a, b, calico-system, tigera-eck-operator]",
              "--set", "tigera.version=v3.23.1", "--set", "cluster.kubernetesVersion=1.31.1")
    rendered = policies("prod")
    assert "{'a', 'b', 'calico-system', 'tigera-eck-operator'}" in rendered
    assert "          - 31000\n" in rendered, "endpointPort must be rendered as an integer"
    assert "tier: calico-system" in rendered, "--set tigera.version=v3.23.1 must switch the tier default"
    longhorn = text("out/prod/01-longhorn/kustomization.yaml")
    assert "defaultReplicaCount: 2\n" in longhorn


def test_set_integer_clears_a_cross_field_warning(workdir: Path) -> None:
    write("base.yaml", BASE.replace("size: 3", "size: 2").replace("replicas: 1", "replicas: 3"))
    write("prod.yaml", "cluster:\n  name: prod\n")
    warned = render_ok("base.yaml", "prod.yaml")
    assert "warning: longhorn.replicas: 3 replicas on 2 nodes" in warned.stderr
    result = render_ok("base.yaml", "prod.yaml", "--set", "nodepool.size=3", "--strict")
    assert "warning" not in result.stderr


def test_set_null_removes_the_key(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", "cluster:\n  name: prod\n")
    render_ok("base.yaml", "prod.yaml", "--set", "longhorn.replicas=null", "--set", "bypass.policyName=null")
    assert "defaultReplicaCount: 3\n" in text("out/prod/01-longhorn/kustomization.yaml")
    assert "name: allow-tigera.apiserver-endpoint-bypass" in policies("prod")


def test_set_escaped_dot_in_a_key(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    data = _layered(r"nodepool.labels.node\.example\.com/role=calico")
    assert data["nodepool"]["labels"] == {"node.example.com/role": "calico"}


def test_set_version_like_strings_are_not_numbers(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    result = run_cli("base.yaml", "prod.yaml", "--set", "cluster.kubernetesVersion=1.31")
    assert result.exit_code == 2, shows(result)
    assert errors(result) == [
        '--set cluster.kubernetesVersion=1.31: error: cluster.kubernetesVersion: "1.31" is not valid: expected '
        'kubernetes version of the SKS control plane (MAJOR.MINOR.PATCH, e.g. "1.31.2"); rendered objects are '
        "validated against the schemas of this version.",
    ]


def test_bad_set_overrides_are_all_rejected_by_name(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    result = run_cli("base.yaml", "prod.yaml", "--out", "out",
                     "--set", "nodepool.size=abc", "--set", "nodepool.size", "--set", "bypass.namespaces=a",
                     "--set", "storageClass.allowVolumeExpansion=yes", "--set", "=3", "--set", "nodepool..size=3")
    assert result.exit_code == 2, shows(result)
    assert errors(result) == [
        "--set =3: error: expected KEY.PATH=VALUE, e.g. --set nodepool.size=3",
        "--set bypass.namespaces=a: error: bypass.namespaces: expected a YAML flow array such as [a, b]",
        "--set nodepool..size=3: error: expected KEY.PATH=VALUE, e.g. --set nodepool.size=3",
        "--set nodepool.size: error: expected KEY.PATH=VALUE, e.g. --set nodepool.size=3",
        "--set nodepool.size=abc: error: nodepool.size: expected an integer, got 'abc'",
        "--set storageClass.allowVolumeExpansion=yes: error: storageClass.allowVolumeExpansion: "
        "expected true or false, got 'yes'",
    ]
    assert not Path("out").exists()


def test_set_value_out_of_range_is_located_at_the_set(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    result = run_cli("base.yaml", "prod.yaml", "--set", "nodepool.size=0")
    assert result.exit_code == 2, shows(result)
    assert errors(result) == ["--set nodepool.size=0: error: nodepool.size: 0 is less than the minimum of 1"]


def test_set_unknown_key_is_rejected(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    result = run_cli("base.yaml", "prod.yaml", "--set", "nodepool.sise=3", "--set", "clusters.name=x")
    assert result.exit_code == 2, shows(result)
    assert [line.split(": error: ")[0] for line in errors(result)] == [
        "--set clusters.name=x", "--set nodepool.sise=3"]
    assert all("unknown key" in line for line in errors(result))


def test_set_unknown_key_suggests_like_a_values_file(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    result = run_cli("base.yaml", "prod.yaml", "--set", "nodepool.sise=3")
    assert result.exit_code == 2, shows(result)
    assert errors(result) == [
        "--set nodepool.sise=3: error: nodepool.sise: unknown key (did you mean 'size'?); expected one of: "
        "antiAffinityGroups, diskSize, instanceType, labels, name, securityGroups, size, taints",
    ]


# --- fleets ---------------------------------------------------------------------------------------

def test_fleet_renders_one_tree_per_cluster_file(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("_flux.yaml", "gitops:\n  engine: flux\n")
    write("prod.yaml", PROD)
    write("staging.yaml", STAGING)
    write("dev.yaml", "cluster:\n  name: dev\nnodepool:\n  size: 1\nlonghorn:\n  replicas: 1\n")
    result = render_ok("base.yaml", "_flux.yaml", "dev.yaml", "prod.yaml", "staging.yaml")
    assert sorted(path.name for path in Path("out").iterdir() if path.is_dir()) == ["dev", "prod", "staging"]
    for cluster in ("dev", "prod", "staging"):
        assert Path(f"out/{cluster}/flux/kustomization.yaml").is_file(), f"_flux.yaml not layered under {cluster}"
        assert not Path(f"out/{cluster}/argocd").exists()
    assert "'tigera-system'" in policies("staging"), "staging keeps the base's list"
    assert "'tigera-system'" not in policies("prod"), "prod replaced the base's list"
    assert len([line for line in result.stderr.splitlines() if " files, " in line]) == 3


def test_fleet_one_bad_cluster_writes_nothing(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    write("staging.yaml", STAGING + "  zone: mars-1\n")
    result = run_cli("base.yaml", "prod.yaml", "staging.yaml")
    assert result.exit_code == 2, shows(result)
    assert errors(result) == [
        'staging.yaml:3:9: error: cluster.zone: "mars-1" is not one of: ch-gva-2, ch-dk-2, de-fra-1, de-muc-1, '
        "at-vie-1, at-vie-2, bg-sof-1, hr-zag-1",
    ]
    assert not Path("out").exists(), "a fleet with one bad cluster must not write the good ones"


def test_fleet_reports_every_bad_cluster(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("a.yaml", "cluster:\n  name: a\nnodepool:\n  size: 0\n")
    write("b.yaml", "cluster:\n  name: B\n")
    result = run_cli("base.yaml", "a.yaml", "b.yaml")
    assert result.exit_code == 2, shows(result)
    assert [line.split(": error: ")[0] for line in errors(result)] == ["a.yaml:4:9", "b.yaml:2:9"]


def test_fleet_duplicate_cluster_name_names_both_files(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    write("prod-copy.yaml", "cluster:\n  name: prod\n")
    write("staging.yaml", STAGING)
    result = run_cli("base.yaml", "prod.yaml", "staging.yaml", "prod-copy.yaml")
    assert result.exit_code == 2, shows(result)
    assert len(errors(result)) == 1, shows(result)
    line = errors(result)[0]
    assert line.startswith("prod-copy.yaml") and "prod.yaml" in line and "'prod'" in line, line
    assert "unique" in line
    assert not Path("out").exists()


def test_fleet_duplicate_cluster_name_is_located(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    write("prod-copy.yaml", "# the same cluster again\ncluster:\n  name: prod\n")
    result = run_cli("base.yaml", "prod.yaml", "prod-copy.yaml")
    assert result.exit_code == 2, shows(result)
    assert errors(result) == [
        "prod-copy.yaml:3:3: error: cluster.name: cluster 'prod' is also defined by prod.yaml; "
        "cluster names must be unique across a fleet",
    ]


def test_fleet_exit_codes_for_check(workdir: Path) -> None:
    write("base.yaml", BASE)
    write("prod.yaml", PROD)
    write("staging.yaml", STAGING)
    files = ("base.yaml", "prod.yaml", "staging.yaml")
    render_ok(*files)
    current = run_cli("--check", *files)
    assert current.exit_code == 0, shows(current)
    write("staging.yaml", STAGING + "bypass:\n  namespaces: [calico-system, tigera-eck-operator]\n")
    stale = run_cli("--check", *files)
    assert stale.exit_code == 1, shows(stale)
    listed = stale.stdout.splitlines()
    assert "changed: out/staging/08-bypass-policies/globalnetworkpolicy.yaml" in listed, shows(stale)
    assert all(line.startswith("changed: out/staging/") for line in listed), shows(stale)
    assert stale.stderr.splitlines() == ["2 clusters: 1 differ, 1 up to date",
                                         "out/ is stale; to update it, run: render base.yaml staging.yaml"]
    bad = run_cli("--check", *files, "--set", "nodepool.size=0")
    assert bad.exit_code == 2, shows(bad)
