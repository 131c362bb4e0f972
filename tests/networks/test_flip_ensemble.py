"""The flip self-ensemble: k-space and mask flipped with the image, data consistency kept, equivariance gained."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from monai_genmed.networks.nets import DataConsistentCascade, FlipEnsemble, flip_kspace
from monai_genmed.transforms.kspace.functional import from_complex, image_to_kspace, zero_filled


def measured(shape, seed=0, fraction=0.35):
    g = torch.Generator().manual_seed(seed)
    image = torch.rand((2, 1, *shape), generator=g)
    mask = (torch.rand((1, 1, *shape), generator=g) < fraction).float()
    return image, mask, image_to_kspace(image, channel_dim=1) * mask


def index_flip(mask, axis):
    """Where a centred FFT puts frequency -k: index (N - j) mod N for even N, N - 1 - j for odd N."""
    n = mask.shape[axis]
    flipped = torch.flip(mask, (axis,))
    return torch.roll(flipped, 1, dims=axis) if n % 2 == 0 else flipped


@pytest.mark.parametrize("shape", [(8, 8), (7, 10)], ids=["even", "odd-even"])
@pytest.mark.parametrize("axes", [(-1,), (-2,), (-2, -1)])
def test_flipped_kspace_is_the_flipped_images_measurement(shape, axes):
    image, mask, kspace = measured(shape)
    k2, m2 = flip_kspace(kspace, mask, axes)
    expected_mask = mask
    for a in axes:
        expected_mask = index_flip(expected_mask, a)
    torch.testing.assert_close(m2, expected_mask)
    torch.testing.assert_close(k2, image_to_kspace(torch.flip(image, axes), channel_dim=1) * m2, atol=1e-5, rtol=0)
    # [real, imag] channels in, channels out
    k3, _ = flip_kspace(from_complex(kspace, "channels", 1), mask, axes)
    torch.testing.assert_close(k3, from_complex(k2, "channels", 1), atol=1e-6, rtol=0)


def cascade(seed=0):
    torch.manual_seed(seed)
    return DataConsistentCascade(cascades=2, channels=4, depth=3).eval()


def test_ensemble_keeps_the_measured_samples_and_loads_the_networks_weights():
    image, mask, kspace = measured((16, 16))
    net = cascade()
    ensemble = FlipEnsemble(cascade(seed=1))
    ensemble.load_state_dict(net.state_dict())
    assert ensemble.state_dict().keys() == net.state_dict().keys()
    zf = zero_filled(kspace, channel_dim=1)
    with torch.no_grad():
        out, single = ensemble(zf, kspace_masked=kspace, mask=mask), net(zf, kspace_masked=kspace, mask=mask)
    m = mask.bool().expand_as(kspace)
    torch.testing.assert_close(image_to_kspace(out, channel_dim=1)[m], kspace[m], atol=1e-5, rtol=0)
    assert out.shape == single.shape and not torch.allclose(out, single, atol=1e-4)  # the members differ
    with torch.no_grad():
        torch.testing.assert_close(FlipEnsemble(net, flips=[[]])(zf, kspace_masked=kspace, mask=mask), single)


def test_ensemble_over_the_flip_group_is_flip_equivariant():
    _, mask, kspace = measured((12, 12), seed=3)
    ensemble = FlipEnsemble(cascade())
    zf = zero_filled(kspace, channel_dim=1)
    k_lr, m_lr = flip_kspace(kspace, mask, (-1,))
    with torch.no_grad():
        out = ensemble(zf, kspace_masked=kspace, mask=mask)
        out_lr = ensemble(torch.flip(zf, (-1,)), kspace_masked=k_lr, mask=m_lr)
    torch.testing.assert_close(out_lr, torch.flip(out, (-1,)), atol=1e-5, rtol=0)
    # an image-only network (no k-space): the same property, and a single network alone lacks it
    torch.manual_seed(0)
    conv = nn.Conv2d(1, 1, 3, padding=1)
    x = torch.rand(1, 1, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(FlipEnsemble(conv)(torch.flip(x, (-2,))), torch.flip(FlipEnsemble(conv)(x), (-2,)))
        assert not torch.allclose(conv(torch.flip(x, (-2,))), torch.flip(conv(x), (-2,)), atol=1e-4)


def test_bad_settings_and_inputs_are_named():
    with pytest.raises(ValueError, match="flips is empty"):
        FlipEnsemble(nn.Identity(), flips=[])
    with pytest.raises(ValueError, match="distinct spatial axes"):
        FlipEnsemble(nn.Identity(), flips=[[1]])
    with pytest.raises(ValueError, match="distinct spatial axes"):
        FlipEnsemble(nn.Identity(), flips=[[-1, -1]])
    with pytest.raises(TypeError, match="torch module"):
        FlipEnsemble(lambda x: x)
    _, mask, kspace = measured((8, 8))
    with pytest.raises(ValueError, match="both kspace_masked and mask"):
        FlipEnsemble(cascade())(torch.rand(1, 1, 8, 8), kspace_masked=kspace)
    with pytest.raises(ValueError, match="negative spatial axes"):
        flip_kspace(kspace, mask, (0,))
    with pytest.raises(ValueError, match="does not match the k-space"):
        flip_kspace(kspace, mask[..., :4], (-1,))
