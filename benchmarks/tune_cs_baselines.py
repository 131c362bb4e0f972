"""Tune the classical CS baselines on one slice and report them on another.

Data: the vendored Colin27 T1 head (``monai_genmed/data/resources/colin27/ch2.nii.gz``), axial slices
``[:, :, z]`` zero-padded to 256x256 and scaled to [0, 1] by the volume maximum, with Rician noise of
``sigma = mean white-matter intensity / 30`` (white matter taken as the brain voxels of ``ch2bet`` above the
70th intensity percentile; T1 white matter is the brightest brain tissue). Noise matters: on noise-free
templates the classical methods look far better than on real scans.

Masks: 1D Gaussian (``get_mask_func("gaussian1d", fraction)``, seed 0), the same mask for tuning and test.
Each method's grid (``DEFAULT_GRIDS``) is searched on the tuning slice for every fraction, and the winner
is run on the test slice; the table reports PSNR (dB, data range 1) and SSIM over the whole slice and within
the head, and the wall-clock seconds per slice.

Usage::

    python benchmarks/tune_cs_baselines.py                       # everything (BM3D takes most of an hour on 2 cores)
    python benchmarks/tune_cs_baselines.py --methods tv wavelet --fractions 0.3
    python benchmarks/tune_cs_baselines.py --convergence          # TV/L1-wavelet at max_iter vs 4x, whole grid
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time

import nibabel as nib
import numpy as np

from monai_genmed.apps.baselines import (
    BM3DCS,
    DEFAULT_GRIDS,
    L1WaveletCS,
    TotalVariationCS,
    ZeroFilledRecon,
    evaluate_cs_method,
    tune_cs_method,
)
from monai_genmed.transforms.kspace.functional import image_to_kspace
from monai_genmed.transforms.kspace.masks import get_mask_func

RESOURCES = os.path.join(os.path.dirname(__file__), "..", "monai_genmed", "data", "resources", "colin27")
SIZE = 256


def _pad(a: np.ndarray, size: int = SIZE) -> np.ndarray:
    out = np.zeros((size, size), a.dtype)
    y, x = (size - a.shape[0]) // 2, (size - a.shape[1]) // 2
    out[y : y + a.shape[0], x : x + a.shape[1]] = a
    return out


def load_noisy_slices(indices: list[int], snr: float = 30.0, seed: int = 0) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Noisy 256x256 axial slices in [0, 1] and their head masks, by slice index."""
    volume = np.asarray(nib.load(os.path.join(RESOURCES, "ch2.nii.gz")).dataobj).astype(np.float64)
    brain = np.asarray(nib.load(os.path.join(RESOURCES, "ch2bet.nii.gz")).dataobj) > 0
    volume /= volume.max()
    brain_values = volume[brain]
    white_matter = brain_values[brain_values > np.percentile(brain_values, 70)].mean()
    sigma = white_matter / snr
    rng = np.random.default_rng(seed)
    out = {}
    for z in indices:
        clean = _pad(volume[:, :, z])
        noisy = np.abs(clean + sigma * rng.standard_normal(clean.shape) + 1j * sigma * rng.standard_normal(clean.shape))
        out[z] = (np.clip(noisy, 0, 1).astype(np.float32), _pad(volume[:, :, z] > 0))
    print(f"white matter {white_matter:.3f}, Rician sigma {sigma:.4f} (SNR {snr:g})")
    return out


def make_slice(image: np.ndarray, head: np.ndarray, mask: np.ndarray) -> tuple:
    kspace = (mask * image_to_kspace(image[None])[0]).astype(np.complex64)
    return kspace, mask, image, head


def method_factories(bm3d_iters: int, real_valued: bool) -> dict[str, tuple]:
    return {
        "tv": (functools.partial(TotalVariationCS, real_valued=real_valued), DEFAULT_GRIDS["TotalVariationCS"]),
        "wavelet": (functools.partial(L1WaveletCS, real_valued=real_valued), DEFAULT_GRIDS["L1WaveletCS"]),
        "bm3d": (functools.partial(BM3DCS, n_iter=bm3d_iters, real_valued=real_valued), DEFAULT_GRIDS["BM3DCS"]),
    }


