"""Switches that come from the command line.

``python -m monai.bundle run ... --refinement false`` hands the config the *string* ``"false"`` (Python Fire
turns only ``False``/``True`` into booleans), and a non-empty string is true: the switch would silently stay on.
Components that take a switch check it with :func:`ensure_bool`, so the mistake is an error with the fix.
Numeric settings that a config passes to a component which would not name them (Ignite's ``EMAHandler``
says "Invalid momentum") are checked with :func:`ensure_in_range`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ensure_bool", "ensure_in_range"]


def ensure_bool(value: Any, name: str) -> bool:
    """``value`` as a bool when it is one (Python or numpy); a clear error for anything else, strings above all.

    Raises:
        TypeError: naming ``name``, the value and the command-line spelling that works.
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    hint = ""
    if isinstance(value, str) and value.lower() in ("true", "false"):
        hint = (f" On the command line write --{name} {value.capitalize()} (capitalised): the lower-case word reaches "
                "the config as a string, and any non-empty string counts as true.")  # fmt: skip
    raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__}).{hint}")


def ensure_in_range(value: Any, name: str, low: float, high: float) -> float:
    """``value`` as a float when it is a number in ``[low, high]``; otherwise an error naming ``name`` and the range.

    Raises:
        ValueError: naming ``name``, the value and the allowed range.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} must be a number in [{low}, {high}], got {value!r} ({type(value).__name__}).")
    if not low <= float(value) <= high:
        raise ValueError(f"{name} must be in [{low}, {high}], got {value}.")
    return float(value)
