"""sks-gitops: render Calico Enterprise on Exoscale SKS into a reviewed GitOps tree.

The package is a pipeline of small stages over plain data, one package each (README, Layout):
load (values files -> data + source positions) -> validate (JSON Schema -> problems)
-> model (typed facts, the rollout model) -> render (Jinja -> {path: text}) -> check (parse back,
schemas, leak guard) -> simulate (every delivery converges) -> write (atomic swap of out/<cluster>/).
"""

__version__ = "0.1.0"
