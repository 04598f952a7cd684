"""The one error tree. The core raises these; only renderer/cli turns them into text and exit codes."""

from __future__ import annotations

from dataclasses import dataclass, replace

from renderer import exitcodes


@dataclass(frozen=True, order=True)
class Problem:
    """One located finding, printed as `FILE:LINE:COL: level: key.path: message`."""

    file: str
    line: int
    column: int
    key_path: str
    message: str
    level: str = "error"
    hint: str = ""
    source: str = ""
    """The offending source line, shown under the message with a caret at `column`."""

    def shown(self) -> Problem:
        """This problem as it may be printed: secret-shaped spans of key path, message and hint redacted
        (renderer/leaks/redact.py), the file name too (it can hold one: issue 21); line:col stay (a --set location
        is already built redacted)."""
        from renderer.leaks.redact import key_path, scrub  # the leak rules load only when a problem is printed

        return replace(self, file=scrub(self.file), key_path=key_path(self.key_path), message=scrub(self.message),
                       hint=scrub(self.hint), source=scrub(self.source))

    def format(self) -> str:
        safe = self.shown()
        where = safe.file
        if safe.line:
            where += f":{safe.line}:{safe.column}"
        subject = f"{safe.key_path}: " if safe.key_path else ""
        text = printable(f"{where}: {safe.level}: {subject}{safe.message}")
        if safe.source:
            caret = " " * len(printable(safe.source[: max(safe.column - 1, 0)]))
            text += f"\n    {printable(safe.source)}\n    {caret}^"
        if safe.hint:
            text += f"\n  hint: {printable(safe.hint)}"
        return text

    def github_annotation(self) -> str:
        safe = self.shown()
        command = "error" if safe.level == "error" else "warning"
        properties = []
        if safe.file and not safe.file.startswith("--set"):
            properties.append(f"file={_escape_property(printable(safe.file))}")
            if safe.line:
                properties.append(f"line={safe.line},col={safe.column}")
        subject = f"{safe.key_path}: " if safe.key_path else ""
        where = "" if properties else f"{safe.file}: "
        message = _escape_data(printable(where + subject + safe.message))
        return f"::{command} {','.join(properties)}::{message}".replace(" ::", "::")


def _escape_data(text: str) -> str:
    """Workflow-command escaping of a message (as the Actions toolkit does)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def printable(text: str) -> str:
    """Escape control characters, so a values file cannot drive the reader's terminal."""
    if text.isprintable():
        return text
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii") for char in text)


class RenderError(Exception):
    """Base of every error the core raises on purpose."""

    exit_code = exitcodes.INTERNAL

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(file="", line=0, column=0, key_path="", message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = sorted(problems)
        super().__init__("\n".join(p.format() for p in self.problems))


class InputError(RenderError):
    """Bad input from the user: values files, --set overrides, CLI usage, the output location."""

    exit_code = exitcodes.INVALID


class ValuesError(InputError):
    """A values file cannot be loaded or does not satisfy the schema."""


class OutputError(InputError):
    """The output location cannot be written safely (a file, a symlink, read-only, locked)."""


class RemoteError(InputError):
    """A remote manifest could not be fetched or does not match its lock entry."""


class TemplateError(RenderError):
    """A template failed or produced an invalid object: a bug in sks-gitops, not in the values."""

    exit_code = exitcodes.INTERNAL


class NotConverging(RenderError):
    """`render --verify`: a delivery of the tree on disk never converges (the tree is wrong, not the renderer)."""

    exit_code = exitcodes.INTERNAL
