"""The error type for bad input: reported as one line, exit status 2."""
from __future__ import annotations


class InputError(Exception):
    """Bad input (file, device, URL, argument); the message names it and says
    what is wrong. CLIs print ``error: <message>`` and exit with status 2."""
