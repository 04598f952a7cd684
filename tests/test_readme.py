"""The README works as written: every shell command of its examples runs in a scratch copy of the repository.

Each ```sh block of README.md is run line by line, in README order, in one scratch copy (with this
checkout's .venv and .tools linked in, and .venv/bin first on PATH, as the README's "the examples
write `render` as if it were on PATH" asks). A trailing `# exit N` comment is the exit code the
README promises; every other command must exit 0. A block preceded by
`<!-- readme-test: skip, needs a cluster -->` (or `needs the network`) is not run; `make test` is
this suite itself. The pre-commit snippet runs against this checkout with the real pre-commit.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

README = REPO_ROOT / "README.md"
SKIP_MARK = re.compile(r"<!-- readme-test: skip, (needs a cluster|needs the network) -->\s*\Z")
EXIT_COMMENT = re.compile(r"#\s*exit (\d)\b")
SELF = {"make test"}
"""Commands that are this test suite itself."""
NOT_COPIED = {".git", ".venv", ".tools", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", "build",
              "dist", "__pycache__"}


@dataclass(frozen=True)
class Command:
    line: str
    expect: int
    block: int
    skip: str = ""


def readme_blocks(text: str) -> list[tuple[str, str]]:
    """(skip reason or "", body) of every ```sh block, in order."""
    blocks = []
    for match in re.finditer(r"^```sh\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        mark = SKIP_MARK.search(before)
        blocks.append((mark.group(1) if mark else "", match.group(1)))
    return blocks


def readme_commands(text: str) -> list[Command]:
    commands = []
    for number, (skip, body) in enumerate(readme_blocks(text)):
        for line in body.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            found = EXIT_COMMENT.search(line)
            reason = skip or ("this test suite itself" if line.split("#")[0].strip() in SELF else "")
            commands.append(Command(line, int(found.group(1)) if found else 0, number, reason))
    return commands


def test_commands_are_found_and_only_cluster_or_network_ones_are_skipped() -> None:
    commands = readme_commands(README.read_text("utf-8"))
    run = [command.line.split("#")[0].strip() for command in commands if not command.skip]
    assert "make render" in run and "render values/prod.yaml" in run and len(run) >= 8
    assert {command.skip for command in commands} <= {"", "needs a cluster", "needs the network",
                                                      "this test suite itself"}
    skipped = [command.line for command in commands if command.skip == "needs a cluster"]
    assert all(line.startswith(("kubectl ", "out/ceosks-poc/bootstrap.sh --")) for line in skipped), skipped
    assert "out/ceosks-poc/bootstrap.sh --help" in run


def test_the_parser_reads_marks_and_exit_comments() -> None:
    text = ("x\n```sh\nmake a   # exit 1: differs\n# comment\n\nmake b\n```\n"
            "<!-- readme-test: skip, needs the network -->\n```sh\npipx install .\n```\n")
    assert readme_commands(text) == [Command("make a   # exit 1: differs", 1, 0), Command("make b", 0, 0),
                                     Command("pipx install .", 0, 1, "needs the network")]


def _scratch_copy(target: Path) -> Path:
    shutil.copytree(REPO_ROOT, target, symlinks=True, ignore=lambda _dir, names: [n for n in names if n in NOT_COPIED])
    for name in (".venv", ".tools"):
        if (REPO_ROOT / name).exists():
            (target / name).symlink_to(REPO_ROOT / name)
    subprocess.run(["git", "init", "--quiet", str(target)], check=True)  # a clone is a git work tree (render's root)
    return target


def _json_schema(root: Path) -> None:
    assert json.loads((root / "values" / "values.schema.json").read_text("utf-8"))["$id"]


def _size_three(root: Path) -> None:
    lines = (root / "out" / "ceosks-poc" / "bootstrap.sh").read_text("utf-8").splitlines()
    assert "  --size 3" in lines and "  --size 2" not in lines, "nodepool.size=3 was not written"


CHECKS: dict[str, Callable[[Path], None]] = {
    "make render": lambda root: (root / "out" / "ceosks-poc" / "argocd" / "root-application.yaml").is_file() or
    pytest.fail("make render left no tree"),
    "render --print-schema > values/values.schema.json": _json_schema,
    "render --diff --format markdown values/prod.yaml --set nodepool.size=3 > pr-comment.md":
        lambda root: "nodepool" in (root / "pr-comment.md").read_text("utf-8") or pytest.fail("empty PR comment"),
    "render values/base.yaml values/prod.yaml --set nodepool.size=3": _size_three,
    "(cd values && render --check prod.yaml)":
        lambda root: not (root / "values" / "out").exists() or pytest.fail("render in values/ made values/out/"),
    "render --plan --format markdown values/prod.yaml > plan.md":
        lambda root: "```mermaid\nflowchart" in (root / "plan.md").read_text("utf-8") or pytest.fail("no graph"),
}
"""What a command must leave behind, beyond its exit code (keyed by the command without its comment)."""


