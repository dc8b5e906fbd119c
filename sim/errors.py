"""Exceptions of the simulator: every message names the file, key or variable at fault."""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class SimError(Exception):
    """Base class: any error the simulator raises on purpose."""


class ModelError(SimError):
    """A model file is missing, malformed, or uses a construct the engine cannot integrate."""


class ParameterError(SimError, KeyError):
    """Unknown parameter names or values of the wrong type, all reported together."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SimulationError(SimError):
    """The integration failed: solver failure, NaN/inf derivative, negative stock.

    Attributes ``time`` (model time, years) and ``variable`` (model name) say where.
    """

    def __init__(self, message: str, *, time: float | None = None, variable: str | None = None):
        super().__init__(message)
        self.time = time
        self.variable = variable


class UsageError(SimError, ValueError):
    """A command-line or call mistake: a bad option value, the same scenario twice, an
    output location that exists or cannot be written. The message names the option and
    the fix."""


class ResultsFolderError(SimError, FileNotFoundError):
    """A results folder lacks what a command needs (its manifest, a time series)."""


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """Return ``" (did you mean 'a', 'b'?)"`` for the closest candidates, or ``""``."""
    pool = list(candidates)
    lowered = {c.lower(): c for c in pool}
    close = difflib.get_close_matches(name.lower(), list(lowered), n=n, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + ", ".join(repr(lowered[c]) for c in close) + "?)"