def convergence(slices: dict, fractions: list[float]) -> None:
    """Objective and PSNR at the default iterations against four times as many, over each method's grid."""
    for frac in fractions:
        for make, grid in (
            (TotalVariationCS, DEFAULT_GRIDS["TotalVariationCS"]),
            (L1WaveletCS, DEFAULT_GRIDS["L1WaveletCS"]),
        ):
            for lamda in grid["lamda"]:
                short = make(lamda=lamda, record_objective=True)
                long = make(lamda=lamda, max_iter=4 * short.max_iter, record_objective=True)
                p_short = evaluate_cs_method(short, [slices[frac]])["psnr"]
                p_long = evaluate_cs_method(long, [slices[frac]])["psnr"]
                gap = short.objective_values[-1] / long.objective_values[-1] - 1
                print(
                    f"{frac:.0%} {short.name} lamda={lamda:g}: objective gap at {short.max_iter} vs {long.max_iter} it "
                    f"{gap:.1e}; PSNR {p_short:.2f} vs {p_long:.2f} dB",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tune-slice", type=int, default=80)
    parser.add_argument("--test-slice", type=int, default=100)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.3, 0.5])
    parser.add_argument("--methods", nargs="+", default=["tv", "wavelet", "bm3d"], choices=["tv", "wavelet", "bm3d"])
    parser.add_argument("--bm3d-iters", type=int, default=16)
    parser.add_argument("--real-valued", action="store_true", help="use the real-object prior in every method")
    parser.add_argument("--convergence", action="store_true", help="only check the solvers' convergence")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()

    images = load_noisy_slices([args.tune_slice, args.test_slice])
    masks = {f: get_mask_func("gaussian1d", f)((SIZE, SIZE), seed=0) for f in args.fractions}
    tune = {f: make_slice(*images[args.tune_slice], masks[f]) for f in args.fractions}
    test = {f: make_slice(*images[args.test_slice], masks[f]) for f in args.fractions}
    if args.convergence:
        convergence(test, args.fractions)
        return

    factories = method_factories(args.bm3d_iters, args.real_valued)
    results = []
    for frac in args.fractions:
        zero_filled = ZeroFilledRecon(real_valued=args.real_valued)
        rows = [("zero-filled", {}, zero_filled)]
        for key in args.methods:
            factory, grid = factories[key]
            start = time.perf_counter()
            best, table = tune_cs_method(factory, grid, [tune[frac]])
            for row in table:
                print(
                    f"  tune {frac:.0%} {key} " + " ".join(f"{k}={v:.4g}" for k, v in row.items() if k in grid), end=""
                )
                print(f" -> {row['psnr']:.2f} dB {row['ssim']:.4f} ({row['seconds']:.1f} s)")
            print(f"tuned {key} at {frac:.0%} in {time.perf_counter() - start:.0f} s: {best}", flush=True)
            rows.append((key, best, factory(**best)))
        for _key, best, recon in rows:
            whole = evaluate_cs_method(recon, [test[frac]])
            head = evaluate_cs_method(recon, [test[frac]], use_region=True)
            results.append(
                {
                    "fraction": frac,
                    "method": recon.name,
                    "params": recon.params,
                    "psnr": whole["psnr"],
                    "ssim": whole["ssim"],
                    "psnr_head": head["psnr"],
                    "ssim_head": head["ssim"],
                    "seconds": whole["seconds"],
                    "cpu_seconds": whole["cpu_seconds"],
                }
            )
            print(
                f"test {frac:.0%} {recon.name:14s} PSNR {whole['psnr']:.2f} SSIM {whole['ssim']:.4f} | head "
                f"{head['psnr']:.2f} {head['ssim']:.4f} | {whole['seconds']:.1f} s "
                f"({whole['cpu_seconds']:.1f} s CPU) | {best}",
                flush=True,
            )

    print(f"\ntuned on slice {args.tune_slice}, tested on slice {args.test_slice}, real_valued={args.real_valued}")
    print("| sampling | method | PSNR | SSIM | PSNR head | SSIM head | s/slice (CPU s) | tuned |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        tuned = ", ".join(f"{k}={v:.3g}" for k, v in r["params"].items() if isinstance(v, float))
        print(
            f"| {r['fraction']:.0%} | {r['method']} | {r['psnr']:.2f} | {r['ssim']:.4f} | {r['psnr_head']:.2f} | "
            f"{r['ssim_head']:.4f} | {r['seconds']:.1f} ({r['cpu_seconds']:.1f}) | {tuned} |"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
