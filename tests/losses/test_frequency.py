from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from monai_genmed.losses import FrequencyDomainLoss


def test_hand_value_of_a_delta():
    delta, zeros = torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    delta[..., 0, 0] = 1.0
    # the FFT of a delta is flat: 1 everywhere unnormalised, 1/sqrt(4) with "ortho"
    assert FrequencyDomainLoss()(delta, zeros).item() == pytest.approx(1.0)
    assert FrequencyDomainLoss(norm="ortho")(delta, zeros).item() == pytest.approx(0.25)
    assert FrequencyDomainLoss(norm="forward")(delta, zeros).item() == pytest.approx(1 / 16)


@pytest.mark.parametrize("spatial_dims, shape", [(2, (2, 1, 15, 16)), (2, (1, 3, 9, 7)), (3, (1, 1, 7, 9, 5))])
def test_parseval(spatial_dims, shape):
    torch.manual_seed(0)
    pred, target = torch.rand(shape, dtype=torch.float64), torch.rand(shape, dtype=torch.float64)
    image_mse = F.mse_loss(pred, target)
    ortho = FrequencyDomainLoss(norm="ortho", magnitude=False, spatial_dims=spatial_dims)
    torch.testing.assert_close(ortho(pred, target), image_mse)
    n_pixels = torch.tensor(shape[-spatial_dims:]).prod().item()
    backward = FrequencyDomainLoss(norm="backward", magnitude=False, spatial_dims=spatial_dims)
    torch.testing.assert_close(backward(pred, target), n_pixels * image_mse)  # DAGAN's scale grows with the size
    # |(|a| - |b|)| <= |a - b|: the magnitude loss never exceeds the complex one
    assert FrequencyDomainLoss(norm="ortho", spatial_dims=spatial_dims)(pred, target) <= image_mse


def test_magnitude_loss_ignores_circular_shifts_complex_does_not():
    target = torch.rand(1, 1, 16, 15)
    shifted = torch.roll(target, shifts=(3, -2), dims=(-2, -1))
    assert FrequencyDomainLoss()(shifted, target).item() == pytest.approx(0.0, abs=1e-8)
    assert FrequencyDomainLoss(magnitude=False)(shifted, target).item() > 1.0


@pytest.mark.parametrize("magnitude", [True, False])
def test_gradients_are_finite_where_spectra_vanish(magnitude):
    pred = torch.full((1, 1, 8, 8), 0.5, requires_grad=True)  # constant image: every non-DC frequency is 0
    FrequencyDomainLoss(magnitude=magnitude)(pred, torch.full((1, 1, 8, 8), 0.5)).backward()
    assert torch.isfinite(pred.grad).all()


def test_reduction_and_errors():
    pred, target = torch.rand(2, 1, 8, 9), torch.rand(2, 1, 8, 9)
    per_element = FrequencyDomainLoss(reduction="none")(pred, target)
    assert per_element.shape == pred.shape
    torch.testing.assert_close(FrequencyDomainLoss(reduction="sum")(pred, target), per_element.sum())
    with pytest.raises(ValueError, match="norm"):
        FrequencyDomainLoss(norm="unitary")
    with pytest.raises(ValueError, match="spatial_dims"):
        FrequencyDomainLoss(spatial_dims=4)
    with pytest.raises(ValueError, match="shapes differ"):
        FrequencyDomainLoss()(pred, target[:1])
    with pytest.raises(ValueError, match="dimensions"):
        FrequencyDomainLoss(spatial_dims=3)(torch.rand(4, 4), torch.rand(4, 4))