@pytest.mark.slow
def test_every_readme_example_does_what_the_readme_says(tmp_path: Path) -> None:
    if not (REPO_ROOT / ".venv" / "bin" / "render").exists():
        pytest.skip("needs `make render` first (the scratch copy shares this checkout's .venv)")
    root = _scratch_copy(tmp_path / "repo")
    dry = subprocess.run(["make", "-n", "render"], cwd=root, capture_output=True, text=True, check=True)
    assert "pip install" not in dry.stdout, "the .venv is stale: run `make render` in the checkout first"
    env = {**os.environ, "PATH": f"{root / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    env.pop("GITHUB_ACTIONS", None)
    ran = []
    for command in readme_commands(README.read_text("utf-8")):
        if command.skip:
            continue
        done = subprocess.run(["bash", "-c", command.line], cwd=root, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        assert done.returncode == command.expect, (f"README: `{command.line}` exited {done.returncode}, "
                                                   f"expected {command.expect}\n{done.stderr}{done.stdout}")
        check = CHECKS.get(command.line.split("#")[0].strip())
        if check:
            check(root)
        ran.append(command.line)
    assert len(ran) >= 8


def test_every_check_names_a_readme_command() -> None:
    run = {command.line.split("#")[0].strip() for command in readme_commands(README.read_text("utf-8"))}
    assert set(CHECKS) <= run, set(CHECKS) - run


# --------------------------------------------------------------------------- pre-commit


def _snippet() -> str:
    text = README.read_text("utf-8").split("**pre-commit.**", 1)[1]
    return text.split("```yaml\n", 1)[1].split("```", 1)[0]


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
                               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"})
    return done.stdout.strip()


@pytest.fixture(scope="module")
def consumer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """Another repository that only uses the hook: its values files, its committed out/."""
    if shutil.which("git") is None:
        pytest.skip("needs git")
    root = tmp_path_factory.mktemp("consumer")
    (root / "values").mkdir()
    for name in ("base.yaml", "prod.yaml"):
        shutil.copy(REPO_ROOT / "values" / name, root / "values" / name)
    shutil.copytree(REPO_ROOT / "out" / "ceosks-poc", root / "out" / "ceosks-poc")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "values and out/")
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home"))}
    env.pop("GITHUB_ACTIONS", None)
    return root, env


def _pre_commit(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pre_commit", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=900, check=False)


@pytest.mark.slow
def test_readme_pre_commit_snippet_passes_then_catches_a_hand_edit_of_out(consumer: tuple[Path, dict[str, str]]
                                                                           ) -> None:
    """The README's snippet, with this checkout as the repo and its HEAD as the rev."""
    pytest.importorskip("pre_commit")
    root, env = consumer
    head = _git(REPO_ROOT, "rev-parse", "HEAD")
    snippet = _snippet()
    config = re.sub(r"repo: \S+", f"repo: {REPO_ROOT}", snippet)
    config = re.sub(r"rev: \S+", f"rev: {head}", config)
    assert config != snippet and "sks-gitops-check" in config
    (root / ".pre-commit-config.yaml").write_text(config, "utf-8")
    clean = _pre_commit(root, env, "run", "--all-files")
    assert clean.returncode == 0, clean.stdout + clean.stderr

    edited = root / "out" / "ceosks-poc" / "02-storageclass" / "kustomization.yaml"
    original = edited.read_text("utf-8")
    try:
        edited.write_text(original + "# a hand edit\n", "utf-8")
        _git(root, "add", str(edited))
        stale = _pre_commit(root, env, "run")  # staged files only: the out/ edit alone must trigger the hook
        assert stale.returncode == 1, stale.stdout + stale.stderr
        assert f"changed: out/ceosks-poc/{edited.relative_to(root / 'out' / 'ceosks-poc')}" in stale.stdout
    finally:
        edited.write_text(original, "utf-8")
        _git(root, "add", str(edited))


@pytest.mark.slow
def test_pre_commit_try_repo_with_this_checkout(consumer: tuple[Path, dict[str, str]]) -> None:
    pytest.importorskip("pre_commit")
    root, env = consumer
    done = _pre_commit(root, env, "try-repo", str(REPO_ROOT), "sks-gitops-check", "--all-files")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sks-gitops render --check" in done.stdout and "Passed" in done.stdout
