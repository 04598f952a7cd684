"""Developer tools: they write files of this repository and are not part of the installed renderer.

- `python -m devtools.crdschemas`: schemas/crds from the upstream CRDs in ../shared/crds.
- `python -m devtools.docs`: the generated sections of README.md (values reference, rollout facts).
"""
