"""Names shared across transforms, engines and handlers, so that no component relies on a loose string."""

from __future__ import annotations

from monai.utils import StrEnum

__all__ = ["KspaceKeys", "GenerativeKeys"]


class KspaceKeys(StrEnum):
    """Keys of the data dictionary written by the k-space transforms.

    ``MASK`` travels with the sample so that the frequency loss and data consistency see the same
    sampling pattern that produced ``ZERO_FILLED``.
    """

    IMAGE = "image"
    KSPACE = "kspace"
    KSPACE_MASKED = "kspace_masked"
    MASK = "mask"
    ZERO_FILLED = "zero_filled"
    BRAIN_MASK = "brain_mask"


class GenerativeKeys(StrEnum):
    """Keys of the output dictionary of the generative trainers (``engine.state.output``)."""

    LOSSES = "losses"
    TOTAL = "total"
    G_LOSS = "g_loss"
    D_LOSS = "d_loss"
    INPUT = "input"
    TARGET = "target"
    PRED = "pred"
    REAL_LOGITS = "real_logits"
    FAKE_LOGITS = "fake_logits"
