"""Errors the hypino method reports to users (each reads as a sentence)."""

from __future__ import annotations

from symop.errors import MethodError


class HypinoError(MethodError):
    """Base class of hypino's user errors."""


class UnsupportedProblem(HypinoError):
    """The problem is outside HyPINO's class of linear second-order problems in two variables."""


class ModelError(HypinoError):
    """No trained model was given, the file cannot be read, or it was trained for another family."""
