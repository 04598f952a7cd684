"""GitOps engines: each turns the same ordered stages into its own delivery objects.

A plain registry: engine name -> function(Model) -> {relative path: text}.
"""

from __future__ import annotations

from collections.abc import Callable

from renderer.model import Model
from renderer.model.meanings import Engine
from renderer.render.engines import argocd, flux
from renderer.render.tree import Tree

ENGINES: dict[Engine, Callable[[Model], Tree]] = {
    "argocd": argocd.render,
    "flux": flux.render,
}
