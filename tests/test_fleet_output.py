"""What a fleet owner sees: shared-layer problems once, a summary, --quiet, the fix command, colour, progress."""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from renderer import check
from renderer.cli import fleetmd
from tests.conftest import PROD_VALUES, REPO_ROOT
from tests.support.cli import run_cli
from tests.test_rollout import build

NAMES = ("alpha", "bravo", "charlie")


@cache
def seed_counts() -> tuple[int, int]:
    """Files and objects of one seed cluster's tree: what each cluster of the fleet reports (the stages as
    declared decide them, not this file)."""
    cluster_model, tree = build()
    return len(tree), sum(check.check(tree, cluster_model).values())


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Three clusters from the seed values under a shared base.yaml, in a scratch working directory."""
    monkeypatch.chdir(tmp_path)
    for variable in ("GITHUB_ACTIONS", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "base.yaml").write_text("tigera:\n  version: v3.19.2\n", "utf-8")
    seed = PROD_VALUES.read_text("utf-8")
    for name in NAMES:
        (tmp_path / f"{name}.yaml").write_text(seed.replace("ceosks-poc", name), "utf-8")
    return ["base.yaml", *(f"{name}.yaml" for name in NAMES)]


FORTY = tuple(f"c{number:02d}" for number in range(1, 41))


def _write_fleet(folder: Path, names: tuple[str, ...]) -> list[str]:
    """base.yaml plus one seed-derived cluster file per name; the values arguments, base first."""
    (folder / "base.yaml").write_text("tigera:\n  version: v3.19.2\n", "utf-8")
    seed = PROD_VALUES.read_text("utf-8")
    for name in names:
        (folder / f"{name}.yaml").write_text(seed.replace("ceosks-poc", name), "utf-8")
    return ["base.yaml", *(f"{name}.yaml" for name in names)]


@pytest.fixture(scope="module")
def forty_written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fleet of 40 clusters rendered once for the module: values in <dir>/values, trees in <dir>/out."""
    root = tmp_path_factory.mktemp("forty")
    (root / "values").mkdir()
    arguments = _write_fleet(root / "values", FORTY)
    run_cli("--out", root / "out", *(root / "values" / name for name in arguments), expect=0)
    return root


