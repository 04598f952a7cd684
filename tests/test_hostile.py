"""Hostile and broken input: values files, CLI arguments and output-directory states.

Each case states the exit code and message fragments it must produce. For every case:
the exit code is the expected one and never 3, stderr holds no traceback and every expected
fragment, and the whole scratch area (the pre-rendered out/ tree, a directory standing for
"outside", the values files) is byte- and mtime-identical afterwards, except, on success,
files under out/<cluster>/ and the lock beside it. A case marked `bug` is a strict xfail:
the product is wrong today and the case states the behaviour the fix must produce.

Values cases derive from BASE, a small valid values file whose line numbers the
fragments name (`v.yaml:8:9: error: nodepool.size: ...`, at the value).
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from renderer import leaks, yamlio
from tests.conftest import RenderCli
from tests.support.cli import run_cli
from tests.support.disk import Snapshot, snapshot
from tests.support.values import minimal_values

CLUSTER = "hostile"
BASE = minimal_values("hostile", "at-vie-1", 2,
                      extra="longhorn:\n  replicas: 2\nbypass:\n  namespaces: [tigera-eck-operator, calico-system]\n")
# Line numbers in BASE: 1 cluster, 2 name, 3 zone, 4 kubernetesVersion, 5 apiServer, 6 endpointPort,
# 7 nodepool, 8 size, 9 instanceType, 10 longhorn, 11 replicas, 12 bypass, 13 namespaces, 14 gitops,
# 15 repoURL; a key appended at the end is on line 16.


def edit(old: str, new: str) -> bytes:
    """BASE with one exact text replaced (fails loudly if BASE no longer holds `old`)."""
    assert old in BASE, old
    return BASE.replace(old, new, 1).encode("utf-8")


def append(text: str) -> bytes:
    return (BASE + text).encode("utf-8")


@dataclass(frozen=True)
class Env:
    tmp: Path
    out: Path
    good: Path
    values: Path
    outside: Path

    @property
    def tree(self) -> Path:
        return self.out / CLUSTER


Setup = Callable[[Env, pytest.MonkeyPatch], None]


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    """CLI arguments; `{v}` is the hostile values file, `{good}` BASE, `{out}` the out dir, `{tmp}` scratch."""
    code: int
    fragments: tuple[str, ...] = ()
    values: bytes | None = None
    setup: Setup | None = None
    absent: tuple[str, ...] = ()
    """Text stderr must not contain (raw control characters, secrets)."""
    same: bool = True
    """On exit 0: the pre-rendered tree must be untouched too (the values mean the same as BASE)."""
    bug: str = ""
    env: dict[str, str] = field(default_factory=dict)


def values_case(id: str, values: bytes, code: int, *fragments: str, **kw: Any) -> Case:
    return Case(id, ("{v}", "--out", "{out}"), code, fragments, values=values, **kw)


def cli_case(id: str, args: tuple[str, ...], code: int, *fragments: str, **kw: Any) -> Case:
    return Case(id, args, code, fragments, **kw)


def fs_case(id: str, setup: Setup, code: int, *fragments: str, extra: tuple[str, ...] = (), **kw: Any) -> Case:
    return Case(id, ("{good}", "--out", "{out}", *extra), code, fragments, setup=setup, **kw)


CHANGE = ("--set", "bypass.mode=service")
"""An override that changes rendered files, so the writer really has to touch out/."""

DEEP = 10_000
HUGE = 10**100

# --------------------------------------------------------------------------- values: types and ranges
VALUES_CASES = [
    values_case("string-for-integer", edit("size: 2", "size: two"), 2,
                'v.yaml:8:9: error: nodepool.size: expected an integer, got a string "two"'),
    values_case("bool-for-integer", edit("size: 2", "size: true"), 2,
                "v.yaml:8:9: error: nodepool.size: expected an integer, got a boolean true"),
    values_case("yaml11-yes-is-a-string", edit("size: 2", "size: yes"), 2,
                'v.yaml:8:9: error: nodepool.size: expected an integer, got a string "yes"'),
    values_case("float-for-string", edit('kubernetesVersion: "1.31.1"', "kubernetesVersion: 1.31"), 2,
                "v.yaml:4:22: error: cluster.kubernetesVersion: expected a string, got a number 1.31"),
    values_case("list-for-mapping", edit("cluster:\n  name: hostile\n  zone: at-vie-1\n"
                                         '  kubernetesVersion: "1.31.1"\n', "cluster: [hostile]\n"), 2,
                "v.yaml:1:10: error: cluster: expected a mapping, got a list"),
    values_case("mapping-for-list", edit("namespaces: [tigera-eck-operator, calico-system]", "namespaces: {a: b}"),
                2, "v.yaml:13:15: error: bypass.namespaces: expected a list, got a mapping"),
    values_case("null-for-required", edit("name: hostile", "name: ~"), 2,
                "v.yaml:2:3: error: cluster.name: required key is missing"),
    values_case("port-zero", edit("endpointPort: 30925", "endpointPort: 0"), 2,
                "v.yaml:6:17: error: apiServer.endpointPort: 0 is less than the minimum of 1"),
    values_case("port-65536", edit("endpointPort: 30925", "endpointPort: 65536"), 2,
                "v.yaml:6:17: error: apiServer.endpointPort: 65536 is greater than the maximum of 65535"),
    values_case("integer-10-pow-100", edit("size: 2", f"size: {HUGE}"), 2,
                "v.yaml:8:9: error: nodepool.size: 10000000000000000000... is out of range (maximum 1000)"),
    values_case("negative-10-pow-100", edit("endpointPort: 30925", f"endpointPort: -{HUGE}"), 2,
                "v.yaml:6:17: error: apiServer.endpointPort: -1000000000000000000... is out of range (minimum 1)"),
    values_case("dot-inf", edit("size: 2", "size: .inf"), 2,
                "v.yaml:8:9: error: nodepool.size: expected an integer, got a number Infinity"),
    values_case("dot-nan", edit("size: 2", "size: .nan"), 2,
                "v.yaml:8:9: error: nodepool.size: expected an integer, got a number NaN"),
    values_case("float-overflow-1e400", edit("size: 2", "size: 1e400"), 2,
                "v.yaml:8:9: error: nodepool.size: expected an integer, got a number Infinity"),
    values_case("integral-float-port", edit("endpointPort: 30925", "endpointPort: 30925.0"), 2,
                "v.yaml:6:17: error: apiServer.endpointPort: expected an integer, got a number 30925.0"),
    values_case("exponent-float-port", edit("endpointPort: 30925", "endpointPort: 3e4"), 2,
                "v.yaml:6:17: error: apiServer.endpointPort: expected an integer, got a number 30000.0"),
    values_case("integral-float-log-storage-nodes", append("tigera:\n  logStorageNodes: 1.0\n"), 2,
                "v.yaml:17:20: error: tigera.logStorageNodes: expected an integer, got a number 1.0"),
    values_case("octal-looking-string-field", edit('kubernetesVersion: "1.31.1"', "kubernetesVersion: 0755"), 2,
                "v.yaml:4:22: error: cluster.kubernetesVersion: expected a string, got an integer 755"),
    values_case("octal-looking-integer-is-decimal", edit("size: 2", "size: 0002"), 0),
    values_case("hex-integer", edit("endpointPort: 30925", "endpointPort: 0x78CD"), 0),
    values_case("underscore-integer", edit("endpointPort: 30925", "endpointPort: 30_925"), 0),
    values_case("sexagesimal-is-a-string", edit("endpointPort: 30925", "endpointPort: 8:35:25"), 2,
                'v.yaml:6:17: error: apiServer.endpointPort: expected an integer, got a string "8:35:25"'),
    values_case("date", edit('kubernetesVersion: "1.31.1"', "kubernetesVersion: 2024-01-01"), 2,
                "v.yaml:4:22: error: cluster.kubernetesVersion: \"2024-01-01\" is not valid"),  # YAML 1.2: a string
    values_case("timestamp", edit('kubernetesVersion: "1.31.1"', "kubernetesVersion: 2001-12-14t21:59:43.10-05:00"),
                2, "v.yaml:4:22: error: cluster.kubernetesVersion: \"2001-12-14t21:59:43.10-05:00\" is not valid"),
]

# --------------------------------------------------------------------------- values: unicode and sizes
VALUES_CASES += [
    values_case("rtl-override-in-key", append("cl\u202euster: 1\n"), 2,
                "v.yaml:16:1: error: ", "unknown key"),
    values_case("zero-width-space-in-name", edit("name: hostile", "name: host\u200bile"), 2,
                'v.yaml:2:9: error: cluster.name: "host\\u200bile" is not valid'),
    values_case("nul-escape-in-value", edit("name: hostile", 'name: "host\\0ile"'), 2,
                "v.yaml:2:3: error: cluster.name: value contains a control character (U+0000) at character 5",
                absent=('"host',)),
    values_case("raw-nul-byte", append("x: a\x00b\n"), 2, "v.yaml:16:5: error: ", "unacceptable character #x0000",
                absent=("\x00",)),
    values_case("lone-surrogate-escape-in-value", edit("name: hostile", 'name: "\\ud800"'), 2,
                "v.yaml:2:3: error: cluster.name: value contains a lone surrogate (U+D800, not valid Unicode) at "
                "character 1",
                absent=("\\ud800",)),
    values_case("lone-surrogate-escape-in-key", append('"\\udfff": 1\n'), 2, "v.yaml:16:1: error: ", "unknown key"),
    values_case("terminal-escape-in-key", append('"\\e]0;pwned\\a\\e[2J": 1\n'), 2,
                "v.yaml:16:1: error: ", "unknown key", absent=("\x1b", "\x07")),
    values_case("nul-escape-in-key", append('"a\\0b": 1\n'), 2, "v.yaml:16:1: error: ", absent=("\x00",)),
    values_case("free-text-with-controls-and-jinja", edit("name: hostile", 'name: hostile\n  description: '
                                                          '"{{ 7*7 }} \\e[31m\\a\\t\\r"'), 2,
                "v.yaml:3:3: error: cluster.description: value contains a control character (U+001B) at character 11",
                absent=("\x1b", "\\x1b", "7*7")),
    values_case("free-text-with-jinja-and-tab", edit("name: hostile", 'name: hostile\n  description: '
                                                     '"{{ 7*7 }}\\tok"'), 0, same=False),
    values_case("900-kb-string", edit("name: hostile", "name: hostile\n  description: " + "x" * 900_000), 2,
                "v.yaml:3:16: error: cluster.description: is 900000 characters long; at most 255 allowed"),
    values_case("1-mb-string", edit("name: hostile", "name: hostile\n  description: " + "x" * 1_000_000), 2,
                "v.yaml: error: file is larger than 1000000 bytes"),
    values_case("2-mb-file", append("# " + "x" * 2_000_000 + "\n"), 2,
                "v.yaml: error: file is larger than 1000000 bytes"),
    values_case("2000-character-key", append("k" * 2000 + ": 1\n"), 2, "v.yaml:16:"),
    values_case("deep-flow-sequence-10000", append("deep: " + "[" * DEEP + "]" * DEEP + "\n"), 2,
                "v.yaml:16:", "error: document is nested more than 64 levels deep"),
    values_case("deep-flow-mapping-10000", append("deep: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n"), 2,
                "v.yaml:16:", "error: document is nested more than 64 levels deep"),
    values_case("deep-block-sequence-10000", append("deep:\n  " + "- " * DEEP + "x\n"), 2,
                "v.yaml:17:", "error: document is nested more than 64 levels deep"),
]

# --------------------------------------------------------------------------- values: YAML tricks
VALUES_CASES += [
    values_case("anchor-and-alias", edit("namespaces: [tigera-eck-operator, calico-system]",
                                         "namespaces: &ns [tigera-eck-operator, calico-system]")
                + b"x-unused: *ns\n", 2, "v.yaml:16:1: error: x-unused: unknown key"),
    values_case("anchored-string-reused", edit("  zone: at-vie-1", "  zone: &z at-vie-1") + b"x-zone: *z\n", 2,
                "v.yaml:16:1: error: x-zone: unknown key"),
    values_case("anchored-integer-reused", edit("  size: 2", "  size: &two 2").replace(b"  replicas: 2",
                                                                                    b"  replicas: *two"), 0),
    values_case("anchored-boolean", append("  engineInstalled: &no false\n"), 0),
    values_case("undefined-alias", append("x: *nope\n"), 2, "v.yaml:16:4: error: x: found undefined alias 'nope'"),
    values_case("alias-bomb", append("".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}' if i else 'x'] * 10)}]\n" for i in range(7))), 2,
        "error: document expands to more than 100000 nodes through aliases (alias bomb?)"),
    values_case("merge-key", edit("cluster:\n  name: hostile\n", "cluster:\n  <<: {name: hostile}\n"), 2,
                "v.yaml:1:1: error: cluster: merge keys (<<) are not supported; write the keys out"),
    values_case("merge-key-from-anchor", edit("nodepool:\n  size: 2\n", "x: &np {size: 2}\nnodepool:\n  <<: *np\n"),
                2, "v.yaml:8:1: error: nodepool: merge keys (<<) are not supported"),
    values_case("python-object-apply-tag", append("evil: !!python/object/apply:os.system ['touch /tmp/pwned']\n"),
                2, "v.yaml:16:7: error: "),
    values_case("python-object-tag-on-value", edit("name: hostile", "name: !!python/object:os.system {}"), 2,
                "v.yaml:2:9: error: cluster.name: "),
    values_case("python-name-tag", edit("name: hostile", "name: !!python/name:os.system"), 2,
                "v.yaml:2:9: error: cluster.name: unsupported YAML tag !!python/name:os.system"),
    values_case("binary-tag", edit("name: hostile", "name: !!binary aG9zdGlsZQ=="), 2,
                "v.yaml:2:9: error: cluster.name: unsupported YAML value of type bytes"),
    values_case("omap-tag", append("x: !!omap [a: 1]\n"), 2, "v.yaml:16:4: error: x: unsupported YAML tag !!omap"),
    values_case("set-tag", append("x: !!set {a, b}\n"), 2, "v.yaml:16:4: error: x: unsupported YAML value"),
    # one dialect (README "Loading rules"): YAML 1.2 core, in files as in --set
    values_case("omap-tag-on-known-key", edit("  instanceType: standard.large\n",
                                              "  instanceType: standard.large\n  labels: !!omap [{role: a}]\n"), 2,
                "v.yaml:10:11: error: nodepool.labels: unsupported YAML tag !!omap"),
    values_case("yaml-1-1-directive", b"%YAML 1.1\n---\n" + edit("endpointPort: 30925", "endpointPort: 030"), 2,
                "v.yaml:1:1: error: %YAML 1.1 directive: values are read as YAML 1.2 only"),
    values_case("yaml-1-2-directive", b"%YAML 1.2\n---\n" + BASE.encode("utf-8"), 0),
    values_case("date-shaped-description-is-a-string",
                edit("  name: hostile\n", "  name: hostile\n  description: 2024-01-01\n"), 0, same=False),
    values_case("integer-of-5000-digits", edit("size: 2", "size: " + "9" * 5000), 2,
                "v.yaml:8:9: error: nodepool.size: integer of 5000 digits is too long (at most 4300)"),
    values_case("local-tag-directive", b"%TAG !e! tag:example.com,2000:\n---\n" + edit("name: hostile",
                                                                                     "name: !e!thing hostile"), 2,
                "v.yaml:4:9: error: cluster.name: unsupported YAML tag tag:example.com,2000:thing"),
    values_case("complex-sequence-key", append("? [a, b]\n: c\n"), 2, "v.yaml:16:3: error: key ", "must be a string"),
    values_case("complex-mapping-key", append("? {a: b}\n: c\n"), 2, "v.yaml:16:3: error: key ", "must be a string"),
    values_case("explicit-string-key", edit("  name: hostile\n", "  ? name\n  : hostile\n"), 0),
    values_case("integer-key", append("1: x\n"), 2, "v.yaml:16:1: error: key 1 must be a string"),
    values_case("null-key", append("~: x\n"), 2, "v.yaml:16:1: error: key None must be a string"),
    values_case("value-indicator-equals", edit("name: hostile", "name: ="), 2,
                "v.yaml:2:9: error: cluster.name: "),
    values_case("yaml-1.1-directive", b"%YAML 1.1\n---\n" + BASE.encode(), 2,
                "v.yaml:1:1: error: %YAML 1.1 directive: values are read as YAML 1.2 only"),
    values_case("yaml-9.9-directive", b"%YAML 9.9\n---\n" + BASE.encode(), 2, "v.yaml:1:1: error: "),
    values_case("byte-order-mark", b"\xef\xbb\xbf" + BASE.encode(), 0),
    values_case("crlf-line-endings", BASE.replace("\n", "\r\n").encode(), 0),
    values_case("cr-only-line-endings", BASE.replace("\n", "\r").encode(), 0),
    values_case("document-end-marker", append("...\n"), 0),
    values_case("two-documents", append("---\nx: 1\n"), 2, "v.yaml:1:1: error: file holds 2 YAML documents"),
    values_case("tab-indentation", edit("  name: hostile", "\tname: hostile"), 2,
                "v.yaml:2:1: error: tab used for indentation"),
    values_case("duplicate-key", edit("  zone: at-vie-1", "  zone: at-vie-1\n  zone: ch-gva-2"), 2,
                "v.yaml:4:3: error: cluster.zone: duplicate key 'zone'"),
    values_case("unclosed-flow-sequence", append("x: [a, b\n"), 2, "v.yaml:17:1: error: "),
    values_case("bad-indentation", append("x:\n  a: 1\n b: 2\n"), 2, "v.yaml:18:2: error: "),
    values_case("top-level-list", b"- a\n- b\n", 2, "v.yaml:1:1: error: top level is a list"),
    values_case("top-level-scalar", b"hello\n", 2, "v.yaml:1:1: error: top level is a scalar"),
    values_case("comment-only", b"# nothing\n", 2, "v.yaml:1:1: error: file is empty"),
    values_case("empty-file", b"", 2, "v.yaml:1:1: error: file is empty"),
    values_case("invalid-utf8", append("x: ") + b"\xff\n", 2, "v.yaml:16:4: error: invalid UTF-8 (byte 0xff)"),
    values_case("utf16-file", ("\ufeff" + BASE).encode("utf-16-le"), 2, "v.yaml:1:1: error: file is encoded as UTF-16; "
                "values files are UTF-8"),
    values_case("yaml-injection-in-list-item", edit("namespaces: [tigera-eck-operator, calico-system]",
                                                    'namespaces: ["a\\n---\\nkind: Secret"]'), 2,
                "v.yaml:13:16: error: bypass.namespaces[0]: ", "is not valid"),
    values_case("typo-key", edit("  name: hostile", "  nmae: hostile"), 2,
                "v.yaml:2:3: error: cluster.nmae: unknown key (did you mean 'name'?)"),
    values_case("missing-top-level-key", edit("gitops:\n  repoURL: https://git.example.com/platform/sks-gitops.git\n",
                                              ""), 2, "v.yaml:1:1: error: gitops: required key is missing"),
    values_case("taint-without-value", edit("  instanceType: standard.large\n", "  instanceType: standard.large\n"
                                            "  taints: [{key: dedicated, effect: NoSchedule}]\n"), 2,
                "v.yaml:10:12: error: nodepool.taints[0].value: required key is missing"),
    values_case("uuid-security-group", edit("  instanceType: standard.large\n", "  instanceType: standard.large\n"
                                            "  securityGroups: [c6f99499-7f59-4138-9427-a09db13af2bc]\n"), 0,
                same=False),
    values_case("empty-security-groups", edit("  instanceType: standard.large\n", "  instanceType: standard.large\n"
                                              "  securityGroups: []\n"), 2,
                "v.yaml:10:19: error: nodepool.securityGroups"),
]

# --------------------------------------------------------------------------- values files that are not files


def _values_is_dir(env: Env, _mp: pytest.MonkeyPatch) -> None:
    env.values.mkdir()


VALUES_CASES += [
    Case("values-is-a-directory", ("{v}", "--out", "{out}"), 2, ("v.yaml: error: is a directory",),
         setup=_values_is_dir),
    cli_case("values-nonexistent", ("{tmp}/nope.yaml", "--out", "{out}"), 2, "nope.yaml: error: file not found"),
    cli_case("values-dev-null", ("/dev/null", "--out", "{out}"), 2, "/dev/null:1:1: error: file is empty"),
]

# --------------------------------------------------------------------------- CLI arguments
CLI_CASES = [
    cli_case("no-arguments", (), 2, "no VALUES given and no values/prod.yaml at the root of this repository"),
    cli_case("unknown-option", ("{good}", "--frobnicate"), 2, "No such option '--frobnicate'"),
    cli_case("set-without-equals", ("{good}", "--out", "{out}", "--set", "nodepool.size"), 2,
             "--set nodepool.size: error: expected KEY.PATH=VALUE"),
    cli_case("set-empty-key", ("{good}", "--out", "{out}", "--set", "=3"), 2,
             "--set =3: error: expected KEY.PATH=VALUE"),
    cli_case("set-empty-key-parts", ("{good}", "--out", "{out}", "--set", "nodepool..size=3"), 2,
             "--set nodepool..size=3: error: expected KEY.PATH=VALUE"),
    cli_case("set-unknown-key", ("{good}", "--out", "{out}", "--set", "nodepool.sise=3"), 2,
             "--set nodepool.sise=3: error: nodepool.sise: unknown key"),
    cli_case("set-list-index", ("{good}", "--out", "{out}", "--set", "bypass.namespaces.0=x"), 2,
             "--set bypass.namespaces.0=x: error: bypass.namespaces.0: unknown key"),
    cli_case("set-bad-integer", ("{good}", "--out", "{out}", "--set", "nodepool.size=two"), 2,
             "--set nodepool.size=two: error: nodepool.size: expected an integer, got 'two'"),
    cli_case("set-float-integer", ("{good}", "--out", "{out}", "--set", "apiServer.endpointPort=30925.0"), 2,
             "--set apiServer.endpointPort=30925.0: error: apiServer.endpointPort: expected an integer"),
    cli_case("set-huge-integer", ("{good}", "--out", "{out}", "--set", f"nodepool.size={HUGE}"), 2,
             "error: nodepool.size: expected an integer"),
    cli_case("set-bad-boolean", ("{good}", "--out", "{out}", "--set", "gitops.engineInstalled=yes"), 2,
             "error: gitops.engineInstalled: expected true or false, got 'yes'"),
    cli_case("set-unclosed-list", ("{good}", "--out", "{out}", "--set", "bypass.namespaces=[a, b"), 2,
             "error: bypass.namespaces: expected a YAML flow array"),
    cli_case("set-merge-key", ("{good}", "--out", "{out}", "--set", "nodepool.labels={<<: {role: a}, b: c}"), 2,
             "error: nodepool.labels: expected a YAML flow object: merge keys (<<) are not supported"),
    cli_case("set-omap-tag", ("{good}", "--out", "{out}", "--set", "nodepool.labels=!!omap [{role: a}]"), 2,
             "error: nodepool.labels: expected a YAML flow object: unsupported YAML tag !!omap"),
    cli_case("set-date-shaped-label-is-a-string", ("{good}", "--out", "{out}", "--set",
                                                   "nodepool.labels={role: 2024-01-01}"), 0, same=False),
    cli_case("set-python-tag", ("{good}", "--out", "{out}", "--set",
                                "bypass.namespaces=[!!python/object/apply:os.system [id]]"), 2,
             "error: bypass.namespaces: expected a YAML flow array"),
    cli_case("set-deep-flow", ("{good}", "--out", "{out}", "--set", "nodepool.labels=" + "{a: " * DEEP + "b"
                               + "}" * DEEP), 2, "error: nodepool.labels: expected a YAML flow object"),
    cli_case("set-scalar-for-list", ("{good}", "--out", "{out}", "--set", "bypass.namespaces=calico-system"), 2,
             "error: bypass.namespaces: expected a YAML flow array such as [a, b]"),
    cli_case("set-mapping-in-list", ("{good}", "--out", "{out}", "--set", "bypass.namespaces=[a, {b: c}]"), 2,
             "--set bypass.namespaces=[a, {b: c}]: error: bypass.namespaces[1]: expected a string"),
    cli_case("set-path-traversal-name", ("{good}", "--out", "{out}", "--set", "cluster.name=../../etc"), 2,
             '--set cluster.name=../../etc: error: cluster.name: "../../etc" is not valid'),
    cli_case("set-bad-label-key", ("{good}", "--out", "{out}", "--set", "nodepool.labels.Bad Key=x"), 2,
             'error: nodepool.labels.Bad Key: "Bad Key" is not valid'),
    cli_case("set-null-removes-required", ("{good}", "--out", "{out}", "--set", "cluster.name=null"), 2,
             "--set cluster.name=null: error: cluster.name: required key is missing"),
    cli_case("set-one-megabyte", ("{good}", "--out", "{out}", "--set", "cluster.description=" + "x" * 1_000_000), 2,
             "error: cluster.description: is 1000000 characters long; at most 255 allowed"),
    cli_case("format-bad-choice", ("{good}", "--out", "{out}", "--diff", "--format", "html"), 2,
             "Invalid value for '--format'"),
    cli_case("check-and-diff-together", ("{good}", "--out", "{out}", "--check", "--diff"), 2,
             "--check", "--diff"),
    cli_case("same-cluster-twice", ("{good}", "{good}", "--out", "{out}"), 2,
             "cluster 'hostile' is also defined by", "cluster names must be unique"),
    cli_case("out-is-empty-string", ("{good}", "--out", ""), 2, "--out"),
    Case("github-actions-annotation", ("{v}", "--out", "{out}"), 2,
         ("v.yaml:8:9: error: nodepool.size: ", "::error file=", ",line=8,col=9::nodepool.size: "),
         values=edit("size: 2", "size: 0"), env={"GITHUB_ACTIONS": "true"}),
]

# --------------------------------------------------------------------------- output directory states


def _out_is_file(env: Env, _mp: pytest.MonkeyPatch) -> None:
    (env.tmp / "afile").write_text("not a directory\n")


def _out_parent_is_file(env: Env, _mp: pytest.MonkeyPatch) -> None:
    (env.tmp / "afile").write_text("not a directory\n")


def _cluster_is_file(env: Env, _mp: pytest.MonkeyPatch) -> None:
    shutil.rmtree(env.tree)
    env.tree.write_text("a file where the tree should be\n")


def _cluster_symlink_inside(env: Env, _mp: pytest.MonkeyPatch) -> None:
    env.tree.rename(env.out / "real-tree")
    env.tree.symlink_to(env.out / "real-tree", target_is_directory=True)


def _cluster_symlink_outside(env: Env, _mp: pytest.MonkeyPatch) -> None:
    shutil.move(env.tree, env.outside / CLUSTER)
    env.tree.symlink_to(env.outside / CLUSTER, target_is_directory=True)


def _out_root_symlink(env: Env, _mp: pytest.MonkeyPatch) -> None:
    shutil.move(env.out, env.outside / "out")
    env.out.symlink_to(env.outside / "out", target_is_directory=True)


def _file_symlink_outside(env: Env, _mp: pytest.MonkeyPatch) -> None:
    victim = env.outside / "victim.yaml"
    victim.write_text("outside: untouched\n")
    target = env.tree / "08-bypass-policies" / "globalnetworkpolicy.yaml"
    target.unlink()
    target.symlink_to(victim)


def _dir_symlink_outside(env: Env, _mp: pytest.MonkeyPatch) -> None:
    stage = env.tree / "08-bypass-policies"
    shutil.move(stage, env.outside / "stage")
    stage.symlink_to(env.outside / "stage", target_is_directory=True)


def _unowned_symlink_outside(env: Env, _mp: pytest.MonkeyPatch) -> None:
    (env.outside / "secret.txt").write_text("outside secret\n")
    (env.tree / "notes").symlink_to(env.outside / "secret.txt")


def _manifest_claims_outside(env: Env, _mp: pytest.MonkeyPatch) -> None:
    (env.outside / "victim.txt").write_text("must survive\n")
    manifest = env.tree / ".sks-gitops-owned.json"
    owned = yamlio.load_all_plain(manifest.read_text())[0]
    owned["files"]["../../outside/victim.txt"] = "0" * 64
    owned["files"][str(env.outside / "victim.txt")] = "0" * 64
    import json

    manifest.write_text(json.dumps(owned))


def _manifest_garbage(env: Env, _mp: pytest.MonkeyPatch) -> None:
    (env.tree / ".sks-gitops-owned.json").write_bytes(b"\xff{not json")


def _fifo_in_tree(env: Env, _mp: pytest.MonkeyPatch) -> None:
    os.mkfifo(env.tree / "a-fifo")


def _lock_is_directory(env: Env, _mp: pytest.MonkeyPatch) -> None:
    lock = env.out / f".{CLUSTER}.lock"
    lock.unlink(missing_ok=True)
    lock.mkdir()


def _lock_is_fifo(env: Env, _mp: pytest.MonkeyPatch) -> None:
    lock = env.out / f".{CLUSTER}.lock"
    lock.unlink(missing_ok=True)
    os.mkfifo(lock)


def _lock_symlink_outside(env: Env, _mp: pytest.MonkeyPatch) -> None:
    lock = env.out / f".{CLUSTER}.lock"
    lock.unlink(missing_ok=True)
    lock.symlink_to(env.outside / "created-by-render")


_HELD: list[Any] = []


def _lock_held(env: Env, mp: pytest.MonkeyPatch) -> None:
    handle = open(env.out / f".{CLUSTER}.lock", "a+")  # noqa: SIM115 - held across the render
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    _HELD.append(handle)  # closed by the runner after the render


def _stale_staging(env: Env, _mp: pytest.MonkeyPatch) -> None:
    leftover = env.out / f".{CLUSTER}.tmp-killed"
    leftover.mkdir()
    (leftover / "half-written.yaml").write_text("kind: Half\n")
    (env.out / f".{CLUSTER}.lock").write_text(f"{leftover.name}\n")  # recorded by the killed render


def _read_only(env: Env, mp: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        env.out.chmod(0o555)
        env.tree.chmod(0o555)
        return

    def denied(*_a: Any, **_k: Any) -> None:  # root ignores modes: inject what a read-only directory does
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(env.out))

    from renderer import write

    mp.setattr(write, "_new_dir", denied)


def _disk_full_fsync(_env: Env, mp: pytest.MonkeyPatch) -> None:
    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    from renderer import write

    mp.setattr(write, "_syncfs", full)
    mp.setattr(os, "fsync", full)


def _disk_full_open(_env: Env, mp: pytest.MonkeyPatch) -> None:
    import renderer.write

    real_open = open

    def full(file: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(file))
        return real_open(file, mode, *args, **kwargs)

    mp.setattr(renderer.write, "open", full, raising=False)


def _swap_fails(env: Env, mp: pytest.MonkeyPatch) -> None:
    import renderer.write

    def fail(_a: Path, b: Path) -> bool:
        raise OSError(errno.EIO, os.strerror(errno.EIO), str(b))

    mp.setattr(renderer.write, "_exchange", fail)


def _first_rename_fails(env: Env, mp: pytest.MonkeyPatch) -> None:
    shutil.rmtree(env.tree)

    def fail(src: Any, dst: Any) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    mp.setattr(os, "rename", fail)


FS_CASES = [
    cli_case("out-is-a-file", ("{good}", "--out", "{tmp}/afile"), 2,
             "afile: error: output root exists and is not a directory", setup=_out_is_file),
    cli_case("out-parent-is-a-file", ("{good}", "--out", "{tmp}/afile/out"), 2, "afile/out", "error: ",
             setup=_out_parent_is_file),
    fs_case("cluster-dir-is-a-file", _cluster_is_file, 2,
            "out/hostile: error: output directory exists and is not a directory"),
    fs_case("cluster-dir-symlink-inside", _cluster_symlink_inside, 2,
            "out/hostile: error: output directory is a symbolic link; refusing to write through it"),
    fs_case("cluster-dir-symlink-outside", _cluster_symlink_outside, 2,
            "out/hostile: error: output directory is a symbolic link; refusing to write through it", extra=CHANGE),
    fs_case("out-root-symlink", _out_root_symlink, 2, "out: error: output root is a symbolic link", extra=CHANGE),
    fs_case("owned-file-symlink-outside", _file_symlink_outside, 2,
            "globalnetworkpolicy.yaml: error: is a symbolic link; refusing to write through it", extra=CHANGE),
    fs_case("stage-dir-symlink-outside", _dir_symlink_outside, 2,
            "08-bypass-policies: error: is a symbolic link to a directory the tree renders into", extra=CHANGE),
    fs_case("stage-dir-symlink-outside-check", _dir_symlink_outside, 2,
            "08-bypass-policies: error: is a symbolic link to a directory the tree renders into",
            extra=("--check",)),
    fs_case("stage-dir-symlink-outside-unchanged", _dir_symlink_outside, 2,
            "08-bypass-policies: error: is a symbolic link to a directory the tree renders into"),
    fs_case("unowned-symlink-outside-kept", _unowned_symlink_outside, 0,
            "notes: warning: is not owned by sks-gitops; left alone", extra=CHANGE, same=False),
    fs_case("manifest-claims-outside-files", _manifest_claims_outside, 0, extra=CHANGE, same=False),
    fs_case("manifest-not-json", _manifest_garbage, 0, extra=CHANGE, same=False),
    fs_case("fifo-in-tree", _fifo_in_tree, 2, "a-fifo", "cannot write the tree", extra=CHANGE),
    fs_case("lock-is-a-directory", _lock_is_directory, 2, ".hostile.lock: error: the lock is not a regular file"),
    fs_case("lock-is-a-fifo", _lock_is_fifo, 2, ".hostile.lock: error: the lock is not a regular file"),
    cli_case("lock-is-a-fifo-check", ("--check", "{good}", "--out", "{out}"), 2,
             ".hostile.lock: error: the lock is not a regular file", setup=_lock_is_fifo),
    cli_case("lock-is-a-fifo-diff", ("--diff", "{good}", "--out", "{out}"), 2,
             ".hostile.lock: error: the lock is not a regular file", setup=_lock_is_fifo),
    fs_case("lock-symlink-outside", _lock_symlink_outside, 2, ".hostile.lock", extra=CHANGE),
    fs_case("lock-held", _lock_held, 2, "another render of hostile is running", extra=CHANGE),
    fs_case("stale-staging-dir-cleaned", _stale_staging, 0, extra=CHANGE, same=False),
    fs_case("read-only-out", _read_only, 2, "error: cannot write the tree", "the previous tree is unchanged",
            extra=CHANGE),
    fs_case("disk-full-on-fsync", _disk_full_fsync, 2, "cannot write the tree: No space left on device",
            "the previous tree is unchanged", extra=CHANGE),
    fs_case("disk-full-on-open", _disk_full_open, 2, "cannot write the tree: No space left on device", extra=CHANGE),
    fs_case("swap-fails", _swap_fails, 2, "cannot write the tree: Input/output error", extra=CHANGE),
    fs_case("first-rename-fails", _first_rename_fails, 2, "cannot write the tree: No space left on device",
            extra=CHANGE),
]

CASES = [*VALUES_CASES, *CLI_CASES, *FS_CASES]


def _params() -> list[Any]:
    params = []
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=f"BUG: {case.bug}")] if case.bug else []
        params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def test_catalogue_is_large_and_ids_are_unique() -> None:
    ids = [case.id for case in CASES]
    assert len(ids) == len(set(ids))
    assert len(CASES) >= 60, len(CASES)


# --------------------------------------------------------------------------- the runner



@pytest.fixture(scope="module")
def base_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BASE rendered once; each case starts from a copy (copy2 keeps the mtimes)."""


    root = tmp_path_factory.mktemp("hostile-base")
    good = root / "good.yaml"
    good.write_text(BASE, "utf-8")
    result = run_cli(good, "--out", root / "out")
    assert result.exit_code == 0, result.stderr
    return root / "out"


