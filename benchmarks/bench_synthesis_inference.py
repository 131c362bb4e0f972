"""Synthetic-CT inference time for one 256x256x180 MR volume, slice by slice, on this machine.

Compares eager fp32 (batch 1, the plain SliceInferer) with the faster paths of
:class:`monai_genmed.inferers.AcceleratedInferer`: batched slices, channels-last, ONNX Runtime (fp32) and bf16
autocast (only run where the CPU has native bf16, and reported with its difference). Every fp32 path must match
eager within 1e-4 of the network's output range. The CPU's capability is printed beside the table.

    python benchmarks/bench_synthesis_inference.py --channels 32 --res_blocks 6 --depth 180
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from monai.inferers import SliceInferer

from monai_genmed.inferers import AcceleratedInferer
from monai_genmed.networks.nets import ResNetGenerator
from monai_genmed.utils import cpu_summary, native_bf16


def time_path(inferer, volume: torch.Tensor, network: torch.nn.Module, repeats: int) -> tuple[float, torch.Tensor]:
    out = inferer(volume, network)  # warm-up (ONNX export, oneDNN kernel choice)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = inferer(volume, network)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out.float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, default=32, help="generator base width (bundle default 32, paper 64)")
    parser.add_argument("--res_blocks", type=int, default=6, help="residual blocks (bundle default 6, paper 9)")
    parser.add_argument("--size", type=int, default=256, help="in-plane size of the volume")
    parser.add_argument("--depth", type=int, default=180, help="slices of the volume")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--batches", type=int, nargs="+", default=[8, 16])
    args = parser.parse_args()

    torch.manual_seed(0)
    network = ResNetGenerator(2, 1, 1, channels=args.channels, num_res_blocks=args.res_blocks).eval()
    volume = torch.rand(1, 1, args.size, args.size, args.depth) * 2 - 1
    print(cpu_summary())
    print(
        f"ResNetGenerator channels={args.channels} res_blocks={args.res_blocks}; "
        f"volume {args.size}x{args.size}x{args.depth}\n"
    )

    def slices(batch: int) -> SliceInferer:
        return SliceInferer(roi_size=(-1, -1), spatial_dim=2, sw_batch_size=batch, progress=False)

    paths = [("eager fp32, batch 1", lambda v, n: _no_grad(slices(1), v, n))]
    for batch in args.batches:
        paths.append((f"channels-last fp32, batch {batch}", AcceleratedInferer(slices(batch), channels_last=True)))
        try:
            paths.append(
                (f"ONNX Runtime fp32, batch {batch}", AcceleratedInferer(slices(batch), backend="onnxruntime"))
            )
        except ImportError as error:
            print(f"(ONNX Runtime left out: {error})")
    if native_bf16():
        paths.append(
            (
                f"channels-last bf16, batch {args.batches[-1]}",
                AcceleratedInferer(slices(args.batches[-1]), dtype="bfloat16"),
            )
        )

    reference = None
    print("| path | s / volume | ms / slice | max abs diff vs eager |")
    print("| --- | --- | --- | --- |")
    for name, inferer in paths:
        seconds, out = time_path(inferer, volume, network, args.repeats)
        if reference is None:
            reference = out
        diff = (out - reference).abs().max().item()
        print(f"| {name} | {seconds:.2f} | {1000 * seconds / args.depth:.1f} | {diff:.2e} |", flush=True)


def _no_grad(inferer: SliceInferer, volume: torch.Tensor, network: torch.nn.Module) -> torch.Tensor:
    with torch.no_grad():
        return inferer(volume, network)


if __name__ == "__main__":
    main()
