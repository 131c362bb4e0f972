"""Data-parallel training of any number of networks and step groups, without DistributedDataParallel wrappers.

DDP assumes one forward and one backward per module and iteration. Adversarial objectives break that: CycleGAN
runs each generator twice before a backward (translation and cycle), discriminators are frozen during the
generator step and judge detached images in their own step. :class:`GradientAllReduce` instead averages the
gradients of the networks a step group trains, across processes, after that group's backward and before its
optimizers step (the trainer's ``GROUP_BACKWARD_COMPLETED`` event), and keeps buffers (batch-norm statistics)
equal by averaging them after every iteration. Starting from rank 0's weights, every process then takes the
same steps: mathematically what DDP does, for any schedule of step groups.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.distributed as dist
from ignite.engine import Engine, Events

from monai_genmed.engines.utils import GenerativeIterationEvents

__all__ = ["GradientAllReduce"]


def _all_reduce_mean(tensors: list[torch.Tensor], world_size: int) -> None:
    """Average ``tensors`` in place across processes with one collective (flattened per dtype)."""
    by_dtype: dict[torch.dtype, list[torch.Tensor]] = {}
    for t in tensors:
        by_dtype.setdefault(t.dtype, []).append(t)
    for group in by_dtype.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= world_size
        offset = 0
        for t in group:
            t.copy_(flat[offset : offset + t.numel()].view_as(t))
            offset += t.numel()


class GradientAllReduce:
    """Average step-group gradients and network buffers across processes (``torch.distributed`` must be set up).

    Attach it to :class:`~monai_genmed.engines.GenerativeAdversarialTrainer` after the checkpointer (so a resumed
    run broadcasts the weights it loaded). The training data loader needs a ``DistributedSampler`` so each
    process sees its share of every epoch; the effective batch is ``batch_size * world_size``.

    Args:
        broadcast_on_start: copy rank 0's parameters and buffers to every process when training starts.
    """

    def __init__(self, broadcast_on_start: bool = True) -> None:
        self.broadcast_on_start = broadcast_on_start

    @staticmethod
    def _active() -> bool:
        return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1

    def attach(self, engine: Engine) -> None:
        if not hasattr(engine, "networks"):
            raise TypeError("GradientAllReduce needs the generative trainer (engine.networks by name).")
        if self.broadcast_on_start:
            engine.add_event_handler(Events.STARTED, self._broadcast)
        engine.add_event_handler(GenerativeIterationEvents.GROUP_BACKWARD_COMPLETED, self._average_gradients)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._average_buffers)

    def _broadcast(self, engine: Engine) -> None:
        if not self._active():
            return
        with torch.no_grad():
            for net in engine.networks.values():
                for t in [*net.parameters(), *net.buffers()]:
                    dist.broadcast(t.data, src=0)

    def _average_gradients(self, engine: Engine) -> None:
        group = engine.state.step_group
        if group is None or not self._active():
            return
        grads = [p.grad for name in group.networks for p in engine.networks[name].parameters() if p.grad is not None]
        if grads:
            _all_reduce_mean(grads, dist.get_world_size())

    def _average_buffers(self, engine: Engine) -> None:
        if not self._active():
            return
        buffers: Iterable[torch.Tensor] = (b for net in engine.networks.values() for b in net.buffers())
        floating = [b.data for b in buffers if b.is_floating_point()]
        if floating:
            with torch.no_grad():
                _all_reduce_mean(floating, dist.get_world_size())
