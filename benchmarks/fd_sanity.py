"""Sanity table of the offline Fréchet distance: does FD grow with the defects it must detect?

Reference: the test split of the bundles' default brain MR data (``seed=0``, subjects the encoder never saw);
compared sets: the validation split (other subjects), as it is and with each distortion applied to every slice.
A usable FD is small for real vs real and grows monotonically with Gaussian blur, noise, mode collapse (k
distinct slices, each repeated to the set's size) and with the two artefact families held out of the encoder's
training (checkerboard, elastic warp). The MS-SSIM diversity of each set is printed beside it.

    python benchmarks/fd_sanity.py                                # the shipped encoder
    python benchmarks/fd_sanity.py --weights my_encoder.pt        # a retrained one
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch

from monai_genmed.apps.feature_encoder import checkerboard, elastic_warp, gaussian_blur, load_slices, rician_noise
from monai_genmed.data import generate_brain_mr_dataset
from monai_genmed.metrics import FrechetDistance, ms_ssim_diversity
from monai_genmed.networks.nets import load_brain_encoder

__all__: list[str] = []


def cpu_description() -> str:
    """CPU model and its vector capabilities, printed beside the numbers."""
    model = platform.processor() or "unknown CPU"
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("unknown CPU", "x86_64", ""):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    caps = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{model}; {', '.join(caps) or 'no AVX2'}; torch CPU capability {torch.backends.cpu.get_cpu_capability()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data_dir", default="./data_cache/brain_mr_fd_sanity")
    parser.add_argument("--weights", default=None, help="encoder weight file (default: the shipped one)")
    parser.add_argument("--subjects", type=int, default=8, help="subjects in each of the validation and test sets")
    parser.add_argument("--slices_per_subject", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(2)

    datalist = generate_brain_mr_dataset(
        args.data_dir,
        num_subjects={"training": 1, "validation": args.subjects, "test": args.subjects},
        slices_per_subject=args.slices_per_subject,
        spatial_size=[256, 256],
        snr=30,
        seed=0,
    )
    val, _, _ = load_slices(datalist, "validation")
    test, _, _ = load_slices(datalist, "test")
    n = val.shape[0]
    fd = FrechetDistance(load_brain_encoder(args.weights), name="FD (monai_genmed brain encoder)")
    start = time.perf_counter()
    fd.set_reference(test)
    g = torch.Generator().manual_seed(args.seed)

    def collapsed(k: int) -> torch.Tensor:
        picks = torch.randperm(n, generator=g)[:k]
        return val[picks].repeat((n + k - 1) // k, 1, 1, 1)[:n]

    rows: list[tuple[str, str, torch.Tensor]] = [("real", "validation vs test", val)]
    rows += [("blur", f"sigma {s} px", gaussian_blur(val, s)) for s in (0.5, 1.0, 1.5, 2.0, 3.0)]
    rows += [("noise", f"Rician sigma {s}", rician_noise(val, s, g)) for s in (0.01, 0.02, 0.04, 0.08)]
    rows += [("mode collapse", f"{k} distinct slices", collapsed(k)) for k in (64, 16, 4, 1)]
    rows += [("checkerboard*", f"amplitude {a}", checkerboard(val, a)) for a in (0.01, 0.02, 0.05, 0.1)]
    rows += [("elastic warp*", f"magnitude {m}", elastic_warp(val, m, g)) for m in (0.01, 0.02, 0.04, 0.08)]
    print(f"CPU: {cpu_description()}")
    print(
        f"{fd.name}; reference: {test.shape[0]} test slices ({args.subjects} subjects, seed 0, 64x64, SNR 30); "
        f"each set: {n} validation slices, distorted. * = defect family not seen in the encoder's training.\n"
    )
    ms_real = ms_ssim_diversity(test, num_pairs=512, seed=args.seed)
    print(f"| defect | setting | FD | MS-SSIM diversity (test set: {ms_real:.3f}) |")
    print("|---|---|---:|---:|")
    for family, setting, images in rows:
        value = float(fd(images.clamp_min(0.0)))
        diversity = ms_ssim_diversity(images.clamp(0.0, 1.0), num_pairs=512, seed=args.seed)
        print(f"| {family} | {setting} | {value:.3f} | {diversity:.3f} |")
    print(f"\n{len(rows)} sets in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
