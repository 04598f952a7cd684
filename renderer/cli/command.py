"""The full `render` command: parse options into a Request, run the pipeline, print the report, exit.

Errors are the core's typed exceptions, shown once here with the exit code they carry
(renderer/exitcodes.py); a clean run that may be answered from the no-op cache next time is
recorded here (renderer/cache/noop.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from renderer import __version__, exitcodes, repository
from renderer.cache import clusters, noop
from renderer.cli import fleet, jsonout
from renderer.errors import Problem, RenderError
from renderer.model.meanings import Mode
from renderer.pipeline import ClusterResult, Report, Request, execute

HELP = """Render Calico Enterprise on Exoscale SKS into a GitOps tree under OUT/<cluster>/.

VALUES are YAML values files. Files named base.yaml or starting with "_" are layers
applied under every other file (left to right: mappings merge, lists replace, null
removes a key); every other file is one cluster. With no VALUES: values/prod.yaml at the root
of the repository, as the pre-commit hook does. OUT defaults to out/ at the root of the git
repository you run it in, and the Argo CD and Flux objects read the tree from where it is
written in that repository.

\b
Examples:
  render values/prod.yaml
  render values/base.yaml values/prod.yaml --set nodepool.size=3
  render --check values/*.yaml
  render --check --output json values/*.yaml
  render --diff --format markdown values/prod.yaml > pr-comment.md
  render --plan values/prod.yaml
  render --plan --format markdown values/prod.yaml
  render --verify values/prod.yaml

\b
Exit codes:
""" + "".join(f"  {code}  {meaning}\n" for code, meaning in exitcodes.MEANING.items())


def _print_schema(context: click.Context, _param: click.Parameter, wanted: bool) -> None:
    """Editors outside this repository validate values against the exported schema (see README)."""
    if not wanted or context.resilient_parsing:
        return
    from renderer import resources

    click.echo(resources.schema_path("values.schema.json").read_text("utf-8"), nl=False)
    context.exit(exitcodes.OK)


def _emit(problem: Problem) -> None:
    click.echo(problem.format(), err=True)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        click.echo(problem.github_annotation(), err=True)


def _color_wanted(stream: object) -> bool:
    """FORCE_COLOR forces colour, NO_COLOR (https://no-color.org) refuses it, else only on a terminal."""
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("NO_COLOR"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class _Progress:
    """One self-overwriting line on a terminal while a fleet is prepared and written; nothing elsewhere."""

    def __init__(self) -> None:
        self.shown = False

    def __call__(self, phase: str, done: int, total: int) -> None:
        sys.stderr.write(f"\r\x1b[K{phase} {done}/{total} clusters")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
            self.shown = False


@click.command(cls=jsonout.Command, help=HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("values", nargs=-1, type=click.Path(path_type=Path, dir_okay=True))
@click.option("--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
              help="Override one value, typed by the schema (repeatable).")
@click.option("--out", "out_text", type=click.Path(),
              help="Directory that holds one tree per cluster.  [default: out/ at the root of the git repository "
                   "the current directory is in]")
@click.option("--check", "check_only", is_flag=True, help="Compare with OUT/ and list differences; write nothing.")
@click.option("--diff", "show_diff", is_flag=True, help="Show a unified diff against OUT/; write nothing.")
@click.option("--format", "diff_format", type=click.Choice(["text", "markdown"]),
              help="With --diff or --plan: plain text (the default) or a PR-comment markdown body.")
@click.option("--markdown-overflow", "overflow", type=click.Path(dir_okay=False, path_type=Path), metavar="FILE",
              help="With --format markdown: keep stdout under GitHub's 65,536-character comment limit and write "
                   "what does not fit to FILE (the comment names it).")
@click.option("--output", "output", type=click.Choice(["text", "json"]),
              help="text (the default) or json: the whole answer of a render, --check, --diff or --plan as one JSON "
                   "document on stdout (schemas/output.schema.json), errors included.")
@click.option("--plan", "show_plan", is_flag=True,
              help="Print the rollout plan (per delivery: order, what each step waits for and why); write nothing.")
@click.option("--verify", "verify_tree", is_flag=True,
              help="Play every delivery on the tree as it is on disk under OUT/<cluster> (hand-edited or from "
                   "another release); exit 3 naming, per stuck delivery, the first blocking object. Writes nothing.")
@click.option("--strict", is_flag=True, help="Treat cross-field warnings as errors.")
@click.option("--lock", "remote", flag_value="lock",
              help="Download every remote manifest and pin URL, size and sha256 in the lock file beside the values.")
@click.option("--vendor", is_flag=True,
              help="With --lock: also keep the locked bytes in vendor/ beside the lock; the stages then name them.")
@click.option("--verify-remote", "remote", flag_value="verify",
              help="Download every remote manifest again and fail when it differs from the lock file.")
@click.option("--quiet", "-q", is_flag=True,
              help="Print only problems and, with --check, the differing files: no status lines, summary or progress.")
@click.option("--no-cache", is_flag=True,
              help="Always run in full: neither answer from nor record in the no-op cache (see README, Performance).")
@click.option("--print-schema", is_flag=True, is_eager=True, expose_value=False, callback=_print_schema,
              help="Write the values JSON Schema to stdout (for editors: render --print-schema > values.schema.json).")
@click.version_option(__version__, prog_name="render")
def main(values: tuple[Path, ...], overrides: tuple[str, ...], out_text: str | None, check_only: bool,
         show_diff: bool, diff_format: str | None, overflow: Path | None, output: str | None, show_plan: bool,
         verify_tree: bool, strict: bool,
         remote: str | None, vendor: bool, quiet: bool, no_cache: bool) -> None:
    _refuse_combinations(check_only=check_only, show_diff=show_diff, show_plan=show_plan, verify_tree=verify_tree,
                         remote=remote, vendor=vendor, diff_format=diff_format, output=output, overflow=overflow)
    json_out = output == "json"
    diff_format = diff_format or "text"
    values = values or _default_values()
    if out_text is not None and not out_text.strip():
        raise click.BadParameter("is empty (an unset shell variable?); name the output directory", param_hint="--out")
    out_dir = Path(out_text if out_text is not None else repository.default_out())
    out_text = out_text if out_text is not None else repository.DEFAULT_OUT  # the fix command leaves it out too
    if verify_tree:
        _verify(values, overrides, out_dir, strict, quiet)
    mode: Mode = "check" if check_only else "diff" if show_diff else "plan" if show_plan else "write"
    progress = _Progress() if not quiet and sys.stderr.isatty() else None
    request = Request(values_files=values, overrides=overrides, out_dir=out_dir, mode=mode,
                      diff_format=diff_format, strict=strict, remote=remote or "", use_cache=not no_cache,
                      vendor=vendor, progress=progress)
    report = _execute(request, json_out, progress)
    for warning in report.warnings:
        _emit(warning)
    code = exitcodes.DIFFERS if request.mode in ("check", "diff") and report.differs else exitcodes.OK
    if json_out:
        from renderer.leaks.redact import scrub

        for line in _closing(report, request, out_text, quiet).stderr:  # the status lines stay on stderr
            click.echo(scrub(line), err=True)
        _print_json(mode, code, out_dir, report.results, report.warnings,
                    fleet.fix_command(report.results, _asked_fleet(request, out_text)) if mode != "write" else None)
        sys.exit(code)
    if request.mode == "plan":
        _print_plan(report, diff_format, overflow)
        sys.exit(exitcodes.OK)
    if request.mode == "diff":
        _print_diff(report, out_dir, diff_format, overflow)
    lines = _closing(report, request, out_text, quiet)
    from renderer.leaks.redact import scrub  # the fix command names the values files: one can hold a secret

    for line in lines.stdout:
        click.echo(scrub(line))
    for line in lines.stderr:
        click.echo(scrub(line), err=True)
    pending = click.get_current_context().obj
    if isinstance(pending, noop.Pending) and not no_cache:
        _record_noop(pending, request, report, out_text, quiet)
    sys.exit(code)


def _refuse_combinations(*, check_only: bool, show_diff: bool, show_plan: bool, verify_tree: bool, remote: str | None,
                         vendor: bool, diff_format: str | None, output: str | None, overflow: Path | None) -> None:
    """Options that make no sense together: exit 2 naming what goes with what."""
    if check_only + show_diff + show_plan + verify_tree > 1:
        raise click.UsageError("--check, --diff, --plan and --verify exclude each other "
                               "(--diff already exits 1 on a difference)")
    if verify_tree and (remote or vendor):
        raise click.UsageError("--verify reads the tree on disk; it downloads nothing (no --lock, --vendor, "
                               "--verify-remote)")
    if vendor and remote != "lock":
        raise click.UsageError("--vendor goes with --lock (it stores what --lock downloads)")
    if diff_format and not (show_diff or show_plan):
        raise click.UsageError(f"--format {diff_format} shapes the output of --diff or --plan; add one of them "
                               f"(render --diff --format {diff_format} VALUES...)")
    if output == "json" and (verify_tree or diff_format):
        raise click.UsageError("--output json is the answer of a render, --check, --diff or --plan; it goes with "
                               "neither --verify nor --format")
    if overflow is not None and diff_format != "markdown":
        raise click.UsageError("--markdown-overflow FILE goes with --format markdown (--diff or --plan)")


def _execute(request: Request, json_out: bool, progress: _Progress | None) -> Report:
    """The pipeline's report; its typed errors (and any other, as a bug) shown once, then the exit."""
    try:
        try:
            return execute(request)
        finally:
            if progress:
                progress.clear()
    except RenderError as exc:
        for problem in exc.problems:
            _emit(problem)
        if exc.exit_code == exitcodes.INTERNAL:
            click.echo("internal error: a template rendered an invalid tree; nothing was written", err=True)
        if json_out:
            _print_json(request.mode, exc.exit_code, request.out_dir, problems=exc.problems)
        sys.exit(exc.exit_code)
    except Exception:  # noqa: BLE001 - the one boundary: an unexpected error is a bug, shown once
        import traceback

        from renderer.errors import printable
        from renderer.leaks.redact import scrub

        click.echo("internal error (a bug in sks-gitops; please report it):", err=True)
        click.echo("\n".join(printable(scrub(line)) for line in traceback.format_exc().splitlines()), err=True)
        if json_out:
            _print_json(request.mode, exitcodes.INTERNAL, request.out_dir, problems=[Problem(
                "", 0, 0, "", "internal error (a bug in sks-gitops; please report it)", level="error",
                hint="the traceback is on stderr")])
        sys.exit(exitcodes.INTERNAL)


def _print_plan(report: Report, diff_format: str, overflow: Path | None) -> None:
    from renderer.leaks import redact  # the plan names values: shown only as the secret scan allows

    if diff_format == "markdown":
        from renderer.cli import review

        _print_markdown([redact.scrub(part) for part in review.plan_parts(report)], overflow, "")
        return
    click.echo(redact.scrub("\n".join(result.plan for result in report.results)), nl=False)


def _print_diff(report: Report, out_dir: Path, diff_format: str, overflow: Path | None) -> None:
    from renderer.cli import diff  # only --diff needs it; keeps the common paths' start-up short

    if diff_format == "markdown" and overflow is not None:
        _print_markdown(diff.markdown_parts(report, out_dir), overflow, "")
    else:
        text = diff.render_report(report, out_dir, diff_format)
        color = diff_format == "text" and _color_wanted(sys.stdout)
        click.echo(diff.colorize(text) if color else text, nl=False, color=color)


def _print_markdown(parts: list[str], overflow: Path | None, ending: str) -> None:
    """The markdown on stdout; with --markdown-overflow, cut under the comment limit, the rest in that file."""
    from renderer.cli import fleetmd
    from renderer.leaks import redact

    if overflow is None:
        click.echo("\n".join(parts) + ending, nl=False)
        return
    comment, rest = fleetmd.cut(parts, redact.scrub(str(overflow)))
    try:
        overflow.write_text(rest or "Everything fit in the comment.\n", "utf-8")
    except OSError as exc:
        raise click.BadParameter(f"cannot write: {exc.strerror or exc}", param_hint="--markdown-overflow") from None
    click.echo(comment + ending, nl=False)


def _print_json(mode: str, code: int, out_dir: Path, results: list[ClusterResult] | None = None,
                problems: list[Problem] | None = None, fix: str | None = None) -> None:
    click.echo(jsonout.document(mode, code, out_dir, results or [], problems or [], fix), nl=False)


def _verify(values: tuple[Path, ...], overrides: tuple[str, ...], out_dir: Path, strict: bool, quiet: bool) -> None:
    """`render --verify`: exit 0 when every delivery of every tree converges, 3 naming what blocks, 2 for usage."""
    from renderer.errors import NotConverging
    from renderer.pipeline import verify

    try:
        verified = verify(Request(values_files=values, overrides=overrides, out_dir=out_dir, strict=strict))
    except NotConverging as exc:
        for problem in exc.problems:
            _emit(problem)
        click.echo(f"not converging: {len(exc.problems)} stuck delivery report(s); a real cluster would stay there",
                   err=True)
        sys.exit(exc.exit_code)
    except RenderError as exc:
        for problem in exc.problems:
            _emit(problem)
        sys.exit(exc.exit_code)
    if not quiet:
        for tree, lines in verified:
            for line in lines:
                click.echo(f"{tree}: {line}")
    sys.exit(exitcodes.OK)


def _default_values() -> tuple[Path, ...]:
    """`render` alone reads values/prod.yaml at the repository root, as the pre-commit hook's default does."""
    found = repository.default_values()
    if found is None:
        raise click.UsageError(f"no VALUES given and no {repository.DEFAULT_VALUES} at the root of this repository "
                               f"(the default, as in the pre-commit hook); name the values files: render VALUES...")
    return (Path(found),)


def _asked_fleet(request: Request, out_text: str) -> fleet.Invocation:
    return fleet.Invocation(tuple(str(path) for path in request.values_files), request.overrides, out_text,
                            request.strict)


def _closing(report: Report, request: Request, out_text: str, quiet: bool) -> fleet.Lines:
    return fleet.closing_lines(report.results, request.mode, request.out_dir, _asked_fleet(request, out_text), quiet)


def _record_noop(pending: noop.Pending, request: Request, report: Report, out_text: str, quiet: bool) -> None:
    """Let the next identical run answer without rendering, when this one ended clean (exit 0, no warnings)."""
    asked = noop.Invocation(request.mode, request.strict, str(request.out_dir), request.overrides,
                                tuple(str(path) for path in request.values_files), quiet)
    clean = not report.warnings and not (request.mode == "check" and report.differs)
    same = asked.text() == pending.invocation.text()
    if request.mode not in ("write", "check") or request.remote or not clean or not same:
        return
    trees = {os.path.abspath(request.out_dir / result.cluster): clusters.expected_tree(result.digests)
             for result in report.results}
    data_files = sorted({path for result in report.results for path in result.data_files})
    answer = fleet.closing_lines(report.results, request.mode, request.out_dir, _asked_fleet(request, out_text),
                                 quiet, as_unchanged=True)
    noop.record(pending, trees, data_files, "".join(line + "\n" for line in answer.stderr))
