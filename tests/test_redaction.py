"""Secrets are never echoed, odd text is refused where set, and limits answer with the limit named (issue 14).

A catalogue of credential formats, built at runtime from pieces (the repository holds no
secret-shaped literal), is put in every string field of the schema, as a label key and value,
through a values file and through --set. Each run must exit 2, locate the problem, print no
fragment of the secret in any output format (plain, GITHUB_ACTIONS annotations, --check,
--diff, markdown) and leave out/ as it was.
"""

from __future__ import annotations

import base64
import json
import random
import shutil
import string
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from renderer import leaks, validate, yamlio
from renderer.leaks import redact
from renderer.yamlio import limits
from tests.conftest import PROD_VALUES, REPO_ROOT, read_tree
from tests.support.cli import Run, run_cli
from tests.support.schema_walk import count_scans, string_fields

_RNG = random.Random(14)


def _pick(alphabet: str, count: int) -> str:
    """Random characters with at least one of each of lower case, upper case and digits when the alphabet has them."""
    while True:
        text = "".join(_RNG.choice(alphabet) for _ in range(count))
        wanted = [cls for cls in (string.ascii_lowercase, string.ascii_uppercase, string.digits)
                  if set(cls) & set(alphabet)]
        if all(set(text) & set(cls) for cls in wanted):
            return text


ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
B64URL = ALNUM + "-_"


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


_JWT_SIGNATURE = _pick(B64URL, 43)
_JWT = ".".join([_b64url({"alg": "RS256"}), _b64url({"sub": "tigera-license", "exp": 1900000000}), _JWT_SIGNATURE])
_PEM_BODY = base64.b64encode(_RNG.randbytes(48)).decode()
_PEM = "-----" + "BEGIN " + "PRIVATE KEY-----\n" + _PEM_BODY + "\n-----" + "END " + "PRIVATE KEY-----"
_AUTH = base64.b64encode(("robot:" + _pick(ALNUM, 16)).encode()).decode()
_PASSWORD = _pick(ALNUM, 14)
_CLIENT_KEY = base64.b64encode(_RNG.randbytes(45)).decode()

