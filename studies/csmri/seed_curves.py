"""Validation curves of repeated trainings (several seeds per arm), as one plot and one table.

An ablation such as DAGAN's refinement learning (Yang et al. 2018, Sec. III-B: the generator predicts
``G(x_u) + x_u`` "to speed up convergence and stabilise training") is a claim about the *curve*, not about one
final number, and one run per arm says nothing about the spread between seeds. :func:`compare_seed_curves` reads
each run's ``metrics.csv`` (written by :class:`monai_genmed.handlers.MetricsCSVWriter`), plots every run thinly,
each arm's mean and its min-max band against the number of updates, and summarises each arm: final and best
value (mean +- SD over seeds), the updates until the curve first reaches ``threshold``, how often a validation
score fell by more than ``drop`` from the previous one (instability), and the mean SD between seeds.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from monai_genmed.apps.report import ReportWriter, markdown_table

__all__ = ["compare_seed_curves", "read_curve", "seed_curve_files"]


def read_curve(path: str | os.PathLike, metric: str, x: str = "iteration") -> tuple[np.ndarray, np.ndarray]:
    """``(x, metric)`` of the epochs of ``path`` that have a value of ``metric``.

    Raises:
        FileNotFoundError: naming the file and the training command that writes it.
        ValueError: when the file has no such column or no value of it.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path!r} does not exist: run the training whose --output_dir holds it first.")
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        if metric not in (reader.fieldnames or []) or x not in (reader.fieldnames or []):
            raise ValueError(f"{path!r} has columns {reader.fieldnames}, not {x!r} and {metric!r}.")
        rows = [r for r in reader if r.get(metric) not in (None, "")]
    if not rows:
        raise ValueError(f"{path!r} has no value of {metric!r} yet (no finished validation).")
    return np.array([float(r[x]) for r in rows]), np.array([float(r[metric]) for r in rows])


def seed_curve_files(
    runs_dir: str | os.PathLike, arm_folders: Mapping[str, str], seeds: Sequence[int]
) -> dict[str, list[str]]:
    """The ``arms`` of :func:`compare_seed_curves` for runs kept as ``<runs_dir>/<folder>_seed<seed>/metrics.csv``.

    Args:
        runs_dir: the folder holding one folder per run.
        arm_folders: arm name (the label in the plot and table) -> the folders' prefix.
        seeds: the seeds of every arm.
    """
    return {
        arm: [f"{runs_dir}/{folder}_seed{seed}/metrics.csv" for seed in seeds] for arm, folder in arm_folders.items()
    }


def _summary(
    curves: list[tuple[np.ndarray, np.ndarray]], mode: str, threshold: float | None, drop: float
) -> dict[str, Any]:
    sign = 1.0 if mode == "max" else -1.0
    finals = np.array([y[-1] for _, y in curves])
    bests = np.array([y.max() if mode == "max" else y.min() for _, y in curves])
    reach = []
    for xs, ys in curves:
        hit = np.nonzero(sign * ys >= sign * threshold)[0] if threshold is not None else np.array([])
        reach.append(float(xs[hit[0]]) if hit.size else float("nan"))
    drops = sum(int(np.sum(sign * np.diff(ys) < -drop)) for _, ys in curves)
    n = min(len(y) for _, y in curves)
    spread = float(np.mean(np.std(np.stack([y[:n] for _, y in curves]), axis=0, ddof=1))) if len(curves) > 1 else 0.0
    return {
        "runs": len(curves),
        "final_mean": float(finals.mean()),
        "final_sd": float(finals.std(ddof=1)) if len(curves) > 1 else 0.0,
        "best_mean": float(bests.mean()),
        "best_sd": float(bests.std(ddof=1)) if len(curves) > 1 else 0.0,
        "updates_to_threshold": reach,
        "drops": drops,
        "validations": sum(len(y) - 1 for _, y in curves),
        "mean_seed_sd": spread,
    }


