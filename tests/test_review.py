"""Reviewing a render before it lands: `render --check`, `render --diff [--format markdown]`.

Every test renders into its own `out/` under tmp_path (the working directory, so listed paths
read `out/ceosks-poc/...` as in a checkout) and then changes one thing: the values, a template,
a hand edit, an extra file. The exact `added:`/`changed:`/`removed:` listing is asserted.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from renderer import resources
from renderer.render import jinja
from tests.conftest import PROD_VALUES, REPO_ROOT, RenderCli

CLUSTER = "ceosks-poc"
TREE = Path("out") / CLUSTER
EXTERNAL_SECRETS = ("--set", "secrets.pullSecret.provider=external-secrets",
                    "--set", "secrets.pullSecret.storeName=vault-backend",
                    "--set", "secrets.pullSecret.remoteKey=tigera/pull-secret")
LONG_AGO = 1_000_000_000
"""An mtime no render could produce: a file that still carries it was not rewritten."""

Stats = dict[str, tuple[int, int, int, int]]


@pytest.fixture
def out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, render_cli: RenderCli) -> Path:
    """`out/` holding the prod render, with tmp_path as the working directory."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    render_cli(PROD_VALUES)
    return Path("out")


def stats(root: Path) -> Stats:
    """Every entry under root (root included): inode, mode, size and mtime, without following links."""
    found = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        found[path.relative_to(root).as_posix()] = (info.st_ino, info.st_mode, info.st_size, info.st_mtime_ns)
    return found


def age(root: Path) -> None:
    """Give every file under root the LONG_AGO mtime (content and manifest hashes stay valid)."""
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink():
            os.utime(path, (LONG_AGO, LONG_AGO))


def listing(**kinds: list[str]) -> str:
    """The stdout of --check: added, then changed, then removed, each sorted."""
    lines = [f"{label}: {TREE / path}" for label in ("added", "changed", "removed") for path in kinds.get(label, [])]
    return "".join(line + "\n" for line in lines)


def reference_changes(render_cli: RenderCli, scratch: Path, old: tuple[str, ...], new: tuple[str, ...],
                      ) -> dict[str, list[str]]:
    """added/changed/removed files between two independent renders, by plain byte comparison.

    The exact listing a test expects comes from here, so it holds however much of bootstrap.sh
    (which mirrors many values) a values change touches; each test pins its own files too."""
    trees = []
    for name, args in (("ref-old", old), ("ref-new", new)):
        render_cli(PROD_VALUES, "--out", scratch / name, *args)
        root = scratch / name / CLUSTER
        trees.append({p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*")
                      if p.is_file() and p.name != ".sks-gitops-owned.json"})
    before, after = trees
    return {"added": sorted(set(after) - set(before)), "removed": sorted(set(before) - set(after)),
            "changed": sorted(path for path in set(before) & set(after) if before[path] != after[path])}


def diffed_files(diff_text: str) -> list[str]:
    return re.findall(r"^diff --git a/(\S+) b/\S+$", diff_text, flags=re.MULTILINE)


# --- no change ----------------------------------------------------------------------------------

def test_no_change(out: Path, render_cli: RenderCli) -> None:
    check = render_cli("--check", PROD_VALUES)
    assert check.stdout == ""
    assert check.stderr == f"{TREE}: up to date\n"
    assert render_cli("--diff", PROD_VALUES).stdout == ""
    markdown = render_cli("--diff", "--format", "markdown", PROD_VALUES).stdout
    assert markdown == "## sks-gitops render diff\n\nNo change: `out/` is current.\n"


def test_check_and_diff_write_nothing(out: Path, render_cli: RenderCli, tmp_path: Path) -> None:
    before = stats(tmp_path)
    for mode in (("--check",), ("--diff",), ("--diff", "--format", "markdown")):
        render_cli(*mode, PROD_VALUES, "--set", "longhorn.replicas=1", expect=1)
        render_cli(*mode, PROD_VALUES, "--out", "elsewhere", expect=1)
    assert stats(tmp_path) == before
    assert not Path("elsewhere").exists()


