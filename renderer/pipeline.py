"""The pipeline: load -> validate -> model -> render -> check -> write, for one or many clusters.

Every cluster of a fleet is loaded, validated, rendered and checked before anything is
written, so one bad values file changes nothing on disk. The core never prints: it returns
a Report that renderer/cli shows.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import posixpath
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

from renderer import check, load, model, remote, render, repository, simulate, validate, write
from renderer.cache.clusters import Ledger, Recorded
from renderer.cache.parallel import ordered_map
from renderer.errors import NotConverging, Problem, RemoteError, ValuesError
from renderer.load import committed, overrides
from renderer.model import Model
from renderer.model import graph as rollout_graph
from renderer.model import hub as model_hub
from renderer.model import plan as rollout_plan
from renderer.model import upgrade as upgrade_plan
from renderer.model.meanings import Mode
from renderer.remote import vendor
from renderer.render import hub as render_hub
from renderer.render.tree import Tree
from renderer.simulate import upgrade as simulate_upgrade
from renderer.validate import destructive, names


@dataclass(frozen=True)
class Request:
    """What the user asked for, already parsed by the CLI."""

    values_files: tuple[Path, ...]
    overrides: tuple[str, ...] = ()
    out_dir: Path = Path("out")
    mode: Mode = "write"
    """`write`, `check` (compare only), `diff` (compare and show a diff) or `plan` (show the rollout plan)."""
    diff_format: str = "text"
    strict: bool = False
    remote: str = ""
    """`lock` (download and pin remote manifests), `verify` (download and compare) or `` (offline)."""
    use_cache: bool = True
    """Skip clusters whose inputs and tree are as a clean earlier run left them (renderer/cache/clusters.py)."""
    vendor: bool = False
    """With `lock`: also keep the locked bytes in vendor/ beside the lock (vendor.py)."""
    progress: Callable[[str, int, int], None] | None = field(default=None, compare=False)
    """Told (phase, done, total) as a fleet's clusters are prepared and written; the CLI draws it."""


@dataclass
class ClusterResult:
    cluster: str
    sources: tuple[str, ...]
    file_count: int
    """Rendered files, without the owned-files manifest."""
    changes: write.Changes
    kinds: Counter[str]
    digests: dict[str, str]
    """sha256 of every file written (the manifest's content), so a fleet report stays small."""
    files: dict[str, bytes] = field(default_factory=dict)
    """New bytes of the changed files, kept for --diff only."""
    old: dict[str, bytes] = field(default_factory=dict)
    plan: str = ""
    """The rollout plan (renderer/model/plan.py), for --plan and the PR markdown."""
    data_files: tuple[str, ...] = ()
    """The installed schema files its check read (check.data_files), for the no-op cache's key."""
    review: destructive.Review = field(default_factory=destructive.Review)
    """Acknowledged destructive edits against out/ (renderer/validate/destructive.py), for the PR markdown."""
    upgrade: upgrade_plan.Upgrade | None = None
    graph: str = ""
    """The rollout as a Mermaid flowchart (renderer/model/graph.py), for the markdown of --diff and --plan."""


@dataclass
class Report:
    results: list[ClusterResult] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def differs(self) -> bool:
        return any(result.changes.differs for result in self.results)


def merge_problems(per_cluster: Sequence[Sequence[Problem]], layers: set[str]) -> list[Problem]:
    """Every distinct problem once, in first-seen order. One found in a shared layer for several clusters
    says so in its hint, so a typo in base.yaml is one line for a fleet of 200, not 200 lines."""
    seen: dict[Problem, int] = {}
    for problems in per_cluster:
        for problem in dict.fromkeys(problems):
            seen[problem] = seen.get(problem, 0) + 1
    merged = []
    for problem, count in seen.items():
        if problem.file in layers and count > 1 and not problem.hint:
            share = "every one" if count == len(per_cluster) else f"{count}"
            problem = dataclasses.replace(
                problem, hint=f"in the shared layer {problem.file}: found for {share} of the {len(per_cluster)} "
                              "clusters, reported once")
        merged.append(problem)
    return merged


