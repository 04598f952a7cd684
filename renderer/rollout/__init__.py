"""The rollout model: what each stage needs and provides, what the operator does, what "done" means.

`facts.py` holds the outside world (operator controllers, health rules, tiers, policies), each fact
with the upstream file it was read from; `order.py` derives the stage order, Argo CD waves, Flux
dependsOn and the bootstrap's steps from it; `health.py` turns the health rules into the Argo CD
Lua and Flux CEL that the engines render. `renderer/simulate/` plays a cluster that follows these
rules and proves that every delivery converges.
"""
