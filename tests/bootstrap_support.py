"""Render a cluster's bootstrap.sh into a temporary repository and run it against the fakes.

The fake `exo`, `kubectl` and `helm` (tests/fakes/) come first on PATH and keep their state
in one directory per test, so a second run sees what the first made. Every run is checked
for the fixture secrets in each recorded argv, stdout and stderr.
"""

from __future__ import annotations

import atexit
import base64
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer import load, model, pipeline, validate
from renderer.load import overrides
from renderer.render import bootstrap
from tests.support.tools import require_tool

REPO_ROOT = Path(__file__).resolve().parents[1]
FAKES = REPO_ROOT / "tests" / "fakes"
PROD_VALUES = REPO_ROOT / "values" / "prod.yaml"
RUN_TIMEOUT = 120.0
CONDITION_TIMEOUT = "86400"
"""The script's --wait/--apiserver/--health timeouts in tests: a wait ends when the fake cluster makes its fact
true, some polls later (fakes/fake_cluster.py counts polls, not seconds), never on the wall clock, which a loaded
machine stretches (with 5 s, the resumed runs of test_bootstrap_converge.py failed now and then under load). A test
that wants a wait to run out sets the timeout to 0: it then fails at its first poll, whatever the load."""
ONE_WAIT_NEVER_ENDS = {**{f"BOOTSTRAP_{name}_TIMEOUT": "0" for name in ("WAIT", "APISERVER", "HEALTH")},
                       **{f"FAKE_DELAY_{name}": "0" for name in ("CRDS", "NODES", "CNI", "TIER", "LICENSED")}}
"""The environment of a run in which one wait never ends (an engine that cannot read the repository, a hub that
generates no root): every other fact is true at its first poll (no FAKE_DELAY of fakes/fake_cluster.DELAYS), so
0 s timeouts end exactly that wait, at its first poll, instead of after seconds of wall clock."""

# Fixture secrets: distinctive strings, so any leak is found by a plain substring search.
REGISTRY_CREDENTIALS = "sks-gitops-fixture:pull-secret-password-4c1d"
PULL_SECRET = json.dumps({"auths": {"quay.io": {
    "auth": base64.b64encode(REGISTRY_CREDENTIALS.encode()).decode(), "email": "fixture@example.invalid"}}})
LICENSE_TOKEN = "license-token-fixture-93b1c7e2"
LICENSE_CERTIFICATE = "license-certificate-fixture-5d2a88f0"
LICENSE = f"""apiVersion: projectcalico.org/v3
kind: LicenseKey
metadata:
  name: default
spec:
  token: {LICENSE_TOKEN}
  certificate: |
    -----BEGIN CERTIFICATE-----
    {LICENSE_CERTIFICATE}
    -----END CERTIFICATE-----
"""
GIT_TOKEN = "git-token-fixture-0e7f5a19c3"
"""The read-only token of the fake private Git repository (fake_cluster.repository_readable)."""
HUB_ENDPOINT = "https://hub.fake.invalid:6443"
HUB_TOKEN = "hub-admin-token-fixture-6a0f3d"
"""The credential of the hub's kubeconfig (--hub-kubeconfig)."""
SA_TOKEN = "sa-token-fixture-b71c0d9e.kube-system.argocd-manager"
"""The token the fake token controller gives kube-system/argocd-manager (tests/fakes/fake_cluster.py token_of)."""
SECRET_MARKERS = (HUB_TOKEN, base64.b64encode(HUB_TOKEN.encode()).decode(), "sa-token-fixture-b71c0d9e",
                  base64.b64encode(SA_TOKEN.encode()).decode(),
                  GIT_TOKEN, base64.b64encode(GIT_TOKEN.encode()).decode(), REGISTRY_CREDENTIALS,
                  base64.b64encode(REGISTRY_CREDENTIALS.encode()).decode(),
                  base64.b64encode(PULL_SECRET.encode()).decode(), "pull-secret-password-4c1d",
                  LICENSE_TOKEN, LICENSE_CERTIFICATE)


