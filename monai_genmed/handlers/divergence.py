"""Stop a run that is not learning, with an error, instead of letting it "finish" with a useless model.

The trainer already stops on a NaN/inf loss. Two failures pass that check and used to end with exit code 0:
a model that stays worse than the trivial answer (the zero-filled image for reconstruction, a bulk-density map
for synthetic CT), e.g. because the data are in other units than the model expects; and a loss that grows by
orders of magnitude without overflowing (a learning rate far too high). :class:`DivergenceGuard` raises
:class:`TrainingDivergedError` for both; the epoch that tripped it is not checkpointed, so the files on disk are
the last good epoch's checkpoint and the best model so far.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import torch
from ignite.engine import Engine, Events
from ignite.metrics import Metric

from .metrics_csv import _default_losses

__all__ = ["TrainingDivergedError", "DivergenceGuard", "TrivialBaseline"]

logger = logging.getLogger(__name__)


class TrainingDivergedError(RuntimeError):
    """Training stopped because the model got worse than a trivial baseline or its loss exploded."""


class TrivialBaseline:
    """A validation metric of the trivial prediction (the input itself, or ``predict(batch)``), computed once.

    For reconstruction the trivial prediction is the zero-filled input; for MR->CT synthesis it could be a
    bulk-density map (pass ``predict``). The metric is a fresh Ignite metric reading ``(pred, label)`` from a
    dictionary output, e.g. ``MaskedPSNR(data_range=1.0, output_transform=from_engine(["pred", "label"]))``.

    Args:
        metric: the metric (not attached to any other engine).
        input_key: batch key of the trivial prediction (with ``predict=None``).
        target_key: batch key of the reference.
        predict: ``batch -> prediction``, instead of ``batch[input_key]``.
    """

    def __init__(
        self,
        metric: Metric,
        input_key: str = "image",
        target_key: str = "label",
        predict: Callable[[Mapping], Any] | None = None,
    ) -> None:
        self.metric, self.input_key, self.target_key, self.predict = metric, input_key, target_key, predict

    def __call__(self, data_loader: Any) -> float:
        def step(_: Engine, batch: Mapping[str, Any]) -> dict[str, Any]:
            for key in ((self.input_key,) if self.predict is None else ()) + (self.target_key,):
                if key not in batch:
                    raise KeyError(
                        f"TrivialBaseline needs batch key {key!r}; "
                        f"the validation batches hold {sorted(map(str, batch))}."
                    )
            pred = batch[self.input_key] if self.predict is None else self.predict(batch)
            return {"pred": torch.as_tensor(pred).float(), "label": torch.as_tensor(batch[self.target_key]).float()}

        engine = Engine(step)
        self.metric.attach(engine, "baseline")
        # a DataLoader draws its workers' base seed from torch's generator: leave the run's random draws as
        # they would be without this extra pass
        with torch.random.fork_rng(devices=[]):
            engine.run(data_loader)
        return float(engine.state.metrics["baseline"])


class DivergenceGuard:
    """Raise :class:`TrainingDivergedError` when validation stays worse than a trivial baseline, or the loss explodes.

    Attach it to the trainer, first in its handler list (so an exploded epoch is not validated or checkpointed),
    and put it in the checkpointer's ``extra_objects`` (its counters travel with the run).

    Args:
        validator: the engine whose ``state.metrics[metric_name]`` to watch (the one behind ``ValidationHandler``).
        metric_name: the validation metric, e.g. ``"val_psnr"``.
        mode: ``"max"`` when higher is better (PSNR, SSIM), ``"min"`` for errors (NMSE, MAE).
        baseline: the trivial baseline's value of that metric, or a :class:`TrivialBaseline` (computed once on
            the validator's data at the first validation).
        baseline_name: what the baseline is, for the message (``"zero-filled"``).
        patience: validations in a row worse than the baseline before stopping.
        loss_key: the training loss term to watch (``engine.state.output["losses"][loss_key]``), e.g. ``"g_total"``.
        loss_growth: stop when an epoch's mean loss exceeds this factor times the smallest loss of the first
            ``reference_iterations`` iterations.
        reference_iterations: iterations that set the loss reference.
    """

    def __init__(
        self,
        validator: Engine | None = None,
        metric_name: str | None = None,
        mode: str = "max",
        baseline: float | TrivialBaseline | None = None,
        baseline_name: str = "the trivial baseline",
        patience: int = 3,
        loss_key: str | None = "g_total",
        loss_growth: float = 1e3,
        reference_iterations: int = 10,
    ) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}.")
        if patience < 1 or loss_growth <= 1 or reference_iterations < 1:
            raise ValueError(
                f"patience and reference_iterations must be >= 1 and loss_growth > 1, got {patience}, "
                f"{reference_iterations} and {loss_growth}."
            )
        if (validator is None) != (metric_name is None) or (metric_name is not None and baseline is None):
            raise ValueError("watching a validation metric needs validator, metric_name and baseline together.")
        self.validator, self.metric_name, self.mode = validator, metric_name, mode
        self.baseline, self.baseline_name, self.patience = baseline, baseline_name, int(patience)
        self.loss_key, self.loss_growth, self.reference_iterations = (
            loss_key,
            float(loss_growth),
            int(reference_iterations),
        )
        self.baseline_value: float | None = None if isinstance(baseline, TrivialBaseline) else baseline
        self.reference: float | None = None
        self.bad: list[tuple[int, float]] = []  # (epoch, metric) of the validations in a row worse than the baseline
        self._early: list[float] = []
        self._epoch_losses: list[float] = []
        self._trainer: Engine | None = None

    # ---- training loss ------------------------------------------------------------------------------------
    def attach(self, engine: Engine) -> None:
        self._trainer = engine
        if self.loss_key is not None:
            engine.add_event_handler(Events.EPOCH_STARTED, lambda _: self._epoch_losses.clear())
            engine.add_event_handler(Events.ITERATION_COMPLETED, self._record_loss)
            engine.add_event_handler(Events.EPOCH_COMPLETED, self._check_loss)
        if self.validator is not None:
            self.validator.add_event_handler(Events.COMPLETED, self._check_metric)

    def _record_loss(self, engine: Engine) -> None:
        losses = _default_losses(engine.state.output)
        if self.loss_key not in losses:
            return  # e.g. a generator step skipped under n_critic > 1
        value = float(losses[self.loss_key])
        self._epoch_losses.append(value)
        if self.reference is None:
            self._early.append(value)
            if len(self._early) >= self.reference_iterations:
                self.reference = min(abs(v) for v in self._early)

    def _check_loss(self, engine: Engine) -> None:
        if self.reference is None and self._early:
            self.reference = min(abs(v) for v in self._early)
        if not self._epoch_losses or not self.reference:
            return
        mean = sum(self._epoch_losses) / len(self._epoch_losses)
        if abs(mean) > self.loss_growth * self.reference:
            raise TrainingDivergedError(
                f"training diverged in epoch {engine.state.epoch}: the mean {self.loss_key} loss {mean:.4g} is "
                f"{abs(mean) / self.reference:.3g}x its early value {self.reference:.4g} "
                f"(limit {self.loss_growth:g}x). "
                "Lower the learning rate (e.g. --learning_rate 10x smaller) or enable gradient clipping; check that "
                "the inputs are in the range the model expects. This epoch was not checkpointed: the last good "
                "epoch's checkpoint and the best model file are kept (delete the checkpoints to restart with new "
                "settings)."
            )

    # ---- validation metric --------------------------------------------------------------------------------
    def _worse(self, value: float) -> bool:
        if math.isnan(value):
            return True
        return value < self.baseline_value if self.mode == "max" else value > self.baseline_value

    def _check_metric(self, validator: Engine) -> None:
        if self.metric_name not in validator.state.metrics:
            raise KeyError(
                f"DivergenceGuard watches {self.metric_name!r}, "
                f"but the validator computed {sorted(validator.state.metrics)}."
            )
        if self.baseline_value is None:
            self.baseline_value = self.baseline(validator.data_loader)  # type: ignore[operator]
            logger.info(
                f"{self.baseline_name} scores {self.metric_name} = {self.baseline_value:.4g} on the validation data"
            )
        value = float(validator.state.metrics[self.metric_name])
        epoch = self._trainer.state.epoch if self._trainer is not None else validator.state.epoch
        if not self._worse(value):
            self.bad.clear()
            return
        self.bad.append((epoch, value))
        logger.warning(
            f"epoch {epoch}: {self.metric_name} {value:.4g} is worse than "
            f"{self.baseline_name} ({self.baseline_value:.4g}); "
            f"{len(self.bad)} of {self.patience} allowed"
        )
        if len(self.bad) >= self.patience:
            history = ", ".join(f"epoch {e}: {v:.4g}" for e, v in self.bad)
            raise TrainingDivergedError(
                f"the model is not learning: validation {self.metric_name} has been worse than {self.baseline_name} "
                f"({self.baseline_value:.4g}) for {len(self.bad)} validations in a row ({history}). Check that the "
                "training and validation images are in the range the model expects (the bundle checks files "
                "against it), then lower the learning rate. The last good epoch's checkpoint and the best model "
                "file are kept; delete the checkpoints to restart with new settings."
            )

    # ---- checkpointing ------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "early": list(self._early),
            "baseline_value": self.baseline_value,
            "bad": [list(b) for b in self.bad],
        }

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        self.reference = state_dict.get("reference")
        self._early = list(state_dict.get("early", []))
        self.baseline_value = state_dict.get("baseline_value", self.baseline_value)
        self.bad = [(int(e), float(v)) for e, v in state_dict.get("bad", [])]
