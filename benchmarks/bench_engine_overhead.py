"""What :class:`monai_genmed.engines.GenerativeAdversarialTrainer` costs over a hand-written DAGAN training loop.

Both runners do exactly the same work per iteration, DAGAN's schedule (Yang et al. 2018,
https://doi.org/10.1109/TMI.2017.2785879) with the ``dagan_csmri`` bundle's parts:

1. generator forward on the zero-filled batch, with gradients;
2. generator step with the discriminator frozen (``requires_grad`` off, on again after): ``zero_grad``,
   :class:`~monai_genmed.losses.DAGANGeneratorLoss` (alpha 15, beta 0.1, gamma 0: no VGG weights offline) on
   ``D(pred)``, backward, Adam step;
3. discriminator step on the detached reconstruction: ``zero_grad``, ``GANLoss("non_saturating").discriminator_loss``
   on ``D(image)`` and ``D(pred)``, backward, Adam step; every loss term read back as a Python float.

Networks: the bundle's quarter-width :class:`~monai_genmed.networks.nets.DAGANGenerator` and its
:class:`~monai_genmed.networks.nets.DAGANDiscriminator`, channels-last, each runner on its own copy with the same
initial weights. Batches are made beforehand and fed from a list, so no data loading is timed.

Timing: per iteration, wall clock and process CPU time (all threads) between consecutive iteration ends (the
engine's ``ITERATION_COMPLETED`` events; the same points in the hand loop); the first iteration of every block
(Adam's state allocation, allocator warm-up) is dropped. The two runners alternate in blocks for ``--rounds``
rounds so that load from other jobs falls on both. On a shared machine the difference of two medians of
multi-second iterations is noisy, so the engine's fixed cost per iteration is measured a second way: the same
comparison with the same layers at 1/8 of the widths, batch 2, a tiny image size (``--tiny_size``) and one
thread, where the compute is small and the engine's own work (Python, on one thread) shows.

Usage::

    python benchmarks/bench_engine_overhead.py            # batch 8, 256x256 (a few minutes on 2 cores)
    python benchmarks/bench_engine_overhead.py --quick    # fewer iterations
    python benchmarks/bench_engine_overhead.py --profile  # also print the cProfile top 25 of a fixed-cost block
"""

from __future__ import annotations

import argparse
import copy
import cProfile
import io
import os
import pstats
import statistics
import time
from collections.abc import Callable

import torch
from ignite.engine import Events

from monai_genmed.engines import GenerativeAdversarialTrainer, PairedAdversarialObjective
from monai_genmed.losses import DAGANGeneratorLoss, GANLoss
from monai_genmed.networks.nets import DAGANDiscriminator, DAGANGenerator

# the dagan_csmri bundle's quarter-width networks (configs/csmri.json, configs/csmri_train.json)
GENERATOR_CHANNELS = (16, 32, 64, 128, 128, 128, 128, 128)
GENERATOR_UP_CHANNELS = (128, 256, 256, 256, 64, 32, 16, 16)
DISCRIMINATOR = {"channels": (16, 32, 64, 128, 256, 512), "head_channels": (256, 128), "residual_channels": 32}
TARGET_OVERHEAD_PERCENT = 5.0
# the fixed-cost run keeps every layer (the engine's per-parameter work) but divides the widths, so compute is small
TINY_WIDTH_DIVISOR = 8

Sample = tuple[float, float]  # (wall s, CPU s) of one iteration


