from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_genmed.networks.blocks import PaddedResidualBlock


@pytest.mark.parametrize("spatial_dims", [2, 3])
@pytest.mark.parametrize("padding_mode", ["reflect", "replicate", "zeros"])
def test_residual_block_is_identity_plus_branch(spatial_dims, padding_mode):
    block = PaddedResidualBlock(spatial_dims, channels=3, padding_mode=padding_mode)
    x = torch.rand((2, 3) + (5,) * spatial_dims)
    torch.testing.assert_close(block(x), x + block.residual(x))
    with torch.no_grad():
        block.residual[-1].conv.weight.zero_()
        block.residual[-1].conv.bias.zero_()
    torch.testing.assert_close(block(x), x)  # a zero branch makes the block the identity: the skip is unnormalised


def test_residual_block_reflection_padding_sees_mirrored_borders():
    torch.manual_seed(0)
    block = PaddedResidualBlock(2, channels=1, norm=None, act=None)
    x = torch.rand(1, 1, 6, 7)
    first = block.residual[1].conv
    expected = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="reflect"), first.weight, first.bias)
    torch.testing.assert_close(block.residual[:2](x), expected)
    with pytest.raises(ValueError, match="odd"):
        PaddedResidualBlock(2, channels=1, kernel_size=4)
