"""The single-coil data-consistency layer and the cascades built on it (Schlemper et al. 2018)."""

from __future__ import annotations

import pytest
import torch

from monai_genmed.networks.blocks import SingleCoilDataConsistency
from monai_genmed.networks.nets import DAGANCascade, DataConsistentCascade
from monai_genmed.transforms.kspace.functional import image_to_kspace


def measure(shape, fraction=0.3, seed=0, complex_image=False):
    """A random image (real, or complex as [real, imag] channels), its mask and its measured k-space."""
    g = torch.Generator().manual_seed(seed)
    image = torch.rand((2, 2 if complex_image else 1, *shape), generator=g)
    mask = (torch.rand(shape, generator=g) < fraction).float()
    layout = "channels" if complex_image else "complex"
    kspace = image_to_kspace(image, input_layout=layout, channel_dim=1) * mask
    return image, mask, kspace


def kspace_of(image, real_valued):
    return image_to_kspace(image, input_layout="complex" if real_valued else "channels", channel_dim=1)


@pytest.mark.parametrize("shape", [(16, 16), (17, 20)], ids=["even", "odd"])
@pytest.mark.parametrize("real_valued", [True, False], ids=["real", "complex"])
def test_hard_dc_keeps_the_measured_samples(shape, real_valued):
    _, mask, kspace = measure(shape, complex_image=not real_valued)
    guess = torch.rand(2, 1 if real_valued else 2, *shape)
    out = SingleCoilDataConsistency(real_valued=real_valued)(guess, kspace, mask[None, None].expand(2, 1, *shape))
    k = kspace_of(out, real_valued)
    m = mask.bool()
    torch.testing.assert_close(k[..., m], kspace[..., m], atol=1e-5, rtol=0)
    # off the mask the prediction's k-space is kept (complex layout: no prior changes it)
    if not real_valued:
        torch.testing.assert_close(k[..., ~m], kspace_of(guess, False)[..., ~m], atol=1e-5, rtol=0)


def test_soft_dc_moves_measured_samples_by_lambda_over_one_plus_lambda():
    _, mask, kspace = measure((16, 16), complex_image=True)
    guess = torch.rand(2, 2, 16, 16)
    lam = 3.0
    out = SingleCoilDataConsistency(real_valued=False, noise_lambda=lam)(guess, kspace, mask)
    k, k0, m = kspace_of(out, False), kspace_of(guess, False), mask.bool()
    # k_dc = (k + lam y) / (1 + lam): the residual to the measurement shrinks by 1 / (1 + lam)
    torch.testing.assert_close((kspace - k)[..., m], (kspace - k0)[..., m] / (1 + lam), atol=1e-5, rtol=0)
    torch.testing.assert_close(k[..., ~m], k0[..., ~m], atol=1e-5, rtol=0)


def test_learnt_lambda_gets_a_gradient_and_bad_settings_are_errors():
    image, mask, kspace = measure((16, 16))
    dc = SingleCoilDataConsistency(noise_lambda=2.0, learn_lambda=True)
    dc(torch.rand_like(image), kspace, mask).sum().backward()
    assert dc.log_lambda.grad is not None and dc.noise_lambda == pytest.approx(2.0)
    with pytest.raises(ValueError, match="noise_lambda"):
        SingleCoilDataConsistency(noise_lambda=0.0)
    with pytest.raises(ValueError, match="does not fit"):
        SingleCoilDataConsistency()(torch.rand(2, 1, 16, 16), kspace[..., :8], mask)


@pytest.mark.parametrize("real_valued", [True, False], ids=["real", "complex"])
def test_cascade_output_is_consistent_and_gradients_reach_every_block(real_valued):
    torch.manual_seed(0)  # a tiny random net: about 3 % of inits leave one ReLU unit dead, with no gradient of its own
    image, mask, kspace = measure((16, 18))
    net = DataConsistentCascade(cascades=3, channels=4, depth=3, real_valued=real_valued, output="channels")
    zero_filled = torch.rand_like(image, requires_grad=True)
    out = net(zero_filled, kspace_masked=kspace, mask=mask)
    assert out.shape == (2, 1 if real_valued else 2, 16, 18)
    m = mask.bool()
    torch.testing.assert_close(kspace_of(out, real_valued)[..., m], kspace[..., m], atol=1e-5, rtol=0)
    (out - image.repeat(1, out.shape[1], 1, 1)).abs().mean().backward()
    assert all(p.grad is not None for p in net.parameters())
    for block in net.blocks:  # through every DC layer: each block's first and last convolutions learn
        grads = [p.grad.abs().sum() for p in block.parameters() if p.dim() > 1]
        assert grads[0] > 0 and grads[-1] > 0


def test_complex_cascade_returns_the_magnitude_by_default():
    image, mask, kspace = measure((16, 16))
    out = DataConsistentCascade(cascades=1, channels=4, depth=2, real_valued=False)(image, kspace, mask)
    assert out.shape == (2, 1, 16, 16) and (out >= 0).all()


def test_dagan_cascade_is_consistent_and_trainable():
    image, mask, kspace = measure((16, 16))
    net = DAGANCascade(cascades=2, channels=(4, 8), up_channels=(8, 4))
    out = net(image, kspace, mask)
    m = mask.bool()
    torch.testing.assert_close(kspace_of(out, True)[..., m], kspace[..., m], atol=1e-5, rtol=0)
    out.square().mean().backward()
    assert net.blocks[0].output_conv.weight.grad.abs().sum() > 0


def test_cascades_script_to_torchscript_with_eager_outputs_and_checks():
    """ckpt_export scripts cascade_csmri's network: every cascade (real, complex with a learnt lambda, DAGAN-DC) must
    compile, compute what eager computes and keep the k-space check; eager keeps its messages (tuples, repr)."""
    from monai_genmed.transforms.kspace.functional import to_complex

    image, mask, kspace = measure((16, 20))
    nets = (
        DataConsistentCascade(cascades=2, channels=4, depth=3),
        DataConsistentCascade(cascades=2, channels=4, depth=3, real_valued=False, noise_lambda=3.0, learn_lambda=True),
        DAGANCascade(cascades=1, channels=(4, 8), up_channels=(8, 4)),
    )
    for net in nets:
        net.eval()
        scripted = torch.jit.script(net)
        with torch.no_grad():
            torch.testing.assert_close(scripted(image, kspace, mask), net(image, kspace, mask), rtol=0, atol=1e-6)
    with pytest.raises(Exception, match=r"of shape \[2, 1, 16, 9\] does not fit images of shape \[2, 1, 16, 20\]"):
        scripted(image, kspace[..., :9], mask)
    with pytest.raises(ValueError, match=r"of shape \(2, 1, 16, 9\) does not fit images of shape \(2, 1, 16, 20\)"):
        net(image, kspace[..., :9], mask)
    with pytest.raises(ValueError, match="unknown complex layout 'rows'; use 'complex' or 'channels'"):
        to_complex(image, "rows", 1)
