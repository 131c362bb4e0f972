"""How much of what is reachable on noisy targets each method takes: the noise-free oracle beside a comparison.

The dagan_csmri comparison scores reconstructions against noisy test images. On a noisy slice no method can
predict the noise in the unmeasured k-space, so the lead any method can have over a baseline is limited. This
script makes the noise-free twin of the scored test subjects (``generate_brain_mr_dataset(..., write_clean=True)``
with the scored data's recorded arguments; the scored images are checked to be identical), reconstructs each slice
with :func:`studies.csmri.noise_free_oracle` (the measurements, and elsewhere the expected noisy
image of the noise-free one) and writes, per split, a table of the oracle beside the reference and the learned
methods: ``headroom_<split>.md`` and ``headroom_<split>.csv``.

Usage (after the evaluate_varied tables exist, ``eval/varied_test*/per_slice.csv``)::

    python -m studies.csmri.noise_free_oracle --output_dir bundles/dagan_csmri/docs/results/noise_free_oracle
"""

from __future__ import annotations

import argparse
import csv
import json
import os

from monai_genmed.data import generate_brain_mr_dataset
from monai_genmed.utils.io import write_csv_atomic
from studies.csmri.oracle import oracle_headroom

BUNDLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bundles", "dagan_csmri")


def twin_dataset(datalist: str, output_dir: str, splits: list[str]) -> str:
    """The scored data's test subjects again, with their noise-free images (``"clean"``)."""
    folder = os.path.dirname(os.path.abspath(datalist))
    with open(os.path.join(folder, "generation_parameters.json")) as f:
        parameters = dict(json.load(f)["parameters"])
    counts = parameters.pop("num_subjects")
    all_splits = ("training", "validation", "test", *(["test_ood"] if "test_ood" in counts else []))
    parameters["num_subjects"] = {split: (counts[split] if split in splits else 0) for split in all_splits}
    parameters.pop("write_clean", None)
    return generate_brain_mr_dataset(output_dir, **parameters, write_clean=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datalist", default=os.path.join(BUNDLE, "data", "brain_mr_varied", "datalist.json"))
    parser.add_argument("--splits", nargs="+", default=["test", "test_ood"])
    parser.add_argument("--eval_dir", default=os.path.join(BUNDLE, "eval"), help="holds varied_<split>/per_slice.csv")
    parser.add_argument("--twin_dir", default=os.path.join(BUNDLE, "data", "brain_mr_varied_noise_free_twin"))
    parser.add_argument("--reference", default="BM3D-MRI")
    parser.add_argument("--methods", nargs="+", default=["BM3D-MRI, noise level known", "Cascade + DC (8x32)",
                                                         "Cascade + DC (8x32), flip ensemble"])  # fmt: skip
    parser.add_argument("--output_dir", required=True)
    args = parser.parse_args()
    twin = twin_dataset(args.datalist, args.twin_dir, args.splits)
    for split in args.splits:
        per_slice = os.path.join(args.eval_dir, f"varied_{split}", "per_slice.csv")
        if not os.path.isfile(per_slice):
            raise FileNotFoundError(
                f"{per_slice} does not exist; run evaluate_varied.json with --test_split {split} first."
            )
        with open(per_slice, newline="") as f:
            available = {row["method"] for row in csv.DictReader(f)}
        methods = [m for m in args.methods if any(a == m or a.startswith(m + " (") for a in available)]
        skipped = sorted(set(args.methods) - set(methods))
        if skipped:
            print(f"{split}: not in {per_slice}, left out: {skipped}")
        rows = oracle_headroom(per_slice, args.datalist, twin, split, args.reference, methods,
                               os.path.join(args.output_dir, f"headroom_{split}.md"))  # fmt: skip
        write_csv_atomic(os.path.join(args.output_dir, f"headroom_{split}.csv"), rows)
        print(open(os.path.join(args.output_dir, f"headroom_{split}.md")).read().split("Means over")[1])


if __name__ == "__main__":
    main()
