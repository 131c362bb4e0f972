"""The lecture's GAN claims measured on `gan_mri`: rows of settings x seeds, read at equal cost.

Each (row, seed) is the bundle's own training (``python -m monai.bundle run`` with the row's overrides) in its own
folder ``<runs_dir>/<row>/seed<k>``; a killed run resumes from its checkpoint, a finished one is not trained again.
What a run leaves that the report needs is small and goes to ``<results_dir>/<row>/seed<k>.json`` (the
:class:`~monai_genmed.handlers.GANMonitor` curves, stop reason, training CPU and wall seconds, iterations and
generator updates) and ``seed<k>_samples.png`` (16 fixed-latent samples of the run's best model): commit them, and
the table and figures are rebuilt on any machine (``--report_only``), with rows still to run marked so.

The table gives, per row, the median and the range over its seeds of: the best epoch's FD and its diversity, FD and
diversity at equal generator updates and at equal training CPU time (each row read at the last epoch within the
budget), D's accuracy in the first and last epoch, the generator's gradient norm in the first and last epoch (the
vanishing-gradient claim), the CPU time, and how many runs a stop rule ended.

Command (repository root)::

    python -m studies.gan_losses.compare --rows studies/gan_losses/rows.json
    python -m studies.gan_losses.compare --rows studies/gan_losses/rows.json --only non_saturating --seeds 1
    python -m studies.gan_losses.compare --rows studies/gan_losses/rows.json --report_only
"""

from __future__ import annotations

import argparse
import glob
import json
import math
import os
import re
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from monai_genmed.apps.report import ReportWriter, markdown_table
from monai_genmed.handlers.latent_figures import image_grid
from monai_genmed.utils import cpu_summary
from monai_genmed.utils.io import atomic_path

__all__ = ["cli_value", "latest_checkpoint", "read_at", "summarize_run", "aggregate", "write_report", "main"]

FD, DIV, ACC, GRAD = "gan_fd", "gan_diversity", "gan_d_accuracy", "gan_g_grad_norm"
CPU, WALL = "gan_cpu_seconds", "gan_wall_seconds"


def cli_value(value: Any) -> str:
    """A config value as ``monai.bundle run`` reads it on its command line (``None``, ``True``, JSON lists)."""
    if value is None or isinstance(value, bool):
        return str(value)
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value)
    return str(value)


def latest_checkpoint(run_dir: str) -> str | None:
    """The newest ``checkpoint_epoch=N.pt`` of a run folder (``models/checkpoints``), or None."""
    files = glob.glob(os.path.join(run_dir, "models", "checkpoints", "checkpoint_epoch=*.pt"))
    epoch = lambda f: int(re.search(r"epoch=(\d+)", f).group(1))  # noqa: E731
    return max(files, key=epoch) if files else None


def read_at(epochs: Mapping[str, Sequence[Any]], key: str, budget: float, value: str = FD) -> tuple[int, Any] | None:
    """``(epoch, epochs[value])`` at the last epoch whose ``epochs[key]`` is within ``budget``, or None if the run
    never got there (its first epoch already cost more) or did not reach the budget (it stopped before it)."""
    costs = epochs.get(key) or []
    inside = [i for i, c in enumerate(costs) if c is not None and c <= budget * (1 + 1e-9)]
    if not inside or (costs[-1] is not None and costs[-1] < budget * 0.999 and inside[-1] == len(costs) - 1):
        return None  # no epoch within the budget, or the run ended before spending it
    i = inside[-1]
    return int(epochs["epoch"][i]), epochs[value][i]