CATALOGUE: dict[str, tuple[str, str]] = {
    # name: (payload, the fragment that must never be printed)
    "exoscale-api-key": (_key := "EX" + "O" + _pick(HEX, 24), _key[3:]),
    "exoscale-api-secret": (_secret := _pick(B64URL, 43), _secret),
    "url-userinfo": (f"https://admin:{_PASSWORD}@downloads.example.com/ee", _PASSWORD),
    "gitlab-token": (_gl := "glp" + "at-" + _pick(ALNUM, 20), _gl[6:]),
    "github-token": (_gh := "gh" + "p_" + _pick(ALNUM, 36), _gh[4:]),
    "google-api-key": (_google := "AI" + "za" + _pick(ALNUM, 35), _google[4:]),
    "stripe-live-key": (_stripe := "sk" + "_live_" + _pick(ALNUM, 24), _stripe[8:]),
    "hex-64-token": (_hex := _pick(HEX, 64), _hex),
    "password-assignment": ("pass" + "word=" + _PASSWORD, _PASSWORD),
    "aws-access-key-id": (_aws := "AK" + "IA" + _pick(string.ascii_uppercase + string.digits, 16), _aws[4:]),
    "jwt": (_JWT, _JWT_SIGNATURE),
    "pem-private-key": (_PEM, _PEM_BODY[:24]),
    "docker-config-auths": (json.dumps({"auths": {"registry.example.com": {"auth": _AUTH}}}), _AUTH),
    "kubeconfig-client-key": ("users:\n- name: admin\n  user:\n    client-" + "key-data: " + _CLIENT_KEY,
                              _CLIENT_KEY[:24]),
    "tigera-license": ("kind: LicenseKey\nmetadata:\n  name: default\nspec:\n  token: " + _JWT, _JWT_SIGNATURE),
    # issue 21: the age key SOPS users hold, and the evasions that got past the rules
    "age-secret-key": (_age := "AGE-" + "SECRET-KEY-1" + _pick("QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58), _age[16:]),
    "exoscale-key-zero-width": (_key[:9] + "\u200b" + _key[9:], _key[9:]),
    "exoscale-key-glued": ("key_" + _key, _key[3:]),
    "exoscale-key-base64": (_b64key := base64.b64encode(_key.encode()).decode(), _b64key),
    "docker-auth-bare": (_AUTH, _AUTH),
    "kubeconfig-token": ("users:\n- name: admin\n  user:\n    to" + "ken: " + (_kt := "kubeadm." + _pick(HEX, 16)),
                         _kt[8:]),
}


def test_the_catalogue_is_found_and_labelled() -> None:
    """Each payload is refused by the leak rules on its own, and redact names what it looks like, never the text."""
    for name, (payload, needle) in CATALOGUE.items():
        assert leaks.labels(payload), name
        hidden = redact.shown(payload)
        assert hidden.startswith("<redacted: looks like "), (name, hidden)
        assert needle not in redact.scrub(f"before {payload} after"), name


# --------------------------------------------------------------------------- fields of the schema

BASE: dict[str, Any] = yamlio.load_one(PROD_VALUES.read_bytes(), "prod.yaml").data
BASE["secrets"] = {"pullSecret": {"provider": "external-secrets", "storeName": "vault", "remoteKey": "tigera/pull",
                                  "remoteProperty": "dockerconfigjson"},
                   "license": {"provider": "sops", "encryptedFile": "secrets/license.enc.yaml"}}
BASE["nodepool"]["antiAffinityGroups"] = ["aag"]
BASE["gitops"]["engine"] = "flux"  # sops delivers the license only with Flux (validate.py: rollout_problems)


SCHEMA = validate.values_schema()
FIELDS = [*(".".join(path) for path in string_fields(SCHEMA, SCHEMA)), "nodepool.labels.<key>"]
LIST_ITEMS: dict[str, dict[str, str]] = {
    "nodepool.taints": {"key": "dedicated", "value": "tigera", "effect": "NoSchedule"},
    "acknowledge": {"change": "ipPoolCIDR", "from": "192.168.0.0/16", "to": "10.244.0.0/16"},
}
"""A valid item of each list of mappings in the schema, into which one field's payload goes."""


def test_every_list_of_mappings_has_a_valid_item() -> None:
    owners = {field.rpartition(".<item>.")[0] for field in FIELDS if ".<item>." in field}
    assert owners == set(LIST_ITEMS), "add a valid item for each new list of mappings to LIST_ITEMS"


def _placed(field: str, payload: str) -> tuple[dict[str, Any], str]:
    """Values with `payload` at `field`, and the --set override that does the same."""
    data = json.loads(json.dumps(BASE))
    keys = field.split(".")
    node = data
    for key in keys[:-2]:
        node = node.setdefault(key, {})
    parent, last = keys[-2], keys[-1]
    quoted = json.dumps(payload)
    if last == "<key>":
        node[parent] = {payload: "x"}
        return data, f"{'.'.join(keys[:-1])}={{{quoted}: x}}"
    if last == "<any>":
        node[parent] = {"role": payload}
        return data, f"{'.'.join(keys[:-1])}={{role: {quoted}}}"
    if last == "<item>":
        node[parent] = [payload]
        return data, f"{'.'.join(keys[:-1])}=[{quoted}]"
    if parent == "<item>":  # a field of a list of mappings (taints, acknowledge)
        owner = keys[-3]
        item = {**LIST_ITEMS[".".join(keys[:-2])], last: payload}
        node = data
        for key in keys[:-3]:
            node = node.setdefault(key, {})
        node[owner] = [item]
        flow = ", ".join(f"{key}: {json.dumps(value)}" for key, value in item.items())
        return data, f"{'.'.join(keys[:-2])}=[{{{flow}}}]"
    node.setdefault(parent, {})[last] = payload
    return data, f"{field}={payload}"


MODES: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "plain": ((), {}),
    "github-actions": ((), {"GITHUB_ACTIONS": "true"}),
    "check": (("--check",), {}),
    "diff": (("--diff",), {}),
    "markdown": (("--diff", "--format", "markdown"), {}),
}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rendered") / "out"
    result = run_cli(PROD_VALUES, "--out", out)
    assert result.exit_code == 0, result.stderr
    return out


def _run(args: list[str], env: dict[str, str]) -> Run:
    return run_cli(*args, env=env)


_PRISTINE: dict[Path, dict[str, str]] = {}
"""The module's rendered tree as its fixture left it, read once: every refused run must leave it so."""


def _refused(tmp_path: Path, rendered: Path, field: str, payload: str, needle: str, channel: str, mode: str) -> str:
    """Run one placement; assert exit 2, nothing echoed, out/ untouched; return stderr."""
    data, override = _placed(field, payload)
    values = tmp_path / "values.yaml"
    if channel == "file":
        values.write_text(yamlio.dump(data), "utf-8")
        extra: list[str] = []
    else:
        values.write_text(yamlio.dump(BASE), "utf-8")
        extra = ["--set", override]
    before = _PRISTINE.get(rendered) or _PRISTINE.setdefault(rendered, read_tree(rendered))
    flags, env = MODES[mode]
    result = _run([str(values), "--out", str(rendered), *flags, *extra], env)
    output = result.stdout + result.stderr
    assert result.exit_code == 2, f"{field} via {channel} ({mode}): exit {result.exit_code}\n{output}"
    assert needle not in output, f"{field} via {channel} ({mode}) echoes the secret:\n{output}"
    assert "Traceback" not in output
    assert read_tree(rendered) == before
    return result.stderr


_PLACEMENTS = [(name, field, ("file", "set")[(row + column) % 2])
               for row, name in enumerate(CATALOGUE) for column, field in enumerate(FIELDS)]
_PARAMS = [pytest.param(*placement, list(MODES)[index % len(MODES)], id="-".join(placement))
           for index, placement in enumerate(_PLACEMENTS)]
"""Every payload in every field; the channel alternates so that every payload and every field goes through
both a values file and --set, and the output formats take turns (all of them are tried for every payload
and both channels below)."""


def test_the_base_values_render() -> None:
    assert validate.validate(validate.LocatedValues(BASE, {}, ("base.yaml",)))[0]["cluster"]["name"] == "ceosks-poc"


@pytest.mark.parametrize(("name", "field", "channel", "mode"), _PARAMS)
def test_secret_in_any_field_is_refused_and_never_echoed(name: str, field: str, channel: str, mode: str,
                                                         tmp_path: Path, rendered: Path) -> None:
    payload, needle = CATALOGUE[name]
    stderr = _refused(tmp_path, rendered, field, payload, needle, channel, mode)
    assert "looks like secret material" in stderr, stderr
    top = field.split(".")[0]
    if channel == "file":
        assert f"{tmp_path / 'values.yaml'}:" in stderr and (f": error: {top}." in stderr or
                                                             f": error: {top}[" in stderr), stderr
    else:
        assert (f"--set {top}." in stderr or f"--set {top}=" in stderr) and "<redacted: looks like " in stderr, stderr


@pytest.mark.parametrize("mode", sorted(MODES))
@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_every_output_format_hides_the_secret(name: str, mode: str, tmp_path: Path, rendered: Path) -> None:
    payload, needle = CATALOGUE[name]
    for channel in ("file", "set"):
        _refused(tmp_path, rendered, "cluster.description", payload, needle, channel, mode)


def test_a_password_in_a_set_url_is_refused_without_printing_it(tmp_path: Path, rendered: Path) -> None:
    result = _run([str(PROD_VALUES), "--out", str(rendered), "--set",
                   f"tigera.manifestsBaseURL=https://admin:{_PASSWORD}@downloads.example.com/ee"], {})
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        "--set tigera.manifestsBaseURL=<redacted: looks like a URL with a password>: error: "
        "tigera.manifestsBaseURL: value looks like secret material (a URL with a password); values hold references "
        "only")


