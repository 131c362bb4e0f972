"""Minibatch standard deviation: a discriminator feature that sees how alike the samples of a batch are."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["MinibatchStdDev"]


class MinibatchStdDev(nn.Module):
    """Append one feature map holding the batch's spread: the standard deviation of every feature over groups of
    ``group_size`` samples, averaged over features and positions (Karras et al., "Progressive Growing of GANs",
    ICLR 2018, https://arxiv.org/abs/1710.10196, section 3; StyleGAN2 keeps it with groups of 4).

    A discriminator that judges each sample alone cannot tell a collapsed generator (every sample the same
    plausible image) from the data; with this map it sees that the generated batch varies less than a real one.

    Args:
        group_size: samples per group; a batch whose size it does not divide uses the largest divisor below it
            (a batch of 1 gets a zero map).

    Input ``(B, C, *spatial)``, output ``(B, C + 1, *spatial)``.
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        if isinstance(group_size, bool) or not isinstance(group_size, int) or group_size < 2:
            raise ValueError(
                f"minibatch_std_group must be an integer >= 2 (0 turns the layer off), got {group_size!r}."
            )
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        group = min(self.group_size, batch)
        while batch % group:
            group -= 1
        if group < 2:
            spread = x.new_zeros(batch, 1, *x.shape[2:])
        else:
            grouped = x.reshape(group, batch // group, *x.shape[1:])  # sample i is in group i % (batch // group)
            std = (grouped.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (B / group, C, *spatial)
            spread = std.mean(dim=tuple(range(1, std.ndim)), keepdim=True)  # one number per group
            spread = spread.repeat(group, *([1] * (std.ndim - 1))).expand(batch, 1, *x.shape[2:])
        return torch.cat([x, spread], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"
