from __future__ import annotations

import pytest
import torch
import torch.nn as nn
from torch.utils.flop_counter import FlopCounterMode

from monai_genmed.networks.nets import DAGANDiscriminator, DAGANGenerator

TINY_G = {"channels": (8, 16, 32), "up_channels": (32, 16, 8)}
TINY_D = {"channels": (8, 16, 32), "head_channels": (32, 16), "residual_channels": 8}


@pytest.mark.parametrize(
    "spatial_dims, kwargs, shape",
    [
        (2, TINY_G, (2, 1, 32, 32)),
        (2, TINY_G, (1, 1, 40, 24)),
        (2, {"channels": (4, 8, 8, 16), "up_channels": (16, 8, 8, 4)}, (2, 1, 32, 48)),
        (2, {**TINY_G, "in_channels": 2, "out_channels": 2}, (1, 2, 16, 16)),
        (2, {**TINY_G, "in_channels": 2, "out_channels": 1, "refinement": False}, (1, 2, 16, 16)),
        (3, TINY_G, (1, 1, 16, 8, 24)),
    ],
)
def test_generator_shape_and_range(spatial_dims, kwargs, shape):
    net = DAGANGenerator(spatial_dims=spatial_dims, **kwargs)
    x = torch.rand(shape) * 1.4 - 0.2  # partly outside [0, 1]: the output must still lie in output_range
    out = net(x)
    assert out.shape == (shape[0], net.out_channels, *shape[2:])
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("size", [(33, 32), (32, 36), (17, 17)])
def test_generator_rejects_indivisible_size(size):
    net = DAGANGenerator(**TINY_G)
    with pytest.raises(ValueError, match="DivisiblePad"):
        net(torch.rand(1, 1, *size))


def test_generator_rejects_bad_arguments():
    with pytest.raises(ValueError, match="up_channels"):
        DAGANGenerator(channels=(8, 16, 32), up_channels=(16, 8))
    with pytest.raises(ValueError, match="refinement"):
        DAGANGenerator(**TINY_G, in_channels=2, out_channels=1)
    with pytest.raises(ValueError, match="output_range"):
        DAGANGenerator(**TINY_G, output_range=(1.0, 0.0))
    with pytest.raises(ValueError, match="output_range"):
        DAGANGenerator(**TINY_G, output_range=(0.0, 0.5, 1.0))
    with pytest.raises(ValueError, match="spatial dims"):
        DAGANGenerator(**TINY_G)(torch.rand(1, 1, 8, 8, 8))


def _zero_output_conv(net: DAGANGenerator) -> None:
    with torch.no_grad():
        net.output_conv.weight.zero_()
        net.output_conv.bias.zero_()


def test_refinement_with_zero_residual_returns_clipped_input():
    net = DAGANGenerator(**TINY_G, refinement=True)
    _zero_output_conv(net)
    x = torch.rand(2, 1, 16, 24) * 2 - 0.5
    torch.testing.assert_close(net(x), x.clamp(0, 1))

    net = DAGANGenerator(**TINY_G, refinement=False)
    _zero_output_conv(net)
    torch.testing.assert_close(net(x), torch.full_like(x, 0.5))  # tanh(0) maps to the middle of the range


@pytest.mark.parametrize("refinement", [True, False])
@pytest.mark.parametrize("output_range", [(-1.0, 1.0), (0.0, 1.0)])
def test_output_mapping_matches_dagan_under_change_of_range(refinement, output_range):
    """On [-1, 1] the output is DAGAN's formula; on [low, high] it is the same map after an affine change of range."""
    torch.manual_seed(0)
    net = DAGANGenerator(**TINY_G, refinement=refinement, output_range=output_range)
    captured = {}
    net.output_conv.register_forward_hook(lambda m, i, o: captured.update(o=o))
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    out = net(x)
    dagan_t = torch.tanh(captured["o"])
    low, high = output_range
    to_unit = (x - low) / (high - low) * 2 - 1  # the input on DAGAN's [-1, 1] scale
    dagan_out = (to_unit + dagan_t).clamp(-1, 1) if refinement else dagan_t
    torch.testing.assert_close(out, low + (dagan_out + 1) / 2 * (high - low))