def test_a_jwt_as_cluster_name_is_one_located_redacted_error(tmp_path: Path) -> None:
    text = PROD_VALUES.read_text("utf-8").replace("name: ceosks-poc", f"name: {_JWT}")
    values = tmp_path / "v.yaml"
    values.write_text(text, "utf-8")
    result = _run([str(values), "--out", str(tmp_path / "out")], {"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == (
        f"{values}:4:3: error: cluster.name: value looks like secret material (a JWT); values hold references only")
    annotation = f"::error file={values},line=4,col=3::cluster.name: value looks like secret material (a JWT)"
    assert annotation in result.stderr
    assert _JWT_SIGNATURE not in result.stderr and not (tmp_path / "out").exists()


def test_a_secret_label_key_is_exit_2_with_the_key_redacted(tmp_path: Path) -> None:
    """It was exit 3 ('internal error'): label keys were not scanned, so the rendered bootstrap.sh tripped the guard."""
    key = CATALOGUE["aws-access-key-id"][0]
    result = _run([str(PROD_VALUES), "--out", str(tmp_path / "out"), "--set", f"nodepool.labels={{{key}: x}}"], {})
    assert result.exit_code == 2, result.stderr
    assert ("error: nodepool.labels.<redacted: looks like an AWS access key id>: key looks like secret material"
            in result.stderr)
    assert key[4:] not in result.stderr


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_a_secret_in_a_comment_is_refused_where_written(name: str, tmp_path: Path) -> None:
    payload, needle = CATALOGUE[name]
    comment = "".join(f"# {line}\n" for line in payload.splitlines())
    base = PROD_VALUES.read_text("utf-8")
    values = tmp_path / "v.yaml"
    values.write_text(base + comment, "utf-8")
    result = _run([str(values), "--out", str(tmp_path / "out")], {"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 2, result.stderr
    first = base.count("\n") + 1
    assert f"{values}:" in result.stderr and "text looks like secret material" in result.stderr, result.stderr
    lines = [int(line.split(":")[1]) for line in result.stderr.splitlines() if line.startswith(f"{values}:")]
    assert lines and all(first <= number < first + len(payload.splitlines()) for number in lines), result.stderr
    assert needle not in result.stderr and not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- odd text

ODD = {
    "nul": "a\x00b", "escape-sequence": "a\x1b[31mred", "carriage-return": "line\roverwritten", "delete": "a\x7fb",
    "c1-next-line": "a\x85b", "bidi-override": "admin\u202etxt.sh", "bidi-isolate": "a\u2066b\u2069",
    "lone-surrogate": "a\ud800b",
}
ODD_FIELDS = ["cluster.description", "kubeconfig.user", "nodepool.labels.<any>", "nodepool.labels.<key>",
              "nodepool.taints.<item>.value", "gitops.revision"]


@pytest.mark.parametrize("channel", ["file", "set"])
@pytest.mark.parametrize("field", ODD_FIELDS)
@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_text_is_refused_where_set(name: str, field: str, channel: str, tmp_path: Path, rendered: Path) -> None:
    value = ODD[name]
    data, override = _placed(field, value)
    values = tmp_path / "values.yaml"
    if channel == "file":  # JSON escapes are YAML double-quoted escapes: "\u0000", "\ud800"
        values.write_text(json.dumps(data, ensure_ascii=True), "utf-8")
        extra: list[str] = []
    else:
        values.write_text(json.dumps(BASE), "utf-8")
        extra = ["--set", override]
    before = read_tree(rendered)
    result = _run([str(values), "--out", str(rendered), *extra], {"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 2, result.stderr
    assert "contains a" in result.stderr and "(not shown)" in result.stderr, result.stderr
    assert value not in result.stderr and value.encode("unicode_escape").decode() not in result.stderr
    assert read_tree(rendered) == before


def test_invalid_utf8_in_argv_is_exit_2(tmp_path: Path) -> None:
    """A real process: Python hands the undecodable byte over as a lone surrogate (surrogateescape)."""
    out = tmp_path / "out"
    run = subprocess.run([sys.executable, "-m", "renderer", str(PROD_VALUES), "--out", str(out), "--no-cache",
                          "--set", b"cluster.description=caf\xe9 \xff"], capture_output=True, cwd=REPO_ROOT,
                         check=False)
    stderr = run.stderr.decode("utf-8", "replace")
    assert run.returncode == 2, stderr
    assert stderr.startswith("--set cluster.description=<not shown: contains an invalid UTF-8 byte (0xE9)>: error: "
                             "cluster.description: value contains an invalid UTF-8 byte (0xE9) at character 4"), stderr
    assert b"\xff" not in run.stderr and not out.exists()


def test_nul_never_reaches_bootstrap(tmp_path: Path) -> None:
    text = PROD_VALUES.read_text("utf-8").replace("  serviceLevel: pro\n",
                                                  '  serviceLevel: pro\n  description: "a\\0b"\n')
    values = tmp_path / "v.yaml"
    values.write_text(text, "utf-8")
    result = _run([str(values), "--out", str(tmp_path / "out")], {})
    assert result.exit_code == 2
    assert result.stderr == (f"{values}:8:3: error: cluster.description: value contains a control character (U+0000) "
                             "at character 2; only printable text, tabs and newlines are allowed (not shown)\n")
    assert not (tmp_path / "out").exists()


def test_tabs_and_newlines_stay_allowed(tmp_path: Path) -> None:
    result = _run([str(PROD_VALUES), "--out", str(tmp_path / "out"), "--set", "cluster.description=a\tb\nc"], {})
    assert result.exit_code == 0, result.stderr


# --------------------------------------------------------------------------- limits, by counted work


@pytest.mark.parametrize("shape", ["top-level-keys", "labels"])
def test_a_huge_file_is_refused_before_ruamel_scans_it(shape: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    if shape == "top-level-keys":
        body = "".join(f"k{index}: 1\n" for index in range(100_000))
    else:
        body = "nodepool:\n  labels:\n" + "".join(f"    l{index}: v\n" for index in range(70_000))
    values = tmp_path / "big.yaml"
    values.write_text(body, "utf-8")
    scanned = count_scans(monkeypatch)
    result = _run([str(values), "--out", str(tmp_path / "out")], {})
    assert result.exit_code == 2
    assert f"error: document has more than {limits.MAX_ENTRIES} keys and list items" in result.stderr
    assert "alias" not in result.stderr
    assert scanned[0] == 0


def test_a_huge_set_is_refused_before_it_is_parsed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed = [0]
    real = yamlio.load_all_plain

    def counting(text: str) -> Any:
        parsed[0] += 1
        return real(text)

    monkeypatch.setattr(yamlio, "load_all_plain", counting)
    labels = "{" + ", ".join(f"l{index}: v" for index in range(5000)) + "}"
    result = _run([str(PROD_VALUES), "--out", str(tmp_path / "out"), "--set", f"nodepool.labels={labels}"], {})
    assert result.exit_code == 2
    assert result.stderr.startswith("--set nodepool.labels={l0: v, l1: v")
    assert f"error: nodepool.labels: value has more than {limits.MAX_ENTRIES} keys and list items" in result.stderr
    assert parsed[0] == 0


@pytest.mark.parametrize(("override", "message"), [
    ("nodepool.labels={" + ", ".join(f"l{index}: v" for index in range(65)) + "}",
     "error: nodepool.labels: has 65 entries; at most 64 allowed"),
    ("nodepool.taints=[" + ", ".join(f"{{key: t{index}, value: v, effect: NoSchedule}}" for index in range(33)) + "]",
     "error: nodepool.taints: has 33 items; at most 32 allowed"),
], ids=["labels", "taints"])
def test_labels_and_taints_are_bounded(override: str, message: str, tmp_path: Path) -> None:
    result = _run([str(PROD_VALUES), "--out", str(tmp_path / "out"), "--set", override], {})
    assert result.exit_code == 2 and message in result.stderr, result.stderr


def test_the_largest_allowed_label_set_renders(tmp_path: Path) -> None:
    labels = "{" + ", ".join(f"l{index}: v" for index in range(64)) + "}"
    result = _run([str(PROD_VALUES), "--out", str(tmp_path / "out"), "--set", f"nodepool.labels={labels}"], {})
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "out" / "ceosks-poc" / "bootstrap.sh").read_text("utf-8").count("--label") >= 64


def test_alias_bomb_is_named_only_with_anchors() -> None:
    assert limits.has_anchors("a: &x [1]\nb: *x\n")
    assert not limits.has_anchors("a: 'R&D'\nb: x&y\nurl: https://h/?a=1&b=2\n")


# --------------------------------------------------------------------------- --diff of a tree edited by hand


@pytest.fixture
def edited(rendered: Path, tmp_path: Path) -> Path:
    out = tmp_path / "out"
    shutil.copytree(rendered, out)
    return out


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_diff_masks_a_secret_inside_a_list(edited: Path, fmt: str) -> None:
    secret_value = base64.b64encode(_PASSWORD.encode()).decode()
    listed = {"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "smuggled", "namespace": "default"},
         "data": {"password": secret_value}, "stringData": {"token": _PASSWORD}}]}
    (edited / "ceosks-poc" / "02-storageclass" / "storageclass.yaml").write_text(yamlio.dump(listed), "utf-8")
    result = _run([str(PROD_VALUES), "--out", str(edited), "--diff", "--format", fmt], {})
    assert result.exit_code == 1, result.stderr
    assert "password: <masked>" in result.stdout and "token: <masked>" in result.stdout
    assert secret_value not in result.stdout and _PASSWORD not in result.stdout


@pytest.mark.parametrize("fmt", ["text", "markdown"])
@pytest.mark.parametrize("name", ["exoscale-api-key", "url-userinfo", "hex-64-token", "pem-private-key",
                                  "age-secret-key", "exoscale-key-zero-width", "docker-auth-bare", "kubeconfig-token"])
def test_diff_redacts_secret_shaped_lines_of_any_file(edited: Path, name: str, fmt: str) -> None:
    payload, needle = CATALOGUE[name]
    bootstrap = edited / "ceosks-poc" / "bootstrap.sh"
    bootstrap.write_text(bootstrap.read_text("utf-8") + f"# {payload}\n", "utf-8")
    result = _run([str(PROD_VALUES), "--out", str(edited), "--diff", "--format", fmt], {})
    assert result.exit_code == 1, result.stderr
    assert "<redacted: looks like " in result.stdout
    assert needle not in result.stdout


# --------------------------------------------------------------------------- false positives: 0 in real trees

VALID = sorted(path.parent.name for path in (REPO_ROOT / "tests" / "cases" / "valid").glob("*/values.yaml"))


def _findings(files: dict[str, str]) -> list[str]:
    found = [f"{path}: {item}" for path, text in files.items() for item in leaks.scan_text(path, text)]
    for path, text in files.items():
        if path.endswith((".yaml", ".yml")):
            found += [f"{path}: {item}" for doc in yamlio.load_all_plain(text) if isinstance(doc, dict)
                      for item in leaks.scan_object(doc)]
    return found


def test_no_false_positive_in_any_valid_case_or_the_committed_tree(request: pytest.FixtureRequest,
                                                                  tmp_path: Path) -> None:
    """Every valid case's values (keys and strings, as the refusals see them) and rendered tree, and out/."""
    from renderer import load, pipeline
    from renderer.validate import refusals

    findings, scanned = [], 0
    for name in VALID:
        values_path = REPO_ROOT / "tests" / "cases" / "valid" / name / "values.yaml"
        values = load.load([values_path])
        findings += [problem.format() for problem in refusals.secret_problems(values) + refusals.text_problems(values)
                     + refusals.source_problems(values)]
        request_ = pipeline.Request(values_files=(values_path,), out_dir=tmp_path)  # scratch: gitops.path as set
        prepared = pipeline.prepare([values_path], request_, [])
        findings += _findings({f"{name}/{path}": text for path, text in prepared.tree.items()})
        scanned += len(prepared.tree) + 1
    committed = {f"out/{tree.name}/{path}": text for tree in (REPO_ROOT / "out").iterdir() if tree.is_dir()
                 for path, text in read_tree(tree).items()}
    findings += _findings(committed)
    scanned += len(committed)
    request.node.user_properties.append(("false_positive_files_scanned", scanned))
    request.node.user_properties.append(("false_positives", len(findings)))
    assert len(VALID) >= 15 and scanned > 400
    assert findings == []
