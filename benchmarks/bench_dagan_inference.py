"""How fast the DAGAN generator reconstructs a 256x256 slice on this CPU, by execution path.

Networks: :class:`monai_genmed.networks.nets.DAGANGenerator` at the paper's width (Yang et al. 2018,
https://doi.org/10.1109/TMI.2017.2785879: encoder 64..512, decoder 512, 1024, 1024, 1024, 256, 128, 64, 64) and
at the quarter width of the default ``dagan_csmri`` bundle. The quarter-width net loads the bundle's trained
``bundles/dagan_csmri/models/model.pt`` when it exists; otherwise both nets keep their DAGAN initialisation,
and the PSNR columns then only show whether a path changes the output, not how good it is.

Inputs: realistic zero-filled slices, not noise: eight test slices of the default synthetic brain MR data
(:func:`monai_genmed.data.generate_brain_mr_dataset`, written once to ``--data_dir``), undersampled with the
shipped 1D Gaussian mask at 30 % (:func:`monai_genmed.data.default_undersampling_mask`,
:class:`monai_genmed.transforms.kspace.Undersample`).

Paths: eager fp32 batch 1 under ``torch.no_grad`` (the reference) and ``torch.inference_mode``; batch 8;
channels-last; TorchScript freeze + ``optimize_for_inference`` (folds batch norm, prepacks oneDNN weights);
``torch.compile`` (Inductor with ``freezing``, its first call reported as setup time); bfloat16 autocast with and
without channels-last; ONNX Runtime fp32 (legacy TorchScript exporter: ``onnxscript`` is not installed).

Columns: median wall-clock ms per slice over ``--repeats`` interleaved rounds (every path once per round, the
order reversed on alternate rounds, after one warm-up call each) and the fastest round; GFLOP/s from
:class:`torch.utils.flop_counter.FlopCounterMode` (2 FLOPs per multiply-add; convolutions are all of it);
the largest absolute difference from the reference on the same slices; PSNR (dB, data range 1, whole slice)
against the fully sampled slices, and its change from the reference on the same slices (mean, and the worst
slice). A reduced-precision path passes when it loses less than 0.05 dB; an fp32 path when it stays within 1e-4.

Usage::

    python benchmarks/bench_dagan_inference.py                 # paper and eighth (bundle default) width, every path
    python benchmarks/bench_dagan_inference.py --quick         # eighth width, 2 rounds, no torch.compile
    python benchmarks/bench_dagan_inference.py --widths paper --repeats 5
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
from dataclasses import dataclass, field

import torch
from torch.utils.flop_counter import FlopCounterMode

from _slices import undersampled_test_slices  # noqa: E402  (sibling module: scripts run from benchmarks/)
from monai_genmed.metrics import compute_psnr
from monai_genmed.networks.nets import DAGANGenerator
from monai_genmed.utils import cpu_summary, native_bf16

WIDTHS = {
    "paper": {
        "channels": (64, 128, 256, 512, 512, 512, 512, 512),
        "up_channels": (512, 1024, 1024, 1024, 256, 128, 64, 64),
    },
    "quarter": {"channels": (16, 32, 64, 128, 128, 128, 128, 128), "up_channels": (128, 256, 256, 256, 64, 32, 16, 16)},
    # the default dagan_csmri bundle's width (the CPU training budget): its trained model.pt loads here
    "eighth": {"channels": (8, 16, 32, 64, 64, 64, 64, 64), "up_channels": (64, 128, 128, 128, 32, 16, 8, 8)},
}
TRAINED_QUARTER = os.path.join(os.path.dirname(__file__), "..", "bundles", "dagan_csmri", "models", "model.pt")
FP32_TOLERANCE = 1e-4
PSNR_TOLERANCE_DB = 0.05


@dataclass
class InferencePath:
    """One way of running the generator: ``run(x)`` maps a float32 NCHW batch to float32 reconstructions."""

    name: str
    batch: int
    reduced_precision: bool
    run: Callable[[torch.Tensor], torch.Tensor]
    setup_s: float = 0.0
    times: list[float] = field(default_factory=list)
    output: torch.Tensor | None = None


def build_generator(width: str) -> tuple[DAGANGenerator, str]:
    """The generator in eval mode and where its weights come from."""
    torch.manual_seed(0)
    net = DAGANGenerator(spatial_dims=2, in_channels=1, out_channels=1, **WIDTHS[width]).eval()
    source = "DAGAN initialisation (untrained, seed 0)"
    if width in ("quarter", "eighth") and os.path.isfile(TRAINED_QUARTER):
        state = torch.load(TRAINED_QUARTER, map_location="cpu", weights_only=True)
        state = state.get("model", state) if isinstance(state, dict) else state
        try:
            net.load_state_dict(state)
            source = f"trained bundle weights ({os.path.relpath(TRAINED_QUARTER)})"
        except RuntimeError as err:
            source += f"; {os.path.relpath(TRAINED_QUARTER)} did not fit: {str(err).splitlines()[0]}"
    return net, source


def gflop_per_slice(net: torch.nn.Module, x: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        net(x[:1])
    return counter.get_total_flops() / 1e9


def _timed_setup(build: Callable[[], Callable[[torch.Tensor], torch.Tensor]]) -> tuple[Callable, float]:
    start = time.perf_counter()
    run = build()
    return run, time.perf_counter() - start


def _export_onnx(net: torch.nn.Module, x: torch.Tensor, threads: int) -> Callable[[torch.Tensor], torch.Tensor]:
    import onnxruntime as ort

    path = os.path.join(tempfile.mkdtemp(prefix="dagan_onnx_"), "generator.onnx")
    torch.onnx.export(
        net, (x[:1],), path, dynamo=False, input_names=["zero_filled"], output_names=["pred"],
        dynamic_axes={"zero_filled": {0: "batch"}, "pred": {0: "batch"}}, opset_version=17,
    )  # fmt: skip
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return lambda batch: torch.from_numpy(session.run(None, {"zero_filled": batch.numpy()})[0])


def build_paths(net: torch.nn.Module, x: torch.Tensor, batch: int, compile_: bool, bf16: bool) -> list[InferencePath]:
    """Every execution path, ready to time (compilation and export already done, their time recorded)."""
    cl = torch.channels_last
    net_cl = copy.deepcopy(net).to(memory_format=cl)

    def eager(model: torch.nn.Module, mode: Callable, memory_format=torch.contiguous_format, dtype=None):
        def run(batch_: torch.Tensor) -> torch.Tensor:
            with mode(), torch.autocast("cpu", dtype=dtype or torch.bfloat16, enabled=dtype is not None):
                return model(batch_.contiguous(memory_format=memory_format)).float()

        return run

    paths = [
        InferencePath("eager fp32, no_grad (reference)", 1, False, eager(net, torch.no_grad)),
        InferencePath("eager fp32, inference_mode", 1, False, eager(net, torch.inference_mode)),
        InferencePath("channels_last fp32", 1, False, eager(net_cl, torch.inference_mode, cl)),
        InferencePath(f"eager fp32 batch {batch}", batch, False, eager(net, torch.inference_mode)),
        InferencePath(f"channels_last fp32 batch {batch}", batch, False, eager(net_cl, torch.inference_mode, cl)),
    ]

    def jit_frozen():
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(copy.deepcopy(net))))
        run = eager(frozen, torch.inference_mode)
        run(x[:batch])  # the first calls run the profiling executor's optimisation passes
        run(x[:batch])
        return run

    run, setup = _timed_setup(jit_frozen)
    paths.append(InferencePath(f"TorchScript freeze + optimize_for_inference batch {batch}", batch, False, run, setup))

    if compile_:

        def compiled():
            torch._dynamo.reset()
            model = torch.compile(copy.deepcopy(net_cl), options={"freezing": True})
            run = eager(model, torch.inference_mode, cl)
            run(x[:batch])  # compiles
            return run

        run, setup = _timed_setup(compiled)
        name = f"torch.compile (inductor, freezing) channels_last batch {batch}"
        paths.append(InferencePath(name, batch, False, run, setup))

    run, setup = _timed_setup(lambda: _export_onnx(net, x, torch.get_num_threads()))
    paths.append(InferencePath("ONNX Runtime fp32", 1, False, run, setup))
    paths.append(InferencePath(f"ONNX Runtime fp32 batch {batch}", batch, False, run, setup))
    if bf16:
        run = eager(net, torch.inference_mode, dtype=torch.bfloat16)
        paths.append(InferencePath(f"bf16 autocast batch {batch}", batch, True, run))
        run = eager(net_cl, torch.inference_mode, cl, torch.bfloat16)
        paths.append(InferencePath(f"channels_last + bf16 autocast batch {batch}", batch, True, run))
    return paths


def measure(paths: list[InferencePath], x: torch.Tensor, repeats: int) -> None:
    """Warm up every path once, then time ``repeats`` rounds; the order flips each round to spread drift."""
    for path in paths:
        path.output = path.run(x[: path.batch])
    for r in range(repeats):
        for path in paths if r % 2 == 0 else paths[::-1]:
            start = time.perf_counter()
            path.run(x[: path.batch])
            path.times.append(time.perf_counter() - start)


def accuracy(path: InferencePath, reference: torch.Tensor, full: torch.Tensor) -> dict[str, float | bool]:
    """Difference from the reference, PSNR against the fully sampled slices, and whether the path qualifies."""
    n = path.batch
    psnr = compute_psnr(path.output, full[:n], data_range=1.0)
    delta = psnr - compute_psnr(reference[:n], full[:n], data_range=1.0)
    diff = (path.output - reference[:n]).abs().max().item()
    ok = -delta.min().item() < PSNR_TOLERANCE_DB if path.reduced_precision else diff <= FP32_TOLERANCE
    return {
        "diff": diff, "psnr": psnr.mean().item(), "delta_mean": delta.mean().item(),
        "delta_worst": delta.min().item(), "ok": ok,
    }  # fmt: skip


def ms_per_slice(path: InferencePath) -> float:
    return statistics.median(path.times) / path.batch * 1e3


def table(paths: list[InferencePath], reference: torch.Tensor, full: torch.Tensor, gflop: float) -> list[str]:
    rows = [
        "| path | batch | ms/slice median | ms/slice best | GFLOP/s | max abs diff | PSNR dB | ΔPSNR dB mean / worst "
        "| setup s | accuracy |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for path in paths:
        acc, ms = accuracy(path, reference, full), ms_per_slice(path)
        rule = f"ΔPSNR > -{PSNR_TOLERANCE_DB} dB" if path.reduced_precision else f"diff <= {FP32_TOLERANCE:g}"
        rows.append(
            f"| {path.name} | {path.batch} | {ms:.1f} | {min(path.times) / path.batch * 1e3:.1f} | "
            f"{gflop / ms * 1e3:.1f} | "
            f"{acc['diff']:.1e} | {acc['psnr']:.2f} | {acc['delta_mean']:+.3f} / {acc['delta_worst']:+.3f} | "
            f"{path.setup_s:.1f} | {'pass' if acc['ok'] else 'FAIL'} ({rule}) |"
        )
    return rows


def verdicts(width: str, paths: list[InferencePath], reference: torch.Tensor, full: torch.Tensor) -> list[str]:
    """The fastest qualifying fp32 path and the fastest qualifying path overall, against the issue's targets."""
    eligible = [p for p in paths if accuracy(p, reference, full)["ok"]]
    base = ms_per_slice(paths[0])
    lines = []
    for label, pool, target in (
        ("best fp32", [p for p in eligible if not p.reduced_precision], 35.0),
        ("best overall", eligible, 15.0),
    ):
        if not pool:
            lines.append(f"{width}: no path qualifies for {label}")
            continue
        best = min(pool, key=ms_per_slice)
        ms = ms_per_slice(best)
        verdict = "met" if ms <= target else f"missed by {ms / target:.1f}x"
        lines.append(
            f"{width}: {label}: {best.name}: {ms:.1f} ms/slice ({base / ms:.2f}x eager batch 1); "
            f"target {target:g} ms {verdict}"
        )
    return lines


