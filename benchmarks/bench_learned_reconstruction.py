"""Milliseconds per 256x256 slice of each learned method of the dagan_csmri comparison, on this CPU, per path.

Networks: built from ``configs/csmri.json`` (the CS-MRI bundles' one shared definition, so the widths are
the bundle's defaults): DAGAN's U-Net (DAGAN and the pixel-loss U-Net share it), the data-consistency cascade
(Schlemper et al. 2018, https://arxiv.org/abs/1703.00555) and DAGAN-DC. Untrained weights unless ``--weights``
gives a trained ``model.pt``: time does not depend on them, the bf16 PSNR change does. A cascade costs its
blocks plus two FFTs per data-consistency layer.

Inputs: test slices of the default synthetic brain MR data, undersampled with the shipped 1D Gaussian 30 % mask.
Paths, each the median ms per slice over ``--repeats`` interleaved rounds after one warm-up call: eager fp32
under ``torch.inference_mode`` at batch 1 and batch ``--batch``; at batch ``--batch``, through
:class:`monai_genmed.inferers.AcceleratedInferer`, channels-last fp32, channels-last bf16 autocast (only on CPUs
with native bf16, :func:`monai_genmed.utils.native_bf16`; elsewhere it runs on slow reference kernels) and ONNX
Runtime fp32 (networks that take the zero-filled image alone). Then the path ``backend="auto"`` picks from its
own measurement on the same batch, the bf16 output's agreement with fp32 (PSNR, fp32 output's range) that the
pick is judged by, the mean and worst over slices of PSNR(bf16) - PSNR(fp32) against the fully sampled slices
(data range 1, as the comparison scores), and the largest correlation, over slices, of the bf16 perturbation
(bf16 - fp32) with the fp32 reconstruction's error (fp32 - ground truth), which sets how much agreement the
0.05 dB rule needs (``AcceleratedInferer``'s ``min_agreement_db``). :func:`monai_genmed.utils.cpu_summary`
(CPU model, AVX-512/bf16 or AVX2) is printed above the table.

Usage::

    python benchmarks/bench_learned_reconstruction.py               # every method, 3 rounds
    python benchmarks/bench_learned_reconstruction.py --cascades 8  # the cascade with 8 blocks
    python benchmarks/bench_learned_reconstruction.py --cascades 8 --cascade_channels 32  # the wide cascade
    python benchmarks/bench_learned_reconstruction.py --flip_ensemble  # also each network in a FlipEnsemble
    python benchmarks/bench_learned_reconstruction.py --weights dagan_generator_def=models/model.pt
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import torch
from monai.bundle import ConfigParser

from _slices import undersampled_test_slices  # noqa: E402  (sibling module: scripts run from benchmarks/)
from monai_genmed.handlers.model_loader import load_model_weights
from monai_genmed.inferers import AcceleratedInferer
from monai_genmed.inferers.accelerated import TORCH_BF16
from monai_genmed.metrics import compute_psnr
from monai_genmed.networks.nets import FlipEnsemble
from monai_genmed.utils import cpu_summary, native_bf16

__all__ = ["METHODS", "ms_per_slice", "main"]

COMMON = os.path.join(os.path.dirname(__file__), "..", "configs", "csmri.json")
#: table name -> (network id in common.json, whether the network takes k-space and mask)
METHODS = {
    "DAGAN / U-Net (pixel loss)": ("dagan_generator_def", False),
    "Cascade + DC": ("cascade_def", True),
    "DAGAN-DC": ("dagan_dc_def", True),
}
Run = Callable[[slice], Any]


def caller(net: torch.nn.Module, data: dict[str, torch.Tensor], takes_kspace: bool,
           inferer: AcceleratedInferer | None = None) -> Run:  # fmt: skip
    """A function of a slice range that runs ``net`` (through ``inferer`` if given) on those slices."""

    def run(sl: slice) -> Any:
        extra = {"kspace_masked": data["kspace_masked"][sl], "mask": data["mask"][sl]} if takes_kspace else {}
        x = data["zero_filled"][sl]
        return net(x, **extra) if inferer is None else inferer(x, net, **extra)

    return run


def ms_per_slice(paths: dict[str, tuple[Run, int]], n: int, repeats: int) -> dict[str, float]:
    """Median ms per slice of each ``(run, batch)`` path over ``repeats`` rounds of ``n`` slices, interleaved so
    that a change of the machine's load hits every path alike, after one warm-up call each."""
    rounds: dict[str, list[float]] = {name: [] for name in paths}
    with torch.inference_mode():
        for run, batch in paths.values():
            run(slice(0, batch))  # warm-up (ONNX export, oneDNN primitives)
        for _ in range(repeats):
            for name, (run, batch) in paths.items():
                start = time.perf_counter()
                for i in range(0, n, batch):
                    run(slice(i, i + batch))
                rounds[name].append((time.perf_counter() - start) * 1000 / n)
    return {name: statistics.median(r) for name, r in rounds.items()}


