"""Synthetic-CT comparison on held-out subjects: learned models, trained paired or unpaired, against the lookup.

Wolterink et al. 2017 (https://arxiv.org/abs/1708.01155) report per-patient MAE in HU inside the head
(unpaired CycleGAN 73.7 +- 2.3 against paired 89.4 +- 6.8, PSNR 32.3 vs 30.6, a paired t-test over six
patients) and explain the gap by the residual misalignment of real MR/CT pairs. This comparison measures that
claim on data where the misalignment is a knob: every model is scored against the *aligned* CT of the test
subjects, per subject, with SynthRAD2023's conventions (:mod:`monai_genmed.metrics.synthetic_ct`), beside the
intensity-to-HU lookup that a model must beat to be worth its cost.
"""

from __future__ import annotations

import csv
import itertools
import logging
import os
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from monai.data import load_decathlon_datalist
from monai.transforms import LoadImage
from tqdm import tqdm

from monai_genmed.apps.baselines.intensity_to_hu import IntensityToHounsfieldMap
from monai_genmed.apps.report import ReportWriter, markdown_table
from monai_genmed.handlers.model_loader import load_model_weights
from monai_genmed.metrics import compute_hounsfield_mae, compute_synthrad_psnr, compute_synthrad_ssim

from .figures import BONE_HU, LOOKUP_NAME, curves_figure, examples_figure, misalignment_figure

__all__ = ["SynthesisComparison", "BONE_HU"]

logger = logging.getLogger(__name__)