def is_base_layer(path: Path) -> bool:
    """Fleet convention: `base.yaml` and files starting with `_` are layered under every cluster file."""
    return path.name in ("base.yaml", "base.yml") or path.name.startswith("_")


def _groups(files: tuple[Path, ...]) -> list[list[Path]]:
    bases = [path for path in files if is_base_layer(path)]
    clusters = [path for path in files if not is_base_layer(path)]
    if not clusters:
        return [bases]
    return [[*bases, path] for path in clusters]


Result = TypeVar("Result")


@dataclass(frozen=True)
class Prepared:
    model: Model
    tree: Tree
    kinds: Counter[str]
    sources: tuple[str, ...]
    name_origin: tuple[str, int, int]
    paths: tuple[Path, ...]
    warned: bool
    plan: str
    review: destructive.Review = field(default_factory=destructive.Review)
    upgrade: upgrade_plan.Upgrade | None = None
    graph: str = ""


def prepare(paths: list[Path], request: Request, warnings: list[Problem]) -> Prepared:
    """Load, validate, model, render and check one cluster, entirely in memory."""
    values = load.load(paths)
    values = overrides.apply(values, list(request.overrides), validate.values_schema())
    data, found = validate.validate(values, strict=request.strict)
    warnings.extend(found)
    data = repository.place_tree(values, data, request.out_dir)  # the engines sync where the tree is written
    cluster_model = model.build(data)
    too_long = names.derived_name_problems(values, cluster_model)
    if too_long:
        raise ValuesError(too_long)
    vendored = vendor.references(paths, cluster_model)
    tree = render.render(cluster_model, vendored)
    kinds = check.check(tree, cluster_model, vendored.values())
    objects = check.parsed(tree, cluster_model, vendored.values())
    known = {tree[path]: found for path, found in objects.items()}  # a file on disk as rendered: parsed already
    on_disk = committed.read(request.out_dir, cluster_model.cluster, known)  # what --check compares with
    review = destructive.review(values, data, on_disk, objects)
    upgrade = upgrade_plan.plan(values, on_disk, cluster_model, objects)
    outcomes = simulate.prove(cluster_model, tree, objects)
    plan = rollout_plan.describe(cluster_model, [outcome.summary() for outcome in outcomes])
    if upgrade is not None:  # the tier rename played from a cluster converged on out/
        played = simulate_upgrade.prove(upgrade, on_disk.objects, objects, cluster_model.engines,
                                        cluster_model.cluster)
        plan = upgrade_plan.describe(upgrade, cluster_model.cluster, played) + plan
    return Prepared(cluster_model, tree, kinds, values.sources, values.origin(("cluster", "name")), tuple(paths),
                    bool(found), plan, review, upgrade, rollout_graph.mermaid(cluster_model))


def verify(request: Request) -> list[tuple[str, list[str]]]:
    """`render --verify`: every delivery played on each cluster's tree as it is on disk under --out.

    The values give the cluster (its name, engines, endpoint); the tree is whatever the files say,
    hand-edited or rendered by another release. Returns (tree, converged deliveries) per cluster, or
    raises NotConverging with, per stuck delivery, the first blocking object (renderer/simulate/verify.py)."""
    from renderer.simulate import verify as verify_

    done: list[tuple[str, list[str]]] = []
    stuck: list[Problem] = []
    for paths in _groups(request.values_files):
        values = overrides.apply(load.load(paths), list(request.overrides), validate.values_schema())
        cluster_model = model.build(validate.validate(values, strict=request.strict)[0])
        cluster_dir = request.out_dir / cluster_model.cluster
        files = _disk_tree(request.out_dir, cluster_model.cluster)
        if files is None:
            raise ValuesError([Problem(str(cluster_dir), 0, 0, "", "no tree here to verify (render it first, or "
                                       "name its parent with --out)")])
        tree, broken = verify_.read_tree(files)
        stuck += [Problem(str(cluster_dir / path), 0, 0, "", f"every delivery: {why}") for path, why in broken]
        outcomes = simulate.play(cluster_model, tree, None, *_hub_on_disk(request.out_dir, cluster_model))
        for outcome in outcomes:
            if outcome.converged:
                continue
            file, obj, reason = outcome.blocking or ("", "-", "; ".join(outcome.problems[:1]))
            where = os.path.normpath(cluster_dir / file) if file else str(cluster_dir)  # a hub file: ../_hubs/
            line = verify_.line_of(tree.get(file, ""), obj) if file else 0
            subject = "" if obj == "-" else f"{obj}: "
            stuck.append(Problem(where, line, 1 if line else 0, "", f"{outcome.delivery} is stuck: {subject}{reason}"))
        stuck += _engine_upgrade_cut(cluster_model, tree, cluster_dir)
        done.append((str(cluster_dir), [outcome.summary() for outcome in outcomes]))
    if stuck:
        raise NotConverging(stuck)
    return done


