"""The one error tree. The core raises these; only cli.py turns them into text and exit codes."""

from __future__ import annotations

from dataclasses import dataclass


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

    def format(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column}"
        subject = f"{self.key_path}: " if self.key_path else ""
        text = printable(f"{where}: {self.level}: {subject}{self.message}")
        if self.source:
            caret = " " * len(printable(self.source[: max(self.column - 1, 0)]))
            text += f"\n    {printable(self.source)}\n    {caret}^"
        if self.hint:
            text += f"\n  hint: {printable(self.hint)}"
        return text

    def github_annotation(self) -> str:
        command = "error" if self.level == "error" else "warning"
        properties = []
        if self.file and not self.file.startswith("--set"):
            properties.append(f"file={_escape_property(self.file)}")
            if self.line:
                properties.append(f"line={self.line},col={self.column}")
        subject = f"{self.key_path}: " if self.key_path else ""
        where = "" if properties else f"{self.file}: "
        message = _escape_data(where + subject + self.message)
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

    exit_code = 3

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, str):
            problems = [Problem(file="", line=0, column=0, key_path="", message=problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = sorted(problems)
        super().__init__("\n".join(p.format() for p in self.problems))


class InputError(RenderError):
    """Bad input from the user: values files, --set overrides, CLI usage, the output location."""

    exit_code = 2


class ValuesError(InputError):
    """A values file cannot be loaded or does not satisfy the schema."""


class OutputError(InputError):
    """The output location cannot be written safely (a file, a symlink, read-only, locked)."""


class RemoteError(InputError):
    """A remote manifest could not be fetched or does not match its lock entry."""


class TemplateError(RenderError):
    """A template failed or produced an invalid object: a bug in sks-gitops, not in the values."""

    exit_code = 3
