"""Is the cascade's uncertainty map informative? Per-pixel flip spread against per-pixel error on phantom test slices.

The shipped 8x32 cascade (bundles/cascade_csmri) on a few slices of the varied phantom's first test subject (made by
the bundle's own data definition, configs/csmri_varied_data.json), inside the head mask: the uncertainty is the
left-right flip spread that ``inference.json --uncertainty True`` writes (``FlipSpread``), the error that of the
single pass. Spearman and Pearson correlation of uncertainty with |error|, and the mean |error| in the 10 % most and
least uncertain head pixels (pooled over the slices), as benchmarks/sct_uncertainty.py reports the synthetic CT's.

    python benchmarks/reconstruction_uncertainty.py [--slices 6] [--mask poisson2d_20]
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
    parser.add_argument("--slices", type=int, default=6)
    parser.add_argument("--mask", default="poisson2d_20", help="<mask_type>_<percent> of a shipped cascade")
    args = parser.parse_args()
    mask_type, percent = args.mask.split("_")
    config = ConfigParser()
    config.read_config([os.path.join(REPO, "configs", "csmri.json"),
                        os.path.join(REPO, "configs", "csmri_varied_data.json"),
                        os.path.join(REPO, "bundles", "cascade_csmri", "configs", "common.json")])  # fmt: skip
    folder = tempfile.mkdtemp(prefix="varied_test_")
    config.update({"bundle_root": os.path.join(REPO, "bundles", "cascade_csmri"), "device_name": "cpu",
                   "dataset_dir": folder, "num_subjects": {"training": 0, "validation": 0, "test": 1}})  # fmt: skip
    items = load_decathlon_datalist(config.get_parsed_content("datalist"), data_list_key="test")
    items = [items[i] for i in np.linspace(0, len(items) - 1, args.slices).round().astype(int)]
    network = config.get_parsed_content("network_def")
    checkpoint = os.path.join(REPO, "bundles", "cascade_csmri", "models", f"cascade_wide_{args.mask}", "model.pt")
    load_model_weights(network, checkpoint, map_location="cpu", name="checkpoint")
    network.eval()
    spread_net = FlipSpread(network)
    uncertainty, error = [], []
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
    uncertainty, error = np.concatenate(uncertainty), np.concatenate(error)
    print(f"{cpu_summary()}; {len(items)} test slices of subject {items[0].get('subject', '?')}, {args.mask}, "
          f"{uncertainty.size} head pixels; errors in 1e-3 of the image scale "
          "([0, 1] by the head's 99.5th percentile)")  # fmt: skip
    print("| uncertainty of the 8x32 cascade | Spearman | Pearson | mean abs error, 10 % most uncertain (1e-3) | "
          "mean abs error, 10 % least uncertain (1e-3) | mean abs error, all (1e-3) |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    print(report("left-right flip spread", uncertainty * 1e3, error * 1e3))


if __name__ == "__main__":
    main()
