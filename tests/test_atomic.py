"""Writing out/<cluster>/ safely: SIGKILL mid-write, concurrent renders, bad output locations, fleets.

The kill test runs the real command through tests/support/slow_render.py, which pauses before each
file written, so the write window lasts long enough to interrupt at many points; after every kill
the tree must equal, byte for byte, either the previous render or the new one, and the next render
must clean up.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from renderer import write, yamlio
from tests.conftest import PROD_VALUES, REPO_ROOT, RenderCli
from tests.support.cli import run_cli

CLUSTER = "ceosks-poc"
CHANGE = ("--set", "gitops.engine=both")
"""Adds the Flux tree beside Argo CD: 11 new files, 1 changed, 40 files written in all."""
PAUSE = 0.01
SLOW_RENDER = Path(__file__).resolve().parent / "support" / "slow_render.py"
LONG_AGO = 1_000_000_000


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under root as {relative path: bytes}; a missing root is an empty tree."""
    return {path.relative_to(root).as_posix(): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()}


def leftovers(out: Path) -> list[str]:
    return sorted(path.name for path in out.iterdir() if path.name.startswith(f".{CLUSTER}.") and
                  (".tmp-" in path.name or ".old-" in path.name))


def stats(root: Path) -> dict[str, tuple[int, int, int, int]]:
    found = {}
    for path in [root, *sorted(root.rglob("*"))]:
        info = path.lstat()
        found[path.relative_to(root).as_posix()] = (info.st_ino, info.st_mode, info.st_size, info.st_mtime_ns)
    return found


