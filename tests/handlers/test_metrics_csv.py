from __future__ import annotations

import csv

import torch
from ignite.engine import Engine, Events

from monai_genmed.handlers import MetricsCSVWriter
from monai_genmed.utils.enums import GenerativeKeys


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def make_trainer(losses_per_iteration):
    it = iter(losses_per_iteration)
    trainer = Engine(lambda e, b: {GenerativeKeys.LOSSES: next(it)})
    trainer.optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.01)
    return trainer


def test_one_row_per_epoch_with_mean_losses_validation_metrics_and_notes(tmp_path):
    trainer = make_trainer([{"g_total": 1.0}, {"g_total": 3.0}, {"g_total": 5.0}, {"g_total": 7.0}])
    validator = Engine(lambda e, b: None)
    path = tmp_path / "metrics.csv"
    MetricsCSVWriter(str(path), validator=validator, notes={"perceptual_loss": "off"}).attach(trainer)

    # attached AFTER the writer, like a ValidationHandler listed later: the row must still see its metric
    @trainer.on(Events.EPOCH_COMPLETED)
    def validate(engine):
        validator.state.metrics = {"nmse": 0.1 * engine.state.epoch}

    trainer.run([0, 1], max_epochs=2)
    rows = read(path)
    assert [r["epoch"] for r in rows] == ["1", "2"]
    assert [float(r["train_g_total"]) for r in rows] == [2.0, 6.0]
    assert [float(r["val_nmse"]) for r in rows] == [0.1, 0.2]
    assert rows[0]["perceptual_loss"] == "off" and float(rows[0]["lr_optimizer"]) == 0.01


def test_resumed_run_replaces_rows_of_epochs_trained_again(tmp_path):
    path = tmp_path / "metrics.csv"
    first = make_trainer([{"loss": 1.0}] * 6)
    MetricsCSVWriter(str(path)).attach(first)
    first.run([0, 1], max_epochs=3)
    assert len(read(path)) == 3

    # a run resumed from the epoch-1 checkpoint trains epochs 2 and 3 again
    second = make_trainer([{"loss": 9.0}] * 4)
    MetricsCSVWriter(str(path)).attach(second)
    second.state.epoch, second.state.iteration, second.state.max_epochs = 1, 2, 3
    second.state.epoch_length = 2
    second.run([0, 1], max_epochs=3)
    rows = read(path)
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert [float(r["train_loss"]) for r in rows] == [1.0, 9.0, 9.0]
