"""Run the Argo CD health Lua exactly as rendered, in Lua 5.1 (gopher-lua's dialect) via lupa.

Argo CD runs argocd-cm health scripts with only the base, table, package and a safe os library
(argo-cd v3.5.1 util/lua/lua.go: runLuaWithResourceActionParameters; useOpenLibs off), with the
live object as the global `obj`; the script must return a table with `status` and `message`.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

VALID = {"Unknown", "Progressing", "Suspended", "Healthy", "Degraded", "Missing"}
"""util/lua/lua.go: isValidHealthStatusCode."""


class LuaFailure(Exception):
    """The script raised, or returned something Argo CD would reject."""


@cache
def _runtime() -> Any:
    from lupa import lua51

    runtime = lua51.LuaRuntime(register_eval=False, unpack_returned_tuples=False)
    # Only what Argo CD opens for argocd-cm scripts: drop the string, math, io, debug and coroutine libraries.
    runtime.execute("string = nil; math = nil; io = nil; debug = nil; coroutine = nil; "
                    "os = {time = os.time, date = os.date}")
    return runtime


@cache
def _compiled(script: str) -> Any:
    try:
        return _runtime().eval(f"function(obj)\n{script}\nend")
    except Exception as exc:  # noqa: BLE001 - a Lua syntax error of any kind is a template bug
        raise LuaFailure(f"does not compile: {exc}") from None


def _to_lua(value: Any) -> Any:
    runtime = _runtime()
    if isinstance(value, dict):
        return runtime.table_from({key: _to_lua(item) for key, item in value.items()})
    if isinstance(value, list):
        return runtime.table_from([_to_lua(item) for item in value])
    return value


def _read(obj: dict[str, Any]) -> dict[str, Any]:
    """All the rendered scripts read of an object (its annotations and status): the memo key."""
    annotations = (obj.get("metadata") or {}).get("annotations")
    return {"metadata": {"annotations": annotations}, "status": obj.get("status")}

_MEMO: dict[tuple[str, Any], tuple[str, str]] = {}


def health(script: str, obj: dict[str, Any], key: Any = None) -> tuple[str, str]:
    """(status, message) the script gives for `obj`; an invalid status reads as Unknown, as in Argo CD.

    `key`, when given, must determine everything the script reads of `obj` (a cheaper memo key)."""
    seen = _read(obj)
    key = (script, json.dumps(seen, sort_keys=True) if key is None else key)
    found = _MEMO.get(key)
    if found is None:
        if len(_MEMO) > 20_000:
            _MEMO.clear()
        found = _MEMO[key] = _run(script, seen)
    return found


def _run(script: str, obj: dict[str, Any]) -> tuple[str, str]:
    try:
        result = _compiled(script)(_to_lua(obj))
    except LuaFailure:
        raise
    except Exception as exc:  # noqa: BLE001 - a runtime error in the script is what Argo CD reports
        raise LuaFailure(f"fails at run time: {exc}") from None
    if result is None:
        return "", ""
    try:
        status, message = result["status"], result["message"]
    except (TypeError, KeyError):
        raise LuaFailure(f"returned {type(result).__name__}, not a table") from None
    if status not in VALID:
        return "Unknown", "Lua returned an invalid health status"
    return str(status), str(message or "")