def start_render(out: Path, *args: str, pause: float = PAUSE) -> subprocess.Popen[bytes]:
    env = {key: value for key, value in os.environ.items() if key != "GITHUB_ACTIONS"}
    return subprocess.Popen([sys.executable, str(SLOW_RENDER), str(pause), str(PROD_VALUES), "--out", str(out), *args],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes], timeout: float = 20.0) -> bool:
    """Poll `condition()` every millisecond until true (True) or the process ends first (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return condition()
        time.sleep(0.001)
    raise AssertionError("the render neither started writing nor ended")


def writing(out: Path) -> Callable[[], bool]:
    """True once a render has created its temporary tree (it holds the lock and is writing)."""
    return lambda: bool(leftovers(out))


def swapped(out: Path, old_inode: int) -> Callable[[], bool]:
    """True once out/<cluster> is another directory than before (the swap happened)."""
    return lambda: (out / CLUSTER).stat().st_ino != old_inode


@pytest.fixture(scope="module")
def references(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """An out/ holding the prod render (to copy per attempt), the old tree and the new tree: rendered once for
    the module, as the tests only copy it."""
    root = tmp_path_factory.mktemp("references")
    run_cli(PROD_VALUES, "--out", root / "ref-old", expect=0)
    run_cli(PROD_VALUES, "--out", root / "ref-new", *CHANGE, expect=0)
    old, new = tree_bytes(root / "ref-old" / CLUSTER), tree_bytes(root / "ref-new" / CLUSTER)
    assert old != new
    return root / "ref-old", old, new


# --- SIGKILL mid-write --------------------------------------------------------------------------

def _write_window(ref_out: Path, scratch: Path) -> float:
    """Seconds from the temporary tree appearing to the swap, measured on one uninterrupted render."""
    shutil.copytree(ref_out, scratch)
    old_inode = (scratch / CLUSTER).stat().st_ino
    proc = start_render(scratch, *CHANGE)
    try:
        assert wait_for(writing(scratch), proc)
        started = time.monotonic()
        assert wait_for(swapped(scratch, old_inode), proc)
        return time.monotonic() - started
    finally:
        proc.communicate()


@pytest.mark.slow
def test_sigkill_leaves_the_old_or_the_new_tree(tmp_path: Path, render_cli: RenderCli,
                                                references: tuple[Path, dict[str, bytes], dict[str, bytes]],
                                                record_property: Callable[[str, object], None]) -> None:
    ref_out, old, new = references
    window = _write_window(ref_out, tmp_path / "calibration")
    # Kill points: two during startup and rendering, 22 spread over 125% of the measured write
    # window (from the temporary tree appearing), one as soon as the swap is seen.
    points: list[tuple[str, float]] = [("from-start", 0.05), ("from-start", 0.15)]
    points += [("in-window", k * window * 1.25 / 21) for k in range(22)]
    points += [("after-swap", 0.0)]
    outcomes = {"old": 0, "new": 0}
    left_behind = 0
    for attempt, (anchor, offset) in enumerate(points):
        out = tmp_path / f"attempt-{attempt:02d}"
        shutil.copytree(ref_out, out)
        old_inode = (out / CLUSTER).stat().st_ino
        proc = start_render(out, *CHANGE)
        try:
            if anchor == "from-start":
                time.sleep(offset)
            elif anchor == "in-window":
                if wait_for(writing(out), proc):
                    time.sleep(offset)
            else:
                wait_for(swapped(out, old_inode), proc)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
        on_disk = tree_bytes(out / CLUSTER)
        state = "old" if on_disk == old else "new" if on_disk == new else "mixed"
        assert state != "mixed", f"kill point {attempt} ({anchor} +{offset:.3f}s) left a mixed tree"
        outcomes[state] += 1
        left_behind += bool(leftovers(out))

        recovered = render_cli(PROD_VALUES, "--out", out, *CHANGE)
        assert "warning" not in recovered.stderr
        assert tree_bytes(out / CLUSTER) == new
        assert leftovers(out) == []
    summary = f"{len(points)} kill points over a {window:.2f}s write window: {outcomes}, " \
              f"{left_behind} left a temporary tree for the next render to remove"
    record_property("kill_test", summary)
    print("\n" + summary)
    assert outcomes["old"] >= 3 and outcomes["new"] >= 1, summary


def test_crash_between_the_two_renames_is_recovered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                    render_cli: RenderCli) -> None:
    """Without renameat2 the old tree is parked, then the new one renamed in: a crash between the two
    leaves no out/<cluster>/, and the next render restores the parked tree (unowned files included)."""
    out = tmp_path / "out"
    render_cli(PROD_VALUES, "--out", out)
    (out / CLUSTER / "NOTES.md").write_text("mine\n", "utf-8")
    old = tree_bytes(out / CLUSTER)

    class Crash(BaseException):
        pass

    real_rename = os.rename
    calls: list[str] = []

    def rename(src: str | Path, dst: str | Path) -> None:
        calls.append(f"{Path(src).name} -> {Path(dst).name}")
        if len(calls) == 2:
            raise Crash
        real_rename(src, dst)

    monkeypatch.setattr(write, "_exchange", lambda a, b: False)
    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(Crash):
        render_cli(PROD_VALUES, "--out", out, *CHANGE)
    monkeypatch.undo()
    assert calls[0] == f"{CLUSTER} -> .{CLUSTER}.old-{os.getpid()}"
    assert not (out / CLUSTER).exists()
    assert tree_bytes(out / f".{CLUSTER}.old-{os.getpid()}") == old

    render_cli(PROD_VALUES, "--out", out)
    assert tree_bytes(out / CLUSTER) == old
    assert leftovers(out) == []


# --- concurrency --------------------------------------------------------------------------------

@pytest.mark.slow
def test_second_render_of_the_same_cluster_fails_on_the_lock(
        tmp_path: Path, render_cli: RenderCli,
        references: tuple[Path, dict[str, bytes], dict[str, bytes]]) -> None:
    ref_out, old, new = references
    out = tmp_path / "out"
    shutil.copytree(ref_out, out)
    first = start_render(out, *CHANGE, pause=0.05)
    try:
        assert wait_for(writing(out), first), "the first render never started writing"
        staging = leftovers(out)
        for args in ((), CHANGE):
            second = render_cli(PROD_VALUES, "--out", out, *args, expect=2)
            assert second.stderr == (f"{out / CLUSTER}: error: another render of {CLUSTER} is running "
                                     f"(lock {out / f'.{CLUSTER}.lock'} is held); try again when it has finished\n")
        assert tree_bytes(out / CLUSTER) == old
        assert leftovers(out) == staging, "the second render must not clean up the first one's temporary tree"
    finally:
        _, stderr = first.communicate(timeout=30)
    assert first.returncode == 0, stderr.decode()
    assert tree_bytes(out / CLUSTER) == new
    render_cli(PROD_VALUES, "--out", out)
    assert tree_bytes(out / CLUSTER) == old
    assert leftovers(out) == []


def test_other_clusters_do_not_share_the_lock(tmp_path: Path, render_cli: RenderCli) -> None:
    out = tmp_path / "out"
    out.mkdir()
    other = tmp_path / "other.yaml"
    other.write_text(PROD_VALUES.read_text("utf-8").replace("name: ceosks-poc\n", "name: other\n", 1), "utf-8")
    with open(out / f".{CLUSTER}.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        render_cli(other, "--out", out)
        render_cli(PROD_VALUES, "--out", out, expect=2)
    render_cli(PROD_VALUES, "--out", out)


# --- what recovery may remove ---------------------------------------------------------------------

@pytest.mark.parametrize("mode", [(), ("--check",), ("--diff",)])
def test_only_recorded_leftovers_are_removed(tmp_path: Path, render_cli: RenderCli, mode: tuple[str, ...]) -> None:
    """`render --check` once deleted or renamed user folders named like leftovers; only the lock's record counts."""
    out = tmp_path / "out"
    render_cli(PROD_VALUES, "--out", out)
    mine = [out / f".{CLUSTER}.old-notes", out / f".{CLUSTER}.tmp-backup", out / f".{CLUSTER}.old-1"]
    for folder in mine:
        folder.mkdir()
        (folder / "keep.txt").write_text("mine\n", "utf-8")
    shutil.rmtree(out / CLUSTER)  # a parked tree would be restored here, were it one
    render_cli(*mode, PROD_VALUES, "--out", out, expect=0 if not mode else 1)
    assert all((folder / "keep.txt").read_text("utf-8") == "mine\n" for folder in mine)
    assert (out / f".{CLUSTER}.lock").read_text("utf-8") == ""