def _hub_on_disk(out_root: Path, cluster_model: Model) -> tuple[dict[str, str] | None, set[str] | None]:
    """In hub mode: the hub tree as it is on disk (empty without one), and the repository paths of every hub
    marker file under out_root, where the hub's git files generator looks (renderer/simulate/hub.py)."""
    hub = cluster_model.values.gitops.hub
    if hub is None:
        return None, None
    files = _disk_tree(out_root / model_hub.HUBS_DIR, hub.name) or {}
    hub_tree = {path: data.decode("utf-8", "replace") for path, data in files.items()}
    prefix = repository.tree_prefix(out_root)
    prefix = model_hub.tree_root(cluster_model.values) if prefix is None else prefix
    markers = {path.relative_to(out_root).as_posix() for path in out_root.glob("*/argocd/hub-*.json")
               if not path.parts[-3].startswith((".", "_"))}
    return hub_tree, {posixpath.join(prefix, marker) for marker in markers}


def _engine_upgrade_cut(cluster_model: Model, tree: dict[str, str], cluster_dir: Path) -> list[Problem]:
    """The engine's own stage as the tree on disk delivers it: nothing that would cut the branch it sits on
    (renderer/simulate/selfmanaged.py), or a stuck report naming the object's file."""
    from renderer.simulate import selfmanaged

    try:
        cut = selfmanaged.problems(cluster_model, tree)
    except Exception as exc:  # noqa: BLE001 - a missing file, a file that is not one document: whatever it is
        return [Problem(str(cluster_dir), 0, 0, "", f"engine upgrade is stuck: the engine's own object cannot be "
                        f"read ({type(exc).__name__}: {exc})")]
    found = []
    for problem in cut:
        file, _, reason = problem.partition(": ")
        found.append(Problem(str(cluster_dir / file), 1, 1, "", f"engine upgrade is stuck: {reason}"))
    return found


def _disk_tree(out_root: Path, cluster: str) -> dict[str, bytes] | None:
    """Every regular file of out_root/cluster (symlinks not followed, the owned-files manifest left out),
    read under the tree's shared lock so a render's swap is never seen half done; None without a tree."""
    import os

    cluster_dir = out_root / cluster
    if not cluster_dir.is_dir() or cluster_dir.is_symlink():
        return None
    files: dict[str, bytes] = {}
    try:
        with write.lock.shared(out_root, cluster):
            for root, dirs, names in os.walk(cluster_dir):
                dirs[:] = sorted(name for name in dirs if not (Path(root) / name).is_symlink())
                for name in names:
                    path = Path(root) / name
                    relative = path.relative_to(cluster_dir).as_posix()
                    if relative != write.MANIFEST and path.is_file() and not path.is_symlink():
                        files[relative] = path.read_bytes()
    except OSError as exc:
        raise ValuesError([Problem(str(exc.filename or cluster_dir), 0, 0, "",
                                   f"cannot read the tree: {exc.strerror or exc}")]) from None
    return files


