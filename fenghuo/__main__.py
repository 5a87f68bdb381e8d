"""`python -m fenghuo`: the same as the `fenghuo` command."""

from fenghuo.cli import run

run()
