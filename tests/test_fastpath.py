"""The no-op fast path answers only when a full run would say the same, and never from a stale record."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from renderer import datafiles, remote, repository, resources, write
from renderer.cache import directory, inputs, noop, trees
from renderer.cli import command
from renderer.write import lock as outlock
from tests.conftest import PROD_VALUES
from tests.support.budget import examples


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv(directory.NO_CACHE_ENV, raising=False)
    monkeypatch.setenv(directory.CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with values/prod.yaml, as a user's GitOps repository has it."""
    root = tmp_path / "repo"
    (root / "values").mkdir(parents=True)
    shutil.copy(PROD_VALUES, root / "values" / "prod.yaml")
    monkeypatch.chdir(root)
    monkeypatch.setattr(trees, "RACY_NS", 0)  # the checkout's code may be seconds old; see test_racy_code
    return root


def run(*argv: str, expect: int | None = 0) -> tuple[str | None, str]:
    """One `render` as the console script runs it: (the fast answer or None, stderr of the full run when taken)."""
    return full_run(*argv, expect=expect)[:2]


def full_run(*argv: str, expect: int | None = 0) -> tuple[str | None, str, int]:
    """run(), with the exit code; `expect=None` accepts any."""
    message, pending = noop.lookup(list(argv))
    if message is not None:
        return message, "", 0
    result = CliRunner().invoke(command.main, list(argv), obj=pending, catch_exceptions=False)
    assert expect is None or result.exit_code == expect, result.stderr
    return None, result.stderr, result.exit_code


def test_second_identical_run_is_answered_with_the_full_runs_words(cache: Path, work: Path) -> None:
    first, full = run("values/prod.yaml")
    assert first is None and "35 added" in full
    second, _ = run("values/prod.yaml")
    assert second == "out/ceosks-poc: 35 files, 25 objects validated; unchanged\n"
    assert run("values/prod.yaml", "--no-cache")[1] == second
    assert run("--check", "values/prod.yaml")[0] is None
    checked, _ = run("--check", "values/prod.yaml")
    assert checked == "out/ceosks-poc: up to date\n" == run("--check", "--no-cache", "values/prod.yaml")[1]


def test_quiet_runs_are_answered_quietly_and_apart(cache: Path, work: Path) -> None:
    assert run("--quiet", "values/prod.yaml") == (None, "")
    assert run("--quiet", "values/prod.yaml") == ("", "")  # answered: nothing to say, as the full run said
    assert run("values/prod.yaml")[0] is None  # another command line, another record
    assert run("values/prod.yaml")[0] == "out/ceosks-poc: 35 files, 25 objects validated; unchanged\n"
    assert run("-q", "--check", "values/prod.yaml") == (None, "")
    assert run("-q", "--check", "values/prod.yaml") == ("", "")


@pytest.mark.parametrize("change", ["values", "tree-edit", "tree-extra", "tree-missing", "tree-symlink", "lock",
                                    "setting", "code", "set", "out-removed"])