class SynthesisComparison:
    """Score synthetic-CT methods per test subject and write the table, t-tests and figures.

    Args:
        datalist: a paired MR/CT datalist file (``generate_head_mr_ct_dataset``) whose ``split`` holds aligned pairs.
        methods: one dict per trained model: ``name``, ``checkpoint`` (a model.pt), ``kind`` (``"paired"`` or
            ``"unpaired"``) and ``misalignment`` (the training pairs' misalignment; ``None`` for unpaired). Optional
            ``scores``: the ``per_subject.csv`` of an earlier evaluation on the same split, used when the checkpoint
            is not there (its rows are marked "archived scores" in the table; ``scores_method`` names the method in
            that file when it differs), so a table and its t-tests can be rebuilt on a clone without the weights.
        network: the generator the checkpoints belong to (built from the bundle's ``network_def``).
        output_dir: where ``results.csv``, ``results.md``, ``per_subject.csv`` and the figures go.
        lookup: the fitted intensity-to-HU map (its row is always in the table), or ``None``.
        hu_window: the network's HU window (``[-1024, 3000]``): output ``network_range`` maps onto it.
        network_range: the network's intensity range (tanh: ``(-1, 1)``).
        device: where the networks run.
        batch_size: slices per forward pass.
        split: the datalist split to score.
        skip_missing: leave out methods whose checkpoint does not exist (logged) instead of failing.
        t_tests: pairs of method names to compare with a paired t-test on per-subject MAE; default every
            unpaired model against every paired one and every model against the lookup.
        curve_metric: the ``metrics.csv`` column plotted per epoch for every method whose dict names its
            ``metrics_csv`` (``validation_curves.png``: has the validation curve flattened?).
    """

    def __init__(
        self,
        datalist: str,
        methods: Sequence[Mapping[str, Any]],
        network: torch.nn.Module,
        output_dir: str,
        lookup: IntensityToHounsfieldMap | None = None,
        hu_window: Sequence[float] = (-1024.0, 3000.0),
        network_range: Sequence[float] = (-1.0, 1.0),
        device: str | torch.device = "cpu",
        batch_size: int = 8,
        split: str = "test",
        skip_missing: bool = True,
        t_tests: Sequence[Sequence[str]] | None = None,
        mr_key: str = "mr",
        ct_key: str = "ct",
        mask_key: str = "body_mask",
        subject_key: str = "subject",
        curve_metric: str = "val_mae",
    ) -> None:
        for i, m in enumerate(methods):
            missing = [k for k in ("name", "checkpoint", "kind") if k not in m]
            if missing:
                raise ValueError(f"methods[{i}] lacks {missing}; each needs name, checkpoint, kind and misalignment.")
            if m["kind"] not in ("paired", "unpaired"):
                raise ValueError(f"methods[{i}] kind must be 'paired' or 'unpaired', got {m['kind']!r}.")
        self.datalist, self.methods, self.network = datalist, [dict(m) for m in methods], network
        self.output_dir, self.lookup = output_dir, lookup
        self.hu_window, self.network_range = tuple(map(float, hu_window)), tuple(map(float, network_range))
        self.device, self.batch_size, self.split, self.skip_missing = (
            torch.device(device),
            batch_size,
            split,
            skip_missing,
        )
        self.t_tests = t_tests
        self.curve_metric = curve_metric
        self.keys = (mr_key, ct_key, mask_key, subject_key)
        self.rows: list[dict[str, Any]] = []
        self.per_subject: list[dict[str, Any]] = []
        self.tests: list[dict[str, Any]] = []

    # ---- data ------------------------------------------------------------------------------------------------
    def _load(self) -> list[dict[str, Any]]:
        mr_key, ct_key, mask_key, subject_key = self.keys
        items = load_decathlon_datalist(self.datalist, data_list_key=self.split)
        if not items:
            raise ValueError(f"the {self.split!r} split of {self.datalist} is empty; generate or list test subjects.")
        loader = LoadImage(image_only=True)
        slices = []
        for item in tqdm(items, desc=f"loading {self.split} slices", unit="slice"):
            slices.append({
                "mr": np.asarray(loader(item[mr_key]), np.float32),
                "ct": np.asarray(loader(item[ct_key]), np.float32),
                "mask": np.asarray(loader(item[mask_key])) > 0,
                "subject": str(item.get(subject_key, "all")),
                "file": os.path.basename(str(item[mr_key])),
            })  # fmt: skip
        return slices

    # ---- predictions -----------------------------------------------------------------------------------------
    def _network_predictions(self, slices: list[dict[str, Any]]) -> list[np.ndarray]:
        (lo, hi), (a, b) = self.network_range, self.hu_window
        self.network.to(self.device).eval()
        out = []
        with torch.no_grad():
            for i in range(0, len(slices), self.batch_size):
                mr = np.stack([s["mr"] for s in slices[i : i + self.batch_size]])[:, None]
                x = torch.from_numpy(mr * (hi - lo) + lo).to(self.device)  # MR in [0, 1] -> network range
                y = self.network(x).float().cpu().numpy()[:, 0]
                out.extend(a + (y - lo) * (b - a) / (hi - lo))  # network range -> HU
        return out

    def _score(
        self, name: str, meta: Mapping[str, Any], slices: list[dict[str, Any]], preds: list[np.ndarray], seconds: float
    ) -> None:
        by_subject: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(slices):
            by_subject[s["subject"]].append(i)
        for subject, index in sorted(by_subject.items()):
            pred = np.stack([preds[i] for i in index], -1)[None, None]
            ct = np.stack([slices[i]["ct"] for i in index], -1)[None, None]
            mask = np.stack([slices[i]["mask"] for i in index], -1)[None, None]
            bone = mask & (ct > BONE_HU)
            ssim = np.mean(
                [
                    float(
                        compute_synthrad_ssim(
                            preds[i][None, None],
                            slices[i]["ct"][None, None],
                            slices[i]["mask"][None, None],
                            spatial_dims=2,
                        )[0]
                    )
                    for i in index
                ]
            )
            self.per_subject.append({
                "method": name, "kind": meta.get("kind", "lookup"), "misalignment": meta.get("misalignment"),
                "subject": subject, "slices": len(index),
                "mae": float(compute_hounsfield_mae(pred, ct, mask)[0]),
                "mae_bone": float(compute_hounsfield_mae(pred, ct, bone)[0]) if bone.any() else float("nan"),
                "psnr": float(compute_synthrad_psnr(pred, ct, mask)[0]),
                "ssim": float(ssim),
            })  # fmt: skip
        self._summarise(name, meta, seconds / len(slices), "scored here")

    def _archived(self, method: Mapping[str, Any]) -> bool:
        """Take ``method``'s per-subject scores from the ``scores`` CSV of an earlier evaluation; False if there
        are none."""
        path = method.get("scores")
        if not path or not os.path.isfile(path):
            return False
        wanted = method.get("scores_method", method["name"])
        with open(path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["method"] == wanted]
        if not rows:
            raise ValueError(
                f"{path} has no per-subject scores of method {wanted!r}; set the method's 'scores_method' to "
                "the name it has in that file's 'method' column."
            )
        for r in rows:
            self.per_subject.append(
                {
                    "method": method["name"],
                    "kind": method["kind"],
                    "misalignment": method.get("misalignment"),
                    "subject": r["subject"],
                    "slices": int(r["slices"]),
                    **{
                        k: float(r[k]) if r[k] not in ("", None) else float("nan")
                        for k in ("mae", "mae_bone", "psnr", "ssim")
                    },
                }
            )
        self._summarise(method["name"], method, float("nan"), f"archived scores ({os.path.basename(path)})")
        return True

    def _summarise(self, name: str, meta: Mapping[str, Any], seconds_per_slice: float, source: str) -> None:
        rows = [r for r in self.per_subject if r["method"] == name]
        summary = {"method": name, "kind": meta.get("kind", "lookup"), "misalignment": meta.get("misalignment"),
                   "subjects": len(rows), "s_per_slice": seconds_per_slice, "source": source}  # fmt: skip
        for key in ("mae", "mae_bone", "psnr", "ssim"):
            values = np.array([r[key] for r in rows], float)
            summary[key], summary[f"{key}_sd"] = (
                float(np.nanmean(values)),
                float(np.nanstd(values, ddof=1)) if len(values) > 1 else 0.0,
            )
        self.rows.append(summary)
        logger.info(f"{name}: MAE {summary['mae']:.1f} +- {summary['mae_sd']:.1f} HU, PSNR {summary['psnr']:.2f} dB")

    # ---- statistics ------------------------------------------------------------------------------------------
    def _t_tests(self) -> None:
        self.tests.extend(paired_t_tests(self.rows, self.per_subject, self.t_tests))

    # ---- output ----------------------------------------------------------------------------------------------
    def _write(self, slices: list[dict[str, Any]], predictions: dict[str, list[np.ndarray]]) -> dict[str, str]:
        writer = ReportWriter(self.output_dir)
        paths = {
            name: writer.write_csv(name, rows)
            for name, rows in (
                ("results.csv", self.rows),
                ("per_subject.csv", self.per_subject),
                ("t_tests.csv", self.tests),
            )
        }
        paths["results.md"] = writer.write_markdown("results.md", self._markdown(slices))
        paths["mae_vs_misalignment.png"] = writer.save_figure(
            misalignment_figure(self.rows), "mae_vs_misalignment.png", dpi=110
        )
        paths["examples.png"] = writer.save_figure(examples_figure(slices, predictions), "examples.png", dpi=100)
        logs = {
            m["name"]: m["metrics_csv"]
            for m in self.methods
            if m.get("metrics_csv") and os.path.isfile(m["metrics_csv"])
        }
        if logs:
            paths["validation_curves.png"] = writer.save_figure(
                curves_figure(logs, self.curve_metric), "validation_curves.png", dpi=110
            )
        return paths

    def _markdown(self, slices: list[dict[str, Any]]) -> list[str]:
        n = self.rows[0]["subjects"] if self.rows else 0
        lines = [
            f"Test split `{self.split}` of `{os.path.relpath(self.datalist)}`: {n} subjects, {len(slices)} slices, "
            "scored against the aligned CT inside the body mask (MAE unclipped; PSNR/SSIM clipped to [-1024, 3000] HU, "
            "data range 4024, SynthRAD2023). Mean +- SD over subjects.",
            "",
        ]
        lines += markdown_table(
            (
                "method",
                "kind",
                "training misalignment",
                "MAE (HU)",
                "MAE bone > 300 HU",
                "PSNR (dB)",
                "SSIM",
                "s/slice",
                "scores",
            ),
            [
                (
                    r["method"],
                    r["kind"],
                    "-" if r["misalignment"] is None else f"{r['misalignment']:g}",
                    f"{r['mae']:.1f} +- {r['mae_sd']:.1f}",
                    f"{r['mae_bone']:.1f} +- {r['mae_bone_sd']:.1f}",
                    f"{r['psnr']:.2f} +- {r['psnr_sd']:.2f}",
                    f"{r['ssim']:.3f} +- {r['ssim_sd']:.3f}",
                    f"{r['s_per_slice']:.3f}",
                    r["source"],
                )
                for r in self.rows
            ],
        )
        if self.tests:
            lines += ["", "Paired t-tests on per-subject MAE (a - b):", ""]
            lines += markdown_table(
                ("a", "b", "subjects", "mean difference (HU)", "t", "p"),
                [
                    (t["a"], t["b"], t["subjects"], f"{t['mean_difference']:.1f}", f"{t['t']:.2f}", f"{t['p']:.3g}")
                    for t in self.tests
                ],
            )
        return lines

    def run(self) -> dict[str, str]:
        """Score every method and the lookup; write the outputs; returns their paths."""
        slices = self._load()
        predictions: dict[str, list[np.ndarray]] = {}
        if self.lookup is not None:
            start = time.perf_counter()
            predictions[LOOKUP_NAME] = [self.lookup(s["mr"]) for s in slices]
            self._score(
                LOOKUP_NAME,
                {"kind": "lookup", "misalignment": None},
                slices,
                predictions[LOOKUP_NAME],
                time.perf_counter() - start,
            )
        for method in self.methods:
            ckpt = method["checkpoint"]
            if not os.path.isfile(ckpt) and self._archived(method):
                logger.warning(
                    f"{method['name']}: {ckpt} does not exist; its per-subject scores come from {method['scores']}."
                )
                continue
            if not os.path.isfile(ckpt) and self.skip_missing:
                logger.warning(
                    f"{method['name']}: {ckpt} does not exist; left out (train it, or drop it from methods)."
                )
                continue
            load_model_weights(self.network, ckpt, map_location=self.device, name=f"{method['name']} checkpoint")
            start = time.perf_counter()
            predictions[method["name"]] = self._network_predictions(slices)
            self._score(method["name"], method, slices, predictions[method["name"]], time.perf_counter() - start)
        self._t_tests()
        return self._write(slices, predictions)