@pytest.mark.parametrize("mode", [(), ("--check",)])
def test_a_leftover_that_cannot_be_removed_is_reported_not_waited_for(
        tmp_path: Path, render_cli: RenderCli, monkeypatch: pytest.MonkeyPatch, mode: tuple[str, ...]) -> None:
    """It once made every later `--check` wait 30 s and fail with a false "lock held"."""
    out = tmp_path / "out"
    render_cli(PROD_VALUES, "--out", out)
    stuck = out / f".{CLUSTER}.tmp-k1ll3d"
    (stuck / "sub").mkdir(parents=True)
    (stuck / "sub" / "half.yaml").write_text("kind: Half\n", "utf-8")
    (out / f".{CLUSTER}.lock").write_text(f"{stuck.name}\n", "utf-8")
    real_unlink = os.unlink

    def denied(path: Any, *args: Any, **kwargs: Any) -> None:
        if "half.yaml" in str(path):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", denied)
    monkeypatch.setattr(write.lock, "LOCK_WAIT_S", 0.5)
    warning = (f"{stuck}: warning: a killed render's leftover cannot be removed (Permission denied); "
               f"remove it with: chmod -R u+w {stuck} && rm -rf {stuck}\n")
    for _ in range(2):
        run = render_cli(*mode, PROD_VALUES, "--out", out)
        assert run.stderr.count(warning) == 1, run.stderr
        assert "held" not in run.stderr
    render_cli(PROD_VALUES, "--out", out, "--set", "nodepool.size=3")  # a render writing beside it
    assert (out / f".{CLUSTER}.lock").read_text("utf-8") == f"stuck {stuck.name}\n"
    render_cli(PROD_VALUES, "--out", out)
    monkeypatch.setattr(os, "unlink", real_unlink)
    run = render_cli(*mode, PROD_VALUES, "--out", out)
    assert "warning" not in run.stderr and not stuck.exists()
    assert (out / f".{CLUSTER}.lock").read_text("utf-8") == ""


