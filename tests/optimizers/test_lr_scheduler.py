from __future__ import annotations

import pytest
import torch

from monai_genmed.optimizers import LinearDecayLR

LR = 2e-4


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.Adam([torch.nn.Parameter(torch.zeros(2))], lr=LR, betas=(0.5, 0.999))


def _rates(scheduler: LinearDecayLR, epochs: int) -> list[float]:
    rates = []
    for _ in range(epochs):
        rates.append(scheduler.optimizer.param_groups[0]["lr"])
        scheduler.optimizer.step()
        scheduler.step()
    return rates


@pytest.mark.parametrize(
    "total, start, factors",
    [
        (4, None, [1, 1, 2 / 3, 1 / 3, 0, 0]),
        (10, None, [1, 1, 1, 1, 1, 5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6, 0]),
        (10, 7, [1] * 7 + [3 / 4, 2 / 4, 1 / 4, 0]),
        (3, 0, [3 / 4, 2 / 4, 1 / 4, 0]),
        (2, 2, [1, 1, 0]),
    ],
)
def test_flat_then_linear_to_zero(total, start, factors):
    rates = _rates(LinearDecayLR(_optimizer(), total, start), len(factors))
    assert rates == pytest.approx([LR * f for f in factors], abs=1e-15)


def test_resumed_schedule_continues_where_it_stopped():
    optimizer = _optimizer()
    scheduler = LinearDecayLR(optimizer, total_epochs=10)
    _rates(scheduler, 6)
    saved = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
    expected = _rates(scheduler, 5)

    resumed_optimizer = _optimizer()
    resumed = LinearDecayLR(resumed_optimizer, total_epochs=10)
    resumed_optimizer.load_state_dict(saved["optimizer"])
    resumed.load_state_dict(saved["scheduler"])
    assert _rates(resumed, 5) == pytest.approx(expected, abs=1e-15)
    assert expected == pytest.approx([LR * f for f in (4 / 6, 3 / 6, 2 / 6, 1 / 6, 0)], abs=1e-15)


@pytest.mark.parametrize("total, start", [(0, None), (10, 11), (10, -1), (10.0, None)])
def test_bad_lengths_raise(total, start):
    with pytest.raises(ValueError, match="total_epochs"):
        LinearDecayLR(_optimizer(), total, start)
