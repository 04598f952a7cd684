"""The render stage's delivery objects: what each GitOps engine gets from the same ordered stages
(renderer/render/engines/), read back as objects and compared with the rollout model."""

from __future__ import annotations

import dataclasses

import pytest

from renderer import load, model, validate, yamlio
from renderer.load import overrides
from renderer.render.engines import ENGINES, argocd, common, flux
from renderer.render.tree import Tree
from tests.conftest import PROD_VALUES


def build(*sets: str) -> model.Model:
    loaded = overrides.apply(load.load([PROD_VALUES]), list(sets), validate.values_schema())
    return model.build(validate.validate(loaded)[0])


def objects(tree: Tree, path: str) -> list[dict]:
    return [doc for doc in yamlio.load_all_plain(tree[path]) if doc]


def test_the_registry_has_one_renderer_per_engine_the_values_can_name() -> None:
    engine = validate.values_schema()["properties"]["gitops"]["properties"]["engine"]
    assert set(ENGINES) == set(engine["enum"]) - {"both"}
    cluster_model = build()
    for name, render in ENGINES.items():
        assert all(path.startswith(f"{name}/") for path in render(cluster_model))  # each writes only its own folder


@pytest.mark.parametrize(("url", "expected"), [
    ("git@git.example.com:platform/sks.git", "ssh://git@git.example.com/platform/sks.git"),
    ("deploy@git.example.com:/srv/sks.git", "ssh://deploy@git.example.com/srv/sks.git"),
    ("https://git.example.com/platform/sks.git", "https://git.example.com/platform/sks.git"),
    ("ssh://git@git.example.com:2222/platform/sks.git", "ssh://git@git.example.com:2222/platform/sks.git"),
])
def test_flux_gets_an_ssh_url_for_an_scp_style_address(url: str, expected: str) -> None:
    assert flux.flux_url(url) == expected


@pytest.mark.parametrize(("sets", "secret"), [
    ((), "flux-system"),  # prod: https, the bootstrap creates the credential
    (("secrets.gitCredentials.provider=none",), ""),  # a public https repository needs none
    (("secrets.gitCredentials.provider=none", "gitops.repoURL=git@git.example.com:platform/sks.git"),
     "flux-system"),  # ssh:// always authenticates
    (("gitops.fluxSecretName=repo-auth",), "repo-auth"),  # a named Secret wins
])
def test_the_git_repository_names_the_secret_flux_needs(sets: tuple[str, ...], secret: str) -> None:
    cluster_model = build("gitops.engine=flux", *sets)
    assert flux.git_secret(cluster_model, flux.flux_url(cluster_model.values.gitops.repoURL)) == secret
    (repository,) = objects(flux.render(cluster_model), "flux/gitrepository.yaml")
    assert repository["spec"].get("secretRef", {}).get("name", "") == secret


@pytest.mark.parametrize(("fact", "value", "option"), [
    ("create_namespace", "longhorn-system", "CreateNamespace=true"), ("server_side", True, "ServerSideApply=true"),
    ("skip_dry_run", True, "SkipDryRunOnMissingResource=true"), ("prune_last", True, "PruneLast=true"),
])
def test_each_sync_option_follows_its_stage_fact_alone(fact: str, value: object, option: str) -> None:
    stage = build().git_stages[0]
    bare = dataclasses.replace(stage, create_namespace="", server_side=False, skip_dry_run=False, prune_last=False)
    assert argocd.sync_options(bare) == []
    assert argocd.sync_options(dataclasses.replace(bare, **{fact: value})) == [option]


def test_sync_options_keep_one_order() -> None:
    stage = build().git_stages[0]
    bare = dataclasses.replace(stage, create_namespace="", server_side=False, skip_dry_run=False, prune_last=False)
    every = dataclasses.replace(bare, create_namespace="argocd", server_side=True, skip_dry_run=True, prune_last=True)
    assert argocd.sync_options(every) == ["CreateNamespace=true", "ServerSideApply=true",
                                          "SkipDryRunOnMissingResource=true", "PruneLast=true"]


def test_every_application_names_a_destination_namespace() -> None:
    cluster_model = build()
    by_slug = {stage.slug: stage for stage in cluster_model.git_stages}
    assert argocd.destination_namespace(cluster_model, by_slug["tigera-operator"]) == "tigera-operator"
    assert argocd.destination_namespace(cluster_model, by_slug["storageclass"]) == "argocd"  # cluster-scoped
    tree = argocd.render(cluster_model)
    for placed in cluster_model.rollout:
        (app,) = objects(tree, f"argocd/apps/{placed.stage.directory}.yaml")
        assert app["spec"]["destination"]["namespace"], placed.stage.directory


def test_the_argo_cd_apps_are_listed_in_rollout_order_under_a_root_app_at_the_gitops_path() -> None:
    cluster_model = build("gitops.path=deploy/prod")
    tree = argocd.render(cluster_model)
    (listing,) = objects(tree, "argocd/apps/kustomization.yaml")
    assert listing["resources"] == ["project.yaml", *(f"{p.stage.directory}.yaml" for p in cluster_model.rollout)]
    assert tree["argocd/apps/kustomization.yaml"].startswith(common.HEADER)
    (root,) = objects(tree, "argocd/root-application.yaml")
    assert root["spec"]["source"]["path"] == "deploy/prod/argocd/apps"
    (project,) = objects(tree, "argocd/apps/project.yaml")
    assert project["spec"]["sourceRepos"] == argocd.source_repos(cluster_model) == [
        cluster_model.values.gitops.repoURL, cluster_model.values.longhorn.chartRepository]


def test_each_flux_kustomization_depends_on_what_the_model_derived_and_reads_its_stage_path() -> None:
    cluster_model = build("gitops.engine=flux", "gitops.path=deploy/prod")
    tree = flux.render(cluster_model)
    for placed in cluster_model.rollout:
        (kustomization,) = objects(tree, f"flux/{placed.stage.directory}.yaml")
        assert kustomization["metadata"]["name"] == common.app_name(cluster_model, placed.stage)
        depends = [entry["name"] for entry in kustomization["spec"].get("dependsOn", [])]
        assert depends == [common.app_name(cluster_model, stage) for stage in placed.depends_on]
        expected = (f"deploy/prod/flux/{placed.stage.slug}" if placed.stage.helm_chart
                    else common.stage_path(cluster_model, placed.stage))
        assert kustomization["spec"]["path"] == f"./{expected}"
        assert kustomization["spec"]["wait"] is (placed.stage.done == "healthy")
    assert common.stage_path(cluster_model, cluster_model.git_stages[0]) == "deploy/prod/01-longhorn"
    assert any(placed.depends_on for placed in cluster_model.rollout)  # the chain is not empty
