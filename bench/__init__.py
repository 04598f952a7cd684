"""Speed and memory benchmark of the `render` CLI (`make bench`); see bench/run.py."""
