"""The YAML dialect of values files and `--set` values: YAML 1.2, decided here on purpose.

ruamel.yaml's round-trip loader reads YAML 1.2 with extras the 1.2 core schema does not have
(timestamps: `description: 2024-01-01` became a date and was refused) and switches to YAML 1.1 on a
`%YAML 1.1` directive (`030` read 24; the parser in renderer/yamlio refuses that directive). An
integer longer than Python converts is refused at its line and column instead of at 1:1.
"""

from __future__ import annotations

import sys
from typing import Any

from ruamel.yaml.constructor import ConstructorError, RoundTripConstructor
from ruamel.yaml.resolver import VersionedResolver, implicit_resolvers

CORE_IMPLICIT = [(tag, regexp, first) for versions, tag, regexp, first in implicit_resolvers
                  if (1, 2) in versions and tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value")]
"""ruamel's YAML 1.2 rules without its timestamp and `=` extras (not in the 1.2 core schema); `<<` stays
resolved so that _plain can refuse a merge key wherever it is written."""


class CoreResolver(VersionedResolver):
    """YAML 1.2 scalars whatever the document says (a `%YAML 1.1` directive is refused anyway)."""

    @property
    def processing_version(self) -> Any:
        return (1, 2)

    @property
    def versioned_resolver(self) -> Any:
        if (1, 2) not in self._version_implicit_resolver:
            for tag, regexp, first in CORE_IMPLICIT:
                self.add_version_implicit_resolver((1, 2), tag, regexp, first)
        return self._version_implicit_resolver[(1, 2)]


class CoreConstructor(RoundTripConstructor):
    """An integer too long for Python to convert is refused where it is written, not at 1:1."""

    def construct_yaml_int(self, node: Any) -> Any:
        digits = sum(char.isalnum() for char in str(node.value))
        limit = sys.get_int_max_str_digits() or 4300
        if digits > limit:
            raise ConstructorError(None, None, f"integer of {digits} digits is too long (at most {limit})",
                                   node.start_mark)
        return super().construct_yaml_int(node)


CoreConstructor.add_constructor("tag:yaml.org,2002:int", CoreConstructor.construct_yaml_int)
