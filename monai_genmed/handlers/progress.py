"""A console progress bar for long runs (Ignite's tqdm bar, attachable from a MONAI handler list)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ignite.engine import Engine

from monai_genmed.utils.enums import GenerativeKeys

__all__ = ["ProgressBar"]


def _losses(output: Any) -> Mapping[str, float]:
    if isinstance(output, Mapping) and isinstance(output.get(GenerativeKeys.LOSSES), Mapping):
        return output[GenerativeKeys.LOSSES]
    return {}


class ProgressBar:
    """:class:`ignite.handlers.ProgressBar` with the loss terms in the bar, as a MONAI-style handler.

    MONAI's ``handlers`` lists call ``attach(engine)`` only; Ignite's bar takes its ``output_transform`` in
    ``attach``, so this wrapper holds it.

    Args:
        output_transform: maps ``engine.state.output`` to ``{name: value}`` shown in the bar (default: the
            generative trainer's loss terms).
        persist: keep each epoch's finished bar on screen.
        kwargs: passed to :class:`ignite.handlers.ProgressBar` (e.g. ``ncols``).
    """

    def __init__(self, output_transform: Callable[[Any], Any] = _losses, persist: bool = True, **kwargs: Any) -> None:
        from ignite.handlers import ProgressBar as IgniteProgressBar

        self.output_transform = output_transform
        self.bar = IgniteProgressBar(persist=persist, **kwargs)

    def attach(self, engine: Engine) -> None:
        self.bar.attach(engine, output_transform=self.output_transform)