def _prepare_one(paths: list[Path], request: Request) -> tuple[Prepared | None, list[Problem], list[Problem]]:
    """One cluster's outcome: prepared (or None), its warnings, its values problems (collected, not raised)."""
    warnings: list[Problem] = []
    try:
        return prepare(paths, request, warnings), warnings, []
    except (ValuesError, RemoteError) as exc:  # a vendored copy is an input too
        return None, warnings, exc.problems


PACK_FROM = 16
"""Fleets of this many clusters to prepare keep each prepared cluster packed until it is written."""


@dataclass(frozen=True)
class Packed:
    """A prepared cluster kept compressed (zlib over its pickle) from the moment it is prepared until it is
    written, with what the checks before writing read: a 1000-cluster fleet held 1000 trees and models
    (~140 KB each) at once; packed they are ~30 KB. Only this process reads the bytes back."""

    cluster: str
    sources: tuple[str, ...]
    name_origin: tuple[str, int, int]
    remote_urls: tuple[str, ...]
    blob: bytes
    hub: render_hub.Member | None = None
    """In hub mode: what the fleet's hub tree reads from it (renderer/render/hub.py: fleet), kept unpacked."""

    @staticmethod
    def of(prepared: Prepared) -> Packed:
        return Packed(prepared.model.cluster, prepared.sources, prepared.name_origin,
                      tuple(remote.remote_urls(prepared.model)), zlib.compress(pickle.dumps(prepared, 5), 1),
                      render_hub.Member.of(prepared.model))

    def unpack(self) -> Prepared:
        prepared: Prepared = pickle.loads(zlib.decompress(self.blob))  # packed by this process, never read from disk
        return prepared


def _prepare_packed(paths: list[Path], request: Request) -> tuple[Packed | None, list[Problem], list[Problem]]:
    prepared, warnings, problems = _prepare_one(paths, request)
    return (None if prepared is None else Packed.of(prepared)), warnings, problems


Item = Prepared | Packed | Recorded


def execute(request: Request) -> Report:
    report = Report()
    caching = request.use_cache and request.mode in ("write", "check") and not request.remote
    ledger = Ledger(request.out_dir, request.strict, request.overrides, caching)
    groups = _groups(request.values_files)
    if request.remote == "lock":  # pinned (and vendored) first: the trees below are rendered from the new lock
        _lock_first(groups, request)
    items = _prepare_all(groups, request, ledger, report)
    hubs = render_hub.fleet([(member, item.sources) for item in items
                              if (member := _hub_member(item)) is not None])
    hub_kinds = [hub.check() for hub in hubs]  # checked before anything is written
    _pin_remote(items, "" if request.remote == "lock" else request.remote)
    if request.mode != "write":
        write.safe_dir(request.out_dir, "output root")
    total = len(items)
    items.reverse()
    while items:
        batch = [items.pop() for _ in range(min(len(items), write.WRITE_BATCH if request.mode == "write" else 1))]
        for item, written in _written(batch, request):  # each tree is released once written: memory stays flat
            if request.progress and total > 1:
                request.progress("written" if request.mode == "write" else "compared", len(report.results), total)
            report.results.append(_emit(item, written, request, ledger, report))
    for hub, kinds in zip(hubs, hub_kinds, strict=True) if request.mode != "plan" else ():
        report.results.append(_hub_result(hub, kinds, request))
        report.warnings.extend(_change_warnings(request.out_dir / hub.directory, report.results[-1].changes,
                                                request.mode))
    ledger.flush()
    return report


def _written(batch: list[Item], request: Request
             ) -> Iterator[tuple[Prepared | Recorded, tuple[dict[str, bytes], write.Changes] | None]]:
    """Each item of the batch with its files and what writing them changed (in one write.write_many, one flush
    for the batch), or None where nothing is written here (a reused cluster, --check, --diff, --plan)."""
    items = [item.unpack() if isinstance(item, Packed) else item for item in batch]
    fresh = [item for item in items if isinstance(item, Prepared)] if request.mode == "write" else []
    trees = [(item.model.cluster, write.with_manifest(item.tree)) for item in fresh]
    changes = iter(write.write_many(request.out_dir, trees) if trees else [])
    files = iter(trees)
    for item in items:
        yield item, ((next(files)[1], next(changes)) if isinstance(item, Prepared) and fresh else None)


