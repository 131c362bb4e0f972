"""KspaceSliceInferer: every slice of a volume goes through the network with its own k-space and the mask."""

from __future__ import annotations

import pytest
import torch

from monai_genmed.inferers import KspaceSliceInferer


class Recorder(torch.nn.Module):
    """Returns x + |k| * mask, so the output shows which k-space and mask each slice was given."""

    def forward(self, x, kspace_masked, mask):
        return x + kspace_masked.abs() * mask


@pytest.mark.parametrize("sw_batch_size", [1, 2, 8])
@pytest.mark.parametrize("per_slice_mask", [False, True])
def test_each_slice_gets_its_own_kspace(sw_batch_size, per_slice_mask):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 1, 6, 5, 3, generator=g)
    k = torch.complex(torch.rand(2, 1, 6, 5, 3, generator=g), torch.rand(2, 1, 6, 5, 3, generator=g))
    mask = (torch.rand(2, 1, 6, 5, 3 if per_slice_mask else 1, generator=g) > 0.5).float()
    mask = mask if per_slice_mask else mask[..., 0]
    out = KspaceSliceInferer(sw_batch_size)(x, Recorder(), kspace_masked=k, mask=mask)
    expected = torch.stack(
        [Recorder()(x[..., i], k[..., i], mask[..., i] if per_slice_mask else mask) for i in range(3)], -1
    )
    assert out.shape == x.shape and torch.equal(out, expected)


def test_missing_kspace_or_mismatched_shapes_are_clear_errors():
    x = torch.rand(1, 1, 6, 5, 3)
    with pytest.raises(ValueError, match="measured k-space"):
        KspaceSliceInferer()(x, Recorder())
    with pytest.raises(ValueError, match="does not match the volume"):
        KspaceSliceInferer()(
            x, Recorder(), kspace_masked=torch.zeros(1, 1, 6, 5, 2, dtype=torch.complex64), mask=torch.ones(1, 1, 6, 5)
        )
    with pytest.raises(ValueError, match="mask of shape"):
        KspaceSliceInferer()(
            x, Recorder(), kspace_masked=torch.zeros(1, 1, 6, 5, 3, dtype=torch.complex64), mask=torch.ones(1, 1, 5, 6)
        )
