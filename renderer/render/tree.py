"""The render stage's product: {path relative to out/<cluster>/: text}, the plain data check and write take."""

from __future__ import annotations

Tree = dict[str, str]