def test_refinement_differs_from_plain_output():
    torch.manual_seed(0)
    refined = DAGANGenerator(**TINY_G, refinement=True)
    plain = DAGANGenerator(**TINY_G, refinement=False)
    plain.load_state_dict(refined.state_dict())
    x = torch.rand(1, 1, 16, 16)
    # the refined output stays close to its input (small initial residual), the plain one does not
    assert (refined(x) - x).abs().mean() < 0.05 < (plain(x) - x).abs().mean()


def test_generator_initialisation_follows_dagan():
    net = DAGANGenerator(channels=(32, 64, 64), up_channels=(64, 64, 32))
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    weights = torch.cat([m.weight.flatten() for m in convs])
    assert weights.abs().max() <= 0.02  # truncated at 2 std, like TensorFlow's truncated_normal_initializer
    assert 0.0080 < weights.std() < 0.0096  # std of N(0, 0.01) truncated at 2 std is 0.0088
    assert all(torch.all(m.bias == 0) for m in convs)


def _conv_macs_dagan_256() -> int:
    """Multiply-adds of DAGAN's convolutions at 256x256, from the layer table of the paper's code."""
    down = (64, 128, 256, 512, 512, 512, 512, 512)
    up = (512, 1024, 1024, 1024, 256, 128, 64, 64)
    macs, c_in, size = 0, 1, 256
    for c_out in down:  # a stride-2 conv: 16 MACs per output pixel and channel pair
        size //= 2
        macs += 16 * c_in * c_out * size**2
        c_in = c_out
    for j, c_out in enumerate(up):  # a stride-2 transposed conv: 16 MACs per input pixel and channel pair
        skip = 0 if j == 0 else down[len(down) - 1 - j]
        macs += 16 * (c_in + skip) * c_out * size**2
        c_in, size = c_out, size * 2
    return macs + c_in * 1 * size**2  # 1x1 output conv


def test_generator_flops_at_256():
    with torch.device("meta"):  # no memory, no compute: FlopCounterMode only reads shapes
        net = DAGANGenerator()
        x = torch.empty(1, 1, 256, 256)
    with FlopCounterMode(display=False) as counter:
        out = net(x)
    flops = counter.get_total_flops()
    params = sum(p.numel() for p in net.parameters())
    print(f"DAGANGenerator at 1x1x256x256: {flops / 1e9:.2f} GFLOPs (FlopCounterMode), {params / 1e6:.1f} M parameters")
    assert out.shape == (1, 1, 256, 256)
    # the counter's FLOPs are twice the multiply-adds of the convolutions; norms and activations are not counted
    assert flops == pytest.approx(2 * _conv_macs_dagan_256(), rel=0.01)


@pytest.mark.parametrize(
    "in_shape, kwargs",
    [
        ((1, 32, 32), TINY_D),
        ((1, 33, 31), TINY_D),
        ((2, 64, 48), {**TINY_D, "channels": (4, 8, 8, 16)}),
        ((1, 16, 16, 16), TINY_D),
    ],
)
def test_discriminator_logit_shape(in_shape, kwargs):
    net = DAGANDiscriminator(in_shape=in_shape, **kwargs)
    logits = net(torch.rand(3, *in_shape))
    assert logits.shape == (3, 1)


def test_discriminator_rejects_bad_shapes():
    net = DAGANDiscriminator(in_shape=(1, 32, 32), **TINY_D)
    with pytest.raises(ValueError, match="in_shape"):
        net(torch.rand(2, 1, 32, 16))
    with pytest.raises(ValueError, match="too small"):
        DAGANDiscriminator(in_shape=(1, 4, 4), **TINY_D)