def _prepare_all(groups: list[list[Path]], request: Request, ledger: Ledger, report: Report) -> list[Item]:
    """Every cluster prepared (or reused from the ledger), in order; raises ValuesError with every problem of
    every cluster, and a cluster name defined twice, before anything is written."""
    recorded = [ledger.lookup(paths) for paths in groups]
    todo = [paths for paths, hit in zip(groups, recorded, strict=True) if hit is None]
    task = _prepare_packed if len(todo) >= PACK_FROM else _prepare_one
    outcomes = iter(list(_counted(ordered_map(partial(task, request=request), todo),
                                  request.progress, "prepared", len(todo))))
    items: list[Item] = []
    found_problems: list[list[Problem]] = []
    found_warnings: list[list[Problem]] = []
    for hit in recorded:
        if hit is not None:
            items.append(hit)
            continue
        fresh, warnings, errors = next(outcomes)
        found_warnings.append(warnings)
        found_problems.append(errors)
        if fresh is not None:
            items.append(fresh)
    layers = {str(path) for path in request.values_files if is_base_layer(path)}
    problems = merge_problems(found_problems, layers) + _duplicate_names(items)
    report.warnings.extend(merge_problems(found_warnings, layers))
    if problems:
        raise ValuesError(problems)
    return items


def _duplicate_names(items: list[Item]) -> list[Problem]:
    problems = []
    seen: dict[str, tuple[str, ...]] = {}
    for item in items:
        cluster, sources = _name(item), item.sources
        if cluster in seen:
            file, line, column = item.name_origin
            problems.append(Problem(file, line, column, "cluster.name",
                                    f"cluster {cluster!r} is also defined by {seen[cluster][-1]}; "
                                    "cluster names must be unique across a fleet"))
        seen[cluster] = sources
    return problems


def _emit(item: Prepared | Recorded, written: tuple[dict[str, bytes], write.Changes] | None, request: Request,
          ledger: Ledger, report: Report) -> ClusterResult:
    """One cluster's result: written (`written`: its files and changes), compared or planned; recorded in the
    ledger when the run left it clean."""
    if isinstance(item, Recorded):
        return ClusterResult(item.cluster, item.sources, item.file_count, write.Changes(), Counter(item.kinds),
                             item.digests, data_files=item.data_files)
    if request.mode == "plan":
        return ClusterResult(item.model.cluster, item.sources, len(item.tree), write.Changes(), item.kinds, {},
                             plan=item.plan, upgrade=item.upgrade, graph=item.graph)
    old: dict[str, bytes] = {}
    if written is not None:
        files, changes = written
    else:
        files = write.with_manifest(item.tree)
        changes, old = write.read_tree(request.out_dir, item.model.cluster, files, request.mode == "diff")
    change_warnings = _change_warnings(request.out_dir / item.model.cluster, changes, request.mode)
    report.warnings.extend(change_warnings)
    kept = {path: files[path] for path in [*changes.added, *changes.changed]} if request.mode == "diff" else {}
    digests = {path: write.sha256(data) for path, data in files.items()}
    data_files = check.data_files(item.model.kubernetes_minor, item.kinds)
    if not item.warned and not change_warnings and (request.mode == "write" or not changes.differs):
        ledger.add(list(item.paths), Recorded(
            item.model.cluster, item.sources, item.name_origin, len(item.tree), dict(item.kinds), digests,
            tuple(remote.remote_urls(item.model)), data_files, render_hub.Member.of(item.model)))
    return ClusterResult(item.model.cluster, item.sources, len(item.tree), changes, item.kinds, digests, kept, old,
                         item.plan, data_files, item.review, item.upgrade, item.graph)


