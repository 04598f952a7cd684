"""`python -m renderer` is the `render` command."""

from renderer.cli import main

main()