def load_average() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--widths", nargs="+", choices=sorted(WIDTHS), default=["paper", "eighth"])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per path (median reported)")
    parser.add_argument("--batch", type=int, default=8, help="slices per call for the batched paths")
    parser.add_argument("--no_compile", action="store_true", help="skip torch.compile (its first call takes minutes)")
    parser.add_argument(
        "--bf16", choices=("auto", "on", "off"), default="auto",
        help="bf16 autocast paths; auto: every width on CPUs with native bf16, else the quarter width only",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true", help="eighth width (the bundle's CPU default), 2 rounds, no torch.compile"
    )
    parser.add_argument("--data_dir", default=os.path.join(tempfile.gettempdir(), "monai_genmed_bench", "brain_mr"))
    parser.add_argument(
        "--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads (default: all cores)"
    )
    args = parser.parse_args()
    if args.quick:
        args.widths, args.repeats, args.no_compile = ["eighth"], 2, True
    if args.repeats < 1 or args.batch < 1:
        raise ValueError(f"--repeats and --batch must be positive, got {args.repeats} and {args.batch}.")
    torch.set_num_threads(args.threads)
    sys.stdout.reconfigure(line_buffering=True)  # tables appear as each width finishes
    print(cpu_summary())
    print(f"load average before: {load_average()} (on {os.cpu_count()} cores)")
    data = undersampled_test_slices(args.data_dir, args.batch)
    zero_filled, full = data["zero_filled"], data["image"]
    print(f"inputs: {len(zero_filled)} test slices, 1D Gaussian mask 30 %, zero-filled PSNR "
          f"{compute_psnr(zero_filled, full, data_range=1.0).mean().item():.2f} dB")  # fmt: skip
    summary = []
    for width in args.widths:
        net, source = build_generator(width)
        gflop = gflop_per_slice(net, zero_filled)
        with torch.no_grad():  # the reference: eager fp32, one slice at a time
            reference = torch.cat([net(s[None]) for s in zero_filled])
        bf16 = args.bf16 == "on" or args.bf16 == "auto" and (native_bf16() or width in ("quarter", "eighth"))
        paths = build_paths(net, zero_filled, args.batch, compile_=not args.no_compile, bf16=bf16)
        measure(paths, zero_filled, args.repeats)
        print(f"\n### {width} width: {sum(p.numel() for p in net.parameters()) / 1e6:.1f} M parameters, "
              f"{gflop:.2f} GFLOP per 256x256 slice; weights: {source}\n")  # fmt: skip
        print("\n".join(table(paths, reference, full, gflop)))
        if not bf16 and args.bf16 == "auto":
            print("\nbf16 paths skipped: this CPU has no native bf16 (AVX512_BF16/AMX), so they fall back to PyTorch's "
                  "reference convolutions (see the quarter-width table); --bf16 on times them anyway.")  # fmt: skip
        summary.append((width, paths, reference))
    print(f"\nload average after: {load_average()}")
    for width, paths, reference in summary:
        print("\n".join(verdicts(width, paths, reference, full)))


if __name__ == "__main__":
    main()
