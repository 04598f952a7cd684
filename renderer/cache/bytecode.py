"""Compiled templates kept between runs: a cold render spends about 50 ms compiling Jinja otherwise.

The cache lives in the per-user cache directory (renderer.cache.directory.cache_dir), in a
directory of its own per Jinja version, environment class and compile-time settings, so
no compiled code is reused under other settings. Jinja checks each entry against a hash
of the template source, so an edited template is compiled afresh. The cache is only a
shortcut: when it is switched off, missing, unwritable or not safely ours, templates are
compiled as before.
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Any

import jinja2
from jinja2.bccache import Bucket

from renderer.cache import directory as cachedir


class QuietBytecodeCache(jinja2.FileSystemBytecodeCache):
    """A bytecode cache that never fails a render: an I/O error means "compile it"."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError:
            bucket.reset()  # unreadable entry: the template is compiled instead

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError:
            return  # read-only or full cache: this run compiled, the next one compiles again


def _callables(registry: dict[str, Any]) -> list[tuple[str, str]]:
    """Names and argument-passing kinds: the compiler fails on an unknown filter or test and
    passes the context, eval context or environment to one marked for it."""
    return sorted((name, repr(getattr(function, "jinja_pass_arg", None))) for name, function in registry.items())


def _qualified(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"


def _settings(env: jinja2.Environment) -> str:
    """Everything the generated code depends on besides the source and Jinja's own version."""
    parts = (
        jinja2.__version__, _qualified(type(env)), _qualified(env.code_generator_class),
        env.block_start_string, env.block_end_string, env.variable_start_string, env.variable_end_string,
        env.comment_start_string, env.comment_end_string, env.line_statement_prefix, env.line_comment_prefix,
        env.trim_blocks, env.lstrip_blocks, env.newline_sequence, env.keep_trailing_newline, env.optimized,
        env.is_async, env.autoescape, getattr(env.finalize, "__qualname__", env.finalize),
        repr(getattr(env.finalize, "jinja_pass_arg", None)), sorted(env.extensions),
        _callables(env.filters), _callables(env.tests),
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def _private_dir(path: str) -> bool:
    """True when `path` is a real directory owned by this user that nobody else may write to."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


def directory(env: jinja2.Environment) -> str | None:
    """This environment's cache directory (created 0700), or None when there is none to use safely."""
    root = cachedir.cache_dir()
    if not root:
        return None
    kind = type(env).__name__
    path = os.path.join(root, f"jinja-{jinja2.__version__}-{kind}-{_settings(env)}")
    try:
        os.makedirs(root, mode=0o700, exist_ok=True)
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError:
        return None
    return path if _private_dir(root) and _private_dir(path) else None


def attach(env: jinja2.Environment) -> None:
    """Give `env` the per-user bytecode cache when one is available."""
    path = directory(env)
    if path is not None:
        env.bytecode_cache = QuietBytecodeCache(path)
