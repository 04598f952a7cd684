"""`render --print-schema`: editors outside this repository validate values files against the exported schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from renderer import load
from renderer.validate import values_schema
from tests.conftest import PROD_VALUES, REPO_ROOT, RenderCli

SCHEMA_ID = "urn:sks-gitops:values-schema:v1"


def test_print_schema_writes_the_values_schema_and_needs_no_values_file(render_cli: RenderCli) -> None:
    printed = render_cli("--print-schema").stdout
    assert printed == (REPO_ROOT / "schemas" / "values.schema.json").read_text("utf-8")
    assert json.loads(printed) == values_schema()


def test_schema_id_is_stable_and_absolute(render_cli: RenderCli) -> None:
    schema = json.loads(render_cli("--print-schema").stdout)
    assert schema["$id"] == SCHEMA_ID  # a change here is a new contract: bump the suffix on purpose


def test_an_exported_copy_validates_values_as_the_renderer_does(render_cli: RenderCli, tmp_path: Path) -> None:
    exported = tmp_path / "values.schema.json"
    exported.write_text(render_cli("--print-schema").stdout, "utf-8")
    validator = jsonschema.Draft202012Validator(json.loads(exported.read_text("utf-8")))
    good = load.parse(PROD_VALUES.read_bytes(), "prod.yaml").data
    assert list(validator.iter_errors(good)) == []
    bad = {**good, "cluster": {**good["cluster"], "zone": "at-vie-9"}}
    assert [error.validator for error in validator.iter_errors(bad)] == ["enum"]


def test_print_schema_is_in_the_help(render_cli: RenderCli) -> None:
    assert "--print-schema" in render_cli("--help").stdout
