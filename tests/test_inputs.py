"""A cached answer is never wrong: every declared input is keyed by content, through symlinks and `..`.

The regressions of issue 15 run in a sandbox: the templates, schemas and kubernetes-validate's schema
files the pipeline reads are copies (renderer.cache.inputs.data_dir and kubernetes_schema_root point at
them; renderer.resources asks the same functions), so tests may edit them. Each full run starts with
the process's caches cleared, as a new `render` process would. Edits keep the size and put the mtime
back, as `touch -r`, `cp -p`, `rsync -t` and tar do.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky

from renderer import datafiles, remote
from renderer.cache import directory, inputs, memo, noop, stathints, trees
from renderer.cli import command
from tests.conftest import PROD_VALUES, REPO_ROOT

MINOR_DIR = "v1.31.0-local-strict"
"""values/prod.yaml's Kubernetes minor: the one schema folder the sandbox's kubernetes-validate needs."""
EMPTY_LOCK = '{"generator": "sks-gitops", "manifests": {}}\n'
"""A lock without entries: every remote manifest of the tree is then refused (exit 2)."""


def clear_process_caches() -> None:
    """What a new `render` process starts without: every functools cache and memo table of the renderer."""
    for name, module in list(sys.modules.items()):
        if name == "renderer" or name.startswith("renderer."):
            for value in list(vars(module).values()):
                if isinstance(value, memo.Memo):
                    value.clear()
                elif callable(getattr(value, "cache_clear", None)) and hasattr(value, "cache_info"):
                    value.cache_clear()


@dataclass(frozen=True)
class Answer:
    exit_code: int
    stdout: str
    stderr: str


def cached(*argv: str) -> Answer:
    """`render ARGV` as the console script runs it with the cache on: the recorded answer, or a full run."""
    message, pending = noop.lookup(list(argv))
    if message is not None:
        return Answer(0, "", message)
    clear_process_caches()
    result = CliRunner().invoke(command.main, list(argv), obj=pending, catch_exceptions=False)
    return Answer(result.exit_code, result.stdout, result.stderr)


def full(*argv: str) -> Answer:
    clear_process_caches()
    result = CliRunner().invoke(command.main, [*argv, "--no-cache"], catch_exceptions=False)
    return Answer(result.exit_code, result.stdout, result.stderr)


def rewrite(path: Path, data: bytes) -> None:
    """Replace the bytes of `path` in place and put its atime and mtime back; wait for the ctime to move on a
    filesystem whose clock is coarse (the racy window covers that gap in real runs, not in a test's
    microseconds)."""
    before = path.stat()
    with open(path, "r+b") as handle:
        handle.write(data)
        handle.truncate()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    while path.stat().st_ctime_ns == before.st_ctime_ns:
        time.sleep(0.001)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def same_size(path: Path, old: str, new: str) -> None:
    assert len(old) == len(new)
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path}"
    rewrite(path, text.replace(old, new, 1).encode("utf-8"))


def relink(link: Path, target: Path | str) -> None:
    """Point `link` elsewhere in one rename, as `ln -sfn` does."""
    temporary = link.with_name(link.name + ".new")
    temporary.symlink_to(target)
    os.replace(temporary, link)


class Sandbox:
    """The sandbox's root, and the bytes of every file an edit may change as they were built."""

    def __init__(self, root: Path, pristine: dict[Path, bytes]) -> None:
        self.root, self.pristine = root, pristine

    def __repr__(self) -> str:
        return f"Sandbox({self.root})"

    @property
    def repo(self) -> Path:
        return self.root / "repo"

    @property
    def templates(self) -> Path:
        return self.root / "package" / "templates"

    @property
    def schemas(self) -> Path:
        return self.root / "package" / "schemas"

    @property
    def kube(self) -> Path:
        return self.root / "kube" / "kubernetes-json-schema" / MINOR_DIR

    def reset(self) -> None:
        """Back to the state the sandbox was built in (links, files, no locks)."""
        relink(self.templates / "argocd", self.root / "argocd-a")
        relink(self.repo / "d", self.repo / "s1" / "sub")
        relink(self.repo / "s1" / "b.yaml", self.repo / "variants" / "b1.yaml")
        for folder in (self.repo / "values", self.repo / "s1", self.repo / "s2"):
            (folder / remote.LOCK_NAME).unlink(missing_ok=True)
        for path, data in self.pristine.items():
            if path.read_bytes() != data:
                path.write_bytes(data)


