"""templates/ and schemas/ ship inside the wheel: a wheel installed elsewhere renders the same tree."""

from __future__ import annotations

import subprocess
import sys
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
    venv.EnvBuilder(with_pip=True).create(env_dir)
    subprocess.run([str(env_dir / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)],
                   check=True, capture_output=True, timeout=600)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run([str(env_dir / "bin" / "render"), str(PROD_VALUES), "--out", "out"], cwd=elsewhere,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert read_tree(elsewhere / "out" / "ceosks-poc") == read_tree(REPO_ROOT / "out" / "ceosks-poc")