def compare_seed_curves(
    arms: Mapping[str, Sequence[str | os.PathLike]],
    output_dir: str | os.PathLike,
    metric: str = "val_psnr",
    mode: str = "max",
    threshold: float | None = None,
    drop: float = 0.5,
    x: str = "iteration",
    reference: Mapping[str, float] | None = None,
    title: str = "",
    name: str = "seed_curves",
) -> dict[str, dict[str, Any]]:
    """Plot and summarise the validation curves of each arm's runs (one ``metrics.csv`` per seed).

    Args:
        arms: arm name -> the ``metrics.csv`` of each of its runs (same schedule, different seeds).
        output_dir: where ``<name>.png``, ``<name>.csv`` and ``<name>.md`` are written.
        metric: the column to plot, e.g. ``"val_psnr"``.
        mode: ``"max"`` when higher is better, ``"min"`` otherwise.
        threshold: a value of ``metric``; the table gives the updates each run needed to first reach it.
        drop: a fall of more than this between consecutive validations counts as an instability.
        x: the column on the horizontal axis (``"iteration"``: updates of the generator).
        reference: horizontal lines to draw, name -> value (e.g. the zero-filled PSNR).
        title: the plot's title.
        name: the output files' stem.

    Returns:
        arm -> summary (``runs``, ``final_mean``/``final_sd``, ``best_mean``/``best_sd``, ``updates_to_threshold``
        per run, ``drops`` out of ``validations``, ``mean_seed_sd``).
    """
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min', got {mode!r}.")
    if not arms or any(not runs for runs in arms.values()):
        raise ValueError(f"every arm needs at least one metrics.csv, got {dict(arms)}.")
    curves = {arm: [read_curve(p, metric, x) for p in runs] for arm, runs in arms.items()}
    summaries = {arm: _summary(c, mode, threshold, drop) for arm, c in curves.items()}
    report = ReportWriter(output_dir)
    fig = report.new_figure((6.0, 4.0))
    ax = fig.subplots()
    for i, (arm, runs) in enumerate(curves.items()):
        color = f"C{i}"
        n = min(len(y) for _, y in runs)
        xs, ys = runs[0][0][:n], np.stack([y[:n] for _, y in runs])
        for rx, ry in runs:
            ax.plot(rx, ry, color=color, alpha=0.35, linewidth=0.8)
        ax.fill_between(xs, ys.min(0), ys.max(0), color=color, alpha=0.15)
        ax.plot(xs, ys.mean(0), color=color, linewidth=2, label=f"{arm} (mean of {len(runs)}, band: min-max)")
    for j, (ref_name, value) in enumerate((reference or {}).items()):
        ax.axhline(value, color="gray", linestyle=":" if j == 0 else "--", label=ref_name)
    if threshold is not None:
        ax.axhline(threshold, color="black", linewidth=0.6, alpha=0.4)
    ax.set_xlabel("updates" if x == "iteration" else x)
    ax.set_ylabel(f"{metric} (validation)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    report.save_figure(fig, f"{name}.png", dpi=110)

    header = ["arm", "runs", "final", "best", "updates to threshold", f"drops > {drop:g}", "mean SD between seeds"]
    rows = []
    for arm, s in summaries.items():
        reach = ", ".join("never" if np.isnan(r) else str(int(r)) for r in s["updates_to_threshold"])
        rows.append([arm, s["runs"], f"{s['final_mean']:.2f} +- {s['final_sd']:.2f}",
                     f"{s['best_mean']:.2f} +- {s['best_sd']:.2f}", reach if threshold is not None else "-",
                     f"{s['drops']} of {s['validations']}", f"{s['mean_seed_sd']:.2f}"])  # fmt: skip
    report.write_csv(f"{name}.csv", [dict(zip(header, r)) for r in rows])
    lines = [f"{metric} on the validation split; threshold {threshold}." if threshold is not None else f"{metric}.", ""]
    report.write_markdown(f"{name}.md", lines + markdown_table(header, rows))
    return summaries
