"""templates/ and schemas/ ship inside the wheel: a wheel installed elsewhere renders the same tree."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import venv
from pathlib import Path

import pytest

from tests.conftest import PROD_VALUES, REPO_ROOT, read_tree


@pytest.mark.slow
def test_wheel_installed_elsewhere_renders_like_the_checkout(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(REPO_ROOT)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("sks_gitops-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)  # this pip installs into it: seconds faster than ensurepip
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env_dir / "bin" / "python"), "install", "--quiet",
                    str(wheel)], check=True, capture_output=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([str(env_dir / "bin" / "render"), str(PROD_VALUES), "--out", "out"], cwd=elsewhere,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert read_tree(elsewhere / "out" / "ceosks-poc") == read_tree(REPO_ROOT / "out" / "ceosks-poc")

    # the no-op cache works from the installed package too (its templates/ and schemas/ live inside it)
    env = {**os.environ, "SKS_GITOPS_CACHE_DIR": str(tmp_path / "cache"), "SKS_GITOPS_NO_CACHE": ""}
    time.sleep(2.1)  # past the racy window of files installed a moment ago
    argv = [str(env_dir / "bin" / "python"), "-X", "importtime", "-m", "renderer", "--check", str(PROD_VALUES),
            "--out", "out"]
    runs = [subprocess.run(argv, cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120)
            for _ in range(2)]
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr
    jinja_loaded = [any(line.endswith(" jinja2") for line in run.stderr.splitlines()) for run in runs]
    assert jinja_loaded == [True, False] and all("out/ceosks-poc: up to date" in run.stderr for run in runs)
