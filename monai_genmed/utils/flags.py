"""Switches that come from the command line.

``python -m monai.bundle run ... --refinement false`` hands the config the *string* ``"false"`` (Python Fire
turns only ``False``/``True`` into booleans), and a non-empty string is true: the switch would silently stay on.
Components that take a switch check it with :func:`ensure_bool`, so the mistake is an error with the fix.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["ensure_bool"]


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