def test_any_change_falls_through_to_a_full_run(cache: Path, work: Path, change: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["values/prod.yaml"]
    run(*argv)
    assert run(*argv)[0] is not None
    tree = work / "out" / "ceosks-poc"
    if change == "values":
        values = work / "values" / "prod.yaml"
        values.write_text(values.read_text().replace("size: 2", "size: 3"))
    elif change == "tree-edit":
        (tree / "02-storageclass" / "kustomization.yaml").write_text("# edited\n")
    elif change == "tree-extra":
        (tree / "notes.md").write_text("mine\n")
    elif change == "tree-missing":
        (tree / "bootstrap.sh").unlink()
    elif change == "tree-symlink":
        target = tree / "02-storageclass" / "storageclass.yaml"
        shutil.move(target, work / "elsewhere.yaml")
        target.symlink_to(work / "elsewhere.yaml")
    elif change == "lock":
        (work / "values" / remote.LOCK_NAME).write_text("{}\n")
    elif change == "setting":
        monkeypatch.setenv("SKS_GITOPS_SOMETHING", "1")
    elif change == "code":
        real = inputs.SHARED["code"]
        monkeypatch.setitem(inputs.SHARED, "code", lambda: [*real(), "edited"])
    elif change == "set":
        argv = ["values/prod.yaml", "--set", "nodepool.size=3"]
    elif change == "out-removed":
        shutil.rmtree(work / "out")
    assert noop.lookup(argv)[0] is None


def test_warnings_differences_and_switches_are_never_recorded(cache: Path, work: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    run("--check", "values/prod.yaml", expect=1)  # nothing rendered yet: differs
    assert not (cache / "noop").exists()
    run("values/prod.yaml", "--no-cache")
    assert not (cache / "noop").exists()
    (work / "out" / "ceosks-poc" / "notes.md").write_text("mine\n")  # unowned: a warning on every run
    assert "not owned" in run("values/prod.yaml")[1]
    assert noop.lookup(["values/prod.yaml"])[0] is None
    (work / "out" / "ceosks-poc" / "notes.md").unlink()
    monkeypatch.setenv(directory.NO_CACHE_ENV, "1")
    run("values/prod.yaml")
    run("values/prod.yaml")
    assert not (cache / "noop").exists()


def test_inputs_written_just_before_the_run_are_not_recorded(cache: Path, work: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """An input written within RACY_NS of the run may have been written again, while the run read it, within the
    same timestamp tick: its answer is not recorded. The fixture has just copied values/prod.yaml."""
    monkeypatch.setattr(trees, "RACY_NS", 2_000_000_000)
    run("values/prod.yaml")
    run("values/prod.yaml")
    assert noop.lookup(["values/prod.yaml"])[0] is None
    assert not (cache / "noop").exists()


def test_inputs_changed_during_the_run_are_not_recorded(cache: Path, work: Path) -> None:
    message, pending = noop.lookup(["values/prod.yaml"])
    assert message is None and pending is not None
    CliRunner().invoke(command.main, ["values/prod.yaml"], catch_exceptions=False)
    values = work / "values" / "prod.yaml"
    values.write_text(values.read_text() + "\n")
    assert not noop.record(pending, {str(work / "out" / "ceosks-poc"): "0" * 64}, [], "x\n")


def test_a_record_whose_tree_digest_does_not_match_the_disk_never_answers(cache: Path, work: Path) -> None:
    run("values/prod.yaml")
    _message, pending = noop.lookup(["--check", "values/prod.yaml"])
    assert pending is not None
    assert noop.record(pending, {str(work / "out" / "ceosks-poc"): "0" * 64}, [], "out/ceosks-poc: up to date\n")
    assert noop.lookup(["--check", "values/prod.yaml"])[0] is None


@pytest.mark.parametrize("damage", ["truncated", "other-format", "cache-is-a-file", "writable-by-others", "symlink"])
def test_a_damaged_or_unwritable_cache_costs_time_not_correctness(cache: Path, work: Path, damage: str) -> None:
    run("values/prod.yaml")
    if damage == "cache-is-a-file":
        shutil.rmtree(cache)
        cache.write_text("not a directory\n")
        assert run("values/prod.yaml")[0] is None
        assert run("values/prod.yaml")[0] is None
        return
    (record,) = (cache / "noop").iterdir()
    text = record.read_text()
    if damage == "writable-by-others":
        record.chmod(0o666)
    elif damage == "symlink":
        shutil.move(record, cache / "elsewhere")
        record.symlink_to(cache / "elsewhere")
    else:
        record.write_text(text[:40] if damage == "truncated" else text.replace(noop.FORMAT, "sks-gitops 0"))
    assert run("values/prod.yaml")[0] is None
    assert run("values/prod.yaml")[0] is not None  # the full run wrote a good record again
    assert record.stat().st_mode & 0o777 == 0o600


def test_an_output_path_that_is_not_utf8_renders_and_is_simply_not_recorded(cache: Path, work: Path) -> None:
    out = os.fsdecode(b"o\xff")
    for _ in range(2):
        assert run("values/prod.yaml", "--out", out)[0] is None
    assert not (cache / "noop").exists() or not any((cache / "noop").iterdir())


def test_records_written_longest_ago_are_pruned_beyond_the_limit(cache: Path, work: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    folder = cache / "noop"
    folder.mkdir(parents=True)
    for age in range(5):
        old = folder / f"old-{age}"
        old.write_text("x")
        os.utime(old, ns=(1_000_000_000 * (age + 1), 1_000_000_000 * (age + 1)))
    monkeypatch.setattr(directory, "MAX_RECORDS", 3)
    run("values/prod.yaml")
    assert sorted(path.name for path in folder.iterdir() if path.name.startswith("old-")) == ["old-3", "old-4"]
    assert run("values/prod.yaml")[0] is not None  # the record just written is the newest: kept


def test_fleet_answers_only_when_every_tree_matches(cache: Path, work: Path) -> None:
    second = (work / "values" / "prod.yaml").read_text().replace("name: ceosks-poc", "name: ceosks-two")
    (work / "values" / "two.yaml").write_text(second)
    argv = ["values/prod.yaml", "values/two.yaml"]
    run(*argv)
    message = run(*argv)[0]
    assert message == "2 clusters: 0 changed, 2 unchanged\n"
    (work / "out" / "ceosks-two" / "bootstrap.sh").write_text("#!/bin/sh\n")
    assert noop.lookup(argv)[0] is None


def test_invalid_values_are_never_answered(cache: Path, work: Path) -> None:
    values = work / "values" / "prod.yaml"
    run("values/prod.yaml")
    values.write_text(values.read_text().replace("size: 2", "size: 0"))
    assert run("values/prod.yaml", expect=2)[0] is None
    assert noop.lookup(["values/prod.yaml"])[0] is None


def test_the_console_script_answers_without_importing_click_jinja_or_jsonschema(cache: Path, work: Path) -> None:
    env = {**os.environ, directory.CACHE_ENV: str(cache)}
    script = str(Path(sys.executable).with_name("render"))  # the console script pip installed beside python
    argv = [sys.executable, "-X", "importtime", script, "--check", "values/prod.yaml"]
    subprocess.run([sys.executable, script, "values/prod.yaml"], env=env, check=True, capture_output=True)
    time.sleep(2.1)  # past the racy window of a checkout edited seconds ago
    subprocess.run([sys.executable, script, "values/prod.yaml"], env=env, check=True, capture_output=True)
    full = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    fast = subprocess.run(argv, env=env, capture_output=True, text=True, check=True)
    imported = {line.split("|")[-1].strip() for line in fast.stderr.splitlines() if line.startswith("import time:")}
    assert "out/ceosks-poc: up to date" in full.stderr and "out/ceosks-poc: up to date" in fast.stderr
    assert "jinja2" in full.stderr and "renderer.cache.noop" in imported
    assert not imported & {"click", "jinja2", "jsonschema", "ruamel.yaml", "yaml", "json"}
    floor = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], env=env, capture_output=True,
                           text=True, check=True).stderr
    startup = {line.split("|")[-1].strip() for line in floor.splitlines() if line.startswith("import time:")}
    # The count that keeps it near the bare interpreter: each module costs about as much as stat-ing 50 files.
    # A new one here (typing, collections, __future__, hashlib, a renderer module) needs a reason.
    assert imported - startup == FAST_PATH_MODULES


FAST_PATH_MODULES = {"renderer", "renderer.cli", "renderer.cache", "renderer.cache.noop", "renderer.cache.inputs",
                     "renderer.cache.stathints", "renderer.cache.directory", "renderer.cache.trees",
                     "renderer.repository", "fcntl", "_sha2" if sys.version_info >= (3, 12) else "_sha256"}
"""Every module an unchanged `render` imports beyond the interpreter's own start."""


def test_names_shared_with_the_full_path_agree() -> None:
    assert inputs.LOCK_NAME == remote.LOCK_NAME
    assert datafiles.data_dir("templates") == str(resources.templates_dir())
    assert datafiles.data_dir("schemas") == str(resources.schema_path("values.schema.json").parent)
    spec = importlib.util.find_spec("kubernetes_validate")
    assert spec is not None and spec.origin is not None
    assert datafiles.kubernetes_schema_root() == os.path.join(os.path.dirname(spec.origin), "kubernetes-json-schema")


_TOKENS = st.sampled_from(["--check", "--strict", "--quiet", "-q", "--out", "--set", "--out=o", "--set=a=1", "--out=",
                           "--diff", "--no-cache", "--chec", "-h", "--", "-", "values/prod.yaml", "./values//prod.yaml",
                           "a.yaml", "x=1", " ", "--format", "text", "--output", "json", "--output=json"])


@settings(max_examples=examples(400), deadline=None)
@given(st.lists(_TOKENS, max_size=7))
def test_the_argv_subset_it_answers_is_read_exactly_as_click_reads_it(argv: list[str]) -> None:
    """A fast answer must belong to the same request click would have run."""
    invocation = noop.parse(argv)
    if invocation is None:
        return
    context = command.main.make_context("render", list(argv))
    params = context.params
    assert not params["show_diff"] and not params["no_cache"] and params["remote"] is None
    assert params["output"] in (None, "text")  # a JSON answer is never the recorded text
    out = params["out_text"] if params["out_text"] is not None else repository.default_out()  # as command.main
    clicked = noop.Invocation("check" if params["check_only"] else "write", params["strict"], out,
                                  tuple(params["overrides"]), tuple(str(path) for path in params["values"]),
                                  params["quiet"])
    assert clicked.text() == invocation.text()


def test_output_json_is_never_answered_from_the_record(cache: Path, work: Path) -> None:
    """The record holds the text answer: a run asking for JSON runs in full and prints the document."""
    run("values/prod.yaml")
    assert run("values/prod.yaml")[0] is not None
    for argv in (["--output", "json", "values/prod.yaml"], ["--output=json", "values/prod.yaml"],
                 ["--check", "--output", "text", "values/prod.yaml"]):
        assert noop.parse(argv) is None
        message, _pending = noop.lookup(argv)
        assert message is None
    assert noop.lookup(["values/prod.yaml"])[0] is not None


# --- what a cached run owes the tree: recovery, the lock, file modes ----------------------------

@pytest.mark.parametrize("mode", [[], ["--check"]])
def test_a_killed_renders_leftovers_are_recovered_by_cached_runs_too(cache: Path, work: Path, mode: list[str]) -> None:
    run(*mode, "values/prod.yaml", expect=1 if mode else 0)
    run("values/prod.yaml")
    run(*mode, "values/prod.yaml")
    assert run(*mode, "values/prod.yaml")[0] is not None
    user_folder = work / "out" / ".ceosks-poc.old-notes"  # looks like a leftover, is not on the lock's record
    user_folder.mkdir()
    assert run(*mode, "values/prod.yaml")[0] is not None
    leftover = work / "out" / ".ceosks-poc.tmp-k1ll3d"
    (leftover / "02-storageclass").mkdir(parents=True)
    (leftover / "02-storageclass" / "storageclass.yaml").write_text("half written\n")
    (work / "out" / ".ceosks-poc.lock").write_text(f"{leftover.name}\n")  # what the killed render recorded
    assert noop.lookup([*mode, "values/prod.yaml"])[0] is None
    assert run(*mode, "values/prod.yaml")[0] is None
    assert not leftover.exists() and user_folder.is_dir()
    assert run(*mode, "values/prod.yaml")[0] is not None


def test_a_parked_tree_is_restored_by_check_as_a_render_would(cache: Path, work: Path) -> None:
    """A render killed between its two renames leaves no tree and the old one parked: --check restores it."""
    run("values/prod.yaml")
    out = work / "out"
    os.rename(out / "ceosks-poc", out / ".ceosks-poc.old-4242")
    (out / ".ceosks-poc.lock").write_text(".ceosks-poc.old-4242\n")
    _message, full = run("--check", "values/prod.yaml")
    assert full == "out/ceosks-poc: up to date\n"
    assert sorted(path.name for path in out.iterdir() if not path.name.endswith(".lock")) == ["ceosks-poc"]


def test_check_reads_the_tree_under_the_output_lock(cache: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """While --check compares, a render cannot take the lock to swap the tree (the race that ended in exit 3)."""
    run("values/prod.yaml", "--no-cache")
    held: list[bool] = []
    real = write.compare

    def compare(cluster_dir: Path, files: dict[str, bytes]) -> write.Changes:
        with open(work / "out" / ".ceosks-poc.lock", "rb") as other:
            try:
                fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                held.append(False)
            except BlockingIOError:
                held.append(True)
        return real(cluster_dir, files)

    monkeypatch.setattr(write, "compare", compare)
    run("--check", "--no-cache", "values/prod.yaml")
    run("--diff", "values/prod.yaml")
    assert held == [True, True]


def test_check_waits_for_a_render_holding_the_lock_and_never_fails_as_a_bug(cache: Path, work: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    run("values/prod.yaml")
    run("--check", "values/prod.yaml")
    assert run("--check", "values/prod.yaml")[0] is not None
    monkeypatch.setattr(outlock, "LOCK_WAIT_S", 0.05)
    with open(work / "out" / ".ceosks-poc.lock", "rb") as render_holds_it:
        fcntl.flock(render_holds_it, fcntl.LOCK_EX)
        assert noop.lookup(["--check", "values/prod.yaml"])[0] is None  # no cached answer mid-swap
        result = CliRunner().invoke(command.main, ["--check", "values/prod.yaml"], catch_exceptions=False)
    assert result.exit_code == 2
    assert "was held for more than 0 s; try again when the other render has finished" in result.stderr
    assert run("--check", "values/prod.yaml")[0] is not None


def test_a_render_waits_for_checks_reading_the_tree(cache: Path, work: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run("values/prod.yaml", "--no-cache")
    monkeypatch.setattr(outlock, "LOCK_WAIT_S", 0.05)
    with open(work / "out" / ".ceosks-poc.lock", "rb") as check_holds_it:
        fcntl.flock(check_holds_it, fcntl.LOCK_SH)
        result = CliRunner().invoke(command.main, ["values/prod.yaml", "--set", "nodepool.size=3"],
                                    catch_exceptions=False)
    assert result.exit_code == 2 and "was held for more than 0 s" in result.stderr  # waited, then gave up


@pytest.mark.slow
def test_checks_racing_a_render_never_fail_as_a_bug(cache: Path, work: Path) -> None:
    """Many `render --check`s while a slowed-down render rewrites the tree: each says up to date or differs."""
    run("values/prod.yaml", "--no-cache")
    env = {**os.environ, directory.NO_CACHE_ENV: "1"}
    slow_render = Path(__file__).resolve().parent / "support" / "slow_render.py"
    writer = subprocess.Popen([sys.executable, str(slow_render), "0.02", "values/prod.yaml",
                               "--set", "nodepool.size=3"],
                              cwd=work, env=env, stderr=subprocess.PIPE)
    codes = set()
    try:
        while writer.poll() is None:
            codes.add(full_run("--check", "--no-cache", "values/prod.yaml", expect=None)[2])
    finally:
        _, stderr = writer.communicate(timeout=60)
    assert writer.returncode == 0, stderr.decode()
    assert codes and codes <= {0, 1}


@pytest.mark.parametrize("chmod", [("bootstrap.sh", 0o644), ("02-storageclass/storageclass.yaml", 0o755)])
def test_a_changed_executable_bit_is_reported_and_repaired(cache: Path, work: Path, chmod: tuple[str, int]) -> None:
    """The executable bit is part of the tree (as git records it): a cached --check never hides a chmod."""
    name, mode = chmod
    run("values/prod.yaml")
    run("--check", "values/prod.yaml")
    assert run("--check", "values/prod.yaml")[0] is not None
    target = work / "out" / "ceosks-poc" / name
    target.chmod(mode)
    message, pending = noop.lookup(["--check", "values/prod.yaml"])
    assert message is None
    cached = CliRunner().invoke(command.main, ["--check", "values/prod.yaml"], obj=pending, catch_exceptions=False)
    full = CliRunner().invoke(command.main, ["--check", "--no-cache", "values/prod.yaml"], catch_exceptions=False)
    expected = (1, f"changed: out/ceosks-poc/{name}\n")
    assert (cached.exit_code, cached.stdout) == (full.exit_code, full.stdout) == expected
    assert "1 changed" in run("values/prod.yaml")[1]
    assert target.stat().st_mode & 0o777 == (0o755 if name.endswith(".sh") else 0o644 & ~_umask())
    assert run("--check", "--no-cache", "values/prod.yaml")[1] == "out/ceosks-poc: up to date\n"


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _never_blocks(signum: int, _frame: object) -> None:
    raise AssertionError("the run blocked on the lock")


@pytest.mark.parametrize("kind", ["directory", "fifo"])
@pytest.mark.parametrize("mode", [[], ["--check"], ["--diff"]])
def test_a_lock_that_is_not_a_file_is_refused_by_cached_runs_too(cache: Path, work: Path, mode: list[str],
                                                                 kind: str) -> None:
    """A FIFO once made every run wait forever for a writer in open(): refused at once, located, exit 2."""
    run("values/prod.yaml")
    run(*mode, "values/prod.yaml")
    if mode != ["--diff"]:
        assert run(*mode, "values/prod.yaml")[0] is not None
    lock = work / "out" / ".ceosks-poc.lock"
    lock.unlink()
    lock.mkdir() if kind == "directory" else os.mkfifo(lock)
    previous = signal.signal(signal.SIGALRM, _never_blocks)
    signal.alarm(60)
    try:
        assert noop.lookup([*mode, "values/prod.yaml"])[0] is None
        _message, stderr = run(*mode, "values/prod.yaml", expect=2)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert stderr == "out/.ceosks-poc.lock: error: the lock is not a regular file; remove it\n"


def test_the_default_out_and_an_explicit_one_are_different_requests(cache: Path, work: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """In a repository's values/, no --out means ../out (renderer/repository.py) and `--out out` means values/out:
    an answer recorded for one must not answer the other."""
    (work / ".git").mkdir()
    monkeypatch.chdir(work / "values")
    run("prod.yaml")
    assert run("prod.yaml")[0] is not None  # answered: the tree at the repository's root is as recorded
    assert (work / "out" / "ceosks-poc").is_dir() and not (work / "values" / "out").exists()
    first, full = run("--out", "out", "prod.yaml")
    assert first is None and full.startswith("out/ceosks-poc: ")
    assert (work / "values" / "out" / "ceosks-poc").is_dir()


# --- an unchanged run is answered by stat alone, and nothing it skips can hide a change ----------------

def _record_lines(cache: Path) -> list[str]:
    (record,) = (cache / "noop").iterdir()
    return record.read_text("utf-8").partition("\n--\n")[0].split("\n")


def _same_size_edit(path: Path, old: bytes, new: bytes) -> None:
    """Rewrite `path` in place with the same size and put its mtime back (`touch -r`, `cp -p`, tar do): only
    the ctime, which nobody can set, shows the write."""
    before = path.stat()
    data = path.read_bytes()
    assert len(old) == len(new) and old in data
    path.write_bytes(data.replace(old, new, 1))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    while path.stat().st_ctime_ns == before.st_ctime_ns:  # a coarse clock: let the ctime move on
        time.sleep(0.001)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_an_unchanged_run_reads_only_its_record_and_takes_only_its_lock(cache: Path, work: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """The count that keeps the no-op path cheap: once a record has learnt what its key and tree were computed
    from, an unchanged run opens two files (the record, the output lock), lists no directory, keys no input
    and reads no tree file."""
    run("values/prod.yaml")
    assert run("values/prod.yaml")[0] is not None  # answered by key and content; the record learns the rest
    kinds = {line[:2] for line in _record_lines(cache)}
    assert {"W ", "K ", "A ", "L ", "R ", "Q ", "X ", "Y "} <= kinds
    opened: list[str] = []
    real_open = os.open

    def counting_open(path: str, *args: object, **kwargs: object) -> int:
        opened.append(os.fsdecode(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    def forbidden(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the no-op path keyed its inputs, listed a directory or read a tree")

    monkeypatch.setattr(os, "open", counting_open)
    monkeypatch.setattr(os, "scandir", forbidden)
    monkeypatch.setattr(inputs, "Inputs", forbidden)
    monkeypatch.setattr(trees, "tree_digest", forbidden)
    assert noop.lookup(["values/prod.yaml"])[0] == "out/ceosks-poc: 35 files, 25 objects validated; unchanged\n"
    assert [os.path.basename(path) for path in opened] == [os.path.basename(str(next((cache / "noop").iterdir()))),
                                                           ".ceosks-poc.lock"]


@pytest.mark.parametrize("edit", ["values", "tree file", "tree mode", "tree entry", "lock appears"])
def test_what_the_stat_answer_skips_is_still_seen(cache: Path, work: Path, edit: str) -> None:
    """Edits that keep sizes and mtimes (only the ctime moves) and new entries are seen by the stat answer."""
    run("values/prod.yaml")
    assert run("values/prod.yaml")[0] is not None
    assert run("values/prod.yaml")[0] is not None  # now by stat alone (the test above counts it)
    tree = work / "out" / "ceosks-poc"
    if edit == "values":
        _same_size_edit(work / "values" / "prod.yaml", b"size: 2", b"size: 3")
    elif edit == "tree file":
        _same_size_edit(tree / "02-storageclass" / "kustomization.yaml", b"resources", b"resourceS")
    elif edit == "tree mode":
        (tree / "bootstrap.sh").chmod(0o644)
    elif edit == "tree entry":
        (tree / "02-storageclass" / "notes.md").write_text("mine\n")
    elif edit == "lock appears":
        (work / "values" / remote.LOCK_NAME).write_text("{}\n")
    assert noop.lookup(["values/prod.yaml"])[0] is None


def test_a_record_learns_nothing_written_within_the_racy_window(cache: Path, work: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A tree written a moment ago may be written again within the same timestamp tick: the record answers by
    content and does not learn its stamps until it has settled."""
    run("values/prod.yaml")
    monkeypatch.setattr(trees, "RACY_NS", 3_600_000_000_000)  # everything is "just written"
    assert run("values/prod.yaml")[0] is not None
    assert "X " not in {line[:2] for line in _record_lines(cache)}
