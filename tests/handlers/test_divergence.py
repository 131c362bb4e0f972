"""A run that stays worse than the trivial baseline, or whose loss explodes, stops with an error."""

from __future__ import annotations

import pytest
import torch
from ignite.engine import Engine, Events
from monai.handlers import from_engine

from monai_genmed.handlers import DivergenceGuard, MaskedPSNR, TrainingDivergedError, TrivialBaseline


def _trainer(losses):
    values = iter(losses)
    return Engine(lambda e, b: {"losses": {"g_total": next(values)}})


def test_exploding_loss_stops_in_the_epoch_it_explodes():
    trainer = _trainer([1.0, 0.9, 0.8, 0.7] + [5e3] * 4)
    guard = DivergenceGuard(loss_growth=1e3, reference_iterations=2)
    guard.attach(trainer)
    finished = []
    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda e: finished.append(e.state.epoch))  # a checkpointer
    with pytest.raises(TrainingDivergedError, match=r"epoch 2.*5000.*learning rate"):
        trainer.run(range(4), max_epochs=2)
    assert finished == [1]  # the exploded epoch reached no later handler: it is never checkpointed
    assert guard.reference == pytest.approx(0.9)


def test_a_normal_loss_curve_passes():
    trainer = _trainer([1.0, 2.0, 5.0, 0.5, 0.4, 0.3])  # GAN losses wobble; growth of 5x is no divergence
    DivergenceGuard(loss_growth=1e3).attach(trainer)
    trainer.run(range(3), max_epochs=2)


def _validator(preds, target):
    """A validator whose prediction at validation k is preds[k]; its batches hold the trivial input too."""
    calls = iter(preds)
    batch = {"input": torch.full_like(target, 0.5), "label": target}

    def step(engine, _):
        return {"pred": next_pred[0], "label": target}

    next_pred = [None]
    validator = Engine(step)
    validator.data_loader = [batch]
    MaskedPSNR(data_range=1.0, output_transform=from_engine(["pred", "label"])).attach(validator, "val_psnr")
    return validator, lambda: next_pred.__setitem__(0, next(calls))


def test_worse_than_baseline_for_patience_validations_stops():
    target = torch.rand(2, 1, 8, 8)
    bad = target + 1.0  # far worse than predicting 0.5 everywhere
    validator, advance = _validator([bad, target, bad, bad, bad], target)
    baseline = TrivialBaseline(
        MaskedPSNR(data_range=1.0, output_transform=from_engine(["pred", "label"])), "input", "label"
    )
    guard = DivergenceGuard(validator, "val_psnr", "max", baseline, "the constant 0.5", patience=3, loss_key=None)
    trainer = Engine(lambda e, b: None)
    guard.attach(trainer)

    @trainer.on(Events.EPOCH_COMPLETED)
    def validate(engine):
        advance()
        validator.run(validator.data_loader)

    with pytest.raises(TrainingDivergedError, match=r"worse than the constant 0.5 .* 3 validations in a row \(epoch 3"):
        trainer.run([0], max_epochs=5)
    assert trainer.state.epoch == 5  # epoch 2 was good and reset the count: epochs 3, 4, 5 tripped it
    assert [e for e, _ in guard.bad] == [3, 4, 5]
    restored = DivergenceGuard(validator, "val_psnr", "max", 10.0, patience=3)
    restored.load_state_dict(guard.state_dict())
    assert restored.bad == guard.bad and restored.baseline_value == guard.baseline_value


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="together"):
        DivergenceGuard(metric_name="val_psnr")
    with pytest.raises(ValueError, match="mode"):
        DivergenceGuard(mode="up")
