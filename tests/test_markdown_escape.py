"""`render --diff --format markdown`: no value can break out of its fence or table cell (issue 21).

A multi-line value with a fence line used to close the diff's code fence in the PR comment, and the images,
links and HTML after it rendered. Checked with a small CommonMark fence reader (the rules of CommonMark 0.31,
"Fenced code blocks"): outside fences nothing of the hostile value may appear unescaped.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from renderer.cli.mdsafe import cell, code, fence
from tests.conftest import PROD_VALUES
from tests.support.cli import run_cli

HOSTILE_LINES = ["```", "````", " ```", "~~~", "![img](https://evil.example/i.png)", "[link](https://evil.example/)",
                 "<img src=x onerror=alert(1)>", "<details open>", "www.evil.example", "| a | b |"]
MARKUP = re.compile(r"(?<!\\)!\[|(?<!\\)\]\(|(?<!\\)<img|(?<!\\)<details open|(?<!\\)\|\s*a\s*\||(?<!\\)www\.evil")

_OPENING = re.compile(r" {0,3}(`{3,}|~{3,})(.*)")


def outside_fences(markdown: str) -> list[str]:
    """The lines a CommonMark reader would render as markdown: everything not inside a fenced code block.

    An opening fence: up to 3 spaces, 3+ backticks or tildes (a backtick fence's info has no backtick); the
    closing one: up to 3 spaces, the same character at least as many times, then only spaces."""
    shown, fence_char, fence_length = [], "", 0
    for line in markdown.split("\n"):
        if fence_char:
            stripped = line.lstrip(" ")
            run = len(stripped) - len(stripped.lstrip(fence_char))
            if len(line) - len(stripped) <= 3 and run >= fence_length and not stripped[run:].strip(" "):
                fence_char = ""
            continue
        opening = _OPENING.fullmatch(line)
        if opening and not (opening.group(1)[0] == "`" and "`" in opening.group(2)):
            fence_char, fence_length = opening.group(1)[0], len(opening.group(1))
            continue
        shown.append(line)
    return shown


@pytest.mark.parametrize("line", HOSTILE_LINES)
def test_a_fenced_body_cannot_be_closed_from_inside(line: str) -> None:
    body = f"+before\n {line}\n{line}\n-after ```` ``````` x\n"
    block = fence(body, "diff")
    assert outside_fences(block) == [""]  # the closing fence ends the text; nothing of the body is outside
    assert block.startswith("````````diff\n") and block.endswith("\n````````\n")


def test_an_empty_body_and_the_shortest_fence() -> None:
    assert fence("", "text") == "```text\n```\n"
    assert fence("a\n") == "```\na\n```\n"


@pytest.mark.parametrize("text", [*HOSTILE_LINES, "a\nb", "x`y", "user@example.com", "https://evil.example"])
def test_a_cell_holds_no_markup(text: str) -> None:
    escaped = cell(text)
    assert "\n" not in escaped and not MARKUP.search(escaped)
    assert not re.search(r"(?<!\\)[|<>\[\]`!:@]", escaped), escaped


def test_plain_names_stay_as_they_are() -> None:
    assert cell("allow-tigera.apiserver-endpoint-bypass") == "allow-tigera.apiserver-endpoint-bypass"
    assert code("08-bypass-policies") == "`08-bypass-policies`"
    assert code("a`b|c") == "a\\`b\\|c"


def _description(middle: str) -> str:
    lines = ["first", "```", "![img](https://evil.example/i.png)", "<img src=x onerror=alert(1)>", middle, "````",
             "[link](https://evil.example/)", "www.evil.example"]
    return "cluster.description=" + "\n".join(lines)


def test_a_hostile_multi_line_value_stays_inside_the_diff_fence(tmp_path: Path) -> None:
    """The issue's reproduction: the value rendered once, then changed on a middle line, so its other lines
    are context lines (` ``` ` with one space of indent closed the old fence)."""
    out = tmp_path / "out"
    run_cli(PROD_VALUES, "--out", out, "--set", _description("before"), expect=0)
    markdown = run_cli("--diff", "--format", "markdown", PROD_VALUES, "--out", out, "--set", _description("after"),
                       expect=1).stdout
    assert "\n ```\n" in markdown and "\n ![img]" in markdown  # the value is in the diff, as context
    shown = "\n".join(outside_fences(markdown))
    assert not MARKUP.search(shown), shown
    assert "diff --git" not in shown


def test_hostile_names_in_a_hand_edited_tree_are_escaped_in_the_summary(tmp_path: Path) -> None:
    """Object names in the summary table come from out/ too (a hand edit can write anything)."""
    out = tmp_path / "out"
    run_cli(PROD_VALUES, "--out", out, expect=0)
    target = out / "ceosks-poc" / "02-storageclass" / "storageclass.yaml"
    name = "x](https://evil.example/) ![img](https://evil.example/i.png) <img src=x> | a | b |"
    target.write_text(f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: '{name}'\n  namespace: '```'\n", "utf-8")
    markdown = run_cli("--diff", "--format", "markdown", PROD_VALUES, "--out", out, expect=1).stdout
    shown = "\n".join(outside_fences(markdown))
    assert "ConfigMap" in shown and "removed" in shown
    assert not MARKUP.search(shown), shown
    rows = [line for line in shown.splitlines() if "ConfigMap" in line]
    assert rows and all(len(re.findall(r"(?<!\\)\|", row)) == 6 for row in rows), rows  # five cells, no more
    shutil.rmtree(out)
