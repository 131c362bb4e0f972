"""Where a learned reconstruction loses to a classical one: the margin per class of slices, and the worst slice.

A mean over a test split hides the slices a model was not trained for (an orientation, a contrast, an exactly-zero
background, a noise-free acquisition). :func:`slice_class_margins` joins a comparison's ``per_slice.csv`` with
the datalist's per-slice facts (as :func:`monai_genmed.data.generate_brain_mr_dataset` writes them: ``slicing``,
``contrast``, ``zero_background``, ``snr``) and gives, for each class of slices, the mean PSNR margin of one method
over another and the worst single slice.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from monai.data import load_decathlon_datalist

from monai_genmed.apps.report import ReportWriter, markdown_table

__all__ = ["CLASSICAL_REFERENCES", "margin_tables", "slice_class_margins"]


def _slice_facts(item: dict[str, Any]) -> dict[str, str]:
    snr = item.get("snr")
    noise_free = snr is not None and (isinstance(snr, str) or not math.isfinite(float(snr)))
    return {
        "slicing": str(item.get("slicing", "-")),
        "contrast": str(item.get("contrast", "-")),
        "background": "exactly zero" if item.get("zero_background") else "noisy",
        "noise": "noise-free" if noise_free else "noisy",
    }


def _find(methods: set[str], wanted: str, path: str) -> str:
    hits = sorted(m for m in methods if m == wanted or m.startswith(wanted + " ("))
    if len(hits) != 1:
        raise ValueError(
            f"method {wanted!r} matches {hits or 'nothing'} in {path!r}; the methods there are {sorted(methods)}."
        )
    return hits[0]


def slice_class_margins(
    per_slice_csv: str | os.PathLike,
    datalist: str | os.PathLike,
    split: str,
    method: str,
    reference: str,
    output_path: str | os.PathLike | None = None,
    metrics: Sequence[str] = ("psnr", "psnr_head"),
    override_facts: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Margin of ``method`` over ``reference`` per slice class, for every setting (mask) in ``per_slice_csv``.

    Args:
        per_slice_csv: a :class:`~monai_genmed.apps.reconstruction.ReconstructionComparison` ``per_slice.csv``.
        datalist: the datalist it scored; its ``split`` list gives each slice's facts.
        split: the scored list (``"test"``, ``"test_ood"``).
        method, reference: method names as in the table, or their start before `` (`` (``"Cascade + DC"``,
            ``"TV-CS"``); only slices scored by both count (BM3D's subset when it is the reference).
        output_path: a Markdown file for the table (None: not written).
        metrics: per-slice columns whose margins are reported.
        override_facts: slice facts that hold for every slice of this comparison and override the datalist's, e.g.
            ``{"background": "exactly zero"}`` for a comparison run with ``zero_background_test=True``.

    Returns:
        one row per (setting, class, value): ``n``, the mean margin and the worst slice's margin (and its name)
        of each metric, plus an ``all slices`` row per setting.
    """
    with open(per_slice_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        raise ValueError(f"{per_slice_csv!r} has no rows.")
    facts = {os.path.basename(str(i["image"])): {**_slice_facts(i), **(override_facts or {})}
             for i in load_decathlon_datalist(str(datalist), data_list_key=split)}  # fmt: skip
    out: list[dict[str, Any]] = []
    for setting in dict.fromkeys((r["mask_type"], r["sampling_fraction"]) for r in rows):
        in_setting = [r for r in rows if (r["mask_type"], r["sampling_fraction"]) == setting]
        names = {r["method"] for r in in_setting}
        a, b = _find(names, method, str(per_slice_csv)), _find(names, reference, str(per_slice_csv))
        by_slice = {m: {r["slice"]: r for r in in_setting if r["method"] == m} for m in (a, b)}
        common = [s for s in by_slice[a] if s in by_slice[b]]
        missing = [s for s in common if s not in facts]
        if missing:
            raise ValueError(
                f"slices {missing[:3]} of {per_slice_csv!r} are not in the {split!r} list of {datalist!r}."
            )
        groups: dict[tuple[str, str], list[str]] = {("all slices", ""): common}
        for s in common:
            for key, value in facts[s].items():
                groups.setdefault((key, value), []).append(s)
        for (key, value), slices in groups.items():
            row: dict[str, Any] = {"mask_type": setting[0], "sampling_fraction": float(setting[1]), "method": a,
                                   "reference": b, "class": key, "value": value, "n": len(slices)}  # fmt: skip
            for metric in metrics:
                margins = np.array([float(by_slice[a][s][metric]) - float(by_slice[b][s][metric]) for s in slices])
                worst = int(np.argmin(margins))
                row[f"{metric}_margin"] = float(margins.mean())
                row[f"{metric}_worst"] = float(margins[worst])
                row[f"{metric}_worst_slice"] = slices[worst]
            out.append(row)
    if output_path is not None:
        lines = [f"Margin of `{method}` over `{reference}` (dB, positive: {method} better), split `{split}`, "
                 "per class of slices: mean over the class and the worst single slice.", ""]  # fmt: skip
        header = [
            "mask",
            "fraction",
            "class",
            "value",
            "n",
            *(f"{m} {what}" for m in metrics for what in ("mean", "worst (slice)")),
        ]
        lines += markdown_table(header, [
            (r["mask_type"], f"{r['sampling_fraction']:.0%}", r["class"], r["value"], r["n"],
             *(cell for m in metrics
               for cell in (f"{r[f'{m}_margin']:+.2f}", f"{r[f'{m}_worst']:+.2f} ({r[f'{m}_worst_slice']})")))
            for r in out
        ])  # fmt: skip
        ReportWriter(os.path.dirname(os.path.abspath(output_path))).write_markdown(os.path.basename(output_path), lines)
    return out


#: the classical references of the margin tables: (method name in the comparison's tables, key in ``classical``)
CLASSICAL_REFERENCES = (("TV-CS", "tv"), ("TV-CS, noise level known", "tv_noise"), ("BM3D-MRI", "bm3d"),
                        ("BM3D-MRI, noise level known", "bm3d_noise"))  # fmt: skip


def margin_tables(
    output_dir: str,
    datalist: str | os.PathLike,
    split: str,
    margin_methods: Mapping[str, str],
    learned_methods: Sequence[Mapping[str, Any]],
    classical: Sequence[str],
    override_facts: dict[str, str] | None = None,
    references: Sequence[Sequence[str]] = CLASSICAL_REFERENCES,
) -> list[list[dict[str, Any]]]:
    """:func:`slice_class_margins` of each method of a comparison over each classical reference it ran.

    Reads ``<output_dir>/per_slice.csv`` and writes ``<output_dir>/margins_<key><suffix>.md`` per pair, as
    ``configs/csmri_evaluate_varied.json`` runs after its comparison.

    Args:
        output_dir: the comparison's output folder.
        datalist, split, override_facts: as :func:`slice_class_margins`.
        margin_methods: ``{file suffix: method name}``; a method the comparison did not run (not the ``name`` of
            any of ``learned_methods``) is skipped.
        learned_methods: the comparison's learned methods (dicts with a ``name``).
        classical: the keys of the classical methods the comparison ran; a reference not among them is skipped.
        references: ``(reference name, key)`` pairs, in the order the tables are made.

    Returns:
        the rows of each table, method by method, then reference by reference.
    """
    names = [m["name"] for m in learned_methods]
    return [
        slice_class_margins(
            f"{output_dir}/per_slice.csv",
            datalist,
            split,
            method,
            reference,
            f"{output_dir}/margins_{key}{suffix}.md",
            override_facts=override_facts,
        )  # fmt: skip
        for suffix, method in margin_methods.items()
        if method in names
        for reference, key in references
        if key in classical
    ]
