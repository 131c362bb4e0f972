"""Check a classical baseline's tuned setting on a finer grid, or past its grid's end, on the slices it was tuned on.

The dagan_csmri comparison tunes each classical method (TV-CS, BM3D-MRI...) by grid search on validation slices
(``ReconstructionComparison.run``). This script scores other values of one setting on exactly those slices, with
the same fixed settings, so a reader can see whether the baseline's tuned value is its optimum or only the best of
a coarse grid. The tables are not touched; to use a new value, pass ``--classical_grids`` to ``evaluate.json``.

Usage (the varied data of the bundle; BM3D costs about a minute per slice and value)::

    python benchmarks/check_tuning_grid.py --method bm3d --mask_type poisson2d --sampling_fraction 0.2 \\
        --setting sigma0 --values 0.025 0.035 0.05 0.07
    # a method with two tuned settings: vary one, hold the other at its tuned value
    python benchmarks/check_tuning_grid.py --method bm3d_noise --mask_type gaussian1d --sampling_fraction 0.3 \\
        --setting noise_factor --values 0.35 0.5 --fixed sigma0=0.4
    # iterations (an integer setting) at a held sigma0
    python benchmarks/check_tuning_grid.py --method bm3d --mask_type poisson2d --sampling_fraction 0.2 \\
        --setting n_iter --values 32 64 --fixed sigma0=0.05
    # without the real-valued prior (the settings of evaluate_no_prior.json)
    python benchmarks/check_tuning_grid.py --method bm3d --mask_type poisson2d --sampling_fraction 0.2 \\
        --setting sigma0 --values 0.025 0.035 --extra_config evaluate_no_prior.json
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from monai.bundle import ConfigParser

from monai_genmed.utils import cpu_summary

CONFIGS = ("common.json", "evaluate.json", "varied_data.json", "evaluate_varied.json")


def _number(text: str) -> int | float:
    """``"64"`` -> 64 (iteration counts must be integers), ``"0.05"`` / ``"1e-3"`` -> a float."""
    try:
        return int(text)
    except ValueError:
        return float(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--method", default="bm3d", help="classical method key: tv, tv_noise, l1_wavelet, bm3d, bm3d_noise"
    )
    parser.add_argument("--mask_type", default="poisson2d")
    parser.add_argument("--sampling_fraction", type=float, default=0.2)
    parser.add_argument("--setting", default="sigma0", help="the setting to vary, e.g. sigma0 (BM3D) or lamda (TV)")
    parser.add_argument(
        "--values",
        type=_number,
        nargs="+",
        required=True,
        help="values to score; written as integers (64) they stay integers, e.g. for n_iter",
    )
    parser.add_argument(
        "--fixed",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="other tuned settings held at a value, e.g. sigma0=0.4 (default: the method's own default)",
    )
    parser.add_argument(
        "--extra_config",
        nargs="*",
        default=[],
        metavar="NAME",
        help="more configs of the bundle layered on the evaluate ones, e.g. evaluate_no_prior.json",
    )
    parser.add_argument("--bundle", default=os.path.join(os.path.dirname(__file__), "..", "bundles", "dagan_csmri"))
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    fixed = {}
    for item in args.fixed:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--fixed takes KEY=VALUE pairs, e.g. sigma0=0.4; got {item!r}.")
        try:
            fixed[key] = [_number(value)]
        except ValueError:
            parser.error(f"--fixed {item!r}: the value must be a number.")
    torch.set_num_threads(args.threads)
    config = ConfigParser()
    config.read_config([os.path.join(args.bundle, "configs", name) for name in (*CONFIGS, *args.extra_config)])
    config.update({"bundle_root": os.path.abspath(args.bundle), "learned_methods": [], "device_name": "cpu"})
    comparison = config.get_parsed_content("comparison")
    setting = {"mask_type": args.mask_type, "sampling_fraction": args.sampling_fraction}
    print(cpu_summary())
    start = time.perf_counter()
    best, table, names = comparison.tuning_table(args.method, setting, {args.setting: args.values, **fixed})
    held = "".join(f", {k}={v[0]:g}" for k, v in fixed.items())
    print(
        f"{args.method}{held} at {args.mask_type} {args.sampling_fraction:.0%}, validation slices {names} "
        f"({time.perf_counter() - start:.0f} s); best {best}\n"
    )
    print(f"| {args.setting} | PSNR (dB) | SSIM | s/slice |\n| ---: | ---: | ---: | ---: |")
    for row in table:
        print(f"| {row[args.setting]:g} | {row['psnr']:.3f} | {row['ssim']:.4f} | {row['seconds']:.1f} |")


if __name__ == "__main__":
    main()
