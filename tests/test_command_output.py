"""What the `render` command says: the entry points (`render`, `python -m renderer`), a fleet run's closing
lines and fix command (cli/fleet.py), the `--output json` document (cli/jsonout.py) and the PR markdown's
approvals (cli/approvals.py), from plain pipeline results made here."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

import renderer.cli
from renderer.cache import noop
from renderer.cli import approvals, fleet, jsonout
from renderer.errors import Problem
from renderer.model.upgrade import Upgrade
from renderer.pipeline import ClusterResult
from renderer.validate.destructive import Change, Review
from renderer.write import MANIFEST, Changes

OUT = Path("out")


def result(cluster: str, changes: Changes | None = None, sources: tuple[str, ...] = (),
           **extra: object) -> ClusterResult:
    return ClusterResult(cluster=cluster, sources=sources or (f"{cluster}.yaml",), file_count=40,
                         changes=changes or Changes(), kinds=Counter({"Application": 9, "Namespace": 3}), digests={},
                         **extra)  # type: ignore[arg-type]


# --- entry points ------------------------------------------------------------------------------------

def test_python_dash_m_renderer_runs_the_render_command(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "argv", ["render", "--help"])
    monkeypatch.delitem(sys.modules, "renderer.__main__", raising=False)
    with pytest.raises(SystemExit) as exited:
        import renderer.__main__  # noqa: F401 - importing it is what `python -m renderer` does
    assert exited.value.code == 0
    assert "--check" in capsys.readouterr().out


def test_render_answers_from_the_no_op_record_without_the_full_command(monkeypatch: pytest.MonkeyPatch,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    asked = []

    def recorded(argv: list[str]) -> tuple[str, None]:
        asked.append(argv)
        return "out/ceosks-poc: 40 files, 12 objects validated; unchanged\n", None

    monkeypatch.setattr(noop, "lookup", recorded)
    monkeypatch.setattr(sys, "argv", ["render", "values/prod.yaml"])
    renderer.cli.main()  # returns: the console script then exits 0 (exitcodes.OK) without importing it
    assert asked == [["values/prod.yaml"]]
    assert capsys.readouterr().err == "out/ceosks-poc: 40 files, 12 objects validated; unchanged\n"


def test_an_unreadable_no_op_record_falls_back_to_the_full_command(monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    def broken(argv: list[str]) -> None:
        raise OSError("record vanished")

    monkeypatch.setattr(noop, "lookup", broken)
    monkeypatch.setattr(sys, "argv", ["render", "--help"])
    with pytest.raises(SystemExit) as exited:
        renderer.cli.main()
    assert exited.value.code == 0 and "--check" in capsys.readouterr().out


# --- a fleet's closing lines and the fix command ----------------------------------------------------------

def test_the_fix_command_repeats_the_options_and_quotes_each_word() -> None:
    invocation = fleet.Invocation(("values/base.yaml", "values/my cluster.yaml"), ("cluster.zone=de-fra-1",),
                                  out="deploy", strict=True)
    assert invocation.write_command() == (
        "render --out deploy --strict --set cluster.zone=de-fra-1 values/base.yaml 'values/my cluster.yaml'")
    assert fleet.Invocation(("prod.yaml",)).write_command() == "render prod.yaml"


def test_the_fix_command_keeps_every_layer_and_only_the_stale_clusters() -> None:
    invocation = fleet.Invocation(("base.yaml", "_eu.yaml", "alpha.yaml", "bravo.yaml", "charlie.yaml"))
    stale = [result("bravo", Changes(changed=["a.yaml"]), ("base.yaml", "_eu.yaml", "bravo.yaml"))]
    assert invocation.only(stale).values == ("base.yaml", "_eu.yaml", "bravo.yaml")
    assert invocation.only([result("all", sources=("base.yaml",))]) == invocation  # no cluster file: keep all


def test_check_of_a_fleet_lists_the_stale_files_a_summary_and_the_fix() -> None:
    results = [result("alpha", sources=("base.yaml", "alpha.yaml")),
               result("bravo", Changes(changed=["argocd/apps/project.yaml", MANIFEST], added=["new.yaml"]),
                      ("base.yaml", "bravo.yaml"))]
    lines = fleet.closing_lines(results, "check", OUT, fleet.Invocation(("base.yaml", "alpha.yaml", "bravo.yaml")))
    assert lines.stdout == ["added: out/bravo/new.yaml", "changed: out/bravo/argocd/apps/project.yaml"]  # no manifest
    assert lines.stderr == ["2 clusters: 1 differ, 1 up to date",
                            "out/ is stale; to update it, run: render base.yaml bravo.yaml"]


def test_a_written_fleet_names_the_changed_clusters_only_and_quiet_keeps_nothing() -> None:
    results = [result("alpha"), result("bravo", Changes(added=["a.yaml", MANIFEST], removed=["b.yaml"]))]
    lines = fleet.closing_lines(results, "write", OUT, fleet.Invocation(("alpha.yaml", "bravo.yaml")))
    assert lines.stderr == ["out/bravo: 40 files, 12 objects validated; 1 added, 0 changed, 1 removed",
                            "2 clusters: 1 changed, 1 unchanged"]
    quiet = fleet.closing_lines(results, "write", OUT, fleet.Invocation(("alpha.yaml", "bravo.yaml")), quiet=True)
    assert quiet.stdout == quiet.stderr == []


def test_a_single_up_to_date_cluster_says_so_and_needs_no_fix() -> None:
    lines = fleet.closing_lines([result("prod")], "check", OUT, fleet.Invocation(("prod.yaml",)))
    assert (lines.stdout, lines.stderr) == ([], ["out/prod: up to date"])
    assert fleet.fix_command([result("prod")], fleet.Invocation(("prod.yaml",))) is None


# --- --output json --------------------------------------------------------------------------------------------

PLAN = """Rollout plan for prod (renderer/model/facts.py; simulated: renderer/simulate/)

