"""Train several generative bundles briefly on the same data and seed, and compare their samples in one table.

The lecture's claims this measures:

- an autoencoder's latent space is not a sampling distribution, a VAE's is: the Fréchet distance (FD) of decoded
  ``z ~ N(0, I)`` to real slices, for both, beside the FD of decoded draws of a Gaussian fitted to the training
  codes (Kingma and Welling 2014, https://arxiv.org/abs/1312.6114);
- the GAN objective decides whether the generator gets a gradient: minimax vs non-saturating (Goodfellow et al.
  2014, https://arxiv.org/abs/1406.2661), WGAN with clipping (Arjovsky et al. 2017,
  https://arxiv.org/abs/1701.07875) and WGAN-GP (Gulrajani et al. 2017, https://arxiv.org/abs/1704.00028), with the
  same networks and number of iterations, and once more after the discriminator was trained alone first (a head
  start, where the minimax generator's gradient vanishes): the generator's gradient norm, FD and D's accuracy over
  the iterations, from :class:`~monai_genmed.handlers.GANMonitor`;
- mode collapse: the MS-SSIM diversity of each model's samples next to that of the real slices (Odena et al.
  2017, https://arxiv.org/abs/1610.09585).

Each run is a bundle's own configs (``monai.bundle``) with overrides, in its own folder below ``output_dir``;
a finished run's numbers are kept in ``<run>/result.json`` and not trained again, so a killed comparison resumes
(an interrupted run itself resumes from its checkpoint). CPU time is the process's user + system time while the run
trained (all threads), wall time and the machine's 15-minute load average beside it (other jobs inflate both);
:func:`monai_genmed.utils.cpu_summary` names the machine.

Command (repository root; results archived in ``bundles/gan_mri/docs/studies/loss_comparison_collapsed.md``)::

    python -m monai.bundle run --config_file studies/gan_collapse/compare.json --output_dir runs/compare \
        --dataset_dir runs/data/brain_mr
"""

from __future__ import annotations

import json
import logging
import math
import os
import resource
import time
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from monai.bundle import ConfigParser

from monai_genmed.apps.report import ReportWriter, format_cell, markdown_table
from monai_genmed.data import LatentDataset
from monai_genmed.handlers.latent_figures import encode_images, fit_gaussian, image_grid
from monai_genmed.handlers.model_loader import load_model_weights
from monai_genmed.metrics.generative import FrechetDistance, ms_ssim_diversity
from monai_genmed.utils import cpu_summary

__all__ = ["GenerativeComparison", "ComparisonRun"]

logger = logging.getLogger(__name__)