# --- bad output locations -----------------------------------------------------------------------

def test_out_is_a_file(tmp_path: Path, render_cli: RenderCli) -> None:
    out = tmp_path / "out"
    out.write_text("not a directory\n", "utf-8")
    run = render_cli(PROD_VALUES, "--out", out, expect=2)
    assert run.stderr == f"{out}: error: output root exists and is not a directory\n"
    assert out.read_text("utf-8") == "not a directory\n"


def test_cluster_dir_is_a_file(tmp_path: Path, render_cli: RenderCli) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / CLUSTER).write_text("x\n", "utf-8")
    run = render_cli(PROD_VALUES, "--out", out, expect=2)
    assert run.stderr == f"{out / CLUSTER}: error: output directory exists and is not a directory\n"
    assert (out / CLUSTER).read_text("utf-8") == "x\n"


@pytest.mark.parametrize("target", ["inside", "outside"])
def test_cluster_dir_is_a_symlink(tmp_path: Path, render_cli: RenderCli, target: str) -> None:
    out = tmp_path / "out"
    real_root = out if target == "inside" else tmp_path / "elsewhere"
    render_cli(PROD_VALUES, "--out", real_root)
    real = real_root / CLUSTER
    real.rename(real_root / "real-tree")
    real = real_root / "real-tree"
    out.mkdir(exist_ok=True)
    (out / CLUSTER).symlink_to(real)
    before = stats(real)
    for mode in ((), ("--check",), ("--diff",)):
        run = render_cli(*mode, PROD_VALUES, "--out", out, *CHANGE, expect=2)
        assert run.stderr == f"{out / CLUSTER}: error: output directory is a symbolic link; refusing to write " \
                             "through it\n"
    assert stats(real) == before
    assert (out / CLUSTER).readlink() == real


def test_out_root_is_a_symlink(tmp_path: Path, render_cli: RenderCli) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "out").symlink_to(tmp_path / "real")
    run = render_cli(PROD_VALUES, "--out", tmp_path / "out", expect=2)
    assert run.stderr == f"{tmp_path / 'out'}: error: output root is a symbolic link; refusing to write through it\n"
    assert list((tmp_path / "real").iterdir()) == []


def test_owned_file_replaced_by_a_symlink_is_refused(tmp_path: Path, render_cli: RenderCli) -> None:
    out = tmp_path / "out"
    render_cli(PROD_VALUES, "--out", out)
    outside = tmp_path / "outside.yaml"
    outside.write_text("precious: true\n", "utf-8")
    owned = out / CLUSTER / "02-storageclass" / "storageclass.yaml"
    owned.unlink()
    owned.symlink_to(outside)
    run = render_cli(PROD_VALUES, "--out", out, "--set", "longhorn.replicas=1", expect=2)
    assert run.stderr == f"{owned}: error: is a symbolic link; refusing to write through it\n"
    assert outside.read_text("utf-8") == "precious: true\n"
    assert owned.is_symlink()


def test_read_only_out_dir(tmp_path: Path, render_cli: RenderCli) -> None:
    out = tmp_path / "out"
    render_cli(PROD_VALUES, "--out", out)
    old = tree_bytes(out / CLUSTER)
    out.chmod(0o555)
    try:
        probe = out / "probe"
        try:
            probe.touch()
        except PermissionError:
            pass
        else:
            probe.unlink()
            pytest.skip("permissions are not enforced (running as root); test_disk_full_mid_write covers this")
        run = render_cli(PROD_VALUES, "--out", out, *CHANGE, expect=2)
        assert "cannot write the tree: Permission denied; the previous tree is unchanged" in run.stderr
        assert tree_bytes(out / CLUSTER) == old
    finally:
        out.chmod(0o755)
    render_cli(PROD_VALUES, "--out", out, *CHANGE)


