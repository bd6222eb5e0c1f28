"""The ``polybrief`` command line: a thin layer over ``polybrief.client``.

Client commands only (brief, summarize, translate, detect, models list, health): it never
imports the server package. The server has its own command, ``polybrief-server`` (serve,
models pull|convert|make-tiny, keys new), installed with polybrief-service; asked for one
of those, ``polybrief`` says so and names the command to run.
"""

from polybrief.cli._app import app, main

__all__ = ["app", "main"]
