"""Is a synthetic CT's uncertainty map informative? Per-voxel spread against per-voxel error on the phantom test set.

Two uncertainty maps for the shipped cyclegan_mr2ct generator (models/model.pt), on every test slice, inside the
body mask:
  * flips: the spread |a - b| / 2 of the generator on the slice and on its left-right mirror (mirrored back); a
    head is nearly left-right symmetric, so the mirror is an input of the training distribution;
  * ensemble: |cyclegan - paired| / 2, the disagreement of the two shipped generators (models/model.pt and
    models/paired_l1_24ep_m0/model.pt), beside the CycleGAN's error.
For each: Spearman and Pearson correlation of uncertainty with |error|, and the MAE in the 10 % most and the 10 %
least uncertain body voxels (pooled over the test subjects).

    python benchmarks/sct_uncertainty.py [--bundle bundles/cyclegan_mr2ct] [--split test]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
from monai.bundle import ConfigParser
from scipy.stats import spearmanr

from monai_genmed.apps.synthesis import SynthesisComparison
from monai_genmed.handlers.model_loader import load_model_weights
from monai_genmed.utils.cpu import cpu_summary


def predictions(network, comparison, slices, checkpoint, mirror: bool) -> list[np.ndarray]:
    load_model_weights(network, checkpoint, map_location="cpu", name="checkpoint")
    if not mirror:
        return comparison._network_predictions(slices)
    flipped = [dict(s, mr=np.ascontiguousarray(s["mr"][:, ::-1])) for s in slices]  # arrays are upright: axis 1 is L-R
    return [p[:, ::-1] for p in comparison._network_predictions(flipped)]


def report(name: str, uncertainty: np.ndarray, error: np.ndarray) -> str:
    order = np.argsort(uncertainty)
    tenth = max(1, len(order) // 10)
    least, most = error[order[:tenth]].mean(), error[order[-tenth:]].mean()
    pearson = np.corrcoef(uncertainty, error)[0, 1]
    spearman = spearmanr(uncertainty, error).statistic
    return f"| {name} | {spearman:.2f} | {pearson:.2f} | {most:.1f} | {least:.1f} | {error.mean():.1f} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default="bundles/cyclegan_mr2ct")
    parser.add_argument("--split", default="test")
    args = parser.parse_args()
    config = ConfigParser()
    config.read_config([os.path.join(args.bundle, "configs", "common.json")])
    config.update({"bundle_root": os.path.abspath(args.bundle), "device_name": "cpu"})
    network = config.get_parsed_content("network_def")
    comparison = SynthesisComparison(config.get_parsed_content("datalist"), methods=[], network=network, output_dir="",
                                     hu_window=config["hu_window"], network_range=config["network_range"],
                                     split=args.split)  # fmt: skip
    slices = comparison._load()
    models = os.path.join(args.bundle, "models")
    with torch.no_grad():
        cyclegan = predictions(network, comparison, slices, os.path.join(models, "model.pt"), mirror=False)
        mirrored = predictions(network, comparison, slices, os.path.join(models, "model.pt"), mirror=True)
        paired = predictions(
            network, comparison, slices, os.path.join(models, "paired_l1_24ep_m0", "model.pt"), mirror=False
        )
    body = np.concatenate([s["mask"].ravel() for s in slices])
    ct = np.concatenate([s["ct"].ravel() for s in slices])[body]
    flat = {k: np.concatenate([p.ravel() for p in v])[body] for k, v in
            {"cyclegan": cyclegan, "mirrored": mirrored, "paired": paired}.items()}  # fmt: skip
    error = np.abs(flat["cyclegan"] - ct)
    flip_error = np.abs((flat["cyclegan"] + flat["mirrored"]) / 2 - ct)
    print(f"{cpu_summary()}; {len(slices)} {args.split} slices, "
          f"{len({s['subject'] for s in slices})} subjects, {body.sum()} body voxels")  # fmt: skip
    print(
        "| uncertainty of the CycleGAN sCT | Spearman | Pearson | MAE, 10 % most uncertain (HU) "
        "| MAE, 10 % least uncertain (HU) | MAE, all (HU) |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    print(
        report(
            "left-right flip spread (error of the single pass)", np.abs(flat["cyclegan"] - flat["mirrored"]) / 2, error
        )
    )
    print(
        report(
            "left-right flip spread (error of the flip mean)",
            np.abs(flat["cyclegan"] - flat["mirrored"]) / 2,
            flip_error,
        )
    )
    print(report("CycleGAN vs paired L1 disagreement", np.abs(flat["cyclegan"] - flat["paired"]) / 2, error))


if __name__ == "__main__":
    main()