@dataclass(frozen=True)
class Call:
    tool: str
    argv: tuple[str, ...]
    stdin: bool

    @property
    def line(self) -> str:
        """The call as a shell command line."""
        return shlex.join((self.tool, *self.argv))

    @property
    def local(self) -> bool:
        """kubectl run only as a parser or builder: it reaches no cluster."""
        if self.tool != "kubectl":
            return False
        verb = self.argv[0] if self.argv else ""
        return verb == "config" or (verb == "patch" and "--local" in self.argv) or (
            verb == "create" and "--dry-run=client" in self.argv)

    @property
    def changes(self) -> bool:
        """Whether the call changes the cloud or the cluster."""
        if self.tool == "exo":
            return bool({"create", "add"} & set(self.argv))
        if self.tool == "helm":
            return self.argv[:1] in (("upgrade",), ("install",))
        return not self.local and self.argv[:1] in (("apply",), ("create",), ("delete",), ("patch",))


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str
    calls: tuple[Call, ...]

    @property
    def remote(self) -> list[str]:
        """The calls that reach Exoscale or the cluster, as command lines."""
        return [call.line for call in self.calls if not call.local]

    def __str__(self) -> str:
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def render_tree(repo: Path, overrides: Sequence[str] = (), values: Path = PROD_VALUES) -> Path:
    """Render `values` (the prod values) with `overrides` (KEY.PATH=VALUE) into repo/out/; the script's path."""
    report = pipeline.execute(pipeline.Request(values_files=(values,), overrides=tuple(overrides),
                                               out_dir=repo / "out"))
    (result,) = [result for result in report.results if not result.cluster.startswith("_")]  # not a hub tree
    return repo / "out" / result.cluster / "bootstrap.sh"


def cluster_model(overrides_: Sequence[str] = ()) -> model.Model:
    """The model of the prod values with `overrides_`, as `render` builds it."""
    values = overrides.apply(load.load([PROD_VALUES]), list(overrides_), validate.values_schema())
    data, _found = validate.validate(values, strict=False)
    return model.build(data)


def step_names(overrides_: Sequence[str] = ()) -> list[str]:
    """The script's steps in order, as renderer/render/bootstrap.py plans them."""
    return [step.name for step in bootstrap.plan(cluster_model(overrides_)).steps]


def headers(result: Result) -> list[str]:
    """The steps a run started, from its `==> [i/n] name: ...` lines."""
    return re.findall(r"^==> \[\d+/\d+\] (\S+):", result.stderr, re.MULTILINE)


def plan_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:2] in ("+ ", "? ", "# ")]


@functools.cache
def fake_server() -> str:
    """The socket of this process's tests/fakes/server.py, started on first use, stopped at exit.

    Every fake call is then a fork of a process with the fakes imported (tests/fakes/client.py);
    what the fakes answer and record is the same as when each call runs main.py afresh.
    """
    home = Path(tempfile.mkdtemp(prefix="sks-fakes-"))
    address = home / "socket"
    with open(home / "server.log", "wb") as log:
        server = subprocess.Popen([sys.executable, str(FAKES / "server.py"), str(address)],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log)

    owner = os.getpid()

    def stop() -> None:
        if os.getpid() != owner:  # a fork of this process (a test's own workers) exiting: not ours to stop
            return
        server.terminate()
        server.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)

    atexit.register(stop)
    deadline = time.monotonic() + 60
    while not address.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the fake server did not start:\n{(home / 'server.log').read_text('utf-8')}")
        time.sleep(0.01)
    (home / "kubectl-cache").mkdir()
    return str(address)


