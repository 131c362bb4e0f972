"""pix2pix's 70x70 PatchGAN discriminator, built from MONAI's ``PatchDiscriminator``.

Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017,
https://arxiv.org/abs/1611.07004, section 3.2.2 and appendix 6.1.2 (``C64-C128-C256-C512``, 4x4 convolutions,
LeakyReLU 0.2, no norm on ``C64``), used as CycleGAN's discriminator (Zhu et al. 2017,
https://arxiv.org/abs/1703.10593, appendix 7.2, instance norm) and by Wolterink et al. 2017,
https://arxiv.org/abs/1708.01155, for MR -> CT synthesis.
"""

from __future__ import annotations

from monai.networks.layers import Act, Norm
from monai.networks.layers.utils import split_args
from monai.networks.nets import PatchDiscriminator

__all__ = ["patchgan_70"]


def patchgan_70(
    spatial_dims: int = 2,
    in_channels: int = 1,
    channels: int = 64,
    norm: str | tuple = Norm.INSTANCE,
    bias: bool | None = None,
) -> PatchDiscriminator:
    """MONAI's ``PatchDiscriminator`` configured as pix2pix's (and CycleGAN's) 70x70 PatchGAN, exactly.

    pix2pix's ``NLayerDiscriminator(n_layers=3)`` is five 4x4 convolutions, padding 1: ``channels`` (stride 2, no
    norm), ``2 channels``, ``4 channels`` (stride 2), ``8 channels`` (stride 1), each but the last followed by
    LeakyReLU(0.2), and a 1-channel output (stride 1). MONAI's ``PatchDiscriminator`` with ``num_layers_d=3``
    builds the same stack: its first convolution has no norm, its last hidden one has stride 1, and its output
    convolution is a 4x4 one (``last_conv_kernel_size`` defaults to ``kernel_size``). One output logit then sees
    ``1 + 3 * (1 + 2 + 4 + 8 + 8) = 70`` pixels along every axis. The initialisation is pix2pix's (MONAI's
    ``normal_init``: conv weights ~ N(0, 0.02), biases 0). With ``in_channels=3`` it has CycleGAN's 2,764,737
    parameters ("2.765 M").

    Output: MONAI's ``PatchDiscriminator`` returns a **list**: the output of every layer, the patch logits
    ``(B, 1, *(floor(spatial / 8) - 2))`` last (30x30 for 256x256). Take ``disc(x)[-1]`` for an adversarial
    loss: :class:`~monai_genmed.losses.GANLoss` and MONAI's ``PatchAdversarialLoss`` read a list as the logits of
    several discriminators (a multi-scale one), not as features. The other elements serve feature matching.

    Args:
        spatial_dims: 2 (pix2pix, CycleGAN) or 3 (a 70x70x70 patch per logit).
        in_channels: channels of the judged image (1 for MR or CT; add the condition's for a conditional GAN).
        channels: width of the first layer (64); the next three double it.
        norm: normalisation of the three middle layers, a name or a ``(name, kwargs)`` tuple (CycleGAN: instance
            norm without affine parameters; pix2pix: batch norm).
        bias: whether the normalised layers have a bias. ``None`` follows pix2pix: no bias before batch norm (it
            would cancel), a bias otherwise. The first and the output convolutions always have one.

    Example::

        disc = patchgan_70(spatial_dims=2, in_channels=1)
        logits = disc(ct)[-1]  # (B, 1, 30, 30) for a 256x256 ct
    """
    if bias is None:
        bias = str(split_args(norm)[0]).lower() != "batch"
    return PatchDiscriminator(
        spatial_dims=spatial_dims,
        channels=channels,
        in_channels=in_channels,
        out_channels=1,
        num_layers_d=3,
        kernel_size=4,
        activation=(Act.LEAKYRELU, {"negative_slope": 0.2}),
        norm=norm,
        bias=bias,
        padding=1,
        dropout=0.0,
        last_conv_kernel_size=4,
    )
