"""`python -m tuneloop`: the command line, as the `tuneloop` script runs it."""

from tuneloop.cli import main

main()
