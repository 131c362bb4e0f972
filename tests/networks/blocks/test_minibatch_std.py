from __future__ import annotations

import pytest
import torch

from monai_genmed.networks.blocks import MinibatchStdDev
from monai_genmed.networks.nets import DCGANDiscriminator


def test_the_map_is_zero_for_a_collapsed_batch_and_grows_with_the_spread():
    layer = MinibatchStdDev(group_size=4)
    same = torch.rand(1, 3, 5, 7).expand(8, -1, -1, -1)
    out = layer(same)
    assert out.shape == (8, 4, 5, 7)
    torch.testing.assert_close(out[:, :3], same)
    assert out[:, 3].abs().max() < 1e-3  # sqrt(1e-8): no spread
    narrow, wide = layer(0.1 * torch.randn(8, 3, 5, 7)), layer(torch.randn(8, 3, 5, 7))
    assert wide[:, 3].mean() > 5 * narrow[:, 3].mean()


@pytest.mark.parametrize("batch", [1, 3, 6])
def test_batches_the_group_does_not_divide(batch):
    out = MinibatchStdDev(group_size=4)(torch.randn(batch, 2, 4, 4, 4))
    assert out.shape == (batch, 3, 4, 4, 4) and torch.isfinite(out).all()


def test_a_discriminator_with_the_layer_tells_a_collapsed_batch_from_a_varied_one():
    torch.manual_seed(0)
    d = DCGANDiscriminator(image_size=16, channels=(4, 8), norm=None, minibatch_std_group=4)
    varied = torch.rand(4, 1, 16, 16)
    collapsed = varied[:1].expand(4, -1, -1, -1)
    # the first sample is the same image in both batches; its logit differs only through the batch's spread
    assert not torch.allclose(d(varied)[0], d(collapsed)[0])
    plain = DCGANDiscriminator(image_size=16, channels=(4, 8), norm=None)
    torch.testing.assert_close(plain(varied)[0], plain(collapsed)[0])
    assert not any("MinibatchStdDev" in type(m).__name__ for m in plain.modules())  # off by default


def test_bad_group_sizes_name_the_setting():
    with pytest.raises(ValueError, match="minibatch_std_group"):
        MinibatchStdDev(group_size=1)