class Bootstrap:
    """One rendered script, its secret files, its fake cloud, and a way to run it."""

    def __init__(self, root: Path, overrides: Sequence[str] = (), preinstalled: str = "") -> None:
        self.real_kubectl = require_tool("kubectl")
        self.root = root
        self.repo, self.home, self.state, self.secrets = (root / name for name in ("repo", "home", "state", "secrets"))
        for directory in (self.home, self.state, self.secrets, root / "tmp"):
            directory.mkdir(parents=True)
        self.script = render_tree(self.repo, overrides)
        self.tree = self.script.parent
        self.pull_secret = self.secrets / "pull-secret.json"
        self.license = self.secrets / "license.yaml"
        self.pull_secret.write_text(PULL_SECRET, "utf-8")
        self.license.write_text(LICENSE, "utf-8")
        self.git_credential = self.secrets / "git-token"
        self.git_credential.write_text(GIT_TOKEN + "\n", "utf-8")  # as `echo TOKEN > file` leaves it
        self.git_credential.chmod(0o600)
        self.known_hosts = self.secrets / "known_hosts"
        self.known_hosts.write_text("git.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFixtureHostKey\n", "utf-8")
        self.kubeconfig = self.home / ".kube" / "ceosks-poc.config"
        self.hub_kubeconfig = self.secrets / "hub.config"
        self.hub_kubeconfig.write_text(hub_kubeconfig(), "utf-8")
        self.hub_kubeconfig.chmod(0o600)
        self.preinstalled = preinstalled
        self._seen = 0

    def env(self, **extra: str) -> dict[str, str]:
        inherited = {key: value for key, value in os.environ.items()
                     if not key.startswith(("BOOTSTRAP_", "FAKE_")) and key != "KUBECONFIG"}
        return {**inherited, "PATH": f"{FAKES}{os.pathsep}{os.environ.get('PATH', '')}", "HOME": str(self.home),
                "TMPDIR": str(self.root / "tmp"), "FAKE_PYTHON": sys.executable, "FAKE_STATE_DIR": str(self.state),
                "FAKE_REAL_KUBECTL": self.real_kubectl, "FAKE_PREINSTALLED": self.preinstalled,
                "FAKE_SERVER": fake_server(), "FAKE_KUBECTL_CACHE": str(Path(fake_server()).parent / "kubectl-cache"),
                "BOOTSTRAP_PULL_SECRET": str(self.pull_secret), "BOOTSTRAP_LICENSE": str(self.license),
                "BOOTSTRAP_GIT_CREDENTIAL": str(self.git_credential), "FAKE_GIT_TOKEN": GIT_TOKEN,
                "BOOTSTRAP_GIT_KNOWN_HOSTS": str(self.known_hosts),
                "BOOTSTRAP_HUB_KUBECONFIG": str(self.hub_kubeconfig),
                "FAKE_HUB_ENDPOINT": HUB_ENDPOINT, "FAKE_HUB_GIT_CLUSTERS": "ceosks-poc",
                "BOOTSTRAP_POLL_INTERVAL": "0", "BOOTSTRAP_WAIT_TIMEOUT": CONDITION_TIMEOUT,
                "BOOTSTRAP_APISERVER_TIMEOUT": CONDITION_TIMEOUT, "BOOTSTRAP_HEALTH_TIMEOUT": CONDITION_TIMEOUT,
                **extra}

    def run(self, *args: str, expect: int | None = 0, **env: str) -> Result:
        # A session of its own: a simulated Ctrl-C (FAKE_INTERRUPT) signals the script's group only.
        done = subprocess.run([str(self.script), *args], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env=self.env(**env), cwd=self.root, timeout=RUN_TIMEOUT, check=False,
                              start_new_session=True)
        calls = self.calls()[self._seen:]
        self._seen += len(calls)
        result = Result(done.returncode, done.stdout, done.stderr, tuple(calls))
        assert_no_secret(result)
        if expect is not None:
            assert result.code == expect, str(result)
        return result

    def tool(self, tool: str, *argv: str, **env: str) -> str:
        """Run one fake directly (to seed or read state); its call is not part of the next run."""
        done = subprocess.run([str(FAKES / tool), *argv], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env=self.env(**env), timeout=RUN_TIMEOUT, check=True)
        self._seen = len(self.calls())
        return done.stdout

    def hub(self) -> dict[str, Any]:
        """The fake hub (hub mode): objects keyed `group|kind|namespace|name`."""
        data: dict[str, Any] = json.loads((self.state / "hub.json").read_text("utf-8"))
        return data

    def calls(self) -> list[Call]:
        log = self.state / "calls.jsonl"
        if not log.exists():
            return []
        return [Call(entry["tool"], tuple(entry["argv"]), entry["stdin"])
                for entry in map(json.loads, log.read_text("utf-8").splitlines())]

    def normalize(self, line: str) -> str:
        """A command line with the temporary paths replaced by $TREE, $WORK and $SECRETS."""
        line = line.replace(str(self.tree), "$TREE").replace(str(self.secrets), "$SECRETS")
        return re.sub(re.escape(str(self.root / "tmp")) + r"/sks-bootstrap[.-][A-Za-z0-9-]+", "$WORK", line)

    def cloud(self) -> dict[str, Any]:
        """The fake Exoscale: security_groups, anti_affinity_groups, clusters (see fakes/fake_exo.py)."""
        data: dict[str, Any] = json.loads((self.state / "cloud.json").read_text("utf-8"))
        return data

    def cluster(self) -> dict[str, Any]:
        """The fake cluster: objects keyed `group|kind|namespace|name`, and Helm releases."""
        data: dict[str, Any] = json.loads((self.state / "cluster.json").read_text("utf-8"))
        return data


def assert_no_secret(result: Result) -> None:
    """No fixture secret in any argv, nor in the script's stdout or stderr."""
    places = [("stdout", result.stdout), ("stderr", result.stderr)]
    places += [(f"argv of {call.tool} {call.argv[:3]}", "\0".join(call.argv)) for call in result.calls]
    for where, text in places:
        for marker in SECRET_MARKERS:
            assert marker not in text, f"secret material ({marker[:6]}...) leaked into {where}"


def hub_kubeconfig() -> str:
    """The hub's kubeconfig, as a hub admin would hand it over: its server and a token."""
    return (f"apiVersion: v1\nkind: Config\nclusters:\n- name: hub\n  cluster:\n    server: {HUB_ENDPOINT}\n"
            f"users:\n- name: hub-admin\n  user:\n    token: {HUB_TOKEN}\n"
            "contexts:\n- name: hub\n  context:\n    cluster: hub\n    user: hub-admin\ncurrent-context: hub\n")