def _fill(arg: str, env: Env) -> str:
    return (arg.replace("{v}", str(env.values)).replace("{good}", str(env.good))
            .replace("{out}", str(env.out)).replace("{tmp}", str(env.tmp)))


@pytest.mark.parametrize("case", _params())
def test_hostile_input(case: Case, tmp_path: Path, base_tree: Path, render_cli: RenderCli,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    for key, value in case.env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    env = Env(tmp=tmp_path, out=tmp_path / "out", good=tmp_path / "good.yaml", values=tmp_path / "v.yaml",
              outside=tmp_path / "outside")
    shutil.copytree(base_tree, env.out, symlinks=True)
    env.good.write_text(BASE, "utf-8")
    env.outside.mkdir()
    (env.outside / "keep.txt").write_text("outside out/\n")
    if case.values is not None:
        env.values.write_bytes(case.values)
    if case.setup:
        case.setup(env, monkeypatch)
    before = snapshot(tmp_path)
    try:
        run = render_cli(*[_fill(arg, env) for arg in case.args], expect=None)
    finally:
        monkeypatch.undo()
        for handle in _HELD:
            handle.close()
        _HELD.clear()
        if env.out.is_dir() and not env.out.is_symlink():
            env.out.chmod(0o755)
    after = snapshot(tmp_path)

    assert run.exit_code != 3, f"internal error (exit 3) on hostile input:\n{run.stderr}"
    assert "Traceback" not in run.stderr + run.stdout
    assert run.exit_code == case.code, f"exit {run.exit_code}, stderr:\n{run.stderr[:3000]}"
    for fragment in case.fragments:
        assert fragment in run.stderr, f"{fragment!r} not in stderr:\n{run.stderr[:3000]}"
    for text in case.absent:
        assert text not in run.stderr, f"{text!r} in stderr:\n{run.stderr[:3000]!r}"
    if run.exit_code != 0 or case.same:
        changed = sorted(path for path in set(before) | set(after) if before.get(path) != after.get(path))
        assert not changed, f"touched on exit {run.exit_code}: {changed}"
        return
    _assert_only_tree_changed(before, after)
    tree = {path: data for path, (kind, data, _mtime) in after.items()
            if path.startswith(f"out/{CLUSTER}/") and kind == "file"}
    for path, data in tree.items():
        text = data.decode("utf-8")
        assert leaks.scan_text(path, text) == [], path
        if path.endswith(".yaml"):
            assert yamlio.load_all_plain(text), path


def _assert_only_tree_changed(before: Snapshot, after: Snapshot) -> None:
    allowed = (f"out/{CLUSTER}/", f"out/{CLUSTER}", f"out/.{CLUSTER}.lock")
    changed = [path for path in set(before) | set(after) if before.get(path) != after.get(path)]
    outside = [path for path in changed if not path.startswith(allowed) or path.startswith(f"out/{CLUSTER}.")]
    outside = [path for path in outside if not (path.startswith(f"out/.{CLUSTER}.tmp-") and path not in after)]
    assert not outside, f"written outside out/{CLUSTER}/: {sorted(outside)}"


def test_hostile_cli_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    """Printing hostile text to a real (non-captured) stderr must not crash on encoding."""
    import subprocess
    import sys

    values = tmp_path / "v.yaml"
    values.write_bytes(append('"\\udfff\\u202e\\u200b": 1\n'))
    result = subprocess.run([sys.executable, "-m", "renderer", str(values), "--out", str(tmp_path / "out")],
                            capture_output=True, env={**os.environ, "PYTHONIOENCODING": "ascii", "LC_ALL": "C"},
                            cwd=tmp_path, check=False)
    stderr = result.stderr.decode("utf-8", "replace")
    assert result.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert "v.yaml:16:1: error: " in stderr
    assert not (tmp_path / "out").exists()
