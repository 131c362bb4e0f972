"""Is the cascade's uncertainty map informative? Per-pixel flip spread against per-pixel error on phantom test slices.

The shipped 8x32 cascade (bundles/cascade_csmri) on evenly spaced slices of every subject of the varied phantom's test
split (made by the bundle's own data definition, configs/csmri_varied_data.json: 4 subjects), inside the head mask:
the uncertainty is the left-right flip spread that ``inference.json --uncertainty True`` writes (``FlipSpread``), the
error that of the single pass against the (noisy) fully sampled slice. Spearman and Pearson correlation of uncertainty
with |error|, and the mean |error| in the 10 % most and least uncertain head pixels, pooled over every slice and then
per subject, as benchmarks/sct_uncertainty.py reports the synthetic CT's.

    python benchmarks/reconstruction_uncertainty.py [--slices 6] [--subjects 4] [--mask poisson2d_20]
        [--dataset_dir DIR (reused by the next run; a new temporary folder by default)]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import nibabel as nib
import numpy as np
import torch
from monai.bundle import ConfigParser
from monai.data import load_decathlon_datalist

from monai_genmed.data.masks import default_undersampling_mask
from monai_genmed.handlers.model_loader import load_model_weights
from monai_genmed.networks.nets import FlipSpread
from monai_genmed.transforms.intensity.array import percentile_scale_factor
from monai_genmed.transforms.kspace import image_to_kspace, zero_filled
from monai_genmed.utils.cpu import cpu_summary

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sct_uncertainty import report  # noqa: E402 (the same table as the synthetic CT's)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slices", type=int, default=6, help="slices per subject, evenly spaced")
    parser.add_argument("--subjects", type=int, default=None, help="test subjects (default: the config's test split)")
    parser.add_argument("--mask", default="poisson2d_20", help="<mask_type>_<percent> of a shipped cascade")
    parser.add_argument("--dataset_dir", default=None, help="where the phantom is written (or found, if complete)")
    args = parser.parse_args()
    mask_type, percent = args.mask.split("_")
    config = ConfigParser()
    config.read_config([os.path.join(REPO, "configs", "csmri.json"),
                        os.path.join(REPO, "configs", "csmri_varied_data.json"),
                        os.path.join(REPO, "bundles", "cascade_csmri", "configs", "common.json")])  # fmt: skip
    subjects = args.subjects or config["num_subjects"]["test"]
    folder = args.dataset_dir or tempfile.mkdtemp(prefix="varied_test_")
    # subject i of a split depends only on the seed, the split and i: these are the bundle's own test subjects
    config.update({"bundle_root": os.path.join(REPO, "bundles", "cascade_csmri"), "device_name": "cpu",
                   "dataset_dir": folder,
                   "num_subjects": {"training": 0, "validation": 0, "test": subjects, "test_ood": 0}})  # fmt: skip
    by_subject: dict[str, list[dict]] = {}
    for item in load_decathlon_datalist(config.get_parsed_content("datalist"), data_list_key="test"):
        by_subject.setdefault(item["subject"], []).append(item)
    items = []
    for group in by_subject.values():
        items += [group[i] for i in np.linspace(0, len(group) - 1, args.slices).round().astype(int)]
    network = config.get_parsed_content("network_def")
    checkpoint = os.path.join(REPO, "bundles", "cascade_csmri", "models", f"cascade_wide_{args.mask}", "model.pt")
    load_model_weights(network, checkpoint, map_location="cpu", name="checkpoint")
    network.eval()
    spread_net = FlipSpread(network)
    names = list(by_subject)
    uncertainty, error, subject = [], [], []
    with torch.no_grad():
        for item in items:
            target = nib.load(item["image"]).get_fdata().astype(np.float32)
            head = nib.load(item["head_mask"]).get_fdata() > 0.5
            mask = torch.as_tensor(
                np.asarray(default_undersampling_mask(mask_type, int(percent) / 100, target.shape), np.float32)
            )
            kspace = image_to_kspace(torch.as_tensor(target)[None, None]) * mask
            zf = zero_filled(kspace)
            factor = percentile_scale_factor(zf, 99.5)  # inference.json's scaling
            inputs = dict(kspace_masked=kspace * factor, mask=mask[None, None])
            recon = network(zf * factor, **inputs)[0, 0].numpy() / factor
            spread = spread_net(zf * factor, **inputs)[0, 0].numpy() / factor
            uncertainty.append(spread[head])
            error.append(np.abs(recon - target)[head])
            subject.append(np.full(int(head.sum()), names.index(item["subject"])))
    uncertainty, error, subject = np.concatenate(uncertainty), np.concatenate(error), np.concatenate(subject)
    print(f"{cpu_summary()}; {len(items)} test slices ({args.slices} of each of {len(by_subject)} subjects), "
          f"{args.mask}, {uncertainty.size} head pixels; errors in 1e-3 of the image scale "
          "([0, 1] by the head's 99.5th percentile)")  # fmt: skip
    print("| uncertainty of the 8x32 cascade | Spearman | Pearson | mean abs error, 10 % most uncertain (1e-3) | "
          "mean abs error, 10 % least uncertain (1e-3) | mean abs error, all (1e-3) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    print(report("left-right flip spread, all subjects", uncertainty * 1e3, error * 1e3))
    for index, name in enumerate(names):
        here, first = subject == index, by_subject[name][0]
        background = ", zero background" if first["zero_background"] else ""
        label = f"{name} ({first['contrast']}, SNR {first['snr']:.0f}{background})"
        print(report(label, uncertainty[here] * 1e3, error[here] * 1e3))


if __name__ == "__main__":
    main()