def test_committed_out_is_current_from_repo_root(monkeypatch: pytest.MonkeyPatch, render_cli: RenderCli) -> None:
    """What CI runs: `render --check values/*.yaml` in the checkout, against the committed out/."""
    monkeypatch.chdir(REPO_ROOT)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    values = sorted(str(path) for path in Path("values").glob("*.yaml"))
    assert values
    check = render_cli("--check", *values)
    assert check.stdout == ""


# --- a values change ----------------------------------------------------------------------------

REPLICA_FILES = ["01-longhorn/kustomization.yaml", "02-storageclass/storageclass.yaml", "argocd/apps/01-longhorn.yaml"]


def test_values_change(out: Path, tmp_path: Path, render_cli: RenderCli) -> None:
    expected = reference_changes(render_cli, tmp_path, (), ("--set", "longhorn.replicas=1"))
    assert [path for path in expected["changed"] if path != "bootstrap.sh"] == REPLICA_FILES
    assert expected["added"] == expected["removed"] == []
    check = render_cli("--check", PROD_VALUES, "--set", "longhorn.replicas=1", expect=1)
    assert check.stdout == listing(**expected)
    assert "warning" not in check.stderr

    diff = render_cli("--diff", PROD_VALUES, "--set", "longhorn.replicas=1", expect=1).stdout
    assert diffed_files(diff) == [f"{TREE}/{path}" for path in expected["changed"]]
    assert f"--- a/{TREE}/02-storageclass/storageclass.yaml\n+++ b/{TREE}/02-storageclass/storageclass.yaml\n" in diff
    assert '-  numberOfReplicas: "2"\n+  numberOfReplicas: "1"\n' in diff
    assert "-        defaultClassReplicaCount: 2\n+        defaultClassReplicaCount: 1\n" in diff
    assert ".sks-gitops-owned.json" not in diff


# --- a template change --------------------------------------------------------------------------