bootstrap (out/prod/bootstrap.sh), in this order:
  00-nodepool: Worker nodes (exo compute sks nodepool add)
  06-tigera-custom-resources: Tigera custom resources (kubectl apply --server-side)
      waits for crds:operator.tigera.io: operator kinds

Argo CD (argocd/root-application.yaml), sync waves:
  wave 1: 01-longhorn (ready when CRDsEstablished)
"""


def test_the_plan_becomes_steps_per_delivery_with_what_each_waits_for() -> None:
    assert jsonout.plan_steps(PLAN) == [
        {"delivery": "bootstrap (out/prod/bootstrap.sh), in this order", "step": "00-nodepool: Worker nodes "
         "(exo compute sks nodepool add)", "waits": []},
        {"delivery": "bootstrap (out/prod/bootstrap.sh), in this order",
         "step": "06-tigera-custom-resources: Tigera custom resources (kubectl apply --server-side)",
         "waits": ["waits for crds:operator.tigera.io: operator kinds"]},
        {"delivery": "Argo CD (argocd/root-application.yaml), sync waves",
         "step": "wave 1: 01-longhorn (ready when CRDsEstablished)", "waits": []},
    ]


@pytest.mark.parametrize(("args", "wanted"), [
    (["--output", "json", "v.yaml"], True), (["--output=json"], True), (["--output", "text"], False),
    (["v.yaml", "--", "--output", "json"], False),  # after `--` it is a file name
    (["--set", "x=--output", "json"], False),
])
def test_json_is_wanted_only_when_asked_before_a_double_dash(args: list[str], wanted: bool) -> None:
    assert jsonout.wants_json(args) is wanted


def test_the_document_counts_clusters_locates_problems_and_hides_secrets() -> None:
    secret_fix = "render --set tigera.manifestsBaseURL=https://admin:hunter2secret@x.example.com/ee a.yaml"
    results = [result("alpha"), result("bravo", Changes(changed=["x.yaml", MANIFEST]))]
    located = Problem("a.yaml", 3, 5, "cluster.zone", "zone 'x' is unknown", hint="did you mean ch-gva-2?")
    text = jsonout.document("check", 1, OUT, results, [located], fix_command=secret_fix)
    assert text.endswith("}\n") and text.count("\n") == 1
    body = json.loads(text)
    assert (body["schema"], body["mode"], body["exit_code"], body["out"]) == (jsonout.SCHEMA_ID, "check", 1, "out")
    assert body["summary"] == {"clusters": 2, "changed": 1, "unchanged": 1}
    assert body["clusters"][1]["files"] == {"added": [], "changed": ["x.yaml"], "removed": []}
    assert body["clusters"][1]["objects"] == 12 and body["clusters"][1]["tree"] == "out/bravo"
    assert body["problems"] == [{"level": "error", "file": "a.yaml", "line": 3, "column": 5, "key": "cluster.zone",
                                 "message": "zone 'x' is unknown", "hint": "did you mean ch-gva-2?"}]
    assert "hunter2secret" not in text and "<redacted: looks like a URL with a password>" in body["fix_command"]


def test_a_refused_command_line_is_a_document_too() -> None:
    body = json.loads(jsonout.document(None, 2, problems=[Problem("", 0, 0, "", "No such option: --bogus")]))
    assert (body["mode"], body["out"], body["clusters"], body["exit_code"]) == (None, None, [], 2)


# --- the PR markdown's approvals ---------------------------------------------------------------------------

def test_nothing_to_approve_is_no_section() -> None:
    assert approvals.section(result("prod")) == []


def test_an_upgrade_and_acknowledged_destructive_edits_are_a_warning_table() -> None:
    change = Change("ipPoolCIDR", "IPPool default-ipv4-ippool", "10.0.0.0/16", "10.8.0.0/16",
                    ("tigera", "installation", "ipPools"))
    review = Review(acknowledged=(change,), spent=("ipPoolName a | b -> c",))
    lines = approvals.section(result("prod", review=review, upgrade=Upgrade("v3.21.4", "v3.22.1")))
    assert lines[0] == "**Upgrade:** Calico Enterprise v3.21.4 -> v3.22.1 (steps in order: the rollout plan below)"
    assert "> [!WARNING]" in lines
    assert "> **Destructive changes, acknowledged in the values (1):**" in lines[lines.index("> [!WARNING]") + 1]
    row = next(line for line in lines if line.startswith("| `ipPoolCIDR`"))
    assert row.startswith("| `ipPoolCIDR` | IPPool default-ipv4-ippool | `10.0.0.0/16` | `10.8.0.0/16` | the operator")
    assert lines[-1] == ("Acknowledgements whose change is already in out/ (remove them once merged): "
                         "`ipPoolName a \\| b -> c`")


def test_an_approval_line_never_shows_secret_material() -> None:
    spent = "manifestsBaseURL https://admin:hunter2secret@x.example.com/ee -> https://x.example.com/ee"
    (line,) = approvals.section(result("prod", review=Review(spent=(spent,))))
    assert "hunter2secret" not in line and "<redacted: looks like a URL with a password>" in line