@pytest.fixture
def forty(forty_written: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], str]:
    """A scratch copy of the 40 values files (the working directory) and the shared rendered tree (--out):
    a test edits its copy and compares against the shared trees, which only a write would change."""
    shutil.copytree(forty_written / "values", tmp_path / "values")
    monkeypatch.chdir(tmp_path / "values")
    for variable in ("GITHUB_ACTIONS", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(variable, raising=False)
    return ["base.yaml", *(f"{name}.yaml" for name in FORTY)], str(forty_written / "out")


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = run_cli(*args, env=env)
    return result.exit_code, result.stdout, result.stderr


def test_a_typo_in_the_shared_layer_is_reported_once(fleet: list[str]) -> None:
    Path("base.yaml").write_text("tigera:\n  encapsulation: vxlan\n", "utf-8")
    code, _out, err = cli(*fleet)
    assert code == 2
    assert err.splitlines() == [
        'base.yaml:2:18: error: tigera.encapsulation: "vxlan" is not one of: VXLAN, VXLANCrossSubnet, IPIP, '
        'IPIPCrossSubnet, None (did you mean "VXLAN"?)',
        "  hint: in the shared layer base.yaml: found for every one of the 3 clusters, reported once",
    ]


def test_a_cluster_file_problem_stays_per_cluster(fleet: list[str]) -> None:
    for name in ("alpha", "bravo"):
        Path(f"{name}.yaml").write_text(Path(f"{name}.yaml").read_text("utf-8").replace("size: 2", "size: 0"))
    code, _out, err = cli(*fleet)
    assert code == 2
    assert [line.split(": error: ")[0] for line in err.splitlines()] == ["alpha.yaml:20:9", "bravo.yaml:20:9"]
    assert "hint" not in err


def test_write_prints_the_changed_clusters_and_a_summary(fleet: list[str]) -> None:
    code, _out, err = cli(*fleet)
    assert code == 0
    files, objects = seed_counts()
    assert err.splitlines() == [*(f"out/{name}: {files} files, {objects} objects validated; {files} added, 0 changed, "
                                  "0 removed" for name in NAMES), "3 clusters: 3 changed, 0 unchanged"]
    Path("bravo.yaml").write_text(Path("bravo.yaml").read_text("utf-8").replace("size: 2", "size: 3"))
    code, _out, err = cli(*fleet)
    assert (code, err.splitlines()) == (0, [
        f"out/bravo: {files} files, {objects} objects validated; 0 added, 1 changed, 0 removed",
        "3 clusters: 1 changed, 2 unchanged"])


def test_check_lists_the_stale_files_then_the_command_that_fixes_them(fleet: list[str]) -> None:
    cli(*fleet)
    assert cli("--check", *fleet) == (0, "", "3 clusters: 0 differ, 3 up to date\n")
    Path("bravo.yaml").write_text(Path("bravo.yaml").read_text("utf-8").replace("size: 2", "size: 3"))
    code, out, err = cli("--check", "--set", "longhorn.replicas=1", *fleet)
    assert code == 1
    assert "changed: out/bravo/bootstrap.sh" in out.splitlines()
    assert err.splitlines() == ["3 clusters: 3 differ, 0 up to date",
                                "out/ is stale; to update it, run: render --set longhorn.replicas=1 base.yaml "
                                "alpha.yaml bravo.yaml charlie.yaml"]
    fixed = err.splitlines()[-1].split("run: render ", 1)[1].split()
    assert cli(*fixed)[0] == 0
    assert cli("--check", *fixed)[0] == 0


def test_the_fix_command_names_the_layers_and_only_the_stale_clusters(forty: tuple[list[str], str]) -> None:
    arguments, out = forty
    Path("_region.yaml").write_text("{}\n", "utf-8")  # a second layer, kept in the command where it was given
    Path("c07.yaml").write_text(Path("c07.yaml").read_text("utf-8").replace("size: 2", "size: 3"))
    code, stdout, err = cli("--check", "--out", out, "--strict", "_region.yaml", *arguments)
    assert code == 1
    assert stdout == f"changed: {out}/c07/bootstrap.sh\n"
    assert err.splitlines()[-1] == (f"{out}/ is stale; to update it, run: render --out {out} --strict _region.yaml "
                                    "base.yaml c07.yaml")
    Path("c31.yaml").write_text(Path("c31.yaml").read_text("utf-8").replace("size: 2", "size: 4"))
    err = cli("--check", "--quiet", "--out", out, *arguments)[2]
    assert err == f"{out}/ is stale; to update it, run: render --out {out} base.yaml c07.yaml c31.yaml\n"


def test_quiet_prints_only_answers_and_problems(fleet: list[str]) -> None:
    assert cli("--quiet", *fleet) == (0, "", "")
    assert cli("-q", "--check", *fleet) == (0, "", "")
    Path("bravo.yaml").write_text(Path("bravo.yaml").read_text("utf-8").replace("size: 2", "size: 3"))
    code, out, err = cli("--check", "--quiet", *fleet)
    assert (code, out) == (1, "changed: out/bravo/bootstrap.sh\n")
    assert err == "out/ is stale; to update it, run: render base.yaml bravo.yaml\n"
    Path("alpha.yaml").write_text("cluster: {}\n")
    assert cli("--quiet", *fleet)[2].startswith("alpha.yaml:1:1: error: cluster.kubernetesVersion: required")


@pytest.mark.parametrize(("env", "colored"), [
    ({}, False),  # CliRunner's stdout is not a terminal
    ({"FORCE_COLOR": "1"}, True),
    ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, True),
    ({"NO_COLOR": "1"}, False),
])
def test_diff_is_coloured_only_when_wanted(fleet: list[str], env: dict[str, str], colored: bool) -> None:
    cli(*fleet)
    code, out, _err = cli("--diff", "--set", "nodepool.size=3", *fleet, env=env)
    assert code == 1
    assert ("\x1b[32m+  --size 3\x1b[0m\n" in out) is colored
    assert ("\x1b[31m-  --size 2\x1b[0m\n" in out) is colored
    assert "+  --size 3\n" in out.replace("\x1b[32m", "").replace("\x1b[0m", "")
    markdown = cli("--diff", "--format", "markdown", "--set", "nodepool.size=3", *fleet, env=env)[1]
    assert "\x1b[" not in markdown