def outputs(run: Run, n: int, batch: int) -> torch.Tensor:
    """``run`` over all ``n`` slices, float32."""
    with torch.inference_mode():
        return torch.cat([torch.as_tensor(run(slice(i, i + batch))).float() for i in range(0, n, batch)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--cascades", type=int, default=None, help="override the cascade's number of blocks")
    parser.add_argument(
        "--cascade_channels", type=int, default=None, help="override the cascade's filters per convolution"
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--flip_ensemble", action="store_true", help="also time each network in a FlipEnsemble")
    parser.add_argument("--data_dir", default=os.path.join(tempfile.gettempdir(), "monai_genmed_bench", "brain_mr"))
    parser.add_argument(
        "--weights", action="append", default=[], metavar="NETWORK_ID=PATH",
        help="trained weights for a network, e.g. cascade_def=models/cascade/model.pt (repeatable)",
    )  # fmt: skip
    args = parser.parse_args()
    weights = {}
    for item in args.weights:
        net_id, sep, path = item.partition("=")
        if not sep or net_id not in {v[0] for v in METHODS.values()}:
            ids = ", ".join(v[0] for v in METHODS.values())
            parser.error(f"--weights {item!r}: give NETWORK_ID=PATH with NETWORK_ID one of {ids}.")
        weights[net_id] = path
    torch.set_num_threads(args.threads)
    sys.stdout.reconfigure(line_buffering=True)
    print(cpu_summary())
    print(f"threads: {torch.get_num_threads()}; load average before: {os.getloadavg()[0]:.1f}")
    data = undersampled_test_slices(args.data_dir, args.batch)
    n, b = len(data["zero_filled"]), args.batch
    config = ConfigParser()
    config.read_config(COMMON)
    config["device_name"] = "cpu"
    if args.cascades is not None:
        config["cascades"] = args.cascades
    if args.cascade_channels is not None:
        config["cascade_channels"] = args.cascade_channels
    bf16 = native_bf16()
    print(
        f"\n| method | parameters | weights | eager fp32, batch 1 | eager fp32, batch {b} "
        f"| channels-last fp32, batch {b} | bf16 autocast, batch {b} | ONNX Runtime fp32, batch {b} "
        '| `backend="auto"` picks | bf16 agreement with fp32, dB | ΔPSNR bf16 vs fp32, dB (mean / worst) '
        "| max abs correlation of bf16 error with fp32 error |"
    )
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    for name, (net_id, takes_kspace) in METHODS.items():
        net = config.get_parsed_content(net_id, instantiate=True)
        if net_id in weights:
            load_model_weights(net, weights[net_id], name=f"--weights {net_id}")
        net = net.eval()
        variants = [(name, net)]
        if args.flip_ensemble:  # the same weights averaged over four flips: four network calls per slice
            variants.append((f"{name}, flip ensemble", FlipEnsemble(net)))
        for name, net in variants:  # noqa: B020 (the row's name and network)
            params = sum(p.numel() for p in net.parameters())
            fast = copy.deepcopy(net)  # AcceleratedInferer makes the weights channels-last: keep eager's as they are
            paths: dict[str, tuple[Run, int]] = {
                "eager 1": (caller(net, data, takes_kspace), 1),
                "eager b": (caller(net, data, takes_kspace), b),
                "cl fp32": (caller(fast, data, takes_kspace, AcceleratedInferer(backend="torch")), b),
            }
            if bf16:
                paths["bf16"] = (caller(fast, data, takes_kspace, AcceleratedInferer(dtype="bfloat16")), b)
            if not takes_kspace:
                paths["onnx"] = (caller(fast, data, takes_kspace, AcceleratedInferer(backend="onnxruntime")), b)
            ms = ms_per_slice(paths, n, args.repeats)
            auto = AcceleratedInferer(backend="auto", timing_repeats=args.repeats)
            auto_net = copy.deepcopy(net)  # kept alive: auto's decisions live as long as their network
            outputs(caller(auto_net, data, takes_kspace, auto), b, b)  # one batch: auto measures on it
            choice = next(c for s, c in auto.choices.items() if s.shape[0] == b)
            agreement, delta, correlation = "n/a", "n/a: no native bf16", "n/a"
            if bf16:
                agreement = choice["agreement_db"].get(TORCH_BF16)
                agreement = "failed" if agreement is None else f"{agreement:.1f}"
                target = data["image"]
                fp32, half = outputs(paths["cl fp32"][0], n, b), outputs(paths["bf16"][0], n, b)
                change = compute_psnr(half, target, data_range=1.0) - compute_psnr(fp32, target, data_range=1.0)
                reference = float(compute_psnr(fp32, target, data_range=1.0).mean())
                delta = f"{float(change.mean()):+.4f} / {float(change.min()):+.4f} (fp32 {reference:.2f})"
                error, perturbation = (fp32 - target).flatten(1).double(), (half - fp32).flatten(1).double()
                rho = (error * perturbation).sum(1) / (error.norm(dim=1) * perturbation.norm(dim=1)).clamp_min(1e-30)
                correlation = f"{float(rho.abs().max()):.3f}"

            def cell(path: str, missing: str, ms: dict[str, float] = ms) -> str:
                return f"{ms[path]:.1f}" if path in ms else missing

            trained = "trained" if net_id in weights else "untrained"
            print(
                f"| {name} | {params / 1e3:.0f} k | {trained} | {ms['eager 1']:.1f} "
                f"| {ms['eager b']:.1f} | {ms['cl fp32']:.1f} | {cell('bf16', 'n/a: no native bf16')} "
                f"| {cell('onnx', 'n/a: takes k-space')} | {choice['path']} | {agreement} | {delta} | {correlation} |"
            )


if __name__ == "__main__":
    main()
