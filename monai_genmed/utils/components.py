"""Lists and dicts of a config's components, some of which a setting may switch off.

MONAI's config loader builds a component marked ``"_disabled_": true`` as ``None``. A handler list or a
checkpoint's ``extra_objects`` that holds an optional component (an EMA copy that ``generator_ema_momentum: 0``
switches off) is written as a ``_target_`` block of :func:`enabled` over all of its members, rather than a ``$``
expression that concatenates conditional pieces.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypeVar

__all__ = ["enabled"]

T = TypeVar("T")


def enabled(items: Sequence[T | None] | Mapping[str, T | None]) -> list[T] | dict[str, T]:
    """The members of ``items`` that are not ``None`` (switched off), in their order.

    Example (a config's handler list)::

        {"_target_": "monai_genmed.utils.enabled", "items": ["@divergence_guard", "@generator_ema", "@checkpointer"]}

    Args:
        items: a list (handlers) or a dict (``{"name": object}``, a checkpoint's ``extra_objects``).

    Returns:
        a new list, or a new dict with the same keys less those whose value is ``None``.
    """
    if isinstance(items, Mapping):
        return {key: value for key, value in items.items() if value is not None}
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise TypeError(f"items must be a list or a dict of components, got {type(items).__name__}.")
    return [item for item in items if item is not None]
