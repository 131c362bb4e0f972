"""Milliseconds per 256x256 slice of each learned method of the dagan_csmri comparison, on this CPU.

Networks: built from ``bundles/dagan_csmri/configs/common.json`` (its one shared definition, so the widths are
the bundle's defaults): DAGAN's U-Net (DAGAN and the pixel-loss U-Net share it), the data-consistency cascade
(Schlemper et al. 2018, https://arxiv.org/abs/1703.00555) and DAGAN-DC. Untrained weights: time does not
depend on them. A cascade costs its blocks plus two FFTs per data-consistency layer.

Inputs: test slices of the default synthetic brain MR data, undersampled with the shipped 1D Gaussian 30 % mask.
Paths: eager fp32 under ``torch.inference_mode``, batch 1 and batch ``--batch``. Columns: median ms per slice over
``--repeats`` rounds after one warm-up call, and the parameter count. :func:`monai_genmed.utils.cpu_summary` (CPU
model, AVX-512/bf16 or AVX2) is printed above the table.

Usage::

    python benchmarks/bench_learned_reconstruction.py               # every method, 3 rounds
    python benchmarks/bench_learned_reconstruction.py --cascades 8  # the cascade with 8 blocks
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time

import torch
from monai.bundle import ConfigParser

from _slices import undersampled_test_slices  # noqa: E402  (sibling module: scripts run from benchmarks/)
from monai_genmed.utils import cpu_summary

COMMON = os.path.join(os.path.dirname(__file__), "..", "bundles", "dagan_csmri", "configs", "common.json")
#: table name -> (network id in common.json, whether the network takes k-space and mask)
METHODS = {
    "DAGAN / U-Net (pixel loss)": ("dagan_generator_def", False),
    "Cascade + DC": ("cascade_def", True),
    "DAGAN-DC": ("dagan_dc_def", True),
}


def ms_per_slice(net: torch.nn.Module, data: dict[str, torch.Tensor], batch: int, takes_kspace: bool, repeats: int) -> float:
    def call(i: int) -> None:
        sl = slice(i, i + batch)
        if takes_kspace:
            net(data["zero_filled"][sl], kspace_masked=data["kspace_masked"][sl], mask=data["mask"][sl])
        else:
            net(data["zero_filled"][sl])

    n = len(data["zero_filled"])
    rounds = []
    with torch.inference_mode():
        call(0)  # warm-up
        for _ in range(repeats):
            start = time.perf_counter()
            for i in range(0, n, batch):
                call(i)
            rounds.append((time.perf_counter() - start) * 1000 / n)
    return statistics.median(rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--cascades", type=int, default=None, help="override the cascade's number of blocks")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--data_dir", default=os.path.join(tempfile.gettempdir(), "monai_genmed_bench", "brain_mr"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sys.stdout.reconfigure(line_buffering=True)
    print(cpu_summary())
    print(f"threads: {torch.get_num_threads()}")
    data = undersampled_test_slices(args.data_dir, args.batch)
    config = ConfigParser()
    config.read_config(COMMON)
    config["device_name"] = "cpu"
    if args.cascades is not None:
        config["cascades"] = args.cascades
    print("\n| method | parameters | ms/slice, batch 1 | ms/slice, batch %d |" % args.batch)
    print("| --- | --- | --- | --- |")
    for name, (net_id, takes_kspace) in METHODS.items():
        net = config.get_parsed_content(net_id).eval()
        params = sum(p.numel() for p in net.parameters())
        one = ms_per_slice(net, data, 1, takes_kspace, args.repeats)
        many = ms_per_slice(net, data, args.batch, takes_kspace, args.repeats)
        print(f"| {name} | {params / 1e3:.0f} k | {one:.1f} | {many:.1f} |")


if __name__ == "__main__":
    main()