def _hub_result(hub: render_hub.HubTree, kinds: Counter[str], request: Request) -> ClusterResult:
    """A hub tree, written or compared like a cluster's (its own lock and owned-files manifest under OUT/_hubs)."""
    files = write.with_manifest(hub.tree)
    out_root, name = request.out_dir / hub.directory.rpartition("/")[0], hub.name
    old: dict[str, bytes] = {}
    if request.mode == "write":
        changes = write.write(out_root, name, files)
    else:
        changes, old = write.read_tree(out_root, name, files, request.mode == "diff")
    kept = {path: files[path] for path in [*changes.added, *changes.changed]} if request.mode == "diff" else {}
    return ClusterResult(hub.directory, hub.sources, len(hub.tree), changes, kinds,
                         {path: write.sha256(data) for path, data in files.items()}, kept, old)


def _counted(results: Iterable[Result], progress: Callable[[str, int, int], None] | None, phase: str, total: int
             ) -> Iterator[Result]:
    """The results, telling `progress` after each one (a fleet's prepare phase is most of its time)."""
    for done, result in enumerate(results, start=1):
        if progress and total > 1:
            progress(phase, done, total)
        yield result


def _hub_member(item: Item) -> render_hub.Member | None:
    """What the hub trees read from a cluster of a hub (None without gitops.hub): a reused or packed cluster
    carries it, so neither is rendered nor unpacked for its hub."""
    return render_hub.Member.of(item.model) if isinstance(item, Prepared) else item.hub


def _name(item: Item) -> str:
    return item.model.cluster if isinstance(item, Prepared) else item.cluster


def _pin_remote(items: list[Item], mode: str) -> None:
    """Lock, verify or require lock entries for remote manifests, per lock file (one per values dir)."""
    by_lock: dict[Path, list[str]] = {}
    for item in items:
        path = remote.lock_path(Path(item.sources[-1]))
        urls = remote.remote_urls(item.model) if isinstance(item, Prepared) else item.remote_urls
        by_lock.setdefault(path, []).extend(urls)
    for path, urls in sorted(by_lock.items()):
        urls = sorted(set(urls))
        entries = remote.read_lock(path)
        if mode == "lock":
            remote.write_lock(path, remote.lock(urls, entries))
        elif mode == "verify":
            remote.verify(urls, entries, path)
        elif path.is_file():
            remote.require_entries(urls, entries, path)


def _lock_first(groups: list[list[Path]], request: Request) -> None:
    """`render --lock`: every cluster's remote URLs from its model (no tree rendered yet), pinned per lock file."""
    by_lock: dict[Path, set[str]] = {}
    problems: list[Problem] = []
    for paths in groups:
        try:
            values = overrides.apply(load.load(paths), list(request.overrides), validate.values_schema())
            cluster_model = model.build(validate.validate(values, strict=request.strict)[0])
        except ValuesError as exc:
            problems.extend(exc.problems)
            continue
        by_lock.setdefault(remote.lock_path(paths[-1]), set()).update(remote.remote_urls(cluster_model))
    if problems:
        raise ValuesError(problems)
    for path, urls in sorted(by_lock.items()):
        vendor.lock_and_store(path, sorted(urls), request.vendor)


def _change_warnings(cluster_dir: Path, changes: write.Changes, mode: str) -> list[Problem]:
    warnings = []
    for path in changes.hand_edited:
        verb = "removed" if path in changes.removed else "overwritten"
        verb = verb if mode == "write" else f"would be {verb}"
        warnings.append(Problem(str(cluster_dir / path), 0, 0, "", f"was edited by hand; {verb}", "warning"))
    for path in changes.unowned:
        warnings.append(Problem(str(cluster_dir / path), 0, 0, "", "is not owned by sks-gitops; left alone", "warning"))
    for stuck in changes.stuck:
        warnings.append(Problem(str(stuck.path), 0, 0, "", f"a killed render's leftover cannot be removed "
                                f"({stuck.reason}); remove it with: {stuck.command}", "warning"))
    return warnings