@pytest.mark.parametrize("injection", ["fsync", "open"])
def test_disk_full_mid_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, render_cli: RenderCli,
                             injection: str) -> None:
    """ENOSPC on the fifth file of the temporary tree: exit 2, the old tree and nothing else remains."""
    out = tmp_path / "out"
    render_cli(PROD_VALUES, "--out", out)
    old = tree_bytes(out / CLUSTER)
    before = stats(out / CLUSTER)
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if injection == "fsync":
        def syncfs(_fd: int) -> bool:  # the one flush of the staged tree before the swap
            raise full

        monkeypatch.setattr(write, "_syncfs", syncfs)
    else:
        real_open, calls = open, [0]

        def open_(file: str | Path, mode: str = "r", *args: object, **kwargs: object) -> object:
            if "w" in mode:
                calls[0] += 1
                if calls[0] == 5:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
            return real_open(file, mode, *args, **kwargs)  # type: ignore[call-overload]

        monkeypatch.setattr(write, "open", open_, raising=False)
    run = render_cli(PROD_VALUES, "--out", out, *CHANGE, expect=2)
    monkeypatch.undo()
    assert "error: cannot write the tree: No space left on device; the previous tree is unchanged" in run.stderr
    assert "Traceback" not in run.stderr
    assert tree_bytes(out / CLUSTER) == old
    assert stats(out / CLUSTER) == before
    assert leftovers(out) == []
    render_cli(PROD_VALUES, "--out", out, *CHANGE)


def test_failure_after_the_swap_is_reported_truthfully(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       render_cli: RenderCli) -> None:
    out = tmp_path / "out"
    render_cli(PROD_VALUES, "--out", out)
    real_rmtree = shutil.rmtree

    def rmtree(path: str | Path, ignore_errors: bool = False, **kwargs: object) -> None:
        if not ignore_errors:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        real_rmtree(path, ignore_errors=True)

    monkeypatch.setattr(shutil, "rmtree", rmtree)
    run = render_cli(PROD_VALUES, "--out", out, *CHANGE, expect=None)
    monkeypatch.undo()
    swapped = (out / CLUSTER / "flux").is_dir()
    assert not (swapped and "the previous tree is unchanged" in run.stderr), run.stderr


# --- minimal writes -----------------------------------------------------------------------------

def test_noop_render_touches_nothing(tmp_path: Path, render_cli: RenderCli) -> None:
    out = tmp_path / "out"
    render_cli(PROD_VALUES, "--out", out)
    before = stats(out)
    run = render_cli(PROD_VALUES, "--out", out)
    assert run.stderr.endswith("unchanged\n")
    assert stats(out) == before


def test_changing_render_keeps_unchanged_files(tmp_path: Path, render_cli: RenderCli) -> None:
    out = tmp_path / "out"
    render_cli(PROD_VALUES, "--out", out)
    for file in (out / CLUSTER).rglob("*"):
        if file.is_file():
            os.utime(file, (LONG_AGO, LONG_AGO))
    before = {path: (data, (out / CLUSTER / path).stat().st_mtime_ns)
              for path, data in tree_bytes(out / CLUSTER).items()}
    render_cli(PROD_VALUES, "--out", out, "--set", "bypass.mode=service")
    after = tree_bytes(out / CLUSTER)
    changed = sorted(path for path in after if after[path] != before[path][0])
    # bootstrap.sh mirrors many values; whether it changes here is its own business.
    assert [path for path in changed if path != "bootstrap.sh"] == [".sks-gitops-owned.json",
                                                                   "08-bypass-policies/globalnetworkpolicy.yaml"]
    for path, (_data, mtime) in before.items():
        if path not in changed:
            assert (out / CLUSTER / path).stat().st_mtime_ns == mtime, path


# --- fleets -------------------------------------------------------------------------------------