@pytest.fixture
def templates_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private copy of templates/ that the renderer uses instead of the shipped one."""
    copy = tmp_path / "templates-copy"
    shutil.copytree(resources.templates_dir(), copy)
    monkeypatch.setattr(resources, "templates_dir", lambda: copy)
    jinja.environment.cache_clear()
    yield copy
    jinja.environment.cache_clear()


def test_template_change(templates_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                         render_cli: RenderCli) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    render_cli(PROD_VALUES)
    template = templates_copy / "stages" / "storageclass" / "storageclass.yaml.j2"
    text = template.read_text("utf-8")
    assert "# Claimed by Calico Enterprise LogStorage" in text
    template.write_text(text.replace("# Claimed by Calico Enterprise LogStorage", "# Used by LogStorage"), "utf-8")
    jinja.environment.cache_clear()

    check = render_cli("--check", PROD_VALUES, expect=1)
    assert check.stdout == listing(changed=["02-storageclass/storageclass.yaml"])
    assert "edited by hand" not in check.stderr, "a template change is not a hand edit"
    diff = render_cli("--diff", PROD_VALUES, expect=1).stdout
    assert diffed_files(diff) == [f"{TREE}/02-storageclass/storageclass.yaml"]
    assert "\n-# Claimed by Calico Enterprise LogStorage" in diff
    assert "\n+# Used by LogStorage" in diff

    render_cli(PROD_VALUES)
    assert render_cli("--check", PROD_VALUES).stdout == ""


# --- a removed stage ----------------------------------------------------------------------------

PULL_SECRET_FILES = ["05-pull-secrets/externalsecrets.yaml", "05-pull-secrets/kustomization.yaml",
                     "argocd/apps/05-pull-secrets.yaml"]


def test_removed_stage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, render_cli: RenderCli) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    render_cli(PROD_VALUES, *EXTERNAL_SECRETS)
    assert (TREE / "05-pull-secrets").is_dir()

    expected = reference_changes(render_cli, tmp_path, EXTERNAL_SECRETS, ())
    assert expected["removed"] == PULL_SECRET_FILES
    # Without stage 5 the later stages move up a wave (rollout/order.py derives the waves).
    assert {path for path in expected["changed"] if path != "bootstrap.sh"} == {
        "argocd/apps/kustomization.yaml", "argocd/apps/06-tigera-custom-resources.yaml",
        "argocd/apps/08-bypass-policies.yaml", "argocd/apps/09-tigera-enterprise-resources.yaml"}
    check = render_cli("--check", PROD_VALUES, expect=1)
    assert check.stdout == listing(**expected)
    diff = render_cli("--diff", PROD_VALUES, expect=1).stdout
    assert f"--- a/{TREE}/05-pull-secrets/externalsecrets.yaml\n+++ /dev/null\n" in diff
    markdown = render_cli("--diff", "--format", "markdown", PROD_VALUES, expect=1).stdout
    assert "| `05-pull-secrets` | ExternalSecret | tigera-operator | tigera-pull-secret | removed |" in markdown
    assert "| `argocd` | Application | argocd | ceosks-poc-05-pull-secrets | removed |" in markdown

    age(TREE)
    before = stats(TREE)
    run = render_cli(PROD_VALUES)
    assert "warning" not in run.stderr
    after = stats(TREE)
    assert not (TREE / "05-pull-secrets").exists()
    assert not (TREE / "argocd/apps/05-pull-secrets.yaml").exists()
    rewritten = {".sks-gitops-owned.json", *expected["changed"]}
    for path, (_ino, mode, size, mtime) in after.items():
        if (TREE / path).is_file() and path not in rewritten:
            assert before[path][1:] == (mode, size, mtime), f"{path} was rewritten"
    for path in rewritten:
        assert after[path][3] != LONG_AGO
    assert render_cli("--check", PROD_VALUES).stdout == ""


# --- a hand-edited file -------------------------------------------------------------------------

def test_hand_edited_file(out: Path, render_cli: RenderCli) -> None:
    edited = TREE / "02-storageclass" / "storageclass.yaml"
    rendered = edited.read_bytes()
    edited.write_bytes(rendered.replace(b"reclaimPolicy: Delete", b"reclaimPolicy: Retain"))

    check = render_cli("--check", PROD_VALUES, expect=1)
    assert check.stdout == listing(changed=["02-storageclass/storageclass.yaml"])
    assert check.stderr == (f"{edited}: warning: was edited by hand; would be overwritten\n"
                            f"out/ is stale; to update it, run: render {PROD_VALUES}\n")
    diff = render_cli("--diff", PROD_VALUES, expect=1).stdout
    assert "-reclaimPolicy: Retain\n+reclaimPolicy: Delete\n" in diff

    run = render_cli(PROD_VALUES)
    assert f"{edited}: warning: was edited by hand; overwritten\n" in run.stderr
    assert edited.read_bytes() == rendered
    again = render_cli("--check", PROD_VALUES)
    assert (again.stdout, again.stderr) == ("", f"{TREE}: up to date\n")


# --- an unowned extra file ----------------------------------------------------------------------

def test_unowned_file_is_a_warning_not_a_difference(out: Path, render_cli: RenderCli) -> None:
    notes = TREE / "NOTES.md"
    notes.write_text("kept by people, not by the renderer\n", "utf-8")
    nested = TREE / "08-bypass-policies" / "README.txt"
    nested.write_text("also mine\n", "utf-8")
    for path in (notes, nested):
        path.chmod(0o600)
        os.utime(path, (LONG_AGO, LONG_AGO))
    kept = {path: path.lstat() for path in (notes, nested)}
    warnings = (f"{nested}: warning: is not owned by sks-gitops; left alone\n"
                f"{notes}: warning: is not owned by sks-gitops; left alone\n")

    check = render_cli("--check", PROD_VALUES)
    assert check.stdout == ""
    assert check.stderr == warnings + f"{TREE}: up to date\n"
    assert render_cli("--diff", PROD_VALUES).stdout == ""

    for args in (("--set", "longhorn.replicas=1"), ("--set", "bypass.mode=service"), ()):
        run = render_cli(PROD_VALUES, *args)
        assert warnings in run.stderr
        for path, before in kept.items():
            after = path.lstat()
            assert (after.st_mode, after.st_size, after.st_mtime_ns) == (before.st_mode, before.st_size,
                                                                         before.st_mtime_ns)
    assert notes.read_text("utf-8") == "kept by people, not by the renderer\n"
    assert nested.read_text("utf-8") == "also mine\n"


def test_unowned_file_keeps_a_removed_stage_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      render_cli: RenderCli) -> None:
    monkeypatch.chdir(tmp_path)
    render_cli(PROD_VALUES, *EXTERNAL_SECRETS)
    notes = TREE / "05-pull-secrets" / "NOTES.md"
    notes.write_text("why we use External Secrets\n", "utf-8")
    run = render_cli(PROD_VALUES)
    assert f"{notes}: warning: is not owned by sks-gitops; left alone" in run.stderr
    assert sorted(p.name for p in (TREE / "05-pull-secrets").iterdir()) == ["NOTES.md"]


def test_unowned_directory_symlink_survives(out: Path, tmp_path: Path, render_cli: RenderCli) -> None:
    (tmp_path / "shared-docs").mkdir()
    link = TREE / "docs"
    link.symlink_to(tmp_path / "shared-docs")
    render_cli(PROD_VALUES, "--set", "longhorn.replicas=1")
    assert link.is_symlink()


# --- the markdown body --------------------------------------------------------------------------

def test_markdown_summary_table(out: Path, render_cli: RenderCli) -> None:
    markdown = render_cli("--diff", "--format", "markdown", PROD_VALUES, "--set", "bypass.mode=service",
                          expect=1).stdout
    head, _, rest = markdown.partition("<!-- sks-gitops diff part 1/1 -->\n")
    assert head.splitlines()[:2] == ["## sks-gitops render diff", ""]
    assert head.splitlines()[2].startswith(f"### `{CLUSTER}`: 0 added, ")
    assert head.splitlines()[4:9] == [
        "| stage | kind | namespace | name | change |",
        "|---|---|---|---|---|",
        "| `08-bypass-policies` | GlobalNetworkPolicy | - | allow-tigera.apiserver-endpoint-bypass | changed |",
        "",
        "#### Changed fields",  # then the rollout graph: tests/test_review_markdown.py
    ]
    assert "```\n\n<details><summary>Rollout plan (render --plan)</summary>\n" in head
    plan = render_cli("--plan", PROD_VALUES, "--set", "bypass.mode=service").stdout
    assert f"```text\n{plan}```\n</details>\n" in head
    assert rest.startswith("```diff\n") and rest.endswith("```\n")
    text = render_cli("--diff", PROD_VALUES, "--set", "bypass.mode=service", expect=1).stdout
    assert rest == f"```diff\n{text}```\n"


def test_markdown_heading_counts_the_files_shown(out: Path, render_cli: RenderCli) -> None:
    markdown = render_cli("--diff", "--format", "markdown", PROD_VALUES, "--set", "bypass.mode=service",
                          expect=1).stdout
    shown = markdown.count("\ndiff --git ")
    assert shown == 2  # the policies and bootstrap.sh (its endpoint check follows the mode); not the manifest
    assert f"### `{CLUSTER}`: 0 added, {shown} changed, 0 removed files" in markdown


def parts(markdown: str) -> list[str]:
    """The summary, then each numbered diff part, as a reader would cut the body into comments."""
    pieces = re.split(r"(?=<!-- sks-gitops (?:diff|summary) part \d+/\d+ -->\n)", markdown)
    return [piece for piece in pieces if piece]


def _fill_with_junk(tree: Path, lines: int) -> None:
    """Hand-edit two owned files into thousands of long lines: a huge diff with a short summary."""
    for path in ("06-tigera-custom-resources/installation.yaml", "argocd/apps/project.yaml"):
        (tree / path).write_text("".join(f"# junk line {i:06d} {'x' * 90}\n" for i in range(lines)), "utf-8")


def test_markdown_parts_stay_under_the_comment_limit(out: Path, render_cli: RenderCli) -> None:
    _fill_with_junk(TREE, 3000)
    markdown = render_cli("--diff", "--format", "markdown", PROD_VALUES, expect=1).stdout
    pieces = parts(markdown)
    assert len(pieces) > 3
    assert all(len(piece) < 60_000 for piece in pieces), [len(piece) for piece in pieces]
    total = len(pieces) - 1
    for index, piece in enumerate(pieces[1:], start=1):
        assert piece.startswith(f"<!-- sks-gitops diff part {index}/{total} -->\n```diff\n")
        assert piece.rstrip("\n").endswith("```")
    joined = "".join(piece.split("```diff\n", 1)[1].rsplit("```", 1)[0] for piece in pieces[1:])
    assert joined == render_cli("--diff", PROD_VALUES, expect=1).stdout, "no diff line lost between parts"


def test_markdown_summary_part_stays_under_the_limit(out: Path, render_cli: RenderCli) -> None:
    (TREE / "02-storageclass" / "storageclass.yaml").write_text("".join(
        f"---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: junk-{i:05d}\n  namespace: default\n"
        for i in range(3000)), "utf-8")
    markdown = render_cli("--diff", "--format", "markdown", PROD_VALUES, expect=1).stdout
    assert all(len(piece) < 60_000 for piece in parts(markdown)), [len(piece) for piece in parts(markdown)]


# --- secrets never reach a diff -----------------------------------------------------------------

SECRET_BLOCK = """apiVersion: v1
kind: Secret
metadata:
  name: smuggled
  namespace: tigera-operator
