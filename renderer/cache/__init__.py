"""Everything that exists only for speed, behind one small interface; the pipeline is correct without it.

The rest of the renderer uses exactly these names (tests/test_layout.py holds it to that):

- `noop.lookup`, `noop.record`, `noop.Pending`, `noop.Invocation`: the CLI answers an unchanged run
  from its record before importing anything heavy, and records a clean run's answer.
- `clusters.Ledger`, `clusters.Recorded`, `clusters.expected_tree`: the pipeline skips the clusters
  of a fleet whose inputs and tree are as a clean earlier run left them.
- `parallel.ordered_map`: a large fleet's clusters are prepared on every CPU, results in order.
- `memo.Memo`: per-process tables for pure results (a checked file, a YAML dump).
- `bytecode.attach`: compiled Jinja templates kept between runs.

Every answer is keyed by content (inputs.py, with stat data only as a hint: stathints.py) and
compared with the trees on disk (trees.py) before it stands in for a full run; records live in the
per-user cache directory (directory.py), never in the repository. `--no-cache` or
SKS_GITOPS_NO_CACHE=1 turns the records off; memo tables and the fork of parallel.py change only
how fast the same answer comes.
"""
