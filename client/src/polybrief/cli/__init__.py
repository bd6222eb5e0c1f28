"""The ``polybrief`` command line: a thin layer over ``polybrief.client``.

Client commands (brief, summarize, translate, detect, models list, health) need only the
client package; server commands (serve, models pull, models make-tiny) come from
polybrief-service when it is installed.
"""

from polybrief.cli._app import app, main

__all__ = ["app", "main"]
