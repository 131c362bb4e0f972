"""Probes of the gan_mri collapse (see the package docstring); each prints one line per ``--report_every`` steps."""

from __future__ import annotations

import argparse
import json
import os
import time

import nibabel as nib
import numpy as np
import torch
import torch.nn.functional as F

from monai_genmed.engines import DiffAugment
from monai_genmed.losses import GANLoss
from monai_genmed.metrics import ms_ssim_diversity
from monai_genmed.networks.nets import DCGANDiscriminator, DCGANGenerator

G_CHANNELS, D_CHANNELS, LATENT = (256, 128, 64, 32), (32, 64, 128, 256), 64


def load_slices(data_dir: str, every: int = 1, limit: int | None = None) -> torch.Tensor:
    """The training slices of a generated ``brain_mr`` folder (its ``datalist.json``), 64x64 by area averaging."""
    listing = os.path.join(data_dir, "datalist.json")
    if not os.path.isfile(listing):
        raise FileNotFoundError(
            f"{listing} not found: pass --data_dir, the brain_mr folder a gan_mri training generated "
            "(bundles/gan_mri/data/brain_mr after one run of its train.json)."
        )
    files = [d["image"] for d in json.load(open(listing))["training"]][::every][:limit]
    slices = []
    for f in files:
        x = torch.as_tensor(np.asarray(nib.load(os.path.join(data_dir, f)).dataobj), dtype=torch.float32)
        slices.append(F.interpolate(x[None, None], size=(64, 64), mode="area")[0])
    return torch.stack(slices).clamp(0, 1)


def discriminator(args: argparse.Namespace, real: torch.Tensor) -> None:
    """D alone against the generator of ``--checkpoint`` (``network_generator`` of a gan_mri checkpoint)."""
    state = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    g = DCGANGenerator(LATENT, 1, 64, G_CHANNELS)
    g.load_state_dict(state["network_generator"])
    g.eval()
    v = args.variant
    d = DCGANDiscriminator(1, 64, D_CHANNELS, norm="batch" if "bn" in v else None, spectral_norm="sn" in v)
    opt = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    augment = DiffAugment(seed=2) if "aug" in v else (lambda x: x)
    loss, start = GANLoss("non_saturating"), time.time()
    for step in range(1, args.steps + 1):
        x_real = augment(real[torch.randint(len(real), (32,))])
        with torch.no_grad():
            x_fake = augment(g(torch.randn(32, LATENT)))
        r1 = "r1" in v and step % 16 == 0
        x_real.requires_grad_(r1)
        logit_real, logit_fake = d(x_real), d(x_fake)
        total = loss.discriminator_loss(logit_real, logit_fake)
        if r1:  # lazy R1, gamma 1, every 16 steps (the bundle's default)
            (grad,) = torch.autograd.grad(logit_real.sum(), x_real, create_graph=True)
            total = total + 16 * 0.5 * grad.pow(2).flatten(1).sum(1).mean()
        opt.zero_grad()
        total.backward()
        opt.step()
        if step % args.report_every == 0:
            accuracy = ((logit_real > 0).float().mean() + (logit_fake < 0).float().mean()).item() / 2
            print(f"{v} step {step} loss {total.item():.3f} accuracy {accuracy:.2f} logit real "
                  f"{logit_real.mean().item():.2f} fake {logit_fake.mean().item():.2f} {time.time() - start:.0f}s",
                  flush=True)  # fmt: skip


def plain_loop(args: argparse.Namespace, real: torch.Tensor) -> None:
    """Non-saturating GAN, Adam 2e-4 (0.5, 0.999), batch 32, D with ``--variant`` bn/sn, no augmentation."""
    g = DCGANGenerator(LATENT, 1, 64, G_CHANNELS)
    v = args.variant
    d = DCGANDiscriminator(1, 64, D_CHANNELS, norm="batch" if "bn" in v else None, spectral_norm="sn" in v)
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    fixed, start = torch.randn(128, LATENT, generator=torch.Generator().manual_seed(1)), time.time()
    for step in range(1, args.steps + 1):
        fake = g(torch.randn(32, LATENT))
        loss_d = F.softplus(-d(real[torch.randint(len(real), (32,))])).mean() + F.softplus(d(fake.detach())).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        loss_g = F.softplus(-d(fake)).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if step % args.report_every == 0:
            g.eval()
            with torch.no_grad():
                samples = g(fixed)
            g.train()
            diversity = ms_ssim_diversity(samples, num_pairs=128)
            print(f"{v} step {step} loss D {loss_d.item():.3f} G {loss_g.item():.3f} MS-SSIM diversity "
                  f"{diversity:.3f} {time.time() - start:.0f}s", flush=True)  # fmt: skip


def generator_fit(args: argparse.Namespace, real: torch.Tensor) -> None:
    """G fitted by MSE to 128 fixed (latent, slice) pairs: the spread of its outputs across latents vs the slices'."""
    real = real[:: max(1, len(real) // 128)][:128]
    latents = torch.randn(len(real), LATENT)
    g = DCGANGenerator(LATENT, 1, 64, G_CHANNELS)
    opt, start = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999)), time.time()
    for step in range(1, args.steps + 1):
        index = torch.randint(len(real), (32,))
        loss = F.mse_loss(g(latents[index]), real[index])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % args.report_every == 0:
            g.eval()
            with torch.no_grad():
                out = g(latents)
            g.train()
            print(f"step {step} MSE {F.mse_loss(out, real).item():.4f} spread across latents "
                  f"{out.std(0).mean().item():.4f} (slices {real.std(0).mean().item():.4f}) {time.time() - start:.0f}s",
                  flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("probe", choices=["discriminator", "plain_loop", "generator_fit"])
    parser.add_argument("--data_dir", default="bundles/gan_mri/data/brain_mr")
    parser.add_argument("--checkpoint", help="a gan_mri training checkpoint (discriminator probe)")
    parser.add_argument("--variant", default="plain", help="D: any of sn, bn, aug, r1 joined by _ (e.g. sn_aug_r1)")
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--report_every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.probe == "discriminator" and not args.checkpoint:
        parser.error("the discriminator probe needs --checkpoint (a gan_mri models/checkpoints/*.pt)")
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    real = load_slices(args.data_dir, every=3 if args.probe == "discriminator" else 1)
    globals()[args.probe](args, real)


if __name__ == "__main__":
    main()
