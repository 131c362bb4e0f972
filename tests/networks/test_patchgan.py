from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from monai.networks.nets import PatchDiscriminator

from monai_genmed.networks.nets import patchgan_70


def _receptive_field_extent(disc: PatchDiscriminator, spatial: tuple[int, ...]) -> tuple[int, ...]:
    """Extent, per axis, of the input pixels that one central logit depends on.

    Instance norm couples every pixel of an image (it subtracts the image mean), so it is replaced by the
    identity; with positive constant weights and a positive input every activation is positive, LeakyReLU is
    linear and no gradient path cancels: the nonzero gradient marks the receptive field exactly.
    """
    for module in disc.modules():
        if hasattr(module, "N"):
            module.N = nn.Identity()
    with torch.no_grad():
        for name, p in disc.named_parameters():
            p.fill_(0.01 if name.endswith("weight") else 0.0)
    x = torch.ones(1, 1, *spatial, dtype=torch.float64, requires_grad=True)
    logits = disc.double()(x)[-1]
    centre = tuple(s // 2 for s in logits.shape[2:])
    logits[(0, 0, *centre)].backward()
    nonzero = x.grad[0, 0].nonzero()
    return tuple((nonzero[:, d].max() - nonzero[:, d].min() + 1).item() for d in range(len(spatial)))


def test_one_logit_sees_a_70x70_patch():
    assert _receptive_field_extent(patchgan_70(spatial_dims=2, channels=4), (112, 104)) == (70, 70)


def test_is_pix2pix_70x70_patchgan():
    disc = patchgan_70(in_channels=3)
    convs = [m for m in disc.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 256, 512, 1]
    assert [c.stride for c in convs] == [(2, 2)] * 3 + [(1, 1)] * 2
    assert all(c.kernel_size == (4, 4) and c.padding == (1, 1) for c in convs)
    leaky = [m for m in disc.modules() if isinstance(m, nn.LeakyReLU)]
    assert len(leaky) == 4 and all(m.negative_slope == 0.2 for m in leaky)
    assert [type(m) for m in disc.modules() if isinstance(m, nn.modules.instancenorm._InstanceNorm)] == [
        nn.InstanceNorm2d
    ] * 3  # none on the first layer
    # CycleGAN's discriminator prints "2.765 M": every convolution has a bias with instance norm
    assert sum(p.numel() for p in disc.parameters()) == 2_764_737
    # pix2pix's batch-norm variant drops the three biases that batch norm would cancel
    batch = patchgan_70(in_channels=3, norm="batch")
    assert sum(p.numel() for p in batch.parameters()) == 2_764_737 - (128 + 256 + 512) + 2 * (128 + 256 + 512)


@pytest.mark.parametrize(
    "spatial_dims, size, logits", [(2, (64, 48), (6, 4)), (2, (256, 256), (30, 30)), (3, (32, 24, 40), (2, 1, 3))]
)
def test_output_is_a_list_ending_with_patch_logits(spatial_dims, size, logits):
    disc = patchgan_70(spatial_dims=spatial_dims, in_channels=2, channels=4)
    out = disc(torch.rand(2, 2, *size))
    assert isinstance(out, list) and len(out) == 5
    assert out[-1].shape == (2, 1, *logits)
    assert [o.shape[1] for o in out[:-1]] == [4, 8, 16, 32]