CLUSTERS = ("alpha", "beta", "gamma")


def write_fleet(directory: Path, base_name: str = "base.yaml") -> list[Path]:
    """A base layer with everything but the cluster's identity, and one small file per cluster."""
    directory.mkdir(parents=True, exist_ok=True)
    data = yamlio.load_one(PROD_VALUES.read_bytes(), "prod.yaml").data
    del data["cluster"]["name"]
    del data["nodepool"]["name"]
    del data["nodepool"]["securityGroups"]
    base = directory / base_name
    base.write_text(yamlio.dump(data), "utf-8")
    files = [base]
    for index, name in enumerate(CLUSTERS):
        path = directory / f"{name}.yaml"
        path.write_text(f"cluster:\n  name: {name}\nnodepool:\n  size: {index + 2}\n", "utf-8")
        files.append(path)
    return files


@pytest.mark.parametrize("base_name", ["base.yaml", "_shared.yaml"])
def test_fleet_renders_one_tree_per_cluster(tmp_path: Path, render_cli: RenderCli, base_name: str) -> None:
    files = write_fleet(tmp_path / "values", base_name)
    out = tmp_path / "out"
    render_cli(*files, "--out", out)
    assert sorted(path.name for path in out.iterdir() if path.is_dir()) == list(CLUSTERS)
    for name in CLUSTERS:
        alone = tmp_path / f"alone-{name}"
        render_cli(files[0], tmp_path / "values" / f"{name}.yaml", "--out", alone)
        assert tree_bytes(out / name) == tree_bytes(alone / name)
        assert f"name: {name}-01-longhorn\n" in (out / name / "argocd/apps/01-longhorn.yaml").read_text("utf-8")
    check = render_cli("--check", *files, "--out", out)
    assert check.stdout == ""


def test_fleet_duplicate_cluster_name_names_both_files(tmp_path: Path, render_cli: RenderCli) -> None:
    files = write_fleet(tmp_path / "values")
    twin = tmp_path / "values" / "zeta.yaml"
    twin.write_text("cluster:\n  name: beta\n", "utf-8")
    out = tmp_path / "out"
    run = render_cli(*files, twin, "--out", out, expect=2)
    assert run.stderr == (f"{twin}:2:3: error: cluster.name: cluster 'beta' is also defined by "
                          f"{tmp_path / 'values' / 'beta.yaml'}; cluster names must be unique across a fleet\n")
    assert not out.exists()


def test_fleet_with_one_invalid_file_writes_nothing(tmp_path: Path, render_cli: RenderCli) -> None:
    files = write_fleet(tmp_path / "values")
    out = tmp_path / "out"
    render_cli(*files, "--out", out)
    before = stats(out)
    (tmp_path / "values" / "gamma.yaml").write_text("cluster:\n  name: gamma\nnodepool:\n  size: 0\n", "utf-8")
    render_cli(*files, "--out", out, "--set", "longhorn.replicas=1", expect=2)
    assert stats(out) == before


def test_fleet_cluster_removed_from_values_keeps_its_tree(tmp_path: Path, render_cli: RenderCli) -> None:
    files = write_fleet(tmp_path / "values")
    out = tmp_path / "out"
    render_cli(*files, "--out", out)
    gamma = stats(out / "gamma")
    files[-1].unlink()
    remaining = files[:-1]
    render_cli(*remaining, "--out", out, "--set", "bypass.mode=service")
    assert stats(out / "gamma") == gamma
    check = render_cli("--check", *remaining, "--out", out, "--set", "bypass.mode=service")
    assert check.stdout == ""


def test_check_with_out_a_file_is_an_invalid_location(tmp_path: Path, render_cli: RenderCli) -> None:
    out = tmp_path / "out"
    out.write_text("not a directory\n", "utf-8")
    run = render_cli("--check", PROD_VALUES, "--out", out, expect=None)
    assert (run.exit_code, run.stderr) == (2, f"{out}: error: output root exists and is not a directory\n")
