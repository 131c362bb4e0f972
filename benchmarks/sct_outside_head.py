"""What setting the air around the head to -1000 HU (``inference.json``'s ``mask_outside_head``) does to a synthetic CT.

Two inputs, both shipped cyclegan_mr2ct generators (models/model.pt, the CycleGAN; models/paired_l1_24ep_m0, paired L1):
  * the phantom's test split (6 subjects, 24 slices of 128 x 128 mm each, inside the head as the training slices):
    the generator's slices, then :class:`FillOutsideHead` as the bundle's post-processing applies it, scored against
    the aligned CT over the whole slice and inside the CT's body mask;
  * a whole head: six axial slices of the Colin27 head (181 x 217 mm, air around it), the MR scaled to [0, 1], through
    ``inference.json`` with ``--mask_outside_head True`` and ``False``, scored against the head's CT (the phantom's
    source): the mean and median sCT in the air outside the head, the MAE over the slices and inside the head.

    python benchmarks/sct_outside_head.py [--bundle bundles/cyclegan_mr2ct]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

import nibabel as nib
import numpy as np
import torch
from monai.bundle import ConfigParser

from monai_genmed.apps.synthesis import SynthesisComparison
from monai_genmed.data.colin27 import colin27_head_mask, load_colin27_t1
from monai_genmed.data.head_mr_ct import colin27_hounsfield
from monai_genmed.handlers.model_loader import load_model_weights
from monai_genmed.transforms.intensity import FillOutsideHead
from monai_genmed.utils.cpu import cpu_summary

MODELS = {"CycleGAN (model.pt)": "model.pt", "paired L1 (paired_l1_24ep_m0)": "paired_l1_24ep_m0/model.pt"}
WHOLE_HEAD_SLICES = slice(84, 90)  # the slices of the MONAI Label test's head, ventricles and skull


def test_split(bundle: str, inference: ConfigParser) -> list[str]:
    config = ConfigParser()
    config.read_config([os.path.join(bundle, "configs", "common.json")])
    config.update({"bundle_root": os.path.abspath(bundle), "device_name": "cpu"})
    network = config.get_parsed_content("network_def")
    comparison = SynthesisComparison(config.get_parsed_content("datalist"), methods=[], network=network, output_dir="",
                                     hu_window=config["hu_window"], network_range=config["network_range"],
                                     split="test")  # fmt: skip
    slices = comparison._load()
    radius = round(inference["outside_head_radius_mm"] / inference["pixdim"])
    fill = FillOutsideHead(-1000.0, inference["outside_head_threshold"], radius, slice_axis=None)
    outside = np.stack([fill.mask(s["mr"][None]) for s in slices])
    ct = np.stack([s["ct"] for s in slices])
    body = np.stack([s["mask"] for s in slices])
    air = ~body & (ct < -500)
    summary = (f"test split: {len(slices)} slices, {body.size} pixels, {body.sum()} in the body, "
               f"{air.sum()} air pixels outside it; set to air: {outside.sum()} pixels, "
               f"{(outside & air).sum()} of them air outside the body, {(outside & body).sum()} in the body "
               f"({(outside & body & (ct < -500)).sum()} of those air in the CT)")  # fmt: skip
    rows = [summary, "",
            "| model | mask_outside_head | sCT in the air outside the body, mean (HU) | MAE whole slice (HU) "
            "| MAE in the body (HU) |",
            "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for name, file in MODELS.items():
        load_model_weights(network, os.path.join(bundle, "models", file), map_location="cpu", name=name)
        with torch.no_grad():
            pred = np.stack(comparison._network_predictions(slices))
        for masked in (False, True):
            p = np.where(outside, -1000.0, pred) if masked else pred
            rows.append(
                f"| {name} | {masked} | {p[air].mean():.0f} | {np.abs(p - ct).mean():.1f} "
                f"| {np.abs(p - ct)[body].mean():.1f} |"
            )
    return rows


def whole_head(bundle: str) -> list[str]:
    t1, affine = load_colin27_t1()
    affine = affine.copy()
    affine[:3, 3] += affine[:3, :3] @ [0, 0, WHOLE_HEAD_SLICES.start]
    ct = colin27_hounsfield()[:, :, WHOLE_HEAD_SLICES].astype(np.float32)
    head = colin27_head_mask()[:, :, WHOLE_HEAD_SLICES]
    air = ~head & (ct < -500)
    summary = (
        f"whole head: Colin27 axial slices {WHOLE_HEAD_SLICES.start}-{WHOLE_HEAD_SLICES.stop - 1}, {ct.shape}, "
        f"{head.sum()} head voxels, {air.sum()} air voxels outside it"
    )
    rows = [summary, "",
            "| model | mask_outside_head | sCT in the air outside the head, mean / median (HU) | MAE all voxels (HU) "
            "| MAE in the head (HU) |",
            "| --- | --- | --- | --- | --- |"]  # fmt: skip
    configs = inference_configs(bundle)
    with tempfile.TemporaryDirectory() as work:
        mr = os.path.join(work, "colin27_slab.nii.gz")
        nib.save(nib.Nifti1Image((t1[:, :, WHOLE_HEAD_SLICES] / t1.max()).astype(np.float32), affine), mr)
        for name, file in MODELS.items():
            for masked in (False, True):
                out = os.path.join(work, f"{file.replace('/', '_')}_{masked}")
                subprocess.run([sys.executable, "-m", "monai.bundle", "run", "--config_file", str(configs),
                                "--input_path", mr, "--output_dir", out,
                                "--ckpt_path", os.path.join(bundle, "models", file),
                                "--mask_outside_head", str(masked), "--uncertainty", "False"],
                               check=True, capture_output=True)  # fmt: skip
                p = np.asarray(nib.load(os.path.join(out, "colin27_slab_synct.nii.gz")).dataobj, np.float32)
                rows.append(f"| {name} | {masked} | {p[air].mean():.0f} / {np.median(p[air]):.0f} | "
                            f"{np.abs(p - ct).mean():.1f} | {np.abs(p - ct)[head].mean():.1f} |")  # fmt: skip
    return rows


def inference_configs(bundle: str) -> list[str]:
    """The bundle's inference command's config files (its README's order)."""
    loader = os.path.join(
        os.path.dirname(os.path.dirname(os.path.normpath(bundle))), "configs", "inference_loader.json"
    )
    return [os.path.join(bundle, "configs", "common.json"), loader, os.path.join(bundle, "configs", "inference.json")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bundle", default="bundles/cyclegan_mr2ct")
    args = parser.parse_args()
    inference = ConfigParser()
    inference.read_config(inference_configs(args.bundle))
    print(cpu_summary())
    print("\n".join(test_split(args.bundle, inference)))
    print()
    print("\n".join(whole_head(args.bundle)))


if __name__ == "__main__":
    main()