def summarize_run(run_dir: str, n_critic: int, overrides: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """What the report needs from a finished run: its monitor's curves and counters, from the last checkpoint."""
    path = latest_checkpoint(run_dir)
    if path is None:
        raise FileNotFoundError(f"{run_dir}: no checkpoint in models/checkpoints; train the run first.")
    state = torch.load(path, map_location="cpu", weights_only=True)
    trainer, monitor = state["trainer"], state["gan_monitor"]
    epochs = {k: list(v) for k, v in monitor["history"]["epoch"].items()}
    epoch_length = int(trainer["epoch_length"])
    epochs["generator_steps"] = [int(e) * epoch_length // n_critic for e in epochs["epoch"]]
    iteration = monitor["history"]["iteration"]
    keep = max(1, len(iteration.get("iteration", [])) // 200)  # about 200 points a curve
    return {
        "seed": seed,
        "overrides": dict(overrides),
        "iterations": int(trainer["iteration"]),
        "epoch_length": epoch_length,
        "n_critic": n_critic,
        "generator_steps": int(trainer["iteration"]) // n_critic,
        "stop_reason": monitor.get("stop_reason"),
        "cpu_seconds": monitor.get("cpu_seconds"),
        "wall_seconds": monitor.get("wall_seconds"),
        "diversity_real": monitor.get("diversity_real"),
        "epoch": epochs,
        "iteration": {k: list(v)[::keep] for k, v in iteration.items()},
    }


def _best(
    epochs: Mapping[str, Sequence[Any]], margin: float | None = None, diversity_real: float | None = None
) -> tuple[int, float, float] | None:
    """``(epoch, FD, diversity)`` of the epoch the bundle keeps as ``model.pt``: the lowest FD, or with a
    ``select_diversity_margin`` the lowest FD among the epochs whose diversity is within ``margin`` of the real
    slices' (any epoch only while none is), as ``BestModelSaver(limits=...)`` ranks them."""
    divs = epochs.get(DIV) or [None] * len(epochs.get(FD, []))
    fds = []
    for i, f in enumerate(epochs.get(FD, [])):
        if f is None or not math.isfinite(f):
            continue
        outside = margin is not None and (divs[i] is None or divs[i] - diversity_real > margin)
        fds.append((outside, f, i))
    if not fds:
        return None
    _, fd, i = min(fds)
    return int(epochs["epoch"][i]), float(fd), float(divs[i]) if divs[i] is not None else math.nan


def _spread(values: Sequence[float | None], spec: str) -> str:
    values = [v for v in values if v is not None and math.isfinite(v)]
    if not values:
        return "-"
    if len(values) == 1:
        return format(values[0], spec)
    return f"{format(statistics.median(values), spec)} ({format(min(values), spec)}-{format(max(values), spec)})"


#: the per-seed numbers in the table, in its order, with their format
COLUMNS = (
    ("best_fd", ".1f"), ("best_diversity", ".3f"), ("best_epoch", ".0f"), ("fd_equal_steps", ".1f"),
    ("diversity_equal_steps", ".3f"), ("fd_equal_cpu", ".1f"), ("diversity_equal_cpu", ".3f"),
    ("d_accuracy_first", ".2f"), ("d_accuracy_last", ".2f"), ("g_grad_first", ".3g"), ("g_grad_last", ".3g"),
    ("generator_steps", ".0f"), ("cpu_seconds", ".0f"),
)  # fmt: skip


def aggregate(
    runs: Sequence[Mapping[str, Any]], equal_steps: int, equal_cpu: float, margin: float | None = None
) -> dict[str, Any]:
    """Per-seed numbers of one row and the cells of its table line (median and range over the seeds); ``margin``:
    the row's ``select_diversity_margin`` (its kept epoch is then the best FD among the diverse ones)."""
    per_seed = []
    for r in runs:
        ep = r["epoch"]
        best = _best(ep, margin, r.get("diversity_real"))
        at_steps = read_at(ep, "generator_steps", equal_steps)
        at_steps_div = read_at(ep, "generator_steps", equal_steps, DIV)
        at_cpu = read_at(ep, CPU, equal_cpu) if ep.get(CPU) else None
        at_cpu_div = read_at(ep, CPU, equal_cpu, DIV) if ep.get(CPU) else None
        acc, grad = ep.get(ACC) or [None], ep.get(GRAD) or [None]
        per_seed.append({
            "seed": r["seed"], "best_epoch": best and best[0], "best_fd": best and best[1],
            "best_diversity": best and best[2],
            "fd_equal_steps": at_steps and at_steps[1], "diversity_equal_steps": at_steps_div and at_steps_div[1],
            "fd_equal_cpu": at_cpu and at_cpu[1], "diversity_equal_cpu": at_cpu_div and at_cpu_div[1],
            "d_accuracy_first": acc[0], "d_accuracy_last": acc[-1], "g_grad_first": grad[0], "g_grad_last": grad[-1],
            "cpu_seconds": r.get("cpu_seconds"), "generator_steps": r["generator_steps"],
            "stopped": r.get("stop_reason") is not None,
        })  # fmt: skip
    col = lambda key: [s[key] for s in per_seed]  # noqa: E731
    return {
        "per_seed": per_seed,
        "cells": [", ".join(str(s["seed"]) for s in per_seed)]
        + [_spread(col(key), spec) for key, spec in COLUMNS]
        + [f"{sum(col('stopped'))}/{len(per_seed)}"],
    }


HEADER = (
    "row", "seeds", "best FD", "diversity at best FD", "best epoch", "FD at equal G updates",
    "diversity there", "FD at equal CPU time", "diversity there", "D accuracy, first epoch", "D accuracy, last epoch",
    "G grad norm, first epoch", "G grad norm, last epoch", "G updates", "training CPU s", "stopped by a rule",
)  # fmt: skip


#: the columns the bundle README shows
SHORT = (
    "seeds", "best FD", "diversity at best FD", "FD at equal G updates", "diversity there", "FD at equal CPU time",
    "D accuracy, first epoch", "D accuracy, last epoch", "G grad norm, first epoch", "G grad norm, last epoch",
)  # fmt: skip


class Study:
    """The rows file (``rows.json``) and the folders of one comparison.

    Args:
        rows_file: JSON with ``config_file`` (the bundle's training configs), ``shared_overrides``, ``seeds``,
            ``equal_generator_steps``, ``equal_cpu_seconds``, ``threads`` and ``rows`` (each ``name``, ``label``,
            ``group``, ``overrides`` and optionally ``seeds``, for a row kept at fewer seeds than the file's).
        runs_dir: where the runs train (checkpoints, logs; large, not committed).
        results_dir: where each run's summary and samples, the table and the figures go (small, committed).
    """

    def __init__(self, rows_file: str, runs_dir: str | None = None, results_dir: str | None = None) -> None:
        with open(rows_file, encoding="utf-8") as f:
            spec = json.load(f)
        self.spec = spec
        self.rows = spec["rows"]
        names = [r["name"] for r in self.rows]
        if len(set(names)) != len(names):
            raise ValueError(f"{rows_file}: row names must be unique, got {names}.")
        self.runs_dir = os.path.abspath(runs_dir or spec["runs_dir"])
        self.results_dir = os.path.abspath(results_dir or spec["results_dir"])
        self.seeds = [int(s) for s in spec["seeds"]]

    def run_dir(self, row: Mapping[str, Any], seed: int) -> str:
        return os.path.join(self.runs_dir, row["name"], f"seed{seed}")

    def result_file(self, row: Mapping[str, Any], seed: int) -> str:
        return os.path.join(self.results_dir, row["name"], f"seed{seed}.json")

    def overrides(self, row: Mapping[str, Any], seed: int) -> dict[str, Any]:
        return {**self.spec.get("shared_overrides", {}), **row.get("overrides", {}), "seed": seed,
                "bundle_root": self.run_dir(row, seed)}  # fmt: skip

    def command(self, row: Mapping[str, Any], seed: int) -> list[str]:
        files = "[" + ",".join(repr(f) for f in self.spec["config_file"]) + "]"
        args = [sys.executable, "-m", "monai.bundle", "run", "--config_file", files]
        for key, value in self.overrides(row, seed).items():
            args += [f"--{key}", cli_value(value)]
        return args

    def parser(self, row: Mapping[str, Any], seed: int) -> Any:
        from monai.bundle import ConfigParser

        parser = ConfigParser()
        parser.read_config(list(self.spec["config_file"]))
        for key, value in self.overrides(row, seed).items():
            parser[key] = value
        return parser

    def train(self, row: Mapping[str, Any], seed: int) -> None:
        """Train (or resume) one run in a child process with the study's thread count, then summarize it."""
        folder = self.run_dir(row, seed)
        os.makedirs(folder, exist_ok=True)
        env = dict(os.environ, OMP_NUM_THREADS=str(self.spec.get("threads", 1)))
        command = self.command(row, seed)
        with open(os.path.join(folder, "command.txt"), "w", encoding="utf-8") as f:
            f.write(f"OMP_NUM_THREADS={env['OMP_NUM_THREADS']} " + " ".join(command[1:]) + "\n")
        with open(os.path.join(folder, "log.txt"), "a", encoding="utf-8") as log:
            subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
        self.summarize(row, seed)

    def summarize(self, row: Mapping[str, Any], seed: int) -> dict[str, Any]:
        """Write the run's summary and its samples into ``results_dir``."""
        parser = self.parser(row, seed)
        n_critic = int(parser.get_parsed_content("n_critic"))
        summary = summarize_run(self.run_dir(row, seed), n_critic, row.get("overrides", {}), seed)
        summary["cpu"] = cpu_summary().rsplit("; torch threads", 1)[0]  # the training's threads: "threads"
        summary["threads"] = int(self.spec.get("threads", 1))
        summary["command"] = " ".join(self.command(row, seed)[1:])
        out = self.result_file(row, seed)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
            json.dump(summary, f, indent=1)
        self._samples(parser, row, seed)
        return summary

    @torch.no_grad()
    def _samples(self, parser: Any, row: Mapping[str, Any], seed: int, count: int = 16) -> None:
        from monai_genmed.data import LatentDataset
        from monai_genmed.handlers.model_loader import load_model_weights

        network = parser.get_parsed_content("network_def")
        model = os.path.join(self.run_dir(row, seed), "models", "model.pt")
        load_model_weights(network, model, fingerprint=parser.get_parsed_content("fingerprint"))
        network.eval()
        latents = LatentDataset(count, int(parser.get_parsed_content("latent_size")), seed=1234).latents
        grid = image_grid(network(latents).float(), ncols=4)
        path = os.path.join(self.results_dir, row["name"], f"seed{seed}_samples.png")
        from PIL import Image

        with atomic_path(path) as tmp:
            Image.fromarray((np.clip(grid, 0, 1) * 255).astype(np.uint8)).save(tmp, format="PNG")

    def row_seeds(self, row: Mapping[str, Any]) -> list[int]:
        """The seeds a row trains by default: its own ``seeds`` if it names them, else the file's."""
        return [int(s) for s in row.get("seeds", self.seeds)]

    def queue(self, only: Sequence[str] | None = None, seeds: Sequence[int] | None = None) -> list[tuple[dict, int]]:
        """Runs without a summary yet, seed by seed (every row's first seed before any row's second).

        ``seeds`` given: exactly those for every chosen row; otherwise each row's own (``row_seeds``).
        """
        unknown = sorted(set(only or ()) - {r["name"] for r in self.rows})
        if unknown:
            raise ValueError(f"--only {unknown}: no such rows; the rows are {[r['name'] for r in self.rows]}.")
        rows = [r for r in self.rows if not only or r["name"] in only]
        pending = [(r, s) for s in (seeds or self.seeds) for r in rows if seeds or s in self.row_seeds(r)]
        return [(r, s) for r, s in pending if not os.path.isfile(self.result_file(r, s))]

    def load(self) -> dict[str, list[dict[str, Any]]]:
        found = {}
        for row in self.rows:
            files = [self.result_file(row, s) for s in self.seeds]
            found[row["name"]] = [json.load(open(f, encoding="utf-8")) for f in files if os.path.isfile(f)]
        return found


def write_report(study: Study) -> str:
    """The table (``table.md``), the curves (``curves.png``) and the sample grids (``samples.png``)."""
    found = study.load()
    spec = study.spec
    steps, cpu = int(spec["equal_generator_steps"]), float(spec["equal_cpu_seconds"])
    lines = [
        f"Rows of `{os.path.relpath(study.results_dir)}`, written by `python -m studies.gan_losses.compare "
        f"--report_only`. Each cell: the median over the seeds, with their range in brackets.",
        "",
        f"Equal G updates: {steps}; equal training CPU time: {cpu:.0f} s (each run read at its last epoch within it;"
        " '-' where a run stopped before). FD: the monitor's, 256 fixed latents (EMA generator) against the 192"
        " default training slices; diversity: MS-SSIM of 256 random pairs, lower is more diverse. 'Best': the epoch"
        " the bundle keeps as model.pt (lowest FD; with a `select_diversity_margin`, lowest FD among the epochs whose"
        " diversity is within the margin of the real slices').",
        "",
    ]
    cells, aggregates = [], {}
    for row in study.rows:
        runs = found[row["name"]]
        if not runs:
            cells.append((row["label"], "not run yet", *["-"] * (len(HEADER) - 2)))
            continue
        margin = row["overrides"].get("select_diversity_margin")
        aggregates[row["name"]] = aggregate(runs, steps, cpu, margin)
        cells.append((row["label"], *aggregates[row["name"]]["cells"]))
    machines = sorted({f"{r['cpu']}; torch threads {r['threads']}" for runs in found.values() for r in runs})
    reals = sorted({round(r["diversity_real"], 3) for runs in found.values() for r in runs if r["diversity_real"]})
    lines += markdown_table(HEADER, cells)
    lines += [
        "",
        f"Real slices' diversity: {', '.join(map(str, reals)) or '-'}.",
        "",
        "Machines: " + "; ".join(machines),
    ]
    writer = ReportWriter(study.results_dir)
    with atomic_path(writer.path("aggregate.json")) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(aggregates, f, indent=1)
    _curves(writer, study, found)
    _sample_grid(writer, study, found)
    short = [(c[0], *(c[HEADER.index(h)] for h in SHORT)) for c in cells]
    writer.write_markdown("table_short.md", markdown_table(("row", *SHORT), short))  # the bundle README's columns
    return writer.write_markdown("table.md", lines)


def _curves(writer: ReportWriter, study: Study, found: Mapping[str, list[dict]]) -> None:
    groups = list(dict.fromkeys(r.get("group", "") for r in study.rows if found[r["name"]]))
    if not groups:
        return
    fig = writer.new_figure((5.0 * len(groups), 13))
    axes = fig.subplots(4, len(groups), squeeze=False)
    for c, group in enumerate(groups):
        for k, row in enumerate(r for r in study.rows if r.get("group", "") == group and found[r["name"]]):
            color = f"C{k}"
            for j, run in enumerate(found[row["name"]]):
                label = row["label"] if j == 0 else None
                ep, it = run["epoch"], run["iteration"]
                axes[0, c].plot(ep["generator_steps"], ep[FD], color=color, marker="o", ms=2, lw=1, label=label)
                g_steps = [i / run["n_critic"] for i in it.get("iteration", [])]
                grads = [v if v and v > 0 else math.nan for v in it.get(GRAD, [])]
                axes[1, c].semilogy(g_steps, grads, color=color, lw=0.8, label=label)
                axes[2, c].plot(g_steps, it.get(ACC, []), color=color, lw=0.8, label=label)
                axes[3, c].plot(ep["generator_steps"], ep[DIV], color=color, marker="o", ms=2, lw=1, label=label)
                if run.get("diversity_real"):
                    axes[3, c].axhline(run["diversity_real"], color="k", lw=0.8, ls="--")
        axes[0, c].set(title=f"{group}: FD (fixed latents)", xlabel="generator updates", yscale="log")
        axes[1, c].set(title=f"{group}: generator gradient norm", xlabel="generator updates")
        axes[2, c].set(title=f"{group}: D accuracy", xlabel="generator updates", ylim=(-0.02, 1.02))
        axes[2, c].axhline(0.5, color="0.6", lw=0.8, ls="--")
        axes[3, c].set(title=f"{group}: MS-SSIM diversity (dashed: real)", xlabel="generator updates", ylim=(0.4, 1.0))
        for ax in axes[:, c]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    writer.save_figure(fig, "curves.png", dpi=80)


def _sample_grid(writer: ReportWriter, study: Study, found: Mapping[str, list[dict]]) -> None:
    from PIL import Image

    panels = []
    for row in study.rows:
        for run in found[row["name"]][:1]:
            path = os.path.join(study.results_dir, row["name"], f"seed{run['seed']}_samples.png")
            if os.path.isfile(path):
                panels.append((f"{row['label']} (seed {run['seed']})", np.asarray(Image.open(path))))
    if panels:
        writer.save_image_panels(panels, "samples.png", value_range=(0, 255))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", default="studies/gan_losses/rows.json", help="the rows file")
    parser.add_argument("--runs_dir", default=None, help="where runs train (default: the rows file's)")
    parser.add_argument("--results_dir", default=None, help="where summaries and the report go")
    parser.add_argument("--only", nargs="*", default=None, help="row names to train (default: all)")
    parser.add_argument("--seeds", nargs="*", type=int, default=None, help="seeds to train (default: the file's)")
    parser.add_argument("--summarize", action="store_true", help="summarize runs trained elsewhere, then report")
    parser.add_argument("--report_only", action="store_true", help="rebuild the report from the summaries")
    args = parser.parse_args(argv)
    study = Study(args.rows, args.runs_dir, args.results_dir)
    if args.summarize:
        for row, seed in study.queue(args.only, args.seeds):
            if latest_checkpoint(study.run_dir(row, seed)):
                study.summarize(row, seed)
    elif not args.report_only:
        for row, seed in study.queue(args.only, args.seeds):
            print(f"training {row['name']} seed {seed} in {study.run_dir(row, seed)}", flush=True)
            study.train(row, seed)
            print(write_report(study), flush=True)
    print(write_report(study))


if __name__ == "__main__":
    main()
