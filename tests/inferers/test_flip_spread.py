"""FlipSpreadInferer: the plain output unchanged, plus half the gap to the mirrored pass."""

from __future__ import annotations

import pytest
import torch
from monai.inferers import SimpleInferer, SliceInferer

from monai_genmed.inferers import FlipSpreadInferer


def test_the_output_keeps_the_plain_pass_and_adds_the_flip_spread():
    torch.manual_seed(0)
    network = torch.nn.Conv2d(1, 1, 3, padding=1)
    x = torch.rand(2, 1, 9, 8)
    with torch.no_grad():
        out = FlipSpreadInferer(SimpleInferer(), spatial_axis=1)(x, network)
        plain = network(x)
        mirrored = torch.flip(network(torch.flip(x, (3,))), (3,))
    assert out.shape == (2, 2, 9, 8)
    torch.testing.assert_close(out[:, :1], plain)
    torch.testing.assert_close(out[:, 1:], (plain - mirrored).abs() / 2)


def test_a_mirror_symmetric_network_has_no_spread_and_disabled_is_one_pass():
    network = torch.nn.Identity()
    x = torch.rand(1, 1, 6, 7, 3)
    inferer = SliceInferer(roi_size=(-1, -1), spatial_dim=2)
    out = FlipSpreadInferer(inferer, spatial_axis=1)(x, network)  # the volume's second axis, across the slices
    torch.testing.assert_close(out[:, :1], x)
    assert out[:, 1:].abs().max() == 0
    calls = []
    FlipSpreadInferer(inferer, spatial_axis=1, enabled=False)(x, lambda t: calls.append(t) or t)
    assert len(calls) == 3  # one pass: one call a slice
    with pytest.raises(ValueError, match="spatial_axis 3 does not exist"):
        FlipSpreadInferer(inferer, spatial_axis=3)(x, network)
