"""Events and batch preparation shared by the generative engines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from ignite.engine import EventEnum
from monai.engines.utils import PrepareBatch
from monai.utils import CommonKeys

__all__ = ["GenerativeIterationEvents", "PrepareBatchToDevice", "PrepareBatchKeys", "detach_outputs", "final_logits"]


class GenerativeIterationEvents(EventEnum):
    """Events fired inside one iteration of :class:`~monai_genmed.engines.GenerativeAdversarialTrainer`.

    ``GENERATOR_FORWARD_COMPLETED`` follows ``objective.generate``. Then every step group that runs fires
    ``GROUP_LOSS_COMPLETED``, ``GROUP_BACKWARD_COMPLETED`` and ``GROUP_STEP_COMPLETED``, each followed by the
    generator or discriminator event of the group's role (:class:`~monai_genmed.engines.StepRole`), if it has
    one. While a group runs, ``engine.state.step_group`` is that :class:`~monai_genmed.engines.StepGroup`
    (its name, networks, optimizers and gradient scaler), and ``None`` outside the groups.

    Handlers hook into them, e.g. weight clipping for a Wasserstein critic on ``DISCRIMINATOR_STEP_COMPLETED``,
    or gradient-norm monitoring on ``GROUP_BACKWARD_COMPLETED`` of the networks in
    ``engine.state.step_group.networks`` (with AMP float16 the gradients are still scaled there by
    ``engine.state.step_group.scaler.get_scale()``). To follow one group, filter on its name::

        is_d = lambda engine, _: engine.state.step_group.name == "d"
        trainer.add_event_handler(GenerativeIterationEvents.GROUP_STEP_COMPLETED(event_filter=is_d), clip_weights)
    """

    GENERATOR_FORWARD_COMPLETED = "generator_forward_completed"
    GROUP_LOSS_COMPLETED = "group_loss_completed"
    GROUP_BACKWARD_COMPLETED = "group_backward_completed"
    GROUP_STEP_COMPLETED = "group_step_completed"
    GENERATOR_LOSS_COMPLETED = "generator_loss_completed"
    GENERATOR_BACKWARD_COMPLETED = "generator_backward_completed"
    GENERATOR_STEP_COMPLETED = "generator_step_completed"
    DISCRIMINATOR_LOSS_COMPLETED = "discriminator_loss_completed"
    DISCRIMINATOR_BACKWARD_COMPLETED = "discriminator_backward_completed"
    DISCRIMINATOR_STEP_COMPLETED = "discriminator_step_completed"


def detach_outputs(value: Any) -> Any:
    """``value`` with every tensor detached, through dictionaries, lists and tuples (a ``PatchDiscriminator``'s
    list of feature maps, a VAE's ``(reconstruction, mu, logvar, z)``)."""
    if isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, Mapping):
        return {k: detach_outputs(v) for k, v in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a named tuple
        return type(value)(*(detach_outputs(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(detach_outputs(v) for v in value)
    return value


def final_logits(output: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
    """The logits of a discriminator's output: the tensor itself, or the last element of a list of feature maps
    (MONAI's ``PatchDiscriminator`` returns its intermediate features and, last, the logits)."""
    if isinstance(output, (list, tuple)):
        if not output:
            raise ValueError("the discriminator returned an empty list; expected feature maps ending with the logits.")
        return output[-1]
    return output


def _to_device(value: Any, device: torch.device | str | None, non_blocking: bool, **kwargs: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device=device, non_blocking=non_blocking, **kwargs)
    if isinstance(value, Mapping):
        return {k: _to_device(v, device, non_blocking, **kwargs) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value):
        return type(value)(_to_device(v, device, non_blocking, **kwargs) for v in value)
    return value


class PrepareBatchToDevice(PrepareBatch):
    """Move every tensor of a batch dictionary to the device and return the dictionary.

    The generative trainer hands the whole dictionary to its objective, which picks the keys it needs
    (image, zero-filled input, undersampling mask, measured k-space, ...), so nothing is dropped here.
    """

    def __call__(
        self,
        batchdata: dict[str, torch.Tensor],
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        if not isinstance(batchdata, Mapping):
            raise TypeError(f"the generative trainer expects batches as dictionaries, got {type(batchdata).__name__}.")
        return _to_device(batchdata, device, non_blocking, **kwargs)


class PrepareBatchKeys(PrepareBatch):
    """``(input, target)`` from named keys, for MONAI's supervised evaluators and inferers.

    Args:
        input_key: key of the network input (e.g. ``"zero_filled"`` for reconstruction).
        target_key: key of the reference (e.g. ``"image"``); ``None`` for inference without a reference.
        extra_keys: keys passed to the network as extra keyword arguments.
    """

    def __init__(
        self,
        input_key: str = CommonKeys.IMAGE,
        target_key: str | None = CommonKeys.LABEL,
        extra_keys: Sequence[str] = (),
    ) -> None:
        self.input_key, self.target_key, self.extra_keys = input_key, target_key, tuple(extra_keys)

    def __call__(
        self,
        batchdata: dict[str, torch.Tensor],
        device: str | torch.device | None = None,
        non_blocking: bool = False,
        **kwargs: Any,
    ) -> tuple:
        missing = [
            k for k in (self.input_key, self.target_key, *self.extra_keys) if k is not None and k not in batchdata
        ]
        if missing:
            raise KeyError(
                f"batch lacks {missing}; it holds {sorted(map(str, batchdata))}. Check the pipeline's output keys."
            )
        inputs = _to_device(batchdata[self.input_key], device, non_blocking, **kwargs)
        targets = (
            None if self.target_key is None else _to_device(batchdata[self.target_key], device, non_blocking, **kwargs)
        )
        if not self.extra_keys:
            return inputs, targets
        extra = {k: _to_device(batchdata[k], device, non_blocking, **kwargs) for k in self.extra_keys}
        return inputs, targets, (), extra