ARGV = ("values/a.yaml", "d/../b.yaml")
"""Two clusters (so per-cluster reuse takes part); the second through a symlinked directory and `..`."""
DATA_FILES = ("storageclass-storage-v1.json", "namespace-v1.json", "configmap-v1.json")
"""kubernetes-validate schema files a render of values/prod.yaml reads."""


def _cluster(name: str, replacements: tuple[tuple[str, str], ...] = ()) -> str:
    text = PROD_VALUES.read_text("utf-8").replace("name: ceosks-poc\n", f"name: {name}\n", 1)
    for old, new in replacements:
        text = text.replace(old, new, 1)
    return text


def build_sandbox(root: Path) -> Sandbox:
    """package/{templates,schemas} (argocd/ and schemas/ reached through symlinked directories), a copy of the
    kubernetes-validate schema folder, and repo/ with values/a.yaml and b.yaml behind `d/..`."""
    package = root / "package"
    package.mkdir(parents=True)
    shutil.copytree(REPO_ROOT / "templates", package / "templates")
    shutil.move(package / "templates" / "argocd", root / "argocd-a")
    shutil.copytree(root / "argocd-a", root / "argocd-b")
    same_size(root / "argocd-b" / "project.yaml.j2", "kind: AppProject", "kind: AppPrOject")
    (package / "templates" / "argocd").symlink_to(root / "argocd-a")
    shutil.copytree(REPO_ROOT / "schemas", root / "schemas-real")
    (package / "schemas").symlink_to(root / "schemas-real")
    kube = root / "kube" / "kubernetes-json-schema"
    shutil.copytree(Path(str(datafiles.kubernetes_schema_root())) / MINOR_DIR, kube / MINOR_DIR)
    repo = root / "repo"
    for folder in ("values", "variants", "s1/sub", "s2/sub"):
        (repo / folder).mkdir(parents=True)
    (repo / "values" / "a.yaml").write_text(_cluster("alpha"), "utf-8")
    (repo / "variants" / "b1.yaml").write_text(_cluster("bravo"), "utf-8")
    (repo / "variants" / "b2.yaml").write_text(_cluster("bravo", (("size: 2", "size: 3"),)), "utf-8")
    (repo / "s1" / "b.yaml").symlink_to(repo / "variants" / "b1.yaml")
    (repo / "s2" / "b.yaml").write_text(_cluster("bravo", (("diskSize: 50", "diskSize: 60"),)), "utf-8")
    (repo / "d").symlink_to(repo / "s1" / "sub")
    mutable = [repo / "values" / "a.yaml", *(repo / "variants").iterdir(), repo / "s2" / "b.yaml",
               *(path for top in (package / "templates", root / "argocd-a", root / "schemas-real")
                 for path in top.rglob("*") if path.is_file() and not path.is_symlink()),
               *(kube / MINOR_DIR / name for name in DATA_FILES)]
    return Sandbox(root, {path.resolve(): path.read_bytes() for path in mutable})


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    built = build_sandbox(tmp_path / "sandbox")
    monkeypatch.delenv(directory.NO_CACHE_ENV, raising=False)
    monkeypatch.setenv(directory.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(datafiles, "data_dir", lambda name: str(built.root / "package" / name))
    kube = str(built.root / "kube" / "kubernetes-json-schema")
    monkeypatch.setattr(datafiles, "kubernetes_schema_root", lambda: kube)
    monkeypatch.setattr(trees, "RACY_NS", 0)  # the sandbox was written a moment ago; see test_fastpath
    monkeypatch.chdir(built.repo)
    clear_process_caches()
    yield built
    clear_process_caches()  # no later test may see the sandbox's compiled schemas or templates


def recorded(*argv: str) -> None:
    """A clean full run that records its answer, and proof that the next identical run is answered from it."""
    assert cached(*argv).exit_code == 0
    assert noop.lookup(list(argv))[0] is not None


# --- the reproductions of issue 15 ---------------------------------------------------------------

def test_a_same_size_template_edit_with_its_mtime_restored_is_seen(sandbox: Sandbox) -> None:
    assert cached(*ARGV).exit_code == 0
    recorded("--check", *ARGV)
    same_size(sandbox.templates / "stages" / "storageclass" / "storageclass.yaml.j2",
              "# Claimed by", "# claimed by")  # harmless: the rollout still converges
    answer = cached("--check", *ARGV)
    assert answer == full("--check", *ARGV) and answer.exit_code == 1
    assert "changed: out/alpha/02-storageclass/storageclass.yaml" in answer.stdout


def test_a_template_reached_through_a_symlinked_directory_is_keyed_by_its_target(sandbox: Sandbox) -> None:
    cached(*ARGV)
    recorded("--check", *ARGV)
    same_size(sandbox.root / "argocd-a" / "project.yaml.j2", "kind: AppProject", "kind: AppProjecT")
    answer = cached("--check", *ARGV)
    assert answer == full("--check", *ARGV) and answer.exit_code == 3  # no schema for kind AppProjecT
    sandbox.reset()
    cached(*ARGV)
    recorded("--check", *ARGV)
    relink(sandbox.templates / "argocd", sandbox.root / "argocd-b")
    answer = cached("--check", *ARGV)
    assert answer == full("--check", *ARGV) and answer.exit_code == 3


def test_a_schema_reached_through_a_symlinked_directory_is_keyed_by_its_target(sandbox: Sandbox) -> None:
    cached(*ARGV)
    recorded("--check", *ARGV)
    schema = sandbox.root / "schemas-real" / "values.schema.json"
    text = schema.read_text("utf-8")
    at = text.index('"minimum": 1', text.index('"size": {'))
    rewrite(schema, (text[:at] + '"minimum": 5' + text[at + len('"minimum": 1'):]).encode("utf-8"))
    answer = cached("--check", *ARGV)
    assert answer == full("--check", *ARGV) and answer.exit_code == 2
    assert "nodepool.size: 2 is less than the minimum of 5" in answer.stderr


def test_the_lock_beside_a_dotdot_path_is_the_one_the_system_finds(sandbox: Sandbox) -> None:
    """`d/../b.yaml` with d a symlink is s1/b.yaml, and its lock is s1's, not the one `..` names as text."""
    cached(*ARGV)
    recorded("--check", *ARGV)
    (sandbox.repo / "s1" / remote.LOCK_NAME).write_text(EMPTY_LOCK, "utf-8")
    answer = cached("--check", *ARGV)
    assert answer == full("--check", *ARGV) and answer.exit_code == 2
    assert f"s1/{remote.LOCK_NAME}" in answer.stderr or f"d/../{remote.LOCK_NAME}" in answer.stderr


def test_retargeting_the_directory_behind_dotdot_is_seen(sandbox: Sandbox) -> None:
    cached(*ARGV)
    recorded("--check", *ARGV)
    relink(sandbox.repo / "d", sandbox.repo / "s2" / "sub")  # d/../b.yaml is now s2/b.yaml (diskSize 60)
    answer = cached("--check", *ARGV)
    assert answer == full("--check", *ARGV) and answer.exit_code == 1


def test_an_installed_packages_data_file_changing_is_seen(sandbox: Sandbox) -> None:
    cached(*ARGV)
    recorded("--check", *ARGV)
    path = sandbox.kube / "storageclass-storage-v1.json"
    rewrite(path, b'{"type": "string"}'.ljust(path.stat().st_size))  # StorageClass objects are now invalid
    answer = cached("--check", *ARGV)
    assert answer == full("--check", *ARGV) and answer.exit_code == 3
    assert "is not of type 'string'" in answer.stderr


def test_the_schema_files_a_run_read_are_part_of_its_key(sandbox: Sandbox) -> None:
    cached(*ARGV)
    recorded("--check", *ARGV)
    record = next((Path(str(directory.cache_dir())) / "noop").iterdir()).read_text("utf-8")
    read = sorted(line[2:] for line in record.splitlines() if line.startswith("D "))
    assert read and all(path.startswith(str(sandbox.kube)) for path in read)
    assert {os.path.basename(path) for path in read} >= {"_definitions.json", *DATA_FILES}


# --- the hint table: stat spares a re-read, never proves a content -------------------------------

@pytest.fixture
def table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> stathints.Hints:
    monkeypatch.setenv(directory.CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.delenv(directory.NO_CACHE_ENV, raising=False)
    return stathints.table()


def test_a_settled_unchanged_file_is_not_read_again(table: stathints.Hints, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stathints, "RACY_NS", 0)  # as if the file were written long ago
    path = tmp_path / "f.yaml"
    path.write_text("size: 2\n")
    first = table.sha(str(path))
    reads = table.reads
    assert table.sha(str(path)) == first and table.reads == reads
    table.save()
    again = stathints.Hints(table.path)
    assert again.sha(str(path)) == first and again.reads == 0


@pytest.mark.parametrize("how", ["touch -r", "cp -p", "rename over"])
def test_a_same_size_edit_with_the_mtime_restored_is_read_again(table: stathints.Hints, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    monkeypatch.setattr(stathints, "RACY_NS", 0)
    path = tmp_path / "f.yaml"
    path.write_text("size: 2\n")
    first = table.sha(str(path))
    assert table.sha(str(path)) == first
    if how == "touch -r":
        same_size(path, "2", "3")
    else:
        other = tmp_path / "g.yaml"
        other.write_text("size: 3\n")
        os.utime(other, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns))
        if how == "cp -p":
            shutil.copy2(other, path)
        else:
            os.replace(other, path)
    assert table.sha(str(path)) == stathints.hexdigest(b"size: 3\n") != first


def test_a_file_written_within_the_racy_window_is_read_every_time(table: stathints.Hints, tmp_path: Path) -> None:
    path = tmp_path / "f.yaml"
    path.write_text("size: 2\n")
    reads = table.reads
    for _ in range(3):
        table.sha(str(path))
    assert table.reads == reads + 3 and not table.dirty


def test_a_hint_table_others_may_write_is_ignored(table: stathints.Hints, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stathints, "RACY_NS", 0)
    path = tmp_path / "f.yaml"
    path.write_text("size: 2\n")
    table.sha(str(path))
    table.save()
    assert table.path is not None
    forged = Path(table.path).read_text("utf-8").replace(stathints.hexdigest(b"size: 2\n"), "0" * 64)
    Path(table.path).write_text(forged)
    Path(table.path).chmod(0o666)
    assert stathints.Hints(table.path).sha(str(path)) == stathints.hexdigest(b"size: 2\n")
    Path(table.path).chmod(0o600)
    assert stathints.Hints(table.path).sha(str(path)) == "0" * 64  # the one trusted table: ours (this is why)


def test_special_files_and_directory_cycles_give_no_key(tmp_path: Path, table: stathints.Hints) -> None:
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(OSError, match="not a regular file"):
        table.sha(str(tmp_path / "fifo"))
    (tmp_path / "top" / "sub").mkdir(parents=True)
    (tmp_path / "top" / "sub" / "loop").symlink_to(tmp_path / "top")
    with pytest.raises(OSError, match="links back"):
        inputs._files(str(tmp_path / "top"))
    assert table.sha(str(tmp_path / "absent")) is None


# --- a .py edit whose .pyc is gone (a copy of the package, run as processes) --------------------

def _copied_package(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A copy of renderer/ without bytecode (templates and schemas linked), a work directory with
    values/prod.yaml, and the environment that runs the copy with the cache on."""
    checkout = tmp_path / "checkout"
    shutil.copytree(REPO_ROOT / "renderer", checkout / "renderer", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("templates", "schemas"):
        (checkout / name).symlink_to(REPO_ROOT / name)
    work = tmp_path / "work"
    (work / "values").mkdir(parents=True)
    shutil.copy(PROD_VALUES, work / "values" / "prod.yaml")
    env = {**os.environ, "PYTHONPATH": str(checkout), directory.CACHE_ENV: str(tmp_path / "cache")}
    env.pop(directory.NO_CACHE_ENV, None)
    return checkout, work, env


def _render_in(work: Path, env: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    """`python -m renderer ARGS values/prod.yaml` in `work`, with `env` as it is at each call."""

    def render(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "renderer", *args, "values/prod.yaml"], cwd=work, env=env,
                              capture_output=True, text=True, check=False)

    return render


@pytest.mark.slow
def test_a_same_size_code_edit_with_its_pyc_gone_is_seen(tmp_path: Path) -> None:
    """Python runs the edited source when the byte-code is gone; the key must see the edit too."""
    checkout, work, env = _copied_package(tmp_path)
    render = _render_in(work, env)
    assert render().returncode == 0
    time.sleep(2.1)  # past trees.RACY_NS: the copies were written just now
    assert render("--check").returncode == 0
    assert render("--check").stderr == "out/ceosks-poc: up to date\n"  # answered from the record
    assert not (tmp_path / "cache" / "noop").exists() or any((tmp_path / "cache" / "noop").iterdir())
    source = checkout / "renderer" / "cli" / "fleet.py"
    same_size(source, '"{where}: up to date"', '"{where}: Up to date"')
    for compiled in (checkout / "renderer" / "cli" / "__pycache__").glob("fleet.*.pyc"):
        compiled.unlink()
    answer, reference = render("--check"), render("--check", "--no-cache")
    assert (answer.returncode, answer.stderr) == (reference.returncode, reference.stderr)
    assert answer.stderr == "out/ceosks-poc: Up to date\n"


@pytest.mark.slow
def test_a_same_size_code_edit_with_its_stale_pyc_kept_is_seen(tmp_path: Path) -> None:
    """Python trusts a .pyc whose recorded mtime and size match the edited source: the stale bytecode ran and
    its answer was recorded under the new source's key. The bytes executed are keyed; a stale .pyc is dropped."""
    checkout, work, env = _copied_package(tmp_path)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # an installed package has its .pyc files (pip compiles them)
    render = _render_in(work, env)
    assert render().returncode == 0
    time.sleep(2.1)  # past trees.RACY_NS: the copies were written just now
    assert render("--check").returncode == 0
    assert render("--check").stderr == "out/ceosks-poc: up to date\n"  # answered from the record
    source = checkout / "renderer" / "cli" / "fleet.py"
    compiled = list((checkout / "renderer" / "cli" / "__pycache__").glob("fleet.*.pyc"))
    assert compiled, "the first runs compiled fleet.py"
    same_size(source, '"{where}: up to date"', '"{where}: Up to date"')
    time.sleep(2.1)  # the edit is settled: only the stale .pyc could hide it
    answers = [render("--check") for _ in range(3)]
    assert [answer.stderr for answer in answers] == ["out/ceosks-poc: Up to date\n"] * 3
    assert render("--check", "--no-cache").stderr == "out/ceosks-poc: Up to date\n"
    # A change of the source's metadata only (its ctime moves, its code does not) keeps the .pyc and the cache.
    (fresh,) = compiled
    kept = fresh.read_bytes()
    source.chmod(0o600)
    source.chmod(0o644)
    time.sleep(2.1)
    assert render("--check").stderr == "out/ceosks-poc: Up to date\n"  # compared; the .pyc's mtime moves on
    assert fresh.read_bytes() == kept
    time.sleep(2.1)
    assert render("--check").stderr == "out/ceosks-poc: Up to date\n"  # recorded
    env["PYTHONPROFILEIMPORTTIME"] = "1"  # the answer came from the record: click was never imported
    answered = render("--check").stderr
    assert answered.endswith("out/ceosks-poc: Up to date\n") and not re.search(r"\|\s+click$", answered, re.M)


def test_the_import_path_is_part_of_the_key(tmp_path: Path) -> None:
    """PYTHONPATH decides which modules a run imports: a key blind to it answered for another interpreter setup."""
    shadow = tmp_path / "shadow"
    shadow.mkdir()
    script = "from renderer.cache import inputs; print(inputs.Inputs().shared)"

    def shared(extra: dict[str, str]) -> str:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
        return subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, env={**env, **extra},
                              capture_output=True, text=True, check=True).stdout

    assert shared({}) == shared({})
    assert shared({"PYTHONPATH": str(shadow)}) != shared({})


# --- the property: the cached answer is the full run's answer, whatever changed ----------------

def _edit_values(box: Sandbox, which: int, change: int) -> None:
    path = [box.repo / "values" / "a.yaml", box.repo / "variants" / "b1.yaml", box.repo / "s2" / "b.yaml"][which]
    old, new = [("size: 2", "size: 3"), ("size: 2", "size: 0"), ("replicas: 2", "replicas: 1")][change]
    if old in path.read_text("utf-8"):  # an earlier edit of the same example may have made it already
        same_size(path, old, new)


def _edit_template(box: Sandbox, which: int, offset: int, letter: str) -> None:
    files = sorted(path for path in box.pristine if path.suffix == ".j2")
    path = files[which % len(files)]
    data = bytearray(path.read_bytes())
    data[offset % len(data)] = ord(letter)
    rewrite(path, bytes(data))


def _edit_schema(box: Sandbox, minimum: str) -> None:
    schema = box.root / "schemas-real" / "values.schema.json"
    text = schema.read_text("utf-8")
    at = text.index('"minimum": ', text.index('"size": {')) + len('"minimum": ')
    rewrite(schema, (text[:at] + minimum + text[at + 1:]).encode("utf-8"))


def _edit_lock(box: Sandbox, folder: str, present: bool) -> None:
    path = box.repo / folder / remote.LOCK_NAME
    if present:
        path.write_text(EMPTY_LOCK, "utf-8")
    else:
        path.unlink(missing_ok=True)


def _edit_package_data(box: Sandbox, which: int) -> None:
    path = box.kube / DATA_FILES[which]
    rewrite(path, b'{"type": "string"}'.ljust(path.stat().st_size))


Edit = Callable[[Sandbox], None]
EDITS: st.SearchStrategy[tuple[str, Edit]] = st.one_of(
    st.builds(lambda w, c: ("values", lambda box: _edit_values(box, w, c)),
              st.integers(0, 2), st.integers(0, 2)),
    st.builds(lambda w, o, letter: ("template", lambda box: _edit_template(box, w, o, letter)),
              st.integers(0, 100), st.integers(0, 10_000), st.sampled_from("aZ{}:# \n")),
    st.builds(lambda target: ("template link", lambda box: relink(box.templates / "argocd", box.root / target)),
              st.sampled_from(["argocd-a", "argocd-b"])),
    st.builds(lambda target: ("values link", lambda box: relink(box.repo / "s1" / "b.yaml",
                                                                   box.repo / "variants" / target)),
              st.sampled_from(["b1.yaml", "b2.yaml"])),
    st.builds(lambda target: (".. link", lambda box: relink(box.repo / "d", box.repo / target / "sub")),
              st.sampled_from(["s1", "s2"])),
    st.builds(lambda minimum: ("schema", lambda box: _edit_schema(box, minimum)), st.sampled_from("135")),
    st.builds(lambda folder, present: ("lock", lambda box: _edit_lock(box, folder, present)),
              st.sampled_from(["values", "s1", "s2"]), st.booleans()),
    st.builds(lambda which: ("package data", lambda box: _edit_package_data(box, which)), st.integers(0, 2)),
)


def cached_equals_full(box: Sandbox, edits: list[tuple[str, Edit]]) -> None:
    """From a recorded clean state, apply `edits`; `render --check` and `render` answer as `--no-cache` does."""
    box.reset()
    assert cached(*ARGV).exit_code == 0
    for _name, edit in edits:
        edit(box)
    assert cached("--check", *ARGV) == full("--check", *ARGV)
    written = cached(*ARGV)
    if written.exit_code == 0:
        assert full("--check", *ARGV).exit_code == 0, "a cached render left a tree a full run finds stale"


PROPERTY = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@settings(max_examples=6, **PROPERTY)  # type: ignore[arg-type]
@given(edits=st.lists(EDITS, min_size=1, max_size=3))
def test_the_cached_answer_is_the_full_answer(sandbox: Sandbox, edits: list[tuple[str, Edit]]) -> None:
    cached_equals_full(sandbox, edits)


@pytest.mark.slow
@pytest.mark.thorough
@settings(max_examples=300, **PROPERTY)  # type: ignore[arg-type]
@given(edits=st.lists(EDITS, min_size=1, max_size=4))
def test_the_cached_answer_is_the_full_answer_thoroughly(sandbox: Sandbox, edits: list[tuple[str, Edit]]) -> None:
    cached_equals_full(sandbox, edits)


EXPOSES: dict[str, tuple[str, Edit]] = {
    "package data": ("package data", lambda box: _edit_package_data(box, 0)),
    "templates": ("template link", lambda box: relink(box.templates / "argocd", box.root / "argocd-b")),
    "lock": ("lock", lambda box: _edit_lock(box, "values", True)),
    "values": ("values", lambda box: _edit_values(box, 0, 0)),
    "schemas": ("schema", lambda box: _edit_schema(box, "5")),
}
"""For each input entry, an edit that a cache blind to that entry answers wrongly."""


@pytest.mark.parametrize("entry", list(EXPOSES))
def test_the_property_fails_when_an_input_is_not_declared(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                          entry: str) -> None:
    """Take one entry out of inputs(): some edit of what it declared then gets a stale cached answer."""
    registry = inputs.SHARED if entry in inputs.SHARED else inputs.PER_QUERY
    monkeypatch.delitem(registry, entry)  # type: ignore[arg-type]

    @settings(max_examples=60, phases=[Phase.explicit, Phase.generate], **PROPERTY)  # type: ignore[arg-type]
    @given(edits=st.lists(EDITS, min_size=1, max_size=3))
    @example(edits=[EXPOSES[entry]])  # always tried first: random draws may take long to find one
    def mutated(edits: list[tuple[str, Edit]]) -> None:
        cached_equals_full(sandbox, edits)

    with pytest.raises((AssertionError, Flaky)):  # Flaky: the replay met another cache state, and failed there
        mutated()


def test_without_the_ctime_a_stat_hint_would_hide_a_same_size_edit(table: stathints.Hints, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Why the ctime is in the hint: size, mtime and inode (the key before issue 15) miss `touch -r` edits."""
    monkeypatch.setattr(stathints, "RACY_NS", 0)
    monkeypatch.setattr(stathints, "_stat_key", lambda info: f"{info.st_size}:{info.st_mtime_ns}:{info.st_ino}")
    path = tmp_path / "f.yaml"
    path.write_text("size: 2\n")
    first = table.sha(str(path))
    same_size(path, "2", "3")
    assert table.sha(str(path)) == first != stathints.hexdigest(path.read_bytes())