class ComparisonRun:
    """One trained model of a :class:`GenerativeComparison`.

    Args:
        name: folder and row name (``"vae"``, ``"wgan_gp_head_start"``).
        config_file: the bundle's training configs, layered in order.
        overrides: config values to set (``{"gan_loss_name": "wasserstein_gp", "epochs": 8}``).
        kind: ``"autoencoder"`` (a network with ``encode_forward``/``decode_forward``, config id ``network``) or
            ``"gan"`` (a generator ``z -> image``, config id ``generator``, and a ``gan_monitor``).
        label: how tables and figures call it (default ``name``).
        group: runs of a group share a curve figure (e.g. ``"no head start"``, ``"D head start"``).
    """

    def __init__(
        self,
        name: str,
        config_file: Sequence[str],
        overrides: Mapping[str, Any] | None = None,
        kind: str = "gan",
        label: str | None = None,
        group: str = "",
    ) -> None:
        if kind not in ("autoencoder", "gan"):
            raise ValueError(f"run {name!r}: kind must be 'autoencoder' or 'gan', got {kind!r}.")
        self.name, self.config_file, self.kind = name, list(config_file), kind
        self.overrides = dict(overrides or {})
        self.label, self.group = label or name, group

    def __repr__(self) -> str:
        return f"ComparisonRun({self.name!r}, kind={self.kind!r}, overrides={self.overrides})"


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class GenerativeComparison:
    """Train the runs, sample each best model on the same latents, and write a table and figures.

    Outputs in ``output_dir``: ``results.json`` (every number), ``comparison.md`` (the table, the CPU, the
    settings), ``ae_vs_vae_samples.png`` (decoded ``N(0, I)`` draws side by side), ``gan_curves.png`` (generator
    gradient norm, FD and D accuracy over the iterations, one column per group), ``gan_samples.png`` and
    ``diversity.png``.

    Args:
        runs: the runs (:class:`ComparisonRun` or their keyword dictionaries).
        output_dir: where runs and results go.
        shared_overrides: overrides of every run (the data folder, the seed, tiny sizes in a test).
        num_samples: samples per model for FD and diversity (the same latents, seed ``sample_seed``, for all).
        sample_seed: seed of those latents.
        diversity_pairs: MS-SSIM pairs per diversity value.
        grid_samples: samples per model in the figures.
        device: where sampling and FD run.
    """

    def __init__(
        self,
        runs: Sequence[ComparisonRun | Mapping[str, Any]],
        output_dir: str,
        shared_overrides: Mapping[str, Any] | None = None,
        num_samples: int = 256,
        sample_seed: int = 1234,
        diversity_pairs: int = 512,
        grid_samples: int = 16,
        device: str | torch.device = "cpu",
    ) -> None:
        self.runs = [r if isinstance(r, ComparisonRun) else ComparisonRun(**r) for r in runs]
        names = [r.name for r in self.runs]
        if len(set(names)) != len(names):
            raise ValueError(f"run names must be unique, got {names}.")
        self.output_dir = os.fspath(output_dir)
        self.shared_overrides = dict(shared_overrides or {})
        self.num_samples, self.sample_seed = int(num_samples), int(sample_seed)
        self.diversity_pairs, self.grid_samples = int(diversity_pairs), int(grid_samples)
        self.device = torch.device(device)
        self.results: dict[str, dict[str, Any]] = {}
        self._samples: dict[str, torch.Tensor] = {}

    # ---- training -------------------------------------------------------------------------------------------
    def _parser(self, run: ComparisonRun) -> ConfigParser:
        parser = ConfigParser()
        parser.read_config(run.config_file)
        overrides = {**self.shared_overrides, **run.overrides, "bundle_root": os.path.join(self.output_dir, run.name)}
        for key, value in overrides.items():
            parser[key] = value
        return parser

    def _train(self, run: ComparisonRun) -> dict[str, Any]:
        folder = os.path.join(self.output_dir, run.name)
        saved = os.path.join(folder, "result.json")
        if os.path.isfile(saved):
            with open(saved) as f:
                logger.info(f"{run.name}: trained before, numbers from {saved}")
                return json.load(f)
        parser = self._parser(run)
        start_cpu, start_wall = _cpu_seconds(), time.perf_counter()
        for section in ("initialize", "run", "finalize"):
            parser.get_parsed_content(section, lazy=True)
        result: dict[str, Any] = {
            "cpu_seconds": round(_cpu_seconds() - start_cpu, 1),
            "wall_seconds": round(time.perf_counter() - start_wall, 1),
            # other jobs on the machine inflate both times (threads wait for cores): keep the load beside them
            "load_average_15min": round(os.getloadavg()[2], 2),
        }
        trainer = parser.get_parsed_content("train#trainer")
        result.update(iterations=int(trainer.state.iteration), epochs=int(trainer.state.epoch))
        groups = {g.name: g for g in trainer.state.step_groups}
        if "g" in groups:
            result["generator_steps"] = sum(1 for i in range(1, trainer.state.iteration + 1) if groups["g"].runs_at(i))
        if run.kind == "gan":
            monitor = parser.get_parsed_content("gan_monitor")
            result["history"] = monitor.history
            result["stop_reason"] = monitor.stop_reason
            result["head_start_steps"] = int(parser.get_parsed_content("head_start_steps"))
            result["n_critic"] = int(parser.get_parsed_content("n_critic"))
        os.makedirs(folder, exist_ok=True)
        with open(saved, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
        return result

    # ---- sampling -------------------------------------------------------------------------------------------
    @torch.no_grad()
    def _evaluate(self, run: ComparisonRun, result: dict[str, Any], fd: FrechetDistance, real: torch.Tensor) -> None:
        parser = self._parser(run)
        net_id = "network" if run.kind == "autoencoder" else "generator"
        network = parser.get_parsed_content(net_id).to(self.device)
        ckpt_dir = parser.get_parsed_content("ckpt_dir")
        fingerprint = parser.get_parsed_content("fingerprint")
        model_file = os.path.join(ckpt_dir, "model.pt")
        load_model_weights(network, model_file, fingerprint=fingerprint, map_location=self.device)
        network.eval()
        decode = network.decode_forward if run.kind == "autoencoder" else network
        dim = int(parser.get_parsed_content("latent_size"))
        prior = LatentDataset(self.num_samples, dim, seed=self.sample_seed).latents
        samples = self._decode(decode, prior)
        self._samples[run.name] = samples[: self.grid_samples]
        result["fd_prior"] = float(fd(samples))
        result["diversity"] = ms_ssim_diversity(samples, num_pairs=self.diversity_pairs)
        if run.kind == "autoencoder":
            loader = parser.get_parsed_content("train#ordered_dataloader")
            codes = encode_images(lambda x: network.encode_forward(x), loader, device=self.device)["codes"]
            mean, covariance = fit_gaussian(codes)
            draws = LatentDataset(self.num_samples, dim, seed=self.sample_seed, mean=mean, covariance=covariance)
            fitted = self._decode(decode, draws.latents)
            result["fd_fitted"] = float(fd(fitted))
            result["code_std"] = float(codes.std(0).mean())
            self._samples[run.name + " (fitted)"] = fitted[: self.grid_samples]
        else:
            epochs = result["history"]["epoch"]
            best = min(range(len(epochs["gan_fd"])), key=lambda i: epochs["gan_fd"][i])
            result["best_epoch"] = int(epochs["epoch"][best])
            result["best_fd_monitor"] = float(epochs["gan_fd"][best])
            last = result["history"]["iteration"]
            result["final_d_accuracy"] = _last_finite(last.get("gan_d_accuracy", []))
            result["final_g_grad_norm"] = _last_finite(last.get("gan_g_grad_norm", []))

    def _decode(self, decode: Any, latents: torch.Tensor) -> torch.Tensor:
        return torch.cat([decode(z.to(self.device)).float().cpu() for z in latents.split(64)])

    # ---- the whole comparison ---------------------------------------------------------------------------------
    def run(self) -> str:
        """Train what is not trained yet, evaluate every run, write the outputs; returns the table's path."""
        os.makedirs(self.output_dir, exist_ok=True)
        for run in self.runs:
            logger.info(f"comparison: training {run.name} ({run.overrides})")
            self.results[run.name] = self._train(run)
        first = self._parser(self.runs[0])
        real = first.get_parsed_content("train#images")
        validation = torch.stack([item["image"].as_tensor() for item in first.get_parsed_content("validate#dataset")])
        fd = FrechetDistance(device=self.device)
        fd.set_reference(real)
        self.reference = {"fd_name": fd.name, "real_diversity": ms_ssim_diversity(real, num_pairs=self.diversity_pairs),
                          "training_slices": int(real.shape[0])}  # fmt: skip
        self.reference["fd_validation_slices"] = float(fd(validation))
        self.reference["validation_slices"] = int(validation.shape[0])
        self._samples["real slices"] = real[: self.grid_samples]
        for run in self.runs:
            self._evaluate(run, self.results[run.name], fd, real)
        with open(os.path.join(self.output_dir, "results.json"), "w") as f:
            runs = {r.name: {"label": r.label, "overrides": r.overrides, **self._numbers(r.name)} for r in self.runs}
            json.dump({"cpu": cpu_summary(), "reference": self.reference, "shared_overrides": self.shared_overrides,
                       "num_samples": self.num_samples, "sample_seed": self.sample_seed, "runs": runs},
                      f, indent=1)  # fmt: skip
        self._figures()
        return self._table()

    def _numbers(self, name: str) -> dict[str, Any]:
        return {k: v for k, v in self.results[name].items() if k != "history"}

    # ---- outputs -----------------------------------------------------------------------------------------------
    def _table(self) -> str:
        ref = self.reference
        lines = [
            f"CPU: {cpu_summary()}",
            "",
            f"{ref['fd_name']}: {self.num_samples} samples of each model (latents seed {self.sample_seed}) against the "
            f"{ref['training_slices']} training slices; MS-SSIM diversity over {self.diversity_pairs} random pairs "
            f"(lower is more diverse); real training slices: {ref['real_diversity']:.3f}.",
        ]
        lines.append(
            f"Real validation slices ({ref['validation_slices']}, unseen subjects) score FD "
            f"{ref['fd_validation_slices']:.1f}: the floor."
        )
        header = (
            "run",
            "FD of z ~ N(0, I) samples",
            "FD, Gaussian fitted to codes",
            "diversity",
            "best epoch (monitor FD)",
            "final D accuracy",
            "final G grad norm",
            "iterations (G steps)",
            "CPU s",
            "wall s",
            "load",
        )
        cells = []
        for run in self.runs:
            r = self.results[run.name]
            best = "-" if "best_epoch" not in r else f"{r['best_epoch']} ({r['best_fd_monitor']:.1f})"
            cells.append(
                (
                    run.label,
                    f"{r['fd_prior']:.1f}",
                    format_cell(r.get("fd_fitted"), ".1f"),
                    f"{r['diversity']:.3f}",
                    best,
                    format_cell(r.get("final_d_accuracy"), ".2f"),
                    format_cell(r.get("final_g_grad_norm"), ".3g"),
                    f"{r['iterations']} ({r.get('generator_steps', r['iterations'])})",
                    f"{r['cpu_seconds']:.0f}",
                    f"{r['wall_seconds']:.0f}",
                    format_cell(r.get("load_average_15min"), ".1f"),
                )
            )
        return ReportWriter(self.output_dir).write_markdown(
            "comparison.md", lines + [""] + markdown_table(header, cells)
        )

    def _figures(self) -> None:
        writer = ReportWriter(self.output_dir)
        autoencoders = [r for r in self.runs if r.kind == "autoencoder"]
        if autoencoders:
            panels = [(r.label + ": decoded z ~ N(0, I)", self._samples[r.name]) for r in autoencoders]
            panels += [(f"{r.label}: Gaussian fitted", self._samples[f"{r.name} (fitted)"]) for r in autoencoders]
            self._grids(panels + [("real slices", self._samples["real slices"])], "ae_vs_vae_samples.png")
        gans = [r for r in self.runs if r.kind == "gan"]
        if not gans:
            return
        panels = [(r.label, self._samples[r.name]) for r in gans] + [("real slices", self._samples["real slices"])]
        self._grids(panels, "gan_samples.png")
        groups = list(dict.fromkeys(r.group for r in gans))
        fig = writer.new_figure((5.5 * len(groups), 9))
        axes = fig.subplots(3, len(groups), squeeze=False)
        for column, group in enumerate(groups):
            for run in (r for r in gans if r.group == group):
                history = self.results[run.name]["history"]
                it = history["iteration"]
                axes[0, column].semilogy(it["iteration"], _positive(it.get("gan_g_grad_norm", [])), label=run.label)
                ep = history["epoch"]
                per_epoch = self.results[run.name]["iterations"] / max(1, self.results[run.name]["epochs"])
                steps = [e * per_epoch for e in ep["epoch"]]
                axes[1, column].plot(steps, ep["gan_fd"], marker="o", ms=3, label=run.label)
                axes[2, column].plot(it["iteration"], it.get("gan_d_accuracy", []), label=run.label)
            axes[0, column].set(title=f"{group}: generator gradient norm", xlabel="iteration")
            axes[1, column].set(title=f"{group}: FD of fixed-latent samples", xlabel="iteration")
            axes[2, column].set(title=f"{group}: discriminator accuracy", xlabel="iteration", ylim=(-0.02, 1.02))
            axes[2, column].axhline(0.5, color="0.6", lw=0.8, ls="--")
            for ax in axes[:, column]:
                ax.legend(fontsize=7)
        fig.tight_layout()
        writer.save_figure(fig, "gan_curves.png", dpi=90)
        fig = writer.new_figure((1.2 * len(gans) + 3, 3.2))
        ax = fig.add_subplot(1, 1, 1)
        ax.bar([r.label for r in gans], [self.results[r.name]["diversity"] for r in gans], color="tab:blue")
        ax.axhline(self.reference["real_diversity"], color="k", ls="--", label="real slices")
        ax.set(ylabel="MS-SSIM between samples (lower: more diverse)", ylim=(0, 1))
        ax.tick_params(axis="x", labelrotation=30, labelsize=7)
        ax.legend(fontsize=8)
        fig.tight_layout()
        writer.save_figure(fig, "diversity.png", dpi=90)

    def _grids(self, panels: Sequence[tuple[str, torch.Tensor]], name: str) -> None:
        grids = [(title, image_grid(images, ncols=4)) for title, images in panels]
        ReportWriter(self.output_dir).save_image_panels(grids, name)


def _last_finite(values: Sequence[float]) -> float | None:
    finite = [v for v in values if v is not None and math.isfinite(v)]
    return float(finite[-1]) if finite else None


def _positive(values: Sequence[float]) -> list[float]:
    return [v if v is not None and math.isfinite(v) and v > 0 else math.nan for v in values]
