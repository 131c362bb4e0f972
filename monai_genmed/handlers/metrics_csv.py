"""One CSV row per epoch: mean training losses, validation metrics, learning rates and run notes."""

from __future__ import annotations

import csv
import math
import os
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

from ignite.engine import Engine, Events

from monai_genmed.utils.enums import GenerativeKeys
from monai_genmed.utils.io import remove_stale_temporaries, write_csv_atomic

__all__ = ["MetricsCSVWriter"]


def _default_losses(output: Any) -> Mapping[str, float]:
    if isinstance(output, Mapping):
        losses = output.get(GenerativeKeys.LOSSES, output.get("loss"))
        if isinstance(losses, Mapping):
            return losses
        if losses is not None:
            return {"loss": float(losses)}
    return {}


class MetricsCSVWriter:
    """Append one row per epoch to a CSV file, so a run's history survives it and is easy to plot.

    A row holds ``epoch``, ``iteration``, wall-clock ``seconds`` of the epoch, the epoch mean of every training
    loss term (``train_<name>``), the validator's latest metrics (``val_<name>``), each optimizer's learning rate
    (``lr_<name>``) and constant ``notes`` (e.g. whether the perceptual loss was really used). Rows are written
    after every other epoch-end handler (validation included), whatever the order of attachment. On a resumed
    run, rows of epochs that are being trained again are dropped first, so the file never holds an epoch twice.

    Args:
        path: the CSV file.
        validator: the engine whose ``state.metrics`` to record (e.g. the one behind ``ValidationHandler``).
        notes: constant columns, e.g. ``{"perceptual_loss": "off: no VGG16 weights given", "gamma": 0.0}``.
        losses_transform: maps ``engine.state.output`` to ``{name: value}`` of loss terms.
        optimizers: ``{name: optimizer}`` whose learning rates to record; by default the generative trainer's.
    """

    def __init__(
        self,
        path: str,
        validator: Engine | None = None,
        notes: Mapping[str, Any] | None = None,
        losses_transform: Callable[[Any], Mapping[str, float]] = _default_losses,
        optimizers: Mapping[str, Any] | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.validator = validator
        self.notes = dict(notes or {})
        self.losses_transform = losses_transform
        self.optimizers = optimizers
        self._sums: dict[str, float] = defaultdict(float)
        self._counts: dict[str, int] = defaultdict(int)
        self._epoch_start = time.perf_counter()
        self._pruned = False

    def attach(self, engine: Engine) -> None:
        engine.add_event_handler(Events.EPOCH_STARTED, self._start_epoch)
        engine.add_event_handler(Events.ITERATION_COMPLETED, self._accumulate)
        # registered at STARTED, i.e. after every handler attached at construction: runs after validation
        engine.add_event_handler(Events.STARTED, self._register_writer)

    def _register_writer(self, engine: Engine) -> None:
        remove_stale_temporaries(os.path.dirname(os.path.abspath(self.path)))  # a killed run's half-written table
        if not engine.has_event_handler(self._write, Events.EPOCH_COMPLETED):
            engine.add_event_handler(Events.EPOCH_COMPLETED, self._write)

    def _start_epoch(self, engine: Engine) -> None:
        self._sums.clear()
        self._counts.clear()
        self._epoch_start = time.perf_counter()

    def _accumulate(self, engine: Engine) -> None:
        for name, value in self.losses_transform(engine.state.output).items():
            value = float(value)
            if math.isfinite(value):
                self._sums[name] += value
                self._counts[name] += 1

    def _optimizers(self, engine: Engine) -> Mapping[str, Any]:
        if self.optimizers is not None:
            return self.optimizers
        state = engine.state
        found = dict(getattr(state, "optimizers", {}))
        if not found and hasattr(engine, "optimizer"):
            found = {"optimizer": engine.optimizer}
        return found

    def row(self, engine: Engine) -> dict[str, Any]:
        """The row for the epoch that just finished."""
        row: dict[str, Any] = {
            "epoch": engine.state.epoch,
            "iteration": engine.state.iteration,
            "seconds": round(time.perf_counter() - self._epoch_start, 3),
        }
        row.update({f"train_{k}": self._sums[k] / self._counts[k] for k in sorted(self._sums)})
        if self.validator is not None:
            metrics = sorted(self.validator.state.metrics.items())
            row.update({(k if k.startswith("val_") else f"val_{k}"): v for k, v in metrics if _is_scalar(v)})
        for name, opt in self._optimizers(engine).items():
            row[f"lr_{name}"] = opt.param_groups[0]["lr"]
        row.update(self.notes)
        return row

    def _write(self, engine: Engine) -> None:
        row = self.row(engine)
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        rows: list[dict[str, Any]] = []
        if os.path.exists(self.path):
            with open(self.path, newline="") as f:
                rows = list(csv.DictReader(f))
            if not self._pruned:  # a resumed run trains these epochs again
                rows = [r for r in rows if r.get("epoch", "").isdigit() and int(r["epoch"]) < row["epoch"]]
                self._pruned = True
        rows.append(row)
        write_csv_atomic(self.path, rows)


def _is_scalar(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