def paired_t_tests(rows: list[dict], per_subject: list[dict], pairs: list | None = None) -> list[dict]:
    """Paired t-tests of the per-subject MAE of method pairs (``pairs``; default: every unpaired method against every
    paired one, and every method against the intensity lookup), over the subjects both methods scored."""
    from scipy import stats

    names = [r["method"] for r in rows]
    kinds = {r["method"]: r["kind"] for r in rows}
    if pairs is None:
        pairs = [(u, p) for u, p in itertools.product(names, names) if kinds[u] == "unpaired" and kinds[p] == "paired"]
        pairs += [(m, LOOKUP_NAME) for m in names if m != LOOKUP_NAME and LOOKUP_NAME in names]
    tests = []
    for a, b in pairs:
        if a not in names or b not in names:
            continue
        va = {r["subject"]: r["mae"] for r in per_subject if r["method"] == a}
        vb = {r["subject"]: r["mae"] for r in per_subject if r["method"] == b}
        common = sorted(set(va) & set(vb))
        if len(common) < 2:
            continue
        x, y = np.array([va[s] for s in common]), np.array([vb[s] for s in common])
        result = stats.ttest_rel(x, y)
        tests.append({"a": a, "b": b, "subjects": len(common), "mean_difference": float(np.mean(x - y)),
                      "t": float(result.statistic), "p": float(result.pvalue)})  # fmt: skip
    return tests
