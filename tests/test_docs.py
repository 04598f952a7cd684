"""The README is the front door: its generated parts and its promises stay true."""

from __future__ import annotations

import re

from devtools import docs
from renderer.validate import values_schema
from tests.conftest import REPO_ROOT, RenderCli


def test_values_reference_in_readme_is_current() -> None:
    assert docs.main(["--check"]) == 0, "run `python -m devtools.docs` and commit README.md"


def test_every_schema_property_has_a_description() -> None:
    schema = values_schema()
    missing = []

    def walk(node: dict, path: str) -> None:  # type: ignore[type-arg]
        for key, sub in node.get("properties", {}).items():
            if "description" not in sub:
                missing.append(f"{path}{key}")
            if sub.get("type") == "object":
                assert sub.get("additionalProperties") is not None, f"{path}{key} must set additionalProperties"
                walk(sub, f"{path}{key}.")

    walk(schema, "")
    assert missing == []


def test_readme_quickstart_is_the_two_make_commands() -> None:
    readme = (REPO_ROOT / "README.md").read_text("utf-8")
    quickstart = readme.split("## Quickstart", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in quickstart.strip().splitlines()]
    assert commands == ["make render", "make test"]
    assert "make test" in (REPO_ROOT / ".ci" / "run").read_text("utf-8")


def test_help_documents_exit_codes_and_an_example(render_cli: RenderCli) -> None:
    text = render_cli("--help").stdout
    assert "Example" in text and "render values/prod.yaml" in text
    for code in ("0", "1", "2", "3"):
        assert re.search(rf"^\s+{code}\s+\S", text, re.MULTILINE), f"exit code {code} not documented"


def test_values_file_has_schema_modeline() -> None:
    first = (REPO_ROOT / "values" / "prod.yaml").read_text("utf-8").splitlines()[0]
    assert first == "# yaml-language-server: $schema=../schemas/values.schema.json"
