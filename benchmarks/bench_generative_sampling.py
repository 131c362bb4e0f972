"""Sampling time per image of the brain-slice samplers, and (``--score``) their FD and diversity, in one table.

The autoencoder and VAE decode ``z ~ N(0, I)``, the GAN maps ``z`` to a slice, the DDPM denoises a noise image
with DDIM (few steps) or the full DDPM chain. Each model is built from its bundle's configs and loads its weights
(the shipped ``models/model.pt`` unless ``--weights name=path``), in float32 on the CPU with the threads torch has.

With ``--score``: FD (the package's brain encoder, as the bundles validate) of 256 samples of the fixed latents
(seed 1234) against the 192 slices of the default training split, and MS-SSIM diversity of 512 random sample
pairs (lower is more diverse), so the rows sit beside the GAN comparison's. The DDPM is scored with the sampler
of its validation (DDIM, ``--ddpm_score_steps``).

    python benchmarks/bench_generative_sampling.py                      # times only
    python benchmarks/bench_generative_sampling.py --score --ddpm_full_images 2
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from monai.bundle import ConfigParser

from monai_genmed.data import LatentDataset
from monai_genmed.handlers.model_loader import load_model_weights
from monai_genmed.metrics import FrechetDistance
from monai_genmed.metrics.generative import ms_ssim_diversity
from monai_genmed.utils import cpu_summary

SHARED = {
    "autoencoder_mri": ["configs/brain_mr_64.json", "configs/training.json", "configs/autoencoder.json"],
    "vae_mri": ["configs/brain_mr_64.json", "configs/training.json", "configs/autoencoder.json"],
    "gan_mri": ["configs/brain_mr_64.json", "configs/training.json"],
    "ddpm_mri": ["configs/brain_mr_64.json", "configs/training.json"],
}


def parser_of(name: str, dataset_dir: str, **overrides) -> ConfigParser:
    parser = ConfigParser()
    parser.read_config(SHARED[name] + [f"bundles/{name}/configs/common.json"])
    parser["bundle_root"] = f"bundles/{name}"
    parser["dataset_dir"] = dataset_dir
    for key, value in overrides.items():
        parser[key] = value
    return parser


def sampler(name: str, weights: str, dataset_dir: str, **overrides) -> tuple[torch.nn.Module, list[int] | int]:
    """The bundle's generator (decoder, sampler) with ``weights`` loaded, and the shape of one latent."""
    parser = parser_of(name, dataset_dir, **overrides)
    network = parser.get_parsed_content("network_def")
    load_model_weights(network, weights, fingerprint=parser.get_parsed_content("fingerprint"), name=name)
    network = network.cpu().float().eval()
    latent = parser.get_parsed_content("noise_shape" if name == "ddpm_mri" else "latent_size")
    decode = getattr(network, "decode_forward", None)
    return (decode if callable(decode) else network), latent


@torch.no_grad()
def samples_of(fn, latent, count: int, batch: int, seed: int = 1234) -> tuple[torch.Tensor, float]:
    """``count`` samples of the fixed latents of ``seed`` and the seconds they took."""
    latents = LatentDataset(count, latent_dim=latent, seed=seed).latents
    start = time.perf_counter()
    out = torch.cat([fn(z).float() for z in latents.split(batch)])
    return out, time.perf_counter() - start


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    args.add_argument("--models", nargs="*", default=list(SHARED), help="bundles to time")
    args.add_argument("--weights", nargs="*", default=[], help="name=path, instead of bundles/<name>/models/model.pt")
    args.add_argument("--images", type=int, default=64, help="images timed per one-step model")
    args.add_argument("--ddim_steps", nargs="*", type=int, default=[20, 50], help="DDIM step counts to time")
    args.add_argument("--ddim_images", type=int, default=16, help="images timed per DDIM setting")
    args.add_argument("--ddpm_full_images", type=int, default=2, help="images timed with the 1000-step DDPM chain")
    args.add_argument("--score", action="store_true", help="also FD and diversity of 256 fixed-latent samples")
    args.add_argument("--ddpm_score_steps", type=int, default=20, help="DDIM steps of the DDPM's score")
    args.add_argument("--dataset_dir", default="runs/data/brain_mr", help="the default split (generated if absent)")
    opts = args.parse_args()
    weights = {n: f"bundles/{n}/models/model.pt" for n in SHARED} | dict(w.split("=", 1) for w in opts.weights)
    fd = None
    if opts.score:
        real = parser_of("autoencoder_mri", opts.dataset_dir).get_parsed_content("train#images")  # generated if absent
        fd = FrechetDistance(device="cpu")
        fd.set_reference(real)
        print(f"reference: {real.shape[0]} slices; real diversity {ms_ssim_diversity(real, num_pairs=512):.3f}")
    rows = []
    load = os.getloadavg()[0]
    for name in opts.models:
        if not os.path.isfile(weights[name]):
            rows.append((name, "-", "no weights at " + weights[name], "-", "-"))
            continue
        settings = [("", {})]
        if name == "ddpm_mri":
            settings = [(f"DDIM {s} steps", {"sampler": "ddim", "num_inference_steps": s}) for s in opts.ddim_steps]
            settings += [("DDPM 1000 steps", {"sampler": "ddpm", "num_inference_steps": 1000})]
        for label, overrides in settings:
            count = opts.images if name != "ddpm_mri" else opts.ddim_images
            if overrides.get("sampler") == "ddpm":
                count = opts.ddpm_full_images
            if count < 1:
                continue
            fn, latent = sampler(name, weights[name], opts.dataset_dir, **overrides)
            _, seconds = samples_of(fn, latent, count, batch=min(count, 64 if name != "ddpm_mri" else 16))
            score = ("-", "-")
            scored = name != "ddpm_mri" or overrides.get("num_inference_steps") == opts.ddpm_score_steps
            if fd is not None and scored and overrides.get("sampler") != "ddpm":
                images, _ = samples_of(fn, latent, 256, batch=64 if name != "ddpm_mri" else 32)
                score = (f"{float(fd(images)):.1f}", f"{ms_ssim_diversity(images, num_pairs=512):.3f}")
            rows.append((name, label or "one pass", f"{1000 * seconds / count:.1f}", *score))
            print(rows[-1], flush=True)
    print(f"\nCPU: {cpu_summary()}; load average at the start {load:.2f}, at the end {os.getloadavg()[0]:.2f}\n")
    print("| model | sampler | ms per image | FD (256 samples) | MS-SSIM diversity |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
