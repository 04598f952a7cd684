"""A large fleet prepared by forked workers gives the serial run's trees, messages and exit codes, errors included.

Each run happens in a fresh process (pytest's own threads would make the pool fall back to serial);
the in-process CliRunner run is the serial reference.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from renderer.cache import parallel
from renderer.cli import command
from tests.conftest import PROD_VALUES, REPO_ROOT, read_tree

COUNT = parallel.MIN_CLUSTERS + 2

DRIVER = """
import sys
from renderer import check, errors
from renderer.cache import parallel
from renderer.cli.command import main

used = []
real = parallel._parallel
parallel._parallel = lambda items: used.append(real(items)) or used[-1]
failure = sys.argv[1]
real_check = check.check

def failing(tree, model, *args):
    if model.cluster == "c07" and failure == "template":
        raise errors.TemplateError(errors.Problem("x.yaml", 0, 0, "Kind name", "a template bug"))
    if model.cluster == "c07" and failure == "bug":
        raise ZeroDivisionError("an unexpected bug")
    return real_check(tree, model, *args)

check.check = failing
try:
    main(sys.argv[2:])
finally:
    print(f"parallel={used}", file=sys.stderr)
"""


@pytest.fixture
def fleet(tmp_path: Path) -> list[str]:
    values = tmp_path / "values"
    values.mkdir()
    for index in range(COUNT):
        text = PROD_VALUES.read_text("utf-8").replace("name: ceosks-poc\n", f"name: c{index:02d}\n")
        (values / f"c{index:02d}.yaml").write_text(text, "utf-8")
    return [str(path) for path in sorted(values.iterdir())]


def forked(failure: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SKS_GITOPS_NO_CACHE": "1"}
    return subprocess.run([sys.executable, "-c", DRIVER, failure, *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def serial(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(command.main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_forked_workers_render_the_serial_trees_and_messages(fleet: list[str], tmp_path: Path) -> None:
    done = forked("none", "--out", str(tmp_path / "forked"), *fleet)
    assert done.returncode == 0, done.stderr
    assert "parallel=[True]" in done.stderr
    code, _stdout, stderr = serial("--out", str(tmp_path / "serial"), *fleet)
    assert code == 0
    assert done.stderr.replace(str(tmp_path / "forked"), "OUT") == \
        stderr.replace(str(tmp_path / "serial"), "OUT") + "parallel=[True]\n"
    assert read_tree(tmp_path / "forked") == read_tree(tmp_path / "serial")


def test_values_problems_from_workers_are_all_reported_in_order(fleet: list[str], tmp_path: Path) -> None:
    for broken in (fleet[3], fleet[-1]):
        Path(broken).write_text(Path(broken).read_text().replace("size: 2", "size: 0"))
    done = forked("none", "--out", str(tmp_path / "forked"), *fleet)
    code, _stdout, stderr = serial("--out", str(tmp_path / "serial"), *fleet)
    assert (done.returncode, code) == (2, 2)
    assert done.stderr == stderr + "parallel=[True]\n"
    assert stderr.index("c03.yaml") < stderr.index(f"c{COUNT - 1:02d}.yaml")
    assert not (tmp_path / "forked").exists()


def test_a_template_error_in_a_worker_keeps_its_problems_and_exit_code(fleet: list[str], tmp_path: Path) -> None:
    done = forked("template", "--out", str(tmp_path / "forked"), *fleet)
    assert done.returncode == 3
    assert "x.yaml: error: Kind name: a template bug" in done.stderr
    assert not (tmp_path / "forked").exists()


def test_an_unexpected_exception_in_a_worker_is_an_internal_error_with_its_traceback(fleet: list[str],
                                                                                    tmp_path: Path) -> None:
    done = forked("bug", "--out", str(tmp_path / "forked"), *fleet)
    assert done.returncode == 3
    assert "internal error (a bug in sks-gitops" in done.stderr
    assert "in a worker process" in done.stderr and "ZeroDivisionError: an unexpected bug" in done.stderr
    assert not (tmp_path / "forked").exists()


def test_small_fleets_and_threaded_processes_stay_serial(fleet: list[str]) -> None:
    assert not parallel._parallel(fleet[: parallel.MIN_CLUSTERS - 1])
    assert [*parallel.ordered_map(len, ["a", "bb", "ccc"])] == [1, 2, 3]
