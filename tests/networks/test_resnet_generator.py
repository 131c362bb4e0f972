from __future__ import annotations

import pytest
import torch

from monai_genmed.networks.nets import ResNetGenerator

TINY = {"channels": 4, "num_res_blocks": 2}


@pytest.mark.parametrize(
    "spatial_dims, kwargs, shape",
    [
        (2, TINY, (2, 1, 20, 36)),
        (2, {**TINY, "in_channels": 2, "out_channels": 3}, (1, 2, 16, 28)),
        (2, {**TINY, "num_downsamples": 3, "padding_mode": "replicate"}, (1, 1, 24, 40)),
        (2, {**TINY, "num_downsamples": 0, "norm": ("group", {"num_groups": 2})}, (1, 1, 7, 9)),
        (3, TINY, (1, 1, 12, 20, 8)),
        (3, {**TINY, "padding_mode": "zeros", "output_act": None}, (1, 1, 8, 12, 16)),
    ],
)
def test_output_shape_equals_input_shape(spatial_dims, kwargs, shape):
    net = ResNetGenerator(spatial_dims=spatial_dims, **kwargs)
    out = net(torch.rand(shape) * 2 - 1)
    assert out.shape == (shape[0], net.out_channels, *shape[2:])


def test_output_activation():
    torch.manual_seed(0)
    x = torch.randn(1, 1, 16, 16)
    tanh_net = ResNetGenerator(**TINY)
    linear_net = ResNetGenerator(**TINY, output_act=None)
    linear_net.load_state_dict(tanh_net.state_dict())
    with torch.no_grad():
        tanh_net.model[-2].conv.bias.fill_(5.0)  # pushes the pre-activation past tanh's range
        linear_net.model[-1].conv.bias.fill_(5.0)
    assert tanh_net(x).abs().max() < 1
    torch.testing.assert_close(tanh_net(x), torch.tanh(linear_net(x)))


@pytest.mark.parametrize("size, divisor", [((21, 20), 4), ((20, 18), 4), ((24, 20), 8)])
def test_indivisible_size_names_shape_divisor_and_fix(size, divisor):
    net = ResNetGenerator(**TINY, num_downsamples={4: 2, 8: 3}[divisor])
    assert net.size_divisor == divisor
    with pytest.raises(ValueError, match=rf"\[{size[0]}, {size[1]}\].*divisible by {divisor}.*pad or crop"):
        net(torch.rand(1, 1, *size))
    with pytest.raises(ValueError, match="spatial dims"):
        net(torch.rand(1, 1, 16, 16, 16))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_res_blocks"):
        ResNetGenerator(num_res_blocks=-1)
    with pytest.raises(ValueError, match="channels"):
        ResNetGenerator(channels=0)
    with pytest.raises(ValueError, match="reflect"):
        ResNetGenerator(**TINY, padding_mode="circular")


def _conv(c_in: int, c_out: int, kernel: int, spatial_dims: int = 2) -> int:
    return c_in * c_out * kernel**spatial_dims + c_out  # weights + bias; instance norm has no parameters


def _cyclegan_parameter_count(c_in: int, c_out: int, width: int = 64, blocks: int = 9) -> int:
    stem = _conv(c_in, width, 7)
    down = _conv(width, 2 * width, 3) + _conv(2 * width, 4 * width, 3)
    residual = blocks * 2 * _conv(4 * width, 4 * width, 3)
    up = _conv(4 * width, 2 * width, 3) + _conv(2 * width, width, 3)  # transposed: same weight count
    return stem + down + residual + up + _conv(width, c_out, 7)


def test_default_parameter_count_is_cyclegans():
    net = ResNetGenerator(spatial_dims=2, in_channels=1, out_channels=1)
    assert sum(p.numel() for p in net.parameters()) == _cyclegan_parameter_count(1, 1) == 11_365_633
    # CycleGAN's resnet_9blocks for RGB prints "11.378 M"
    rgb = ResNetGenerator(in_channels=3, out_channels=3)
    assert sum(p.numel() for p in rgb.parameters()) == _cyclegan_parameter_count(3, 3) == 11_378_179


def test_cyclegan_initialisation():
    torch.manual_seed(0)
    net = ResNetGenerator(channels=16, num_res_blocks=3, norm=("instance", {"affine": True}))
    convs = [m for m in net.modules() if isinstance(m, torch.nn.modules.conv._ConvNd)]
    conv_weights = torch.cat([m.weight.flatten() for m in convs])
    assert conv_weights.mean().abs() < 2e-3 and conv_weights.std().item() == pytest.approx(0.02, rel=0.05)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.InstanceNorm2d)]
    norm_weights = torch.cat([m.weight for m in norms])
    assert norm_weights.mean().item() == pytest.approx(1.0, abs=5e-3)
    assert norm_weights.std().item() == pytest.approx(0.02, rel=0.2)
    assert all(torch.count_nonzero(m.bias) == 0 for m in convs + norms)


def test_torchscript_matches_eager():
    net = ResNetGenerator(**TINY).eval()
    scripted = torch.jit.script(net)
    x = torch.rand(1, 1, 20, 12)
    torch.testing.assert_close(scripted(x), net(x))
    with pytest.raises(torch.jit.Error, match="divisible by 4"):
        scripted(torch.rand(1, 1, 18, 12))