def test_discriminator_layout_follows_dagan():
    net = DAGANDiscriminator(in_shape=(1, 32, 32), **TINY_D)
    convs = [m for m in net.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) == len(TINY_D["channels"]) + 2 + 3  # strided h0.., h6, h7, three residual convs
    # only h0 has a bias: every other conv is followed by batch norm
    assert [c.bias is not None for c in convs] == [True] + [False] * (len(convs) - 1)
    assert [c.kernel_size[0] for c in convs[-5:]] == [1, 1, 1, 3, 3]
    weights = torch.cat([c.weight.flatten() for c in convs] + [net.dense.weight.flatten()])
    assert 0.018 < weights.std() < 0.022  # N(0, 0.02)

    # h8 = act(h7 + branch): with the branch's last norm zeroed, the head sees act(h7) alone
    with torch.no_grad():
        net.residual[-1].adn.N.weight.zero_()
        net.residual[-1].adn.N.bias.zero_()
    net.eval()
    x = torch.rand(2, 1, 32, 32)
    h7 = net.features(x)
    torch.testing.assert_close(net(x), net.dense(nn.functional.leaky_relu(h7, 0.2).flatten(1)))


def test_tiny_generator_learns_to_denoise():
    torch.manual_seed(0)
    net = DAGANGenerator(**TINY_G)
    target = torch.rand(2, 1, 16, 16) * 0.5 + 0.25
    noisy = target + 0.1 * torch.randn_like(target)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    before = nn.functional.mse_loss(net(noisy), target).item()
    for _ in range(30):
        opt.zero_grad()
        loss = nn.functional.mse_loss(net(noisy), target)
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * before


def test_built_from_a_json_bundle_config():
    """Lists where Python would use tuples, as a JSON config gives them."""
    from monai.bundle import ConfigParser

    config = {
        "generator": {
            "_target_": "monai_genmed.networks.nets.DAGANGenerator",
            **{k: list(v) for k, v in TINY_G.items()},
            "act": ["leakyrelu", {"negative_slope": 0.1}],
            "norm": ["instance", {"affine": True}],
            "output_range": [0, 1],
        },
        "discriminator": {
            "_target_": "monai_genmed.networks.nets.DAGANDiscriminator",
            "in_shape": [1, 16, 16],
            **{k: list(v) if isinstance(v, tuple) else v for k, v in TINY_D.items()},
            "act": ["leakyrelu", {"negative_slope": 0.2}],
        },
    }
    parser = ConfigParser(config)
    generator, discriminator = parser.get_parsed_content("generator"), parser.get_parsed_content("discriminator")
    assert isinstance(generator.down[1].adn.N, nn.InstanceNorm2d)
    assert generator.down[1].adn.A.negative_slope == 0.1
    assert discriminator(generator(torch.rand(2, 1, 16, 16))).shape == (2, 1)


def test_both_networks_script_for_bundle_export():
    """ckpt_export scripts the network: the TorchScript module must match eager and keep its input checks."""
    gen = DAGANGenerator(channels=(8, 16, 32), up_channels=(32, 16, 8)).eval()
    disc = DAGANDiscriminator(in_shape=(1, 32, 32), channels=(8, 16), head_channels=(16, 8), residual_channels=4).eval()
    x = torch.rand(2, 1, 32, 32)
    for net in (gen, disc):
        scripted = torch.jit.script(net)
        torch.testing.assert_close(scripted(x), net(x))
    with pytest.raises(Exception, match="not divisible by 8"):
        torch.jit.script(gen)(torch.rand(1, 1, 36, 32))


def test_clip_high_false_lets_voxels_brighter_than_the_range_through():
    """At inference the input is scaled by a percentile of the zero-filled image, so some voxels lie above 1: with
    clip_high=False the refinement output keeps them (clipped below at 0 only); the default still clips at 1."""
    from monai_genmed.networks.nets import DAGANGenerator

    torch.manual_seed(0)
    kwargs = dict(spatial_dims=2, channels=(4, 8), up_channels=(8, 4))
    clipped, open_top = DAGANGenerator(**kwargs), DAGANGenerator(**kwargs, clip_high=False)
    open_top.load_state_dict(clipped.state_dict())
    x = torch.rand(1, 1, 16, 16) * 0.5
    x[..., 4:6, 4:6] = 3.0  # brighter than the 99.5th percentile that scaled the image to about [0, 1]
    with torch.no_grad():
        a, b = clipped.eval()(x), open_top.eval()(x)
    assert float(a.max()) <= 1.0 and float(b[..., 4:6, 4:6].min()) > 2.0
    assert float(b.min()) >= 0.0
    inside = (a > 0) & (a < 1)
    torch.testing.assert_close(a[inside], b[inside])