class Setup:
    """Networks, optimizers and losses of one runner; ``copy.deepcopy`` of a template gives equal start weights."""

    def __init__(self, size: int, batch: int, n_batches: int, width_divisor: int = 1) -> None:
        torch.manual_seed(0)
        levels = min(len(GENERATOR_CHANNELS), size.bit_length() - 1)

        def thin(channels: tuple[int, ...]) -> tuple[int, ...]:
            return tuple(max(2, c // width_divisor) for c in channels)

        channels, up_channels = thin(GENERATOR_CHANNELS[:levels]), thin(GENERATOR_UP_CHANNELS[-levels:])
        self.generator = DAGANGenerator(spatial_dims=2, channels=channels, up_channels=up_channels)
        self.generator.to(memory_format=torch.channels_last)
        self.discriminator = DAGANDiscriminator(
            in_shape=(1, size, size), channels=thin(DISCRIMINATOR["channels"]),
            head_channels=thin(DISCRIMINATOR["head_channels"]),
            residual_channels=max(2, DISCRIMINATOR["residual_channels"] // width_divisor),
        )  # fmt: skip
        self.discriminator.to(memory_format=torch.channels_last)
        self.generator_loss = DAGANGeneratorLoss(
            alpha=15.0, beta=0.1, gamma=0.0, pixel="mse", adversarial="non_saturating"
        )
        self.gan_loss = GANLoss("non_saturating")
        image = torch.rand(n_batches, batch, 1, size, size)
        zero_filled = (image + 0.1 * torch.randn_like(image)).clamp(0, 1)
        self.batches = [{"image": i, "zero_filled": z} for i, z in zip(image, zero_filled)]

    def optimizers(self) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
        def adam(net: torch.nn.Module) -> torch.optim.Adam:
            return torch.optim.Adam(net.parameters(), lr=1e-4, betas=(0.5, 0.999))

        return adam(self.generator), adam(self.discriminator)


def _mark(samples: list[Sample], last: list[float]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    samples.append((wall - last[0], cpu - last[1]))
    last[:] = [wall, cpu]


def run_engine(setup: Setup, n_iterations: int) -> list[Sample]:
    """``n_iterations`` iterations of the trainer, as the bundle builds it (without its I/O handlers)."""
    g_opt, d_opt = setup.optimizers()
    objective = PairedAdversarialObjective(
        generator_loss=setup.generator_loss, discriminator_loss=setup.gan_loss.discriminator_loss,
        input_key="zero_filled", target_key="image",
    )  # fmt: skip
    trainer = GenerativeAdversarialTrainer(
        device=torch.device("cpu"), max_epochs=1, train_data_loader=setup.batches, epoch_length=n_iterations,
        generators={"generator": setup.generator}, discriminators={"discriminator": setup.discriminator},
        objective=objective, g_optimizer=g_opt, d_optimizer=d_opt, n_critic=1,
    )  # fmt: skip
    samples: list[Sample] = []
    last = [0.0, 0.0]

    def start(_: GenerativeAdversarialTrainer) -> None:
        last[:] = [time.perf_counter(), time.process_time()]

    trainer.add_event_handler(Events.EPOCH_STARTED, start)
    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda _: _mark(samples, last))
    trainer.run()
    return samples


def run_hand_loop(setup: Setup, n_iterations: int) -> list[Sample]:
    """The same iterations written out by hand."""
    generator, discriminator = setup.generator, setup.discriminator
    g_opt, d_opt = setup.optimizers()
    samples: list[Sample] = []
    last = [time.perf_counter(), time.process_time()]
    for i in range(n_iterations):
        batch = setup.batches[i % len(setup.batches)]
        zero_filled, image = batch["zero_filled"], batch["image"]
        generator.train()
        discriminator.train()
        pred = generator(zero_filled)
        discriminator.requires_grad_(False)
        g_opt.zero_grad(set_to_none=True)
        g_terms = setup.generator_loss(pred, image, discriminator(pred))
        g_terms["total"].backward()
        g_opt.step()
        discriminator.requires_grad_(True)
        pred = pred.detach()
        d_opt.zero_grad(set_to_none=True)
        real_logits, fake_logits = discriminator(image), discriminator(pred)
        d_loss = setup.gan_loss.discriminator_loss(real_logits, fake_logits)
        d_loss.backward()
        d_opt.step()
        logged = {k: float(v.detach()) for k, v in g_terms.items()}
        logged["d_total"] = float(d_loss.detach())
        logged["real_logit"] = float(real_logits.detach().mean())
        logged["fake_logit"] = float(fake_logits.detach().mean())
        _mark(samples, last)
    return samples


def compare(size: int, batch: int, iterations: int, rounds: int, width_divisor: int = 1) -> dict[str, list[Sample]]:
    """Alternate engine and hand-loop blocks of ``iterations`` for ``rounds`` rounds (first iteration dropped)."""
    template = Setup(size, batch, n_batches=min(iterations, 4), width_divisor=width_divisor)
    runners: dict[str, tuple[Setup, Callable[[Setup, int], list[Sample]]]] = {
        "GenerativeAdversarialTrainer": (copy.deepcopy(template), run_engine),
        "hand-written loop": (copy.deepcopy(template), run_hand_loop),
    }
    samples: dict[str, list[Sample]] = {name: [] for name in runners}
    for r in range(rounds):
        order = list(runners) if r % 2 == 0 else list(runners)[::-1]
        for name in order:
            setup, runner = runners[name]
            samples[name] += runner(setup, iterations + 1)[1:]
    return samples


def overhead_rows(label: str, samples: dict[str, list[Sample]]) -> list[str]:
    engine, hand = samples["GenerativeAdversarialTrainer"], samples["hand-written loop"]
    rows = []
    for kind, index in (("wall", 0), ("CPU", 1)):
        e = statistics.median(s[index] for s in engine) * 1e3
        h = statistics.median(s[index] for s in hand) * 1e3
        rows.append(
            f"| {label} | {kind} | {len(engine)} | {e:.2f} | {h:.2f} | {e - h:+.2f} | {100 * (e - h) / h:+.1f} % |"
        )
    return rows


ENGINE_CODE = tuple(
    os.sep + os.path.join(*p, "") for p in (("ignite",), ("monai", "engines"), ("monai_genmed", "engines"))
)


def profile_engine(size: int, batch: int, iterations: int, width_divisor: int) -> tuple[float, str]:
    """cProfile ``iterations`` engine iterations: the engine's own Python time per iteration (ms) and a top-25 table.

    "Own" is the time spent inside the functions of Ignite, MONAI's engines and ``monai_genmed.engines`` themselves,
    not in what they call (networks, losses, optimizers): the cost a hand-written loop would not have. cProfile
    slows Python down, so this is an upper bound.
    """
    setup = Setup(size, batch, n_batches=min(iterations, 4), width_divisor=width_divisor)
    run_engine(copy.deepcopy(setup), 2)  # warm-up outside the profile
    profiler = cProfile.Profile()
    profiler.enable()
    run_engine(setup, iterations)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=io.StringIO())
    own = sum(row[2] for (filename, _, _), row in stats.stats.items() if any(part in filename for part in ENGINE_CODE))
    out = io.StringIO()
    stats.stream = out
    stats.sort_stats("tottime").print_stats(25)
    return 1e3 * own / iterations, out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=256, help="image size (the bundle's 256)")
    parser.add_argument("--batch", type=int, default=8, help="batch size (the bundle's 8)")
    parser.add_argument("--iterations", type=int, default=4, help="timed iterations per block")
    parser.add_argument("--rounds", type=int, default=4, help="blocks per runner, alternating")
    parser.add_argument("--tiny_size", type=int, default=64, help="image size of the fixed-cost measurement")
    parser.add_argument("--tiny_batch", type=int, default=2, help="batch size of the fixed-cost measurement")
    parser.add_argument("--tiny_iterations", type=int, default=100, help="timed iterations per tiny block")
    parser.add_argument("--quick", action="store_true", help="2 iterations x 2 rounds, 40 tiny iterations")
    parser.add_argument("--profile", action="store_true", help="print the cProfile top 25 of a fixed-cost engine block")
    parser.add_argument(
        "--threads", type=int, default=len(os.sched_getaffinity(0)), help="torch threads (default: all cores)"
    )
    args = parser.parse_args()
    if args.quick:
        args.iterations, args.rounds, args.tiny_iterations = 2, 2, 40
    if min(args.size, args.batch, args.iterations, args.rounds, args.tiny_batch, args.tiny_iterations) < 1:
        raise ValueError("--batch, --iterations, --rounds, --tiny_batch and --tiny_iterations must be positive.")
    for name in ("size", "tiny_size"):
        value = getattr(args, name)
        if value < 64 or value & (value - 1):
            raise ValueError(
                f"--{name} must be a power of two >= 64 (the discriminator's six stride-2 levels), got {value}."
            )
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; load average before: {os.getloadavg()}")
    full = compare(args.size, args.batch, args.iterations, args.rounds)
    # one thread: with two OpenMP threads on a loaded machine every small op waits for a descheduled sibling, and
    # those milliseconds would drown the engine's own Python work, which runs on one thread anyway
    torch.set_num_threads(1)
    tiny = compare(args.tiny_size, args.tiny_batch, args.tiny_iterations, args.rounds, TINY_WIDTH_DIVISOR)
    torch.set_num_threads(args.threads)
    print(f"load average after: {os.getloadavg()}\n")
    print("| setting | time | iterations each | engine ms/it | hand loop ms/it | difference ms | overhead |")
    print("|---|---|---:|---:|---:|---:|---:|")
    rows = overhead_rows(f"batch {args.batch}, {args.size}x{args.size}", full)
    tiny_label = f"batch {args.tiny_batch}, {args.tiny_size}x{args.tiny_size}, 1/{TINY_WIDTH_DIVISOR} width, 1 thread"
    rows += overhead_rows(f"{tiny_label} (fixed cost)", tiny)
    print("\n".join(rows))
    hand_ms = statistics.median(s[1] for s in full["hand-written loop"]) * 1e3
    fixed_ms = 1e3 * (
        statistics.median(s[1] for s in tiny["GenerativeAdversarialTrainer"])
        - statistics.median(s[1] for s in tiny["hand-written loop"])
    )
    torch.set_num_threads(1)
    own_ms, report = profile_engine(args.tiny_size, args.tiny_batch, args.tiny_iterations, TINY_WIDTH_DIVISOR)
    torch.set_num_threads(args.threads)
    print(
        f"\nengine fixed cost per iteration: {fixed_ms:+.2f} ms CPU by difference (fixed-cost row), "
        f"{own_ms:.2f} ms in the engine's own Python code (cProfile, an upper bound)"
    )
    worst = max(fixed_ms, own_ms)
    percent = 100 * worst / hand_ms
    verdict = "met" if percent <= TARGET_OVERHEAD_PERCENT else "missed"
    print(
        f"the larger, {worst:.2f} ms, is {percent:.2f} % of a {args.size}x{args.size} batch {args.batch} hand-loop "
        f"iteration ({hand_ms:.0f} ms CPU); target <= {TARGET_OVERHEAD_PERCENT:g} %: {verdict}"
    )
    if args.profile:
        print(report)


if __name__ == "__main__":
    main()
