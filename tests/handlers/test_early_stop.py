"""ResumableEarlyStopHandler: its patience counter survives a checkpoint, and a stopped run stays stopped."""

from __future__ import annotations

import pytest
from ignite.engine import Engine, Events

from monai_genmed.handlers import ResumableEarlyStopHandler


def make_run(scores, patience):
    """A trainer whose validator reports the next score of ``scores`` after every epoch."""
    trainer = Engine(lambda e, b: None)
    validator = Engine(lambda e, b: None)
    it = iter(scores)

    @validator.on(Events.EPOCH_COMPLETED)  # before the stopper, which is attached to the same event
    def _score(engine):
        engine.state.metrics["score"] = next(it)

    trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda _: validator.run([0]))
    stopper = ResumableEarlyStopHandler(patience=patience, score_function=lambda e: e.state.metrics["score"])
    stopper.attach(validator)
    stopper.set_trainer(trainer)
    return trainer, stopper


def test_state_round_trip_keeps_counter_and_best_score():
    trainer, stopper = make_run([1.0, 0.5, 0.4], patience=5)
    trainer.run([0], max_epochs=3)
    state = stopper.state_dict()
    assert state["counter"] == 2 and state["best_score"] == 1.0

    trainer2, stopper2 = make_run([0.9, 0.9, 0.9, 0.9], patience=5)
    stopper2.load_state_dict(state)
    trainer2.load_state_dict({"epoch": 3, "max_epochs": 10, "epoch_length": 1})
    trainer2.run([0])
    # counting resumed from 2: three more epochs without improvement reach patience 5
    assert trainer2.state.epoch == 6


def test_resuming_a_stopped_run_trains_no_further():
    trainer, stopper = make_run([1.0, 0.5, 0.5, 0.5], patience=2)
    trainer.run([0], max_epochs=10)
    assert trainer.state.epoch == 3  # stopped early
    state = stopper.state_dict()

    trainer2, stopper2 = make_run([2.0], patience=2)
    trainer2.load_state_dict({"epoch": 3, "max_epochs": 10, "epoch_length": 1})
    trainer2.add_event_handler(Events.STARTED, lambda _: stopper2.load_state_dict(state))
    trainer2.run([0])
    assert trainer2.state.epoch == 3

    # a larger patience continues it
    trainer3, stopper3 = make_run([0.1, 0.1, 0.1], patience=4)
    trainer3.load_state_dict({"epoch": 3, "max_epochs": 10, "epoch_length": 1})
    trainer3.add_event_handler(Events.STARTED, lambda _: stopper3.load_state_dict(state))
    trainer3.run([0])
    assert trainer3.state.epoch == 5


def test_state_without_trainer_is_a_clear_error():
    stopper = ResumableEarlyStopHandler(patience=2, score_function=lambda e: 0.0)
    with pytest.raises(RuntimeError, match="set_trainer"):
        stopper.state_dict()
