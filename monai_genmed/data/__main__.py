"""Command line of the default-data generators.

    python -m monai_genmed.data brain_mr --output_dir ./data_cache/brain_mr --snr 30
    python -m monai_genmed.data head_mr_ct --output_dir ./data_cache/head_mr_ct --misalignment 0.5

Every option is the generator's argument of the same name; the datalist's path is printed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence

from monai_genmed.data.brain_mr import generate_brain_mr_dataset
from monai_genmed.data.head_mr_ct import generate_head_mr_ct_dataset


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m monai_genmed.data", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="dataset", required=True)
    brain = commands.add_parser("brain_mr", help=generate_brain_mr_dataset.__doc__.splitlines()[0])
    brain.add_argument("--snr", type=float, default=30.0, help="white-matter SNR; inf for noise-free images")
    pair = commands.add_parser("head_mr_ct", help=generate_head_mr_ct_dataset.__doc__.splitlines()[0])
    pair.add_argument("--misalignment", type=float, default=0.0, help="CT displacement size (0 = aligned)")
    pair.add_argument("--mr_snr", type=float, default=30.0, help="MR white-matter SNR; inf for noise-free")
    pair.add_argument("--ct_noise_hu", type=float, default=12.0, help="CT noise standard deviation in HU")
    for command in (brain, pair):
        command.add_argument("--output_dir", required=True, help="folder to write the dataset into")
        command.add_argument(
            "--num_subjects",
            type=json.loads,
            default=None,
            help='subjects per split as JSON, e.g. \'{"training": 8, "validation": 2, "test": 2}\'',
        )
        command.add_argument("--slices_per_subject", type=int, default=24)
        command.add_argument("--spatial_size", type=int, nargs=2, default=(256, 256), metavar=("H", "W"))
        command.add_argument("--slicing", choices=("axial", "sagittal", "coronal"), default="axial")
        command.add_argument("--seed", type=int, default=0)
        command.add_argument("--spacing", type=float, default=1.0, help="in-plane pixel size in mm")
        command.add_argument("--min_brain_fraction", type=float, default=0.25)
        command.add_argument("--overwrite", action="store_true", help="replace a dataset made with other arguments")
    return parser


def main(argv: Sequence[str] | None = None) -> str:
    arguments = vars(_parser().parse_args(argv))
    generate = {"brain_mr": generate_brain_mr_dataset, "head_mr_ct": generate_head_mr_ct_dataset}[
        arguments.pop("dataset")
    ]
    path = generate(**arguments)
    print(path)
    return path


if __name__ == "__main__":
    main()
