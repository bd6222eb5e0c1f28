"""``python -m polybrief.cli``: the ``polybrief`` command."""

from polybrief.cli import main

main()
