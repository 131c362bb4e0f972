from __future__ import annotations

import pytest
import torch

from monai_genmed.losses import NMSERatioLoss

TARGET = torch.tensor([[0.0, 5.0], [3.0, 4.0]]).view(2, 1, 1, 2)
PRED = torch.tensor([[3.0, 9.0], [3.0, 5.0]]).view(2, 1, 1, 2)  # errors (3, 4) and (0, 1); target norms 5 and 5


def test_hand_values():
    torch.testing.assert_close(NMSERatioLoss(reduction="none")(PRED, TARGET), torch.tensor([1.0, 0.2]))
    assert NMSERatioLoss()(PRED, TARGET).item() == pytest.approx(0.6)
    assert NMSERatioLoss(reduction="sum")(PRED, TARGET).item() == pytest.approx(1.2)


def test_scale_invariant_and_safe_on_empty_targets():
    torch.testing.assert_close(NMSERatioLoss()(7 * PRED, 7 * TARGET), NMSERatioLoss()(PRED, TARGET))
    pred = torch.zeros(1, 1, 4, 4, requires_grad=True)
    loss = NMSERatioLoss()(pred, torch.zeros(1, 1, 4, 4))
    loss.backward()
    assert loss.item() == 0.0 and torch.isfinite(pred.grad).all()
    with pytest.raises(ValueError, match="shapes differ"):
        NMSERatioLoss()(PRED, TARGET[:1])
