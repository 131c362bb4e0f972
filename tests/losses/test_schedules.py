from __future__ import annotations

from types import SimpleNamespace

import pytest

from monai_genmed.losses import LinearWarmup, training_progress


def state(iteration, epoch_length=4):
    return SimpleNamespace(iteration=iteration, epoch_length=epoch_length, epoch=(iteration - 1) // epoch_length + 1)


def test_progress_counts_epochs_with_fractions_from_zero():
    assert [training_progress(state(i)) for i in (1, 3, 5, 9)] == [0.0, 0.5, 1.0, 2.0]
    assert training_progress(SimpleNamespace(epoch=3)) == 2.0  # no epoch length: whole epochs


@pytest.mark.parametrize(
    "schedule, values",
    [
        (LinearWarmup(0.0, 1.0, epochs=2), [0.0, 0.25, 0.5, 1.0, 1.0]),
        (LinearWarmup(0.1, 0.0, epochs=1), [0.1, 0.05, 0.0, 0.0, 0.0]),  # annealing down to 0
        (LinearWarmup(0.0, 1.0, epochs=1, delay=1), [0.0, 0.0, 0.0, 1.0, 1.0]),
        (LinearWarmup(0.0, 2.0, epochs=0), [2.0] * 5),
    ],
)
def test_linear_warmup_values(schedule, values):
    # iterations 1, 3, 5, 9, 41 of 4-iteration epochs: progress 0, 0.5, 1, 2, 10 epochs
    assert [schedule(state(i)) for i in (1, 3, 5, 9, 41)] == pytest.approx(values)


def test_negative_lengths_are_rejected():
    with pytest.raises(ValueError):
        LinearWarmup(epochs=-1)