type: kubernetes.io/dockerconfigjson
data:
  .dockerconfigjson: eyJhdXRocyI6eyJTRUNSRVQtREFUQS0xIjp7fX19
stringData:
  password: SECRET-DATA-2
"""


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_diff_masks_secret_data(out: Path, render_cli: RenderCli, fmt: str) -> None:
    (TREE / "02-storageclass" / "storageclass.yaml").write_text(SECRET_BLOCK, "utf-8")
    diff = render_cli("--diff", "--format", fmt, PROD_VALUES, expect=1).stdout
    assert "-  .dockerconfigjson: <masked>\n" in diff
    assert "-  password: <masked>\n" in diff
    assert "eyJhdXRocyI6" not in diff
    assert "SECRET-DATA" not in diff
    if fmt == "markdown":
        assert "| `02-storageclass` | Secret | tigera-operator | smuggled | removed |" in diff


@pytest.mark.parametrize("secret", [
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pem\nstringData:\n  tls.key: |\n"
    "    -----BEGIN PRIVATE KEY-----\n    SECRET-DATA-3\n    -----END PRIVATE KEY-----\n",
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: flow\nstringData: {password: SECRET-DATA-4}\n",
], ids=["block-scalar", "flow-mapping"])
def test_diff_masks_every_secret_shape(out: Path, render_cli: RenderCli, secret: str) -> None:
    (TREE / "02-storageclass" / "storageclass.yaml").write_text(secret, "utf-8")
    diff = render_cli("--diff", PROD_VALUES, expect=1).stdout
    assert "SECRET-DATA" not in diff


# --- GitHub Actions annotations -----------------------------------------------------------------

def test_github_actions_annotations_for_invalid_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       render_cli: RenderCli) -> None:
    monkeypatch.chdir(tmp_path)
    text = PROD_VALUES.read_text("utf-8")
    assert "\n  size: 2\n" in text
    Path("prod.yaml").write_text(text.replace("\n  size: 2\n", "\n  size: 0\n"), "utf-8")
    line = text.splitlines().index("  size: 2") + 1

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    plain = render_cli("prod.yaml", expect=2)
    assert plain.stderr == f"prod.yaml:{line}:9: error: nodepool.size: 0 is less than the minimum of 1\n"

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    annotated = render_cli("prod.yaml", expect=2)
    assert annotated.stderr.splitlines() == [
        f"prod.yaml:{line}:9: error: nodepool.size: 0 is less than the minimum of 1",
        f"::error file=prod.yaml,line={line},col=9::nodepool.size: 0 is less than the minimum of 1",
    ]
    assert not Path("out").exists()


def test_github_actions_annotations_for_warnings(out: Path, monkeypatch: pytest.MonkeyPatch,
                                                 render_cli: RenderCli) -> None:
    edited = TREE / "02-storageclass" / "storageclass.yaml"
    edited.write_text(edited.read_text("utf-8") + "# edited\n", "utf-8")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    check = render_cli("--check", PROD_VALUES, expect=1)
    assert f"::warning file={edited}::was edited by hand; would be overwritten" in check.stderr.splitlines()


def test_github_actions_annotation_properties_are_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          render_cli: RenderCli) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    run = render_cli(PROD_VALUES, "--set", "bypass.namespaces=[calico-system, Not_A_Namespace]", expect=2)
    annotations = [line for line in run.stderr.splitlines() if line.startswith("::error")]
    assert annotations
    for annotation in annotations:
        header, _, message = annotation.removeprefix("::").partition("::")
        properties = header.removeprefix("error").strip()
        for item in filter(None, properties.split(",")):
            key, _, _value = item.partition("=")
            assert key in ("file", "line", "col"), annotation
        if not properties:  # a --set origin has no file to point at: it leads the message instead
            assert message.startswith("--set bypass.namespaces=[calico-system, Not_A_Namespace]: "), annotation



# --- the owned-files manifest -------------------------------------------------------------------

def test_manifest_only_difference_is_listed(out: Path, render_cli: RenderCli) -> None:
    (TREE / ".sks-gitops-owned.json").unlink()
    check = render_cli("--check", PROD_VALUES, expect=1)
    assert check.stdout == f"added: {TREE / '.sks-gitops-owned.json'}\n"


def test_unreadable_manifest_makes_nothing_owned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 render_cli: RenderCli) -> None:
    """A mangled manifest must not make the renderer delete files it can no longer prove it wrote."""
    monkeypatch.chdir(tmp_path)
    render_cli(PROD_VALUES, *EXTERNAL_SECRETS)
    (TREE / ".sks-gitops-owned.json").write_text("<<<<<<< HEAD\n", "utf-8")
    run = render_cli(PROD_VALUES)
    for path in PULL_SECRET_FILES:
        assert (TREE / path).is_file()
        assert f"{TREE / path}: warning: is not owned by sks-gitops; left alone" in run.stderr
    assert render_cli("--check", PROD_VALUES).stdout == ""


def test_removing_a_hand_edited_file_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           render_cli: RenderCli) -> None:
    monkeypatch.chdir(tmp_path)
    render_cli(PROD_VALUES, *EXTERNAL_SECRETS)
    edited = TREE / "05-pull-secrets" / "externalsecrets.yaml"
    edited.write_text(edited.read_text("utf-8") + "# local tweak\n", "utf-8")
    check = render_cli("--check", PROD_VALUES, expect=1)
    assert f"{edited}: warning: was edited by hand" in check.stderr


# --- the hook and the workflow that run --check for others --------------------------------------

def _yaml(path: Path) -> object:
    from ruamel.yaml import YAML

    return YAML(typ="safe").load(path.read_text("utf-8"))


def test_pre_commit_hook_manifest() -> None:
    hooks = _yaml(REPO_ROOT / ".pre-commit-hooks.yaml")
    assert isinstance(hooks, list)
    (hook,) = (hook for hook in hooks if hook["id"] == "sks-gitops-check")
    assert hook["entry"] == "render --check"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is False
    assert hook["args"] == ["values/prod.yaml"]
    assert re.search(hook["files"], "values/prod.yaml") and re.search(hook["files"], "out/c/01-x/kustomization.yaml")
    assert not re.search(hook["files"], "README.md")
    assert 'render = "renderer.cli:main"' in (REPO_ROOT / "pyproject.toml").read_text("utf-8"), \
        "the hook's entry is the console script the package installs"


def test_github_workflow() -> None:
    workflow = _yaml(REPO_ROOT / ".github" / "workflows" / "ci.yml")
    assert isinstance(workflow, dict)
    assert set(workflow["on"]) == {"push", "pull_request"}
    (job,) = workflow["jobs"].values()
    steps = job["steps"]
    assert {step.get("uses") for step in steps} >= {"actions/checkout@v4", "actions/setup-python@v5"}
    assert next(step for step in steps if step.get("uses") == "actions/setup-python@v5")["with"] == {
        "python-version": "3.11"}
    runs = [step["run"] for step in steps if "run" in step]
    assert runs[:3] == ["make test", "make lint", ".venv/bin/render --check values/*.yaml"]
    diff_step = next(step for step in steps if "--diff --format markdown" in step.get("run", ""))
    assert "github.event_name == 'pull_request'" in diff_step["if"]
    assert '>> "$GITHUB_STEP_SUMMARY"' in diff_step["run"]
    assert 'test "$status" -le 1' in diff_step["run"], "exit 1 (a difference) must not fail the step"
