"""Packaging: the licence, what the sdist holds, the hashed locks and which one each make target installs."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import tarfile
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import REPO_ROOT

APACHE_2_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
"""sha256 of https://www.apache.org/licenses/LICENSE-2.0.txt, the licence pyproject.toml declares."""


def pins(lock: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """{normalised name: (version, hashes)} of a `--generate-hashes` lock file."""
    text = (REPO_ROOT / "requirements" / lock).read_text("utf-8")
    found = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        head = re.match(r"([A-Za-z0-9_.-]+)==([^\s;\\]+)", block)
        if head:
            name = re.sub(r"[-_.]+", "-", head.group(1)).lower()
            found[name] = (head.group(2), tuple(re.findall(r"--hash=sha256:([0-9a-f]{64})", block)))
    return found


def test_license_is_the_apache_2_text() -> None:
    assert hashlib.sha256((REPO_ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_SHA256
    assert tomllib.loads((REPO_ROOT / "pyproject.toml").read_text("utf-8"))["project"]["license"] == "Apache-2.0"


def test_locks_pin_every_dependency_with_hashes_within_the_ranges() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    runtime, test = pins("runtime.txt"), pins("test.txt")
    assert runtime and all(hashes for _version, hashes in [*runtime.values(), *test.values()])
    for lock, wanted in ((runtime, project["dependencies"]),
                         (test, project["dependencies"] + project["optional-dependencies"]["test"])):
        for line in wanted:
            requirement = Requirement(line)
            name = re.sub(r"[-_.]+", "-", requirement.name).lower()
            assert name in lock, f"{name} is not locked"
            assert requirement.specifier.contains(lock[name][0], prereleases=True), (name, lock[name][0])
    assert "pytest" not in runtime and "hypothesis" not in runtime, "test tools leaked into the runtime lock"
    assert {name: pin for name, pin in test.items() if name in runtime} == runtime, \
        "the test lock must hold the runtime lock's exact pins (make test then satisfies make render)"


def _dry_run(target: str, tmp_path: Path) -> str:
    done = subprocess.run(["make", "-n", target, f"VENV={tmp_path / 'venv'}"], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=True)
    return done.stdout


def test_make_render_installs_only_the_runtime_lock(tmp_path: Path) -> None:
    commands = _dry_run("render", tmp_path)
    assert "pip install --quiet --require-hashes -r requirements/runtime.txt" in commands
    assert "requirements/test.txt" not in commands and "[test]" not in commands
    assert "pip install --quiet --no-deps -e ." in commands


def test_make_test_installs_the_test_lock(tmp_path: Path) -> None:
    commands = _dry_run("test", tmp_path)
    assert "pip install --quiet --require-hashes -r requirements/test.txt" in commands
    assert "[test]" not in commands


def test_nightly_workflow_runs_the_thorough_profile_and_the_newest_versions() -> None:
    text = (REPO_ROOT / ".github" / "workflows" / "nightly.yml").read_text("utf-8")
    assert "schedule:" in text and "cron:" in text
    assert "run: make test-thorough" in text
    make = (REPO_ROOT / "Makefile").read_text("utf-8")
    assert ("test-thorough: $(STAMP) tools\n\t$(BIN)/python -m compileall -q renderer\n"
            "\tHYPOTHESIS_PROFILE=thorough $(BIN)/python -m pytest ") in make
    assert "--upgrade --upgrade-strategy eager -e '.[test]'" in text and "render --check values/*.yaml" in text


@pytest.mark.slow
def test_sdist_holds_the_package_and_no_test_fixture(tmp_path: Path) -> None:
    pytest.importorskip("build")
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path), str(REPO_ROOT)],
                   check=True, capture_output=True, timeout=600)
    (sdist,) = tmp_path.glob("sks_gitops-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = [name.split("/", 1)[1] for name in archive.getnames() if "/" in name]
    assert not [name for name in names if name.startswith("tests/") or "fixtures" in name]
    tops = {name.split("/", 1)[0] for name in names}
    assert tops == {"renderer", "templates", "schemas", "README.md", "pyproject.toml", "LICENSE", "PKG-INFO",
                    ".gitignore"}
    assert {"renderer/cli/command.py", "schemas/values.schema.json", "LICENSE"} <= set(names)
    shipped = sorted(path.relative_to(REPO_ROOT).as_posix() for path in (REPO_ROOT / "templates").rglob("*")
                     if path.is_file())
    assert shipped and set(shipped) <= set(names)