def _stderr_on_a_terminal(args: list[str], cwd: Path) -> str:
    """Run the real `render` with stderr on a pseudo-terminal; what the terminal received."""
    leader, follower = pty.openpty()
    env = {**os.environ, "SKS_GITOPS_NO_CACHE": "1"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([sys.executable, "-m", "renderer", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    process.wait(timeout=120)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace")


@pytest.mark.slow
def test_progress_is_drawn_on_a_terminal_only(fleet: list[str], tmp_path: Path) -> None:
    seen = _stderr_on_a_terminal(fleet, tmp_path)
    assert "\rprepared 1/3 clusters" in seen.replace("\x1b[K", "") and "written 2/3 clusters" in seen
    assert seen.rstrip().endswith("3 clusters: 3 changed, 0 unchanged")
    piped = subprocess.run([sys.executable, "-m", "renderer", "--check", *fleet], cwd=tmp_path, capture_output=True,
                           text=True, env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, check=False)
    assert piped.returncode == 0 and "\r" not in piped.stderr and "clusters" in piped.stderr
    quiet = _stderr_on_a_terminal(["--quiet", "--check", *fleet], tmp_path)
    assert quiet.strip() == ""


# --- --output json: one document on stdout, checked against schemas/output.schema.json ---------

def _document(*args: str) -> tuple[int, dict[str, Any]]:
    """Run with --output json; the whole of stdout is one document that matches the schema."""
    code, out, _err = cli("--output", "json", *args)
    document = json.loads(out)
    schema = json.loads((REPO_ROOT / "schemas" / "output.schema.json").read_text("utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(document)
    assert document["exit_code"] == code
    return code, document


def test_json_output_of_a_render_a_check_a_diff_and_a_plan_matches_its_schema(fleet: list[str]) -> None:
    code, written = _document(*fleet)
    assert code == 0 and written["mode"] == "write" and written["fix_command"] is None
    assert written["summary"] == {"clusters": 3, "changed": 3, "unchanged": 0}
    assert [(entry["name"], entry["status"], entry["values"]) for entry in written["clusters"]] == [
        (name, "changed", ["base.yaml", f"{name}.yaml"]) for name in NAMES]
    assert len(written["clusters"][0]["files"]["added"]) == seed_counts()[0]
    Path("bravo.yaml").write_text(Path("bravo.yaml").read_text("utf-8").replace("size: 2", "size: 3"))
    for mode in ("--check", "--diff"):
        code, checked = _document(mode, *fleet)
        assert code == 1 and checked["mode"] == mode[2:]
        assert [entry["status"] for entry in checked["clusters"]] == ["unchanged", "changed", "unchanged"]
        assert checked["clusters"][1]["files"] == {"added": [], "changed": ["bootstrap.sh"], "removed": []}
        assert checked["fix_command"] == "render base.yaml bravo.yaml"
    code, planned = _document("--plan", "base.yaml", "alpha.yaml")
    assert code == 0 and planned["clusters"][0]["status"] == "planned"
    steps = planned["clusters"][0]["plan"]
    assert steps[0] == {"delivery": "bootstrap (out/alpha/bootstrap.sh), in this order",
                        "step": "01-longhorn: Longhorn storage (helm upgrade --install)", "waits": []}
    assert any(step["waits"] for step in steps) and any(step["delivery"].startswith("Argo CD") for step in steps)


def test_json_output_of_a_refused_run_names_each_problem(fleet: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    Path("alpha.yaml").write_text(Path("alpha.yaml").read_text("utf-8").replace("size: 2", "size: 0"))
    code, refused = _document("--check", *fleet)
    assert code == 2 and refused["clusters"] == []
    assert [(p["file"], p["line"], p["column"], p["key"], p["level"]) for p in refused["problems"]] == [
        ("alpha.yaml", 20, 9, "nodepool.size", "error")]
    assert refused["problems"][0]["message"]
    code, usage = _document("--check", "--plan", *fleet)
    assert code == 2 and usage["mode"] is None and "exclude each other" in usage["problems"][0]["message"]
    assert _document("--output=json", "--no-such-option", *fleet)[1]["problems"][0]["message"].startswith("No such")
    assert _document("--format", "markdown", "--diff", *fleet)[0] == 2

    def broken(_request: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("renderer.cli.command.execute", broken)
    code, internal = _document(*fleet)
    assert code == 3 and internal["problems"][0]["message"].startswith("internal error")


def test_without_output_json_the_text_output_is_unchanged(fleet: list[str]) -> None:
    cli(*fleet)
    text = cli("--check", "--set", "nodepool.size=3", *fleet)
    assert text[1].startswith("changed: out/alpha/bootstrap.sh\n") and "{" not in text[1]
    assert cli("--output", "text", "--check", "--set", "nodepool.size=3", *fleet) == text


# --- the PR markdown at fleet scale: identical changes once, under GitHub's comment limit -------

def test_a_same_change_over_40_clusters_is_one_block_under_the_comment_limit(forty: tuple[list[str], str]) -> None:
    arguments, out = forty
    code, markdown, _err = cli("--diff", "--format", "markdown", "--out", out, "--set", "nodepool.size=4", *arguments)
    assert code == 1
    assert len(markdown) < fleetmd.COMMENT_LIMIT
    assert all(f"`{name}`" in markdown for name in FORTY)
    assert markdown.count("\n### ") == 1 and "\n### 40 clusters: 0 added, 1 changed, 0 removed files each\n" in markdown
    assert f"`{fleetmd.PLACEHOLDER}` below stands for it): `c01`, `c02`," in markdown
    assert markdown.count("diff --git ") == 1 and f"/{fleetmd.PLACEHOLDER}/bootstrap.sh" in markdown
    assert f"nodepool {fleetmd.PLACEHOLDER}-worker (4 nodes)" in markdown
    code, plans, _err = cli("--plan", "--format", "markdown", "--out", out, *arguments)
    assert code == 0 and len(plans) < fleetmd.COMMENT_LIMIT
    assert plans.count("## Rollout plan for ") == 1 and all(f"`{name}`" in plans for name in FORTY)


def test_only_identical_sections_are_grouped(forty: tuple[list[str], str]) -> None:
    arguments, out = forty
    Path("c07.yaml").write_text(Path("c07.yaml").read_text("utf-8").replace("size: 2", "size: 3"))
    markdown = cli("--diff", "--format", "markdown", "--out", out, *arguments)[1]
    headings = [line for line in markdown.splitlines() if line.startswith("### ")]
    assert headings == ["### `c07`: 0 added, 1 changed, 0 removed files",  # the changed clusters first
                        "### 39 clusters: 0 added, 0 changed, 0 removed files each"]
    assert markdown.startswith("## sks-gitops render diff\n\n40 clusters, 1 changed: `c07`\n")
    assert "`c01`, `c02`, `c03`, `c04`, `c05`, `c06`, `c08`," in markdown
    assert "diff --git a/" in markdown and fleetmd.PLACEHOLDER not in markdown.split("```diff", 1)[1]


def test_a_name_inside_a_longer_word_or_number_is_not_set_aside() -> None:
    groups = fleetmd.group([("c1", "c1 c1-worker c10"), ("c2", "c2 c2-worker c10"), ("c3", "c3 c3-worker c30")])
    assert [(group.clusters, group.text) for group in groups] == [
        (["c1", "c2"], "CLUSTER-NAME CLUSTER-NAME-worker c10"), (["c3"], "c3 c3-worker c30")]


def test_the_comment_is_cut_at_a_part_and_names_the_file_holding_the_rest() -> None:
    parts = [f"part {index} " + "x" * 100 for index in range(10)]
    assert fleetmd.cut(parts, "rest.md") == ("\n".join(parts), "")
    comment, rest = fleetmd.cut(parts, "odd `name`|.md", limit=600)
    assert len(comment) < 600 and comment.startswith("part 0 ") and "\\`name\\`\\|.md" in comment
    kept = comment.count("\npart ") + 1
    assert f"the remaining {10 - kept} part(s)" in comment
    assert "\n".join(parts) == "\n".join([*parts[:kept], rest])


def test_markdown_overflow_writes_what_does_not_fit_to_the_file_it_names(fleet: list[str]) -> None:
    cli(*fleet)
    whole = cli("--diff", "--format", "markdown", "--set", "nodepool.size=3", *fleet)[1]
    code, comment, _err = cli("--diff", "--format", "markdown", "--markdown-overflow", "rest.md",
                              "--set", "nodepool.size=3", *fleet)
    assert (code, comment) == (1, whole) and Path("rest.md").read_text("utf-8") == "Everything fit in the comment.\n"
    for name in ("alpha", "charlie"):  # hand edits: a diff far over the limit
        Path(f"out/{name}/argocd/apps/project.yaml").write_text(
            "".join(f"# junk line {i:06d} {'x' * 90}\n" for i in range(3000)), "utf-8")
    whole = cli("--diff", "--format", "markdown", *fleet)[1]
    assert len(whole) > 2 * fleetmd.COMMENT_LIMIT
    code, comment, _err = cli("--diff", "--format", "markdown", "--markdown-overflow", "rest.md", *fleet)
    assert code == 1 and len(comment) < fleetmd.COMMENT_LIMIT and "are in `rest.md`" in comment
    assert all(f"`{name}`" in comment for name in NAMES)
    rest = Path("rest.md").read_text("utf-8")
    assert whole.startswith(comment.rsplit("\n**Cut at", 1)[0]) and whole.endswith(rest)
    assert cli("--diff", "--markdown-overflow", "rest.md", *fleet)[0] == 2
    plans = cli("--plan", "--format", "markdown", *fleet)[1]
    assert plans.count("## Rollout plan for ") == 1 and "for 3 clusters" in plans
    assert cli("--plan", "--format", "markdown", "--markdown-overflow", "plans.md", *fleet)[1] == plans


def test_json_output_shows_no_secret_shaped_value(fleet: list[str]) -> None:
    token = "gh" + "p_" + "A1b2C3d4" * 4 + "E5f6"  # a GitHub token's shape: refused where set, never echoed
    code, out, _err = cli("--output", "json", "--set", f"cluster.zone={token}", *fleet)
    assert code == 2 and json.loads(out)["problems"]
    assert token[4:] not in out
    Path(f"{token}.yaml").write_text(Path("alpha.yaml").read_text("utf-8").replace("alpha", "delta"), "utf-8")
    code, out, _err = cli("--output", "json", "--check", *fleet, f"{token}.yaml")
    assert code == 1 and token[4:] not in out and len(json.loads(out)["clusters"]) == 4


def test_ctrl_c_during_a_json_run_says_aborted_without_a_traceback(monkeypatch: pytest.MonkeyPatch,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """click's standalone mode turns Ctrl-C into "Aborted!" (exit 1); the JSON mode runs click non-standalone."""
    from renderer.cli import command

    def interrupted(_request: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "execute", interrupted)
    with pytest.raises(SystemExit) as exited:
        command.main.main(["--no-cache", "--output", "json", str(PROD_VALUES)])
    assert exited.value.code == 1
    captured = capsys.readouterr()
    assert captured.err.endswith("Aborted!\n") and "Traceback" not in captured.err
